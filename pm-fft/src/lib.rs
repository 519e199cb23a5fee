#![doc = include_str!("../README.md")]
//!
//! ## The distributed FFT
//!
//! [`SlabFft`] has the conventions and the scratch behaviour of [`Fft3d`] and equals
//! [`CpuFft3d`] block by block, but is not an `Fft3d`: its transforms are collective and take
//! the communicator as an argument (`forward(comm, real, complex)`), and an `Fft3d` plan is
//! `Send + Sync` and sized for the whole grid, while an MPI communicator may be used only
//! from its own thread and each rank holds one block.

mod axes;
mod cpu;
mod error;
mod naive;
mod real;
mod slab;

pub use cpu::{CpuFft3d, CpuFftPlanner};
pub use error::FftError;
pub use naive::NaiveDft3d;
pub use num_complex::Complex;
pub use real::Real;
pub use slab::SlabFft;

/// A planned 3D real-to-complex FFT of a fixed shape.
///
/// * `forward`: real `[nx][ny][nz]` to half-complex `[nx][ny][nz/2+1]`,
///   `X[k] = sum_r x[r] e^{-2 pi i k.r / n}`, unnormalised.
/// * `inverse`: half-complex to real, `x[r] = (1/N) sum_k X[k] e^{+2 pi i k.r / n}` over the
///   Hermitian-extended spectrum. The imaginary parts of the `kz = 0` and `kz = nz/2` bins
///   cannot be represented by a real field; whatever the input, the result is the real field
///   whose spectrum is the Hermitian projection of the input (for the DC / Nyquist planes this
///   means those imaginary parts are discarded). Equivalently, `inverse` is `1/N` times the
///   adjoint of `forward` in the weighted inner product `sum_k w_k Re(conj(a_k) b_k)` with
///   `w = 1` for `kz = 0, nz/2` and `w = 2` otherwise.
///
/// **Input buffers are used as scratch**: `forward` may overwrite `real` and `inverse` may
/// overwrite `complex` with arbitrary values. Copy them first if you need them afterwards.
///
/// Buffer lengths are checked and a wrong length is returned as [`FftError::BufferSize`].
/// The trait is object safe (`Box<dyn Fft3d<f32>>`).
pub trait Fft3d<T: Real>: Send + Sync {
    /// Real grid shape `[nx, ny, nz]`.
    fn shape(&self) -> [usize; 3];

    /// Forward real-to-complex transform; `real` is overwritten (used as scratch).
    fn forward(&self, real: &mut [T], complex: &mut [Complex<T>]) -> Result<(), FftError>;

    /// Inverse complex-to-real transform including the `1/N`; `complex` is overwritten.
    fn inverse(&self, complex: &mut [Complex<T>], real: &mut [T]) -> Result<(), FftError>;

    /// Fourier array shape `[nx, ny, nz/2+1]`.
    fn complex_shape(&self) -> [usize; 3] {
        complex_shape(self.shape())
    }

    /// Number of real elements, `nx*ny*nz`.
    fn real_len(&self) -> usize {
        let [nx, ny, nz] = self.shape();
        nx * ny * nz
    }

    /// Number of complex elements, `nx*ny*(nz/2+1)`.
    fn complex_len(&self) -> usize {
        let [nx, ny, nzc] = self.complex_shape();
        nx * ny * nzc
    }
}

/// Fourier array shape `[nx, ny, nz/2+1]` of a real shape `[nx, ny, nz]`.
pub fn complex_shape(shape: [usize; 3]) -> [usize; 3] {
    [shape[0], shape[1], shape[2] / 2 + 1]
}

/// Checks that a shape can be planned (every dimension `>= 1`, `nz` even).
pub fn check_shape(shape: [usize; 3]) -> Result<(), FftError> {
    if shape.contains(&0) {
        return Err(FftError::Shape {
            shape,
            reason: "every dimension must be at least 1",
        });
    }
    if !shape[2].is_multiple_of(2) {
        return Err(FftError::Shape {
            shape,
            reason: "nz (the real-to-complex axis) must be even",
        });
    }
    if addressable_bytes(shape).is_none() {
        return Err(FftError::Shape {
            shape,
            reason: "its complex array (nx * ny * (nz/2+1) complex f64) overflows the address space",
        });
    }
    Ok(())
}

/// Bytes of the largest array of a shape, its complex f64 grid `nx * ny * (nz/2+1) * 16`,
/// when that and its real grid fit an allocation (`isize::MAX` bytes); `None` when they
/// overflow, so that a huge shape is an error, not a failed allocation or an overflow panic.
pub fn addressable_bytes(shape: [usize; 3]) -> Option<usize> {
    let [nx, ny, nz] = shape;
    let complex = nx
        .checked_mul(ny)?
        .checked_mul(nz / 2 + 1)?
        .checked_mul(16)?;
    let real = nx.checked_mul(ny)?.checked_mul(nz)?.checked_mul(8)?;
    (complex <= isize::MAX as usize && real <= isize::MAX as usize).then_some(complex)
}

/// Checks buffer lengths against a plan; shared by every implementation.
pub(crate) fn check_buffers<T: Real>(
    plan: &(impl Fft3d<T> + ?Sized),
    real_len: usize,
    complex_len: usize,
) -> Result<(), FftError> {
    if real_len != plan.real_len() {
        return Err(FftError::BufferSize {
            what: "real",
            expected: plan.real_len(),
            got: real_len,
        });
    }
    if complex_len != plan.complex_len() {
        return Err(FftError::BufferSize {
            what: "complex",
            expected: plan.complex_len(),
            got: complex_len,
        });
    }
    Ok(())
}
