//! [`AxisPlans`]: the 1D transforms a 3D real FFT is made of, shared by the serial and the
//! slab-distributed plans.

use std::sync::Arc;

use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftNum, FftPlanner};

/// The six 1D plans of a real 3D FFT of shape `[nx, ny, nz]`: real-to-complex and back along
/// z (`realfft`), forward and inverse complex FFTs along y and x (`rustfft`). The serial
/// [`crate::CpuFft3d`] and the distributed [`crate::SlabFft`] apply the same plans in the same
/// order, which is why their results agree to rounding.
pub(crate) struct AxisPlans<T: FftNum> {
    /// r2c along z.
    pub r2c: Arc<dyn RealToComplex<T>>,
    /// c2r along z.
    pub c2r: Arc<dyn ComplexToReal<T>>,
    /// Forward along y.
    pub fwd_y: Arc<dyn Fft<T>>,
    /// Inverse (unnormalised) along y.
    pub inv_y: Arc<dyn Fft<T>>,
    /// Forward along x.
    pub fwd_x: Arc<dyn Fft<T>>,
    /// Inverse (unnormalised) along x.
    pub inv_x: Arc<dyn Fft<T>>,
}

impl<T: FftNum> AxisPlans<T> {
    /// Plans the axes of `shape` with the given planners (which cache plans by length).
    pub(crate) fn new(
        shape: [usize; 3],
        fft: &mut FftPlanner<T>,
        rfft: &mut RealFftPlanner<T>,
    ) -> Self {
        let [nx, ny, nz] = shape;
        Self {
            r2c: rfft.plan_fft_forward(nz),
            c2r: rfft.plan_fft_inverse(nz),
            fwd_y: fft.plan_fft_forward(ny),
            inv_y: fft.plan_fft_inverse(ny),
            fwd_x: fft.plan_fft_forward(nx),
            inv_x: fft.plan_fft_inverse(nx),
        }
    }

    /// In-place scratch length of the y transforms.
    pub(crate) fn y_scratch(&self) -> usize {
        self.fwd_y
            .get_inplace_scratch_len()
            .max(self.inv_y.get_inplace_scratch_len())
    }

    /// In-place scratch length of the x transforms.
    pub(crate) fn x_scratch(&self) -> usize {
        self.fwd_x
            .get_inplace_scratch_len()
            .max(self.inv_x.get_inplace_scratch_len())
    }

    /// Scratch length of the z (real) transforms.
    pub(crate) fn z_scratch(&self) -> usize {
        self.r2c.get_scratch_len().max(self.c2r.get_scratch_len())
    }
}
