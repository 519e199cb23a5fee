//! Errors of pm-adjoint.

use pm_force::ForceError;
use pm_integrate::IntegrateError;

/// Everything that can go wrong in a gradient computation.
#[derive(Debug, thiserror::Error)]
pub enum AdjointError {
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
    /// A schedule that does not end where the state is.
    #[error("invalid schedule: {0}")]
    Schedule(String),
    /// From the forward model.
    #[error(transparent)]
    Integrate(#[from] IntegrateError),
    /// From the force solve.
    #[error(transparent)]
    Force(#[from] ForceError),
    /// From a [`crate::StepObservable`] or [`crate::Objective`] defined in another crate (a
    /// lensing map, ...), as its message.
    #[error("{0}")]
    Observable(String),
}
