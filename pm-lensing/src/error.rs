//! Errors of pm-lensing.

use pm_cosmo::CosmoError;

/// Everything that can go wrong building a lightcone, projecting a map or writing it.
#[derive(Debug, thiserror::Error)]
pub enum LensingError {
    /// An invalid setting (source redshift, field of view, pixel count, ...).
    #[error("invalid {what}: {reason}")]
    Config {
        /// Which setting.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// Arrays of the wrong length.
    #[error("{what} has length {got}, expected {expected}")]
    Length {
        /// Which array.
        what: &'static str,
        /// The length needed.
        expected: usize,
        /// The length passed.
        got: usize,
    },
    /// The projection's stop hook asked it to stop (see `BornProjection::with_stop`): the
    /// map, tangent or cotangent it was adding to is incomplete.
    #[error("stopped on request before the projection was complete")]
    Stopped,
    /// From the cosmology (distances, growth, power spectrum).
    #[error(transparent)]
    Cosmo(#[from] CosmoError),
    /// Writing or reading a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl From<LensingError> for pm_integrate::IntegrateError {
    fn from(e: LensingError) -> Self {
        pm_integrate::IntegrateError::Observer(e.to_string())
    }
}

pub(crate) fn config(what: &'static str, reason: impl Into<String>) -> LensingError {
    LensingError::Config {
        what,
        reason: reason.into(),
    }
}
