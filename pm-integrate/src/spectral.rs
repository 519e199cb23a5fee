//! [`Spectral`]: the FFTs of a spectral computation on the whole grid or on one rank's slab,
//! so that the LPT pipeline is written once for the serial and the distributed runs.

use pm_decomp::{Comm, CommData, Decomposition};
use pm_fft::{Complex, Fft3d, Real, SlabFft};
use pm_mesh::{Mesh, MeshError};

use crate::IntegrateError;

/// The real and Fourier blocks one process holds of a global mesh, and the transforms
/// between them: real `[nx_l][ny][nz]` (x-planes from `x0`), Fourier `[nx][ny_l][nz/2+1]`
/// (ky-rows from `ky0`). The serial grid is the block with `x0 = ky0 = 0`.
pub(crate) trait Spectral<T: Real> {
    /// The global mesh.
    fn mesh(&self) -> &Mesh;
    /// First ky-row of the Fourier block.
    fn ky0(&self) -> usize;
    /// Elements of the real block.
    fn real_len(&self) -> usize;
    /// Forward (unnormalised) transform; `real` is used as scratch.
    fn forward(&self, real: &mut [T], complex: &mut [Complex<T>]) -> Result<(), IntegrateError>;
    /// Inverse transform with its `1/N`; `complex` is used as scratch.
    fn inverse(&self, complex: &mut [Complex<T>], real: &mut [T]) -> Result<(), IntegrateError>;
}

/// The whole grid with a serial plan.
pub(crate) struct SerialSpectral<'a, T: Real> {
    /// The mesh.
    pub mesh: Mesh,
    /// An FFT of the mesh's shape.
    pub plan: &'a dyn Fft3d<T>,
}

impl<'a, T: Real> SerialSpectral<'a, T> {
    /// Checks the plan's shape against the mesh.
    pub(crate) fn new(mesh: Mesh, plan: &'a dyn Fft3d<T>) -> Result<Self, IntegrateError> {
        if plan.shape() != mesh.shape() {
            return Err(MeshError::MeshMismatch {
                what: format!(
                    "FFT plan of shape {:?} for a grid of shape {:?}",
                    plan.shape(),
                    mesh.shape()
                ),
            }
            .into());
        }
        Ok(Self { mesh, plan })
    }
}

impl<T: Real> Spectral<T> for SerialSpectral<'_, T> {
    fn mesh(&self) -> &Mesh {
        &self.mesh
    }
    fn ky0(&self) -> usize {
        0
    }
    fn real_len(&self) -> usize {
        self.mesh.n_cells()
    }
    fn forward(&self, real: &mut [T], complex: &mut [Complex<T>]) -> Result<(), IntegrateError> {
        Ok(self.plan.forward(real, complex)?)
    }
    fn inverse(&self, complex: &mut [Complex<T>], real: &mut [T]) -> Result<(), IntegrateError> {
        Ok(self.plan.inverse(complex, real)?)
    }
}

/// One rank's slabs of a [`SlabFft`] (collective transforms over `comm`).
pub(crate) struct SlabSpectral<'a, T: Real + CommData> {
    /// The global mesh (of the FFT's shape).
    pub mesh: Mesh,
    /// The distributed FFT.
    pub fft: &'a SlabFft<T>,
    /// The communicator of the FFT's decomposition.
    pub comm: &'a dyn Comm,
}

impl<T: Real + CommData> Spectral<T> for SlabSpectral<'_, T> {
    fn mesh(&self) -> &Mesh {
        &self.mesh
    }
    fn ky0(&self) -> usize {
        let d = self.fft.decomposition();
        d.ky_range(d.rank()).start
    }
    fn real_len(&self) -> usize {
        self.fft.real_len()
    }
    fn forward(&self, real: &mut [T], complex: &mut [Complex<T>]) -> Result<(), IntegrateError> {
        Ok(self.fft.forward(self.comm, real, complex)?)
    }
    fn inverse(&self, complex: &mut [Complex<T>], real: &mut [T]) -> Result<(), IntegrateError> {
        Ok(self.fft.inverse(self.comm, complex, real)?)
    }
}
