//! Errors of pm-cosmo.

use std::path::PathBuf;

/// Everything that can go wrong when building or evaluating a cosmology.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum CosmoError {
    /// A parameter lies outside the physically allowed range.
    #[error("cosmology parameter {name} = {value} is out of range: allowed {allowed}")]
    OutOfRange {
        /// Parameter name as written in a config file (e.g. `Omega_b`).
        name: &'static str,
        /// The rejected value.
        value: f64,
        /// The allowed range, in words.
        allowed: &'static str,
    },
    /// The expansion rate squared E(a)^2 becomes non-positive (e.g. a closed universe that
    /// recollapses) inside the tabulated range of scale factors.
    #[error(
        "E(a)^2 = {e2} <= 0 at a = {a}: the expansion history is unphysical for these parameters"
    )]
    NoExpansion {
        /// Scale factor where it happens.
        a: f64,
        /// The value of E(a)^2 there.
        e2: f64,
    },
    /// A scale factor outside what a table covers.
    #[error("{quantity}: scale factor a = {a} is outside the tabulated range [{min}, {max}]")]
    ScaleFactorOutOfRange {
        /// What was asked for.
        quantity: &'static str,
        /// The requested scale factor.
        a: f64,
        /// Smallest tabulated scale factor.
        min: f64,
        /// Largest tabulated scale factor.
        max: f64,
    },
    /// A comoving distance outside what the distance table covers.
    #[error(
        "a(chi): comoving distance chi = {chi} Mpc/h is outside the tabulated range [{min}, {max}] Mpc/h"
    )]
    DistanceOutOfRange {
        /// The requested comoving distance in Mpc/h.
        chi: f64,
        /// Smallest tabulated distance.
        min: f64,
        /// Largest tabulated distance.
        max: f64,
    },
    /// A wavenumber outside a tabulated power spectrum.
    #[error("P(k){source_name}: k = {k} h/Mpc is outside the valid range [{min}, {max}] h/Mpc")]
    WavenumberOutOfRange {
        /// ` from FILE` or empty.
        source_name: String,
        /// The requested wavenumber in h/Mpc.
        k: f64,
        /// Smallest tabulated wavenumber.
        min: f64,
        /// Largest tabulated wavenumber.
        max: f64,
    },
    /// A power-spectrum table file that cannot be read.
    #[error("cannot read P(k) table {path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// A power-spectrum table that is malformed.
    #[error("malformed P(k) table {source_name}, line {line}: {message}")]
    MalformedTable {
        /// The file name (or `<memory>`).
        source_name: String,
        /// One-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A combination of options that is not supported.
    #[error("{0}")]
    Unsupported(String),
}

/// Result with [`CosmoError`].
pub type Result<T> = std::result::Result<T, CosmoError>;
