//! Readout (interpolation, grid to particles) and its vector-Jacobian product.
//!
//! Readout and the gradients with respect to positions are parallel over particles (each
//! output entry is written by one task), so they are race-free and independent of the number
//! of threads. The gradients with respect to the fields are paints, done by the deterministic
//! slab-chunked painter of [`crate::paint`].

use pm_fft::Real;

use crate::paint::{
    Binning, Coords, Stencil, check_len, gather, gather_many, par_particles, with_support,
};
use crate::{MeshError, Positions, RealField, Scheme};

/// Interpolates a field at the particles, **overwriting** `out`:
///
/// `out[i] = sum_c field[c] W(x_i - c)`,
///
/// with `W` the scheme's window (the same as [`crate::paint`]'s, so readout is the transpose of
/// paint). Sums are accumulated in f64 and rounded to `T` once.
///
/// Errors: invalid positions (as for [`crate::paint`]), `out.len() != n` ([`MeshError::Length`]).
pub fn readout<T: Real>(
    field: &RealField<T>,
    positions: &Positions<'_, T>,
    scheme: Scheme,
    out: &mut [T],
) -> Result<(), MeshError> {
    let mesh = *field.mesh();
    positions.validate(&mesh)?;
    check_len("out", positions.len(), Some(out.len()))?;
    let grid = field.as_slice();
    let shape = mesh.shape();
    let coords = Coords::new(positions, &mesh, 0.0);
    with_support!(scheme, S => {
        par_particles(positions.len(), Some(out), None::<&mut [()]>, |i, o, _| {
            let st = coords.stencil::<S>(i);
            let (v, _) = gather::<T, S, false>(grid, &st, shape);
            if let Some(o) = o {
                *o = T::lit(v);
            }
        });
    });
    Ok(())
}

/// Interpolates three fields (e.g. the force components) at once, sharing the weights,
/// **overwriting** `out`: `out[i][a] = sum_c fields[a][c] W(x_i - c)`.
///
/// Errors: as [`readout`], plus [`MeshError::MeshMismatch`] when the three fields do not share
/// one mesh.
pub fn readout_vector<T: Real>(
    fields: &[RealField<T>; 3],
    positions: &Positions<'_, T>,
    scheme: Scheme,
    out: &mut [[T; 3]],
) -> Result<(), MeshError> {
    let mesh = *fields[0].mesh();
    check_same_mesh("fields", fields)?;
    positions.validate(&mesh)?;
    check_len("out", positions.len(), Some(out.len()))?;
    let grids = fields.each_ref().map(RealField::as_slice);
    let shape = mesh.shape();
    let coords = Coords::new(positions, &mesh, 0.0);
    with_support!(scheme, S => {
        par_particles(positions.len(), Some(out), None::<&mut [()]>, |i, o, _| {
            let st = coords.stencil::<S>(i);
            if let Some(o) = o {
                *o = gather_many::<T, S, 3>(&grids, &st, shape).map(T::lit);
            }
        });
    });
    Ok(())
}

/// VJP of [`readout`] for the cotangent `v` (one value per particle); accumulates
///
/// * `grad_field[c] += sum_i v_i W(x_i - c)` (a paint with weights `v`, deterministic),
/// * `grad_pos[i] += v_i sum_c field[c] grad W(x_i - c)` (Mpc/h: the derivative in cells
///   divided by the cell size; zero for NGP).
///
/// `None` skips a gradient. Errors: invalid positions, `cotangent` or `grad_pos` of the wrong
/// length ([`MeshError::Length`]), `grad_field` on another mesh ([`MeshError::MeshMismatch`]).
pub fn readout_vjp<T: Real>(
    field: &RealField<T>,
    positions: &Positions<'_, T>,
    scheme: Scheme,
    cotangent: &[T],
    grad_field: Option<&mut RealField<T>>,
    grad_pos: Option<&mut [[T; 3]]>,
) -> Result<(), MeshError> {
    let mesh = *field.mesh();
    positions.validate(&mesh)?;
    let n = positions.len();
    check_len("cotangent", n, Some(cotangent.len()))?;
    check_len("grad_pos", n, grad_pos.as_deref().map(<[[T; 3]]>::len))?;
    if let Some(g) = grad_field.as_deref() {
        check_mesh("grad_field", &mesh, g)?;
    }
    if let Some(g) = grad_field {
        let binning = Binning::new(positions, &mesh, scheme, 0.0);
        binning.paint(g.as_slice_mut(), &|i| cotangent[i].as_f64());
    }
    if grad_pos.is_some() {
        let grid = field.as_slice();
        let shape = mesh.shape();
        let inv_cell = mesh.cell_size().map(|c| 1.0 / c);
        let coords = Coords::new(positions, &mesh, 0.0);
        with_support!(scheme, S => {
            par_particles(n, grad_pos, None::<&mut [()]>, |i, gp, _| {
                let st = coords.stencil::<S>(i);
                let (_, g) = gather::<T, S, true>(grid, &st, shape);
                let v = cotangent[i].as_f64();
                if let Some(gp) = gp {
                    for a in 0..3 {
                        gp[a] = gp[a] + T::lit(v * g[a] * inv_cell[a]);
                    }
                }
            });
        });
    }
    Ok(())
}

