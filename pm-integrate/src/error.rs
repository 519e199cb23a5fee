//! Errors of pm-integrate.

use pm_cosmo::CosmoError;
use pm_decomp::DecompError;
use pm_fft::FftError;
use pm_force::ForceError;
use pm_mesh::MeshError;

/// Everything that can go wrong setting up or running a simulation.
#[derive(Debug, thiserror::Error)]
pub enum IntegrateError {
    /// A white-noise file that cannot be used.
    #[error("white noise file {path}: {reason}")]
    Noise {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An invalid time-step schedule.
    #[error("invalid time steps: {0}")]
    Schedule(String),
    /// An invalid configuration value.
    #[error("invalid {what}: {reason}")]
    Config {
        /// Which setting.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// A state whose arrays do not match its lattice.
    #[error("{what} has length {got}, expected {expected}")]
    Length {
        /// Which array.
        what: &'static str,
        /// The length needed.
        expected: usize,
        /// The length passed.
        got: usize,
    },
    /// From an observer.
    #[error("observer failed: {0}")]
    Observer(String),
    /// From the cosmology.
    #[error(transparent)]
    Cosmo(#[from] CosmoError),
    /// From the mesh.
    #[error(transparent)]
    Mesh(#[from] MeshError),
    /// From the force solve.
    #[error(transparent)]
    Force(#[from] ForceError),
    /// From an FFT.
    #[error(transparent)]
    Fft(#[from] FftError),
    /// From the domain decomposition or the communicator (distributed runs).
    #[error(transparent)]
    Decomp(#[from] DecompError),
}
