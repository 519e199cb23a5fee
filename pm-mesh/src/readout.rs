//! Readout (interpolation, grid to particles) and its vector-Jacobian product.

use pm_fft::Real;

use crate::{MeshError, Positions, RealField, Scheme};

/// `out[i] = sum_c field[c] W(x_i - c)` (STUB).
pub fn readout<T: Real>(
    field: &RealField<T>,
    positions: &Positions<'_, T>,
    scheme: Scheme,
    out: &mut [T],
) -> Result<(), MeshError> {
    let _ = (field, positions, scheme, out);
    todo!("readout")
}

/// Three components at once: `out[i][a] = sum_c fields[a][c] W(x_i - c)` (STUB).
pub fn readout_vector<T: Real>(
    fields: &[RealField<T>; 3],
    positions: &Positions<'_, T>,
    scheme: Scheme,
    out: &mut [[T; 3]],
) -> Result<(), MeshError> {
    let _ = (fields, positions, scheme, out);
    todo!("readout_vector")
}

/// VJP of [`readout`] (STUB): `grad_field[c] += sum_i v_i W(x_i - c)`,
/// `grad_pos[i] += v_i sum_c field[c] grad W(x_i - c)`.
pub fn readout_vjp<T: Real>(
    field: &RealField<T>,
    positions: &Positions<'_, T>,
    scheme: Scheme,
    cotangent: &[T],
    grad_field: Option<&mut RealField<T>>,
    grad_pos: Option<&mut [[T; 3]]>,
) -> Result<(), MeshError> {
    let _ = (field, positions, scheme, cotangent, grad_field, grad_pos);
    todo!("readout_vjp")
}

/// VJP of [`readout_vector`] (STUB).
pub fn readout_vector_vjp<T: Real>(
    fields: &[RealField<T>; 3],
    positions: &Positions<'_, T>,
    scheme: Scheme,
    cotangent: &[[T; 3]],
    grad_fields: Option<&mut [RealField<T>; 3]>,
    grad_pos: Option<&mut [[T; 3]]>,
) -> Result<(), MeshError> {
    let _ = (fields, positions, scheme, cotangent, grad_fields, grad_pos);
    todo!("readout_vector_vjp")
}
