//! Paint (mass assignment, particles to grid) and its vector-Jacobian product.

use pm_fft::Real;

use crate::{Mesh, MeshError, Positions, RealField, Scheme};

/// Mass per particle that makes the mean density 1 in mesh units: `n_cells / n_particles`.
/// Painting with this weight gives `1 + delta`.
pub fn mean_particle_mass(mesh: &Mesh, n_particles: usize) -> f64 {
    mesh.n_cells() as f64 / n_particles as f64
}

/// Adds the weight `w_i` (1 when `weights` is `None`) of every particle to `field`:
/// `field[c] += sum_i w_i W(x_i - c)`, periodic (STUB: filled in by the assignment work).
pub fn paint<T: Real>(
    field: &mut RealField<T>,
    positions: &Positions<'_, T>,
    weights: Option<&[T]>,
    scheme: Scheme,
) -> Result<(), MeshError> {
    let _ = (field, positions, weights, scheme);
    todo!("paint")
}

/// VJP of [`paint`]: for a cotangent grid `g`, accumulates
/// `grad_pos[i] += w_i sum_c g[c] grad W(x_i - c)` and `grad_weights[i] += sum_c g[c] W(x_i - c)`.
pub fn paint_vjp<T: Real>(
    cotangent: &RealField<T>,
    positions: &Positions<'_, T>,
    weights: Option<&[T]>,
    scheme: Scheme,
    grad_pos: Option<&mut [[T; 3]]>,
    grad_weights: Option<&mut [T]>,
) -> Result<(), MeshError> {
    let _ = (
        cotangent,
        positions,
        weights,
        scheme,
        grad_pos,
        grad_weights,
    );
    todo!("paint_vjp")
}
