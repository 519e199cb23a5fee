//! [`Spectral`]: a rank's [`MeshBlock`] bound to the communicator of its FFT, for the
//! spectral computations of the initial conditions (LPT, linear modes and their VJPs), which
//! are written once over the blocks: the whole grid on one rank.

use pm_decomp::Comm;
use pm_fft::{Complex, Real};
use pm_mesh::{Mesh, MeshBlock};

use crate::IntegrateError;

/// The real block `[nx_l][ny][nz]` (x-planes from `x0`, no ghosts) and Fourier block
/// `[nx][ny_l][nz/2+1]` (ky-rows from `ky0`) of one rank, with the (collective) transforms.
#[derive(Clone, Copy)]
pub(crate) struct Spectral<'a, T: Real> {
    /// The block.
    pub block: &'a MeshBlock<T>,
    /// Its communicator.
    pub comm: &'a dyn Comm,
}

impl<T: Real> Spectral<'_, T> {
    /// The global mesh.
    pub(crate) fn mesh(&self) -> &Mesh {
        self.block.mesh()
    }

    /// First ky-row of the Fourier block.
    pub(crate) fn ky0(&self) -> usize {
        self.block.ky_rows().start
    }

    /// Elements of the real block.
    pub(crate) fn real_len(&self) -> usize {
        self.block.real_len()
    }

    /// Forward (unnormalised) transform; `real` is used as scratch.
    pub(crate) fn forward(
        &self,
        real: &mut [T],
        complex: &mut [Complex<T>],
    ) -> Result<(), IntegrateError> {
        Ok(self.block.forward(self.comm, real, complex)?)
    }

    /// Inverse transform with its `1/N`; `complex` is used as scratch.
    pub(crate) fn inverse(
        &self,
        complex: &mut [Complex<T>],
        real: &mut [T],
    ) -> Result<(), IntegrateError> {
        Ok(self.block.inverse(self.comm, complex, real)?)
    }
}
