//! pmrs's errors as Python exceptions: bad input (a config key, an array, a parameter) is a
//! `ValueError` or `TypeError` whose message names it, a file that cannot be read an
//! `OSError`, anything else a `RuntimeError`. No Rust panic reaches Python: [`crate::worker`]
//! turns one into a `RuntimeError`.

use pm_adjoint::AdjointError;
use pm_cli::CliError;
use pm_integrate::IntegrateError;
use pyo3::PyErr;
use pyo3::exceptions::{PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyValueError};

/// A `pm` library error as the Python exception a user can act on.
pub fn from_cli(e: CliError) -> PyErr {
    match e {
        CliError::Config { .. } | CliError::TooLarge { .. } => PyValueError::new_err(e.to_string()),
        CliError::Io { .. } | CliError::Snapshot { .. } => PyOSError::new_err(e.to_string()),
        CliError::Interrupted { .. } | CliError::Stopped { .. } => {
            PyKeyboardInterrupt::new_err(e.to_string())
        }
        CliError::Integrate(e) => from_integrate(e),
        CliError::Adjoint(e) => from_adjoint(e),
        e => PyRuntimeError::new_err(e.to_string()),
    }
}

/// A simulation error: what names a bad input (noise, a length, a setting) is a
/// `ValueError`.
pub fn from_integrate(e: IntegrateError) -> PyErr {
    match e {
        IntegrateError::Noise { .. }
        | IntegrateError::Config { .. }
        | IntegrateError::Length { .. }
        | IntegrateError::Schedule(_)
        | IntegrateError::Cosmo(_)
        | IntegrateError::Mesh(_) => PyValueError::new_err(e.to_string()),
        e => PyRuntimeError::new_err(e.to_string()),
    }
}

/// A gradient error (see [`from_integrate`]).
pub fn from_adjoint(e: AdjointError) -> PyErr {
    match e {
        AdjointError::Integrate(e) => from_integrate(e),
        AdjointError::Length { .. } | AdjointError::Schedule(_) => {
            PyValueError::new_err(e.to_string())
        }
        e => PyRuntimeError::new_err(e.to_string()),
    }
}
