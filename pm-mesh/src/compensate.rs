//! Window compensation (deconvolution) and interlacing.

use pm_fft::{Fft3d, Real};

use crate::{FourierField, Mesh, MeshError, Positions, Scheme};

/// Divides every mode by the scheme's window `prod_a sinc(k_a dx_a / 2)^p`, `times` times (STUB).
pub fn deconvolve<T: Real>(field: &mut FourierField<T>, scheme: Scheme, times: u32) {
    let _ = (field, scheme, times);
    todo!("deconvolve")
}

/// Paints on the mesh and on the mesh shifted by half a cell, and averages the two in
/// Fourier space to cancel the odd aliases (STUB).
pub fn paint_interlaced<T: Real>(
    mesh: &Mesh,
    positions: &Positions<'_, T>,
    weights: Option<&[T]>,
    scheme: Scheme,
    plan: &dyn Fft3d<T>,
) -> Result<FourierField<T>, MeshError> {
    let _ = (mesh, positions, weights, scheme, plan);
    todo!("paint_interlaced")
}
