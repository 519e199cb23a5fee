//! Readout (interpolation, grid to particles) and its vector-Jacobian product.
//!
//! Readout and the gradients with respect to positions are parallel over particles (each
//! output entry is written by one task), so they are race-free and independent of the number
//! of threads. The gradients with respect to the fields are paints, done by the deterministic
//! slab-chunked painter of [`crate::paint`].
//!
//! Every function here is written once over the rows of a [`Planes`] map: the whole mesh (the
//! public functions of this module) or a rank's padded slab ([`crate::MeshBlock`]).

use pm_fft::Real;

use crate::binning::Binning;
use crate::planes::{Planes, Whole, coords_on};
use crate::stencil::{Stencil, check_len, gather, gather_many, par_particles, with_support};
use crate::{Mesh, MeshError, Positions, RealField, Scheme};

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
    let whole = Whole {
        mesh: *field.mesh(),
    };
    readout_rows(field.as_slice(), &whole, positions, scheme, out)
}

/// [`readout`] from the rows of `planes`; the body behind [`readout`] and
/// [`crate::MeshBlock::readout`].
pub(crate) fn readout_rows<T: Real, P: Planes>(
    grid: &[T],
    planes: &P,
    positions: &Positions<'_, T>,
    scheme: Scheme,
    out: &mut [T],
) -> Result<(), MeshError> {
    check_len("out", positions.len(), Some(out.len()))?;
    let coords = coords_on(positions, planes, scheme, &[("field", grid.len())])?;
    let shape = planes.mesh().shape();
    with_support!(scheme, S => {
        par_particles(positions.len(), Some(out), None::<&mut [()]>, |i, o, _| {
            let st = planes.stencil::<T, S>(&coords, i);
            if let Some(o) = o {
                *o = T::lit(gather::<T, S, false>(grid, &st, shape).0);
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
    check_same_mesh("fields", fields)?;
    let whole = Whole {
        mesh: *fields[0].mesh(),
    };
    let grids = fields.each_ref().map(RealField::as_slice);
    let outputs = VectorReadout {
        values: Some(out),
        grad_fields: None,
        grad_pos: None,
    };
    readout_vector_rows(grids, &whole, positions, scheme, &[], outputs)
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
    if let Some(g) = grad_field.as_deref() {
        check_mesh("grad_field", &mesh, g)?;
    }
    let whole = Whole { mesh };
    let grad_field = grad_field.map(RealField::as_slice_mut);
    let grads = FieldGrads {
        field: grad_field,
        pos: grad_pos,
    };
    readout_vjp_rows(
        field.as_slice(),
        &whole,
        positions,
        scheme,
        cotangent,
        grads,
    )
}

/// The gradients a scalar readout VJP accumulates into ([`crate::MeshBlock::readout_vjp`]);
/// `None` skips one.
#[derive(Debug, Default)]
pub struct FieldGrads<'g, T> {
    /// `dL/d field` on the rows of the field.
    pub field: Option<&'g mut [T]>,
    /// `dL/dx`, one `[T; 3]` per particle (Mpc/h).
    pub pos: Option<&'g mut [[T; 3]]>,
}

/// [`readout_vjp`] on the rows of `planes`; the body behind [`readout_vjp`] and
/// [`crate::MeshBlock::readout_vjp`].
pub(crate) fn readout_vjp_rows<T: Real, P: Planes>(
    grid: &[T],
    planes: &P,
    positions: &Positions<'_, T>,
    scheme: Scheme,
    cotangent: &[T],
    grads: FieldGrads<'_, T>,
) -> Result<(), MeshError> {
    let n = positions.len();
    let FieldGrads {
        field: grad_field,
        pos: grad_pos,
    } = grads;
    check_len("cotangent", n, Some(cotangent.len()))?;
    check_len("grad_pos", n, grad_pos.as_deref().map(<[[T; 3]]>::len))?;
    let mut arrays = vec![("field", grid.len())];
    if let Some(g) = grad_field.as_deref() {
        arrays.push(("grad_field", g.len()));
    }
    let coords = coords_on(positions, planes, scheme, &arrays)?;
    if grad_pos.is_some() {
        let shape = planes.mesh().shape();
        let inv_cell = planes.mesh().cell_size().map(|c| 1.0 / c);
        with_support!(scheme, S => {
            par_particles(n, grad_pos, None::<&mut [()]>, |i, gp, _| {
                let st = planes.stencil::<T, S>(&coords, i);
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
    if let Some(g) = grad_field {
        let binning = Binning::from_coords(coords, scheme, planes);
        binning.paint(g, &|i| cotangent[i].as_f64());
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
    if let Some(g) = grad_fields.as_deref() {
        for f in g {
            check_mesh("grad_fields", fields[0].mesh(), f)?;
        }
    }
    let outputs = VectorReadout {
        values: None,
        grad_fields: grad_fields.map(|g| g.each_mut().map(RealField::as_slice_mut)),
        grad_pos,
    };
    readout_vector_and_vjp(fields, positions, scheme, cotangent, outputs)
}

/// What [`readout_vector_and_vjp`] writes; each `None` is skipped.
#[derive(Debug, Default)]
pub struct VectorReadout<'g, T> {
    /// The readout itself, **overwritten**: `values[i][a] = sum_c fields[a][c] W(x_i - c)`.
    pub values: Option<&'g mut [[T; 3]]>,
    /// `dL/d fields[a]`, **accumulated**, one grid per component laid out as the fields.
    pub grad_fields: Option<[&'g mut [T]; 3]>,
    /// `dL/dx`, **accumulated**, one `[T; 3]` per particle (Mpc/h).
    pub grad_pos: Option<&'g mut [[T; 3]]>,
}

/// [`readout_vector`] and [`readout_vector_vjp`] in one pass: writes the readout into
/// `outputs.values` (when given; bitwise what [`readout_vector`] gives) while it accumulates
/// the gradients, so the stencil and the field values are gathered once. A reverse-time
/// adjoint needs both at the same positions.
pub fn readout_vector_and_vjp<T: Real>(
    fields: &[RealField<T>; 3],
    positions: &Positions<'_, T>,
    scheme: Scheme,
    cotangent: &[[T; 3]],
    outputs: VectorReadout<'_, T>,
) -> Result<(), MeshError> {
    check_same_mesh("fields", fields)?;
    let whole = Whole {
        mesh: *fields[0].mesh(),
    };
    let grids = fields.each_ref().map(RealField::as_slice);
    readout_vector_rows(grids, &whole, positions, scheme, cotangent, outputs)
}

/// [`readout_vector_and_vjp`] on the rows of `planes`; the body behind the whole-mesh
/// vector readouts and [`crate::MeshBlock::readout_vector_and_vjp`]. Without gradients to
/// accumulate, `cotangent` may be empty.
pub(crate) fn readout_vector_rows<T: Real, P: Planes>(
    grids: [&[T]; 3],
    planes: &P,
    positions: &Positions<'_, T>,
    scheme: Scheme,
    cotangent: &[[T; 3]],
    outputs: VectorReadout<'_, T>,
) -> Result<(), MeshError> {
    let n = positions.len();
    let VectorReadout {
        values,
        grad_fields,
        grad_pos,
    } = outputs;
    if grad_fields.is_some() || grad_pos.is_some() {
        check_len("cotangent", n, Some(cotangent.len()))?;
    }
    check_len("values", n, values.as_deref().map(<[[T; 3]]>::len))?;
    check_len("grad_pos", n, grad_pos.as_deref().map(<[[T; 3]]>::len))?;
    let mut arrays: Vec<(&'static str, usize)> =
        grids.iter().map(|g| ("fields", g.len())).collect();
    if let Some(g) = grad_fields.as_ref() {
        arrays.extend(g.iter().map(|g| ("grad_fields", g.len())));
    }
    let coords = coords_on(positions, planes, scheme, &arrays)?;
    if grad_pos.is_some() || values.is_some() {
        let gather = VectorGather {
            grids,
            shape: planes.mesh().shape(),
            inv_cell: planes.mesh().cell_size().map(|c| 1.0 / c),
        };
        with_support!(scheme, S => {
            par_particles(n, grad_pos, values, |i, gp, val| {
                let st = planes.stencil::<T, S>(&coords, i);
                let cot = cotangent.get(i).copied().unwrap_or([T::zero(); 3]);
                gather.particle(&st, &cot, gp, val);
            });
        });
    }
    if let Some(g) = grad_fields {
        let binning = Binning::from_coords(coords, scheme, planes);
        binning.paint_many(g, &|i| cotangent[i].map(|v| v.as_f64()));
    }
    Ok(())
}

fn check_mesh<T: Real>(what: &str, mesh: &Mesh, field: &RealField<T>) -> Result<(), MeshError> {
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

/// Three grids read out together (`shape` cells, `inv_cell` = 1 / cell size per axis).
struct VectorGather<'a, T> {
    grids: [&'a [T]; 3],
    shape: [usize; 3],
    inv_cell: [f64; 3],
}

impl<T: Real> VectorGather<'_, T> {
    /// One particle of a vector readout and its position VJP, on its stencil `st`: writes
    /// the three values into `val` and, when `gp` is given, adds
    /// `sum_b cot[b] grad W . grids[b] / cell` (Mpc/h) into it.
    #[inline]
    fn particle<const S: usize>(
        &self,
        st: &Stencil<S>,
        cot: &[T; 3],
        gp: Option<&mut [T; 3]>,
        val: Option<&mut [T; 3]>,
    ) {
        let Some(gp) = gp else {
            if let Some(val) = val {
                *val = gather_many::<T, S, 3>(&self.grids, st, self.shape).map(T::lit);
            }
            return;
        };
        let mut g = [0.0; 3];
        let mut out = [0.0; 3];
        for (b, grid) in self.grids.iter().enumerate() {
            let v = cot[b].as_f64();
            let (value, gb) = gather::<T, S, true>(grid, st, self.shape);
            out[b] = value;
            for a in 0..3 {
                g[a] += v * gb[a];
            }
        }
        if let Some(val) = val {
            *val = out.map(T::lit);
        }
        for a in 0..3 {
            gp[a] = gp[a] + T::lit(g[a] * self.inv_cell[a]);
        }
    }
}
