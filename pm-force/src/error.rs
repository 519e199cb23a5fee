//! Errors of pm-force.

use pm_decomp::DecompError;
use pm_fft::FftError;
use pm_mesh::MeshError;

/// Everything that can go wrong in a force kernel or a gravity solve.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ForceError {
    /// A kernel parameter vector of the wrong length or with a bad value.
    #[error("invalid kernel parameter: {0}")]
    Parameter(String),
    /// A buffer of the wrong length.
    #[error("{what} has length {got}, expected {expected}")]
    Length {
        /// Which buffer.
        what: &'static str,
        /// The length needed.
        expected: usize,
        /// The length passed.
        got: usize,
    },
    /// The FFT plan does not have the mesh's shape.
    #[error("FFT plan of shape {plan:?} for a mesh of shape {mesh:?}")]
    PlanShape {
        /// Shape of the plan.
        plan: [usize; 3],
        /// Shape of the mesh.
        mesh: [usize; 3],
    },
    /// A non-finite force prefactor.
    #[error("force prefactor {0} is not finite")]
    Prefactor(f64),
    /// From the mesh (paint, readout, positions).
    #[error(transparent)]
    Mesh(#[from] MeshError),
    /// From the FFT.
    #[error(transparent)]
    Fft(#[from] FftError),
    /// From the communicator, the decomposition or the distributed FFT (distributed solve).
    #[error(transparent)]
    Decomp(#[from] DecompError),
}