/// VJP of [`readout_vector`] for the cotangent `v[i][a]`; accumulates
///
/// * `grad_fields[a][c] += sum_i v[i][a] W(x_i - c)` (three paints sharing one particle sort),
/// * `grad_pos[i] += sum_a v[i][a] sum_c fields[a][c] grad W(x_i - c)` (Mpc/h).
///
/// `None` skips a gradient. Errors: as [`readout_vjp`], and fields on different meshes.
pub fn readout_vector_vjp<T: Real>(
    fields: &[RealField<T>; 3],
    positions: &Positions<'_, T>,
    scheme: Scheme,
    cotangent: &[[T; 3]],
    grad_fields: Option<&mut [RealField<T>; 3]>,
    grad_pos: Option<&mut [[T; 3]]>,
) -> Result<(), MeshError> {
    readout_vector_and_vjp(
        fields,
        positions,
        scheme,
        cotangent,
        None,
        grad_fields,
        grad_pos,
    )
}

/// [`readout_vector`] and [`readout_vector_vjp`] in one pass: writes the readout into
/// `values` (when given; bitwise what [`readout_vector`] gives) while it accumulates the
/// gradients, so the stencil and the field values are gathered once. A reverse-time adjoint
/// needs both at the same positions.
pub fn readout_vector_and_vjp<T: Real>(
    fields: &[RealField<T>; 3],
    positions: &Positions<'_, T>,
    scheme: Scheme,
    cotangent: &[[T; 3]],
    values: Option<&mut [[T; 3]]>,
    grad_fields: Option<&mut [RealField<T>; 3]>,
    grad_pos: Option<&mut [[T; 3]]>,
) -> Result<(), MeshError> {
    let mesh = *fields[0].mesh();
    check_same_mesh("fields", fields)?;
    positions.validate(&mesh)?;
    let n = positions.len();
    check_len("cotangent", n, Some(cotangent.len()))?;
    check_len("values", n, values.as_deref().map(<[[T; 3]]>::len))?;
    check_len("grad_pos", n, grad_pos.as_deref().map(<[[T; 3]]>::len))?;
    if let Some(g) = grad_fields.as_deref() {
        for f in g {
            check_mesh("grad_fields", &mesh, f)?;
        }
    }
    if let Some(g) = grad_fields {
        let binning = Binning::new(positions, &mesh, scheme, 0.0);
        let grids = g.each_mut().map(RealField::as_slice_mut);
        binning.paint_many(grids, &|i| cotangent[i].map(|v| v.as_f64()));
    }
    if grad_pos.is_some() || values.is_some() {
        let grids = fields.each_ref().map(RealField::as_slice);
        let shape = mesh.shape();
        let inv_cell = mesh.cell_size().map(|c| 1.0 / c);
        let coords = Coords::new(positions, &mesh, 0.0);
        with_support!(scheme, S => {
            par_particles(n, grad_pos, values, |i, gp, val| {
                let st = coords.stencil::<S>(i);
                vector_readout_particle(&grids, &st, shape, &cotangent[i], inv_cell, gp, val);
            });
        });
    }
    Ok(())
}

fn check_mesh<T: Real>(
    what: &str,
    mesh: &crate::Mesh,
    field: &RealField<T>,
) -> Result<(), MeshError> {
    if field.mesh() != mesh {
        return Err(MeshError::MeshMismatch {
            what: format!(
                "{what} lives on {:?}, the particles on {:?}",
                field.mesh(),
                mesh
            ),
        });
    }
    Ok(())
}

fn check_same_mesh<T: Real>(what: &str, fields: &[RealField<T>; 3]) -> Result<(), MeshError> {
    for f in &fields[1..] {
        check_mesh(what, fields[0].mesh(), f)?;
    }
    Ok(())
}

/// One particle of a vector readout and its position VJP, on its stencil `st` over the three
/// `grids` (`shape` cells, `inv_cell` = 1 / cell size): writes the three values into `val`
/// and, when `gp` is given, adds `sum_b cot[b] grad W . grids[b] / cell` (Mpc/h) into it.
/// Shared by the whole-mesh and the slab readouts.
#[inline]
pub(crate) fn vector_readout_particle<T: Real, const S: usize>(
    grids: &[&[T]; 3],
    st: &Stencil<S>,
    shape: [usize; 3],
    cot: &[T; 3],
    inv_cell: [f64; 3],
    gp: Option<&mut [T; 3]>,
    val: Option<&mut [T; 3]>,
) {
    let Some(gp) = gp else {
        if let Some(val) = val {
            *val = gather_many::<T, S, 3>(grids, st, shape).map(T::lit);
        }
        return;
    };
    let mut g = [0.0; 3];
    let mut out = [0.0; 3];
    for (b, grid) in grids.iter().enumerate() {
        let v = cot[b].as_f64();
        let (value, gb) = gather::<T, S, true>(grid, st, shape);
        out[b] = value;
        for a in 0..3 {
            g[a] += v * gb[a];
        }
    }
    if let Some(val) = val {
        *val = out.map(T::lit);
    }
    for a in 0..3 {
        gp[a] = gp[a] + T::lit(g[a] * inv_cell[a]);
    }
}
