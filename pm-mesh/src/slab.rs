//! Paint and readout on one rank's **padded x-slab** of a slab decomposition, with their VJPs.
//!
//! # Layout
//!
//! A [`SlabMesh`] is a global [`Mesh`] plus a [`SlabHalo`] of a
//! [`pm_decomp::SlabDecomposition`] of the same shape. Rank `r` owns the x-planes
//! `[x0, x0 + nx_l)` and stores the padded array `[lo + nx_l + hi][ny][nz]` (C order), whose
//! plane `p` is global plane `(x0 - lo + p) mod nx`. The functions here are the serial
//! [`crate::paint`] / [`crate::readout`] with the x-index of every stencil cell mapped to its
//! padded plane; y and z are whole and periodic as in the serial code. The weights, the
//! stencils and the f64 accumulation are the serial ones (shared code), so:
//!
//! * `paint_slab` on every rank followed by [`SlabHalo::halo_add`] gives on every rank's owned
//!   planes the serial paint of all particles (to the rounding of the summation order);
//! * [`SlabHalo::halo_fill`] followed by `readout_slab` gives the serial readout.
//!
//! # Which particles
//!
//! A rank paints and reads its **own** particles: those whose x-plane `floor(x / cell) mod
//! nx` it owns, as [`pm_decomp::Migration::for_slab_x`] distributes them. With the widths of
//! [`SlabHalo::for_support`] (NGP/CIC `0/1`, TSC `1/2`) their stencils lie inside the padded
//! slab; wider halos also admit particles that have moved off the slab since the last
//! migration. A particle whose stencil reaches a plane outside the padded slab is an error
//! ([`MeshError::OutsideSlab`]), reported before anything is written.
//!
//! Positions after a migration are usually [`Positions::Absolute`]; a
//! [`Positions::Displaced`] lattice must describe the rank's particles, as elsewhere.
//!
//! # Parallelism and determinism
//!
//! The paints (`paint_slab` and the field gradient of the readout VJPs) are sequential per
//! rank, in particle index order (ranks run concurrently); readouts and position gradients
//! are parallel over particles as in the serial code. Every result is independent of the
//! number of rayon threads.

use pm_decomp::{Decomposition, SlabHalo};
use pm_fft::Real;

use crate::paint::{
    Coords, Stencil, check_len, deposit_plane, gather, gather_many, par_particles, with_support,
};
use crate::readout::vector_readout_particle;
use crate::{Mesh, MeshError, Positions, Scheme};

/// Marks a global x-plane that is not in the padded slab.
const ABSENT: usize = usize::MAX;

/// A global mesh seen from one rank of a slab decomposition: the rank's padded x-slab
/// `[lo + nx_l + hi][ny][nz]`, padded plane `p` = global plane `(x0 - lo + p) mod nx` (see
/// [`SlabHalo`] and the module docs).
///
/// ```
/// use pm_decomp::{SlabDecomposition, SlabHalo};
/// use pm_mesh::{Mesh, Positions, Scheme, SlabMesh, paint_slab};
/// let mesh = Mesh::cubic(8, 8.0).unwrap();
/// // Rank 1 of 2 owns the x-planes 4..8; CIC needs one ghost plane above (plane 0).
/// let decomp = SlabDecomposition::new(mesh.shape(), 2, 1).unwrap();
/// let slab = SlabMesh::for_scheme(mesh, decomp, Scheme::Cic).unwrap();
/// assert_eq!((slab.halo().lo(), slab.halo().hi()), (0, 1));
/// let mut padded = vec![0.0f64; slab.padded_len()];
/// let x = [[7.75, 0.0, 0.0]];
/// paint_slab(&mut padded, &slab, &Positions::Absolute(&x), None, Scheme::Cic).unwrap();
/// let plane = 8 * 8;
/// assert_eq!(padded[3 * plane], 0.25); // global plane 7
/// assert_eq!(padded[4 * plane], 0.75); // ghost: global plane 0
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SlabMesh {
    mesh: Mesh,
    halo: SlabHalo,
    /// Padded plane of every global x-plane (the first one when the halo wraps), or
    /// [`ABSENT`].
    padded_of: Vec<usize>,
    /// Global plane of padded plane 0.
    first: usize,
}

impl SlabMesh {
    /// The padded slab of `halo` on `mesh`. Errors: [`MeshError::MeshMismatch`] when the
    /// decomposition's shape is not the mesh's.
    pub fn new(mesh: Mesh, halo: SlabHalo) -> Result<Self, MeshError> {
        let shape = halo.decomposition().shape();
        if shape != mesh.shape() {
            return Err(MeshError::MeshMismatch {
                what: format!(
                    "slab decomposition of shape {shape:?} for a mesh of shape {:?}",
                    mesh.shape()
                ),
            });
        }
        let nx = shape[0];
        let mut padded_of = vec![ABSENT; nx];
        for p in (0..halo.padded_planes()).rev() {
            padded_of[halo.global_plane(p)] = p;
        }
        let first = halo.global_plane(0);
        Ok(Self {
            mesh,
            halo,
            padded_of,
            first,
        })
    }

    /// The padded slab with the halo widths the scheme needs
    /// ([`SlabHalo::for_support`]: NGP/CIC `0/1`, TSC `1/2`).
    pub fn for_scheme(
        mesh: Mesh,
        decomp: pm_decomp::SlabDecomposition,
        scheme: Scheme,
    ) -> Result<Self, MeshError> {
        Self::new(mesh, SlabHalo::for_support(decomp, scheme.support())?)
    }

    /// The global mesh.
    pub fn mesh(&self) -> &Mesh {
        &self.mesh
    }

    /// The halo (and through it the decomposition).
    pub fn halo(&self) -> &SlabHalo {
        &self.halo
    }

    /// Elements of the padded array, `(lo + nx_l + hi) * ny * nz`.
    pub fn padded_len(&self) -> usize {
        self.halo.padded_len()
    }

    /// The owned elements inside a padded array (see [`SlabHalo::owned_elements`]).
    pub fn owned_elements(&self) -> std::ops::Range<usize> {
        self.halo.owned_elements()
    }

    /// The padded plane holding global x-plane `g` (the first one if the halo wraps around
    /// the box), `None` if the padded slab does not contain it or `g >= nx`.
    pub fn padded_plane(&self, g: usize) -> Option<usize> {
        self.padded_of.get(g).copied().filter(|&p| p != ABSENT)
    }

    /// Checks the positions, then that every particle's stencil lies in the padded slab;
    /// returns the precomputed coordinates.
    fn coords<'a, T: Real>(
        &self,
        positions: &Positions<'a, T>,
        scheme: Scheme,
    ) -> Result<Coords<'a, T>, MeshError> {
        positions.validate(&self.mesh)?;
        let coords = Coords::new(positions, &self.mesh, 0.0);
        let bad = with_support!(scheme, S => self.first_outside::<T, S>(&coords));
        if let Some((index, plane)) = bad {
            return Err(MeshError::OutsideSlab {
                index,
                plane,
                first: self.first,
                planes: self.halo.padded_planes(),
            });
        }
        Ok(coords)
    }

    /// The first particle (and the plane) whose stencil leaves the padded slab.
    fn first_outside<T: Real, const S: usize>(
        &self,
        coords: &Coords<'_, T>,
    ) -> Option<(usize, usize)> {
        use rayon::prelude::*;
        (0..coords.len()).into_par_iter().find_map_first(|i| {
            let st = coords.stencil::<S>(i);
            st.idx[0]
                .iter()
                .find(|&&g| self.padded_of[g] == ABSENT)
                .map(|&g| (i, g))
        })
    }

    /// The stencil of particle `i` with its x-indices mapped to padded planes. The particle
    /// must have passed [`SlabMesh::coords`] (an absent plane cannot occur; it would map to
    /// plane 0 rather than panic).
    #[inline(always)]
    fn stencil<T: Real, const S: usize>(&self, coords: &Coords<'_, T>, i: usize) -> Stencil<S> {
        let mut st = coords.stencil::<S>(i);
        for g in &mut st.idx[0] {
            let p = self.padded_of[*g];
            *g = if p == ABSENT { 0 } else { p };
        }
        st
    }

    /// Adds `f(i)[g] W(x_i - c)` of every particle into the padded grids, in index order.
    fn paint_many<T: Real, const S: usize, const G: usize>(
        &self,
        coords: &Coords<'_, T>,
        grids: [&mut [T]; G],
        f: impl Fn(usize) -> [f64; G],
    ) {
        let [_, ny, nz] = self.mesh.shape();
        let plane = ny * nz;
        let mut grids = grids;
        for i in 0..coords.len() {
            let st = self.stencil::<T, S>(coords, i);
            let m = f(i);
            for (grid, m) in grids.iter_mut().zip(m) {
                for a in 0..S {
                    let p = &mut grid[st.idx[0][a] * plane..][..plane];
                    deposit_plane(p, &st, nz, m * st.w[0][a]);
                }
            }
        }
    }
}

/// Paint onto a rank's padded x-slab: **adds** `w_i W(x_i - c)` of every particle into the
/// padded array (`w_i = 1` when `weights` is `None`), with the window `W` of [`crate::paint`]
/// and cell `c` stored at padded plane `(c_x - x0 + lo) mod nx`. Follow it with
/// [`SlabHalo::halo_add`] to obtain the serial paint's owned planes.
///
/// Errors: invalid positions or weights (as [`crate::paint`]), a padded array of the wrong
/// length ([`MeshError::Length`]), a particle whose stencil leaves the padded slab
/// ([`MeshError::OutsideSlab`]; nothing is written then).
pub fn paint_slab<T: Real>(
    padded: &mut [T],
    slab: &SlabMesh,
    positions: &Positions<'_, T>,
    weights: Option<&[T]>,
    scheme: Scheme,
) -> Result<(), MeshError> {
    check_len("weights", positions.len(), weights.map(<[T]>::len))?;
    check_len("padded slab", slab.padded_len(), Some(padded.len()))?;
    let coords = slab.coords(positions, scheme)?;
    with_support!(scheme, S => {
        slab.paint_many::<T, S, 1>(&coords, [padded], |i| {
            [weights.map_or(1.0, |w| w[i].as_f64())]
        })
    });
    Ok(())
}

/// VJP of [`paint_slab`] for a padded cotangent `g` (every plane, ghosts included, holding
/// the cotangent of its global plane: apply [`SlabHalo::halo_fill`], the adjoint of
/// `halo_add`, to the owned cotangent first). Accumulates, as [`crate::paint_vjp`]:
///
/// * `grad_pos[i] += w_i sum_c g[c] grad W(x_i - c)` (Mpc/h; zero for NGP),
/// * `grad_weights[i] += sum_c g[c] W(x_i - c)`.
///
/// Errors: as [`paint_slab`], and gradient buffers of the wrong length.
pub fn paint_slab_vjp<T: Real>(
    cotangent: &[T],
    slab: &SlabMesh,
    positions: &Positions<'_, T>,
    weights: Option<&[T]>,
    scheme: Scheme,
    grad_pos: Option<&mut [[T; 3]]>,
    grad_weights: Option<&mut [T]>,
) -> Result<(), MeshError> {
    let n = positions.len();
    check_len("weights", n, weights.map(<[T]>::len))?;
    check_len("grad_pos", n, grad_pos.as_deref().map(<[[T; 3]]>::len))?;
    check_len("grad_weights", n, grad_weights.as_deref().map(<[T]>::len))?;
    check_len("padded cotangent", slab.padded_len(), Some(cotangent.len()))?;
    let coords = slab.coords(positions, scheme)?;
    if grad_pos.is_none() && grad_weights.is_none() {
        return Ok(());
    }
    let want_pos = grad_pos.is_some();
    let shape = slab.mesh.shape();
    let inv_cell = slab.mesh.cell_size().map(|c| 1.0 / c);
    with_support!(scheme, S => {
        par_particles(n, grad_pos, grad_weights, |i, gp, gw| {
            let st = slab.stencil::<T, S>(&coords, i);
            if want_pos {
                let (v, g) = gather::<T, S, true>(cotangent, &st, shape);
                if let Some(gw) = gw {
                    *gw = *gw + T::lit(v);
                }
                if let Some(gp) = gp {
                    let w = weights.map_or(1.0, |w| w[i].as_f64());
                    for a in 0..3 {
                        gp[a] = gp[a] + T::lit(w * g[a] * inv_cell[a]);
                    }
                }
            } else if let Some(gw) = gw {
                let (v, _) = gather::<T, S, false>(cotangent, &st, shape);
                *gw = *gw + T::lit(v);
            }
        });
    });
    Ok(())
}

/// Readout from a rank's padded x-slab, **overwriting** `out`:
/// `out[i] = sum_c field[c] W(x_i - c)` as [`crate::readout`]. The ghost planes must hold
/// their owners' values ([`SlabHalo::halo_fill`]).
///
/// Errors: as [`paint_slab`], and `out.len() != n`.
pub fn readout_slab<T: Real>(
    padded: &[T],
    slab: &SlabMesh,
    positions: &Positions<'_, T>,
    scheme: Scheme,
    out: &mut [T],
) -> Result<(), MeshError> {
    check_len("out", positions.len(), Some(out.len()))?;
    check_len("padded slab", slab.padded_len(), Some(padded.len()))?;
    let coords = slab.coords(positions, scheme)?;
    let shape = slab.mesh.shape();
    with_support!(scheme, S => {
        par_particles(positions.len(), Some(out), None::<&mut [()]>, |i, o, _| {
            let st = slab.stencil::<T, S>(&coords, i);
            if let Some(o) = o {
                *o = T::lit(gather::<T, S, false>(padded, &st, shape).0);
            }
        });
    });
    Ok(())
}

/// VJP of [`readout_slab`] for the cotangent `v` (one value per particle); accumulates
///
/// * `grad_padded[c] += sum_i v_i W(x_i - c)` (a [`paint_slab`] with weights `v`; follow
///   it with [`SlabHalo::halo_add`], the adjoint of `halo_fill`),
/// * `grad_pos[i] += v_i sum_c field[c] grad W(x_i - c)` (Mpc/h; zero for NGP).
///
/// Errors: as [`readout_slab`], and gradient buffers of the wrong length.
pub fn readout_slab_vjp<T: Real>(
    padded: &[T],
    slab: &SlabMesh,
    positions: &Positions<'_, T>,
    scheme: Scheme,
    cotangent: &[T],
    grad_padded: Option<&mut [T]>,
    grad_pos: Option<&mut [[T; 3]]>,
) -> Result<(), MeshError> {
    let n = positions.len();
    check_len("cotangent", n, Some(cotangent.len()))?;
    check_len("grad_pos", n, grad_pos.as_deref().map(<[[T; 3]]>::len))?;
    check_len("padded slab", slab.padded_len(), Some(padded.len()))?;
    check_len(
        "grad_padded",
        slab.padded_len(),
        grad_padded.as_deref().map(<[T]>::len),
    )?;
    let coords = slab.coords(positions, scheme)?;
    if let Some(g) = grad_padded {
        with_support!(scheme, S => {
            slab.paint_many::<T, S, 1>(&coords, [g], |i| [cotangent[i].as_f64()])
        });
    }
    if grad_pos.is_some() {
        let shape = slab.mesh.shape();
        let inv_cell = slab.mesh.cell_size().map(|c| 1.0 / c);
        with_support!(scheme, S => {
            par_particles(n, grad_pos, None::<&mut [()]>, |i, gp, _| {
                let st = slab.stencil::<T, S>(&coords, i);
                let (_, g) = gather::<T, S, true>(padded, &st, shape);
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

/// Readout of three padded fields at once (e.g. the force components), sharing the weights,
/// **overwriting** `out`: `out[i][a] = sum_c fields[a][c] W(x_i - c)`, as
/// [`crate::readout_vector`]. The ghost planes must be filled ([`SlabHalo::halo_fill`]).
///
/// Errors: as [`readout_slab`].
pub fn readout_slab_vector<T: Real>(
    padded: [&[T]; 3],
    slab: &SlabMesh,
    positions: &Positions<'_, T>,
    scheme: Scheme,
    out: &mut [[T; 3]],
) -> Result<(), MeshError> {
    check_len("out", positions.len(), Some(out.len()))?;
    for p in padded {
        check_len("padded slab", slab.padded_len(), Some(p.len()))?;
    }
    let coords = slab.coords(positions, scheme)?;
    let shape = slab.mesh.shape();
    with_support!(scheme, S => {
        par_particles(positions.len(), Some(out), None::<&mut [()]>, |i, o, _| {
            let st = slab.stencil::<T, S>(&coords, i);
            if let Some(o) = o {
                *o = gather_many::<T, S, 3>(&padded, &st, shape).map(T::lit);
            }
        });
    });
    Ok(())
}

/// [`readout_slab_vector`] and its VJP in one pass, as [`crate::readout_vector_and_vjp`]:
/// writes the readout into `values` (when given) and, for the cotangent `v[i][a]`,
/// accumulates
///
/// * `grad_padded[a][c] += sum_i v[i][a] W(x_i - c)` (paints; follow them with
///   [`SlabHalo::halo_add`]),
/// * `grad_pos[i] += sum_a v[i][a] sum_c fields[a][c] grad W(x_i - c)` (Mpc/h).
///
/// `None` skips an output. Errors: as [`readout_slab`], and buffers of the wrong length.
pub fn readout_slab_vector_and_vjp<T: Real>(
    padded: [&[T]; 3],
    slab: &SlabMesh,
    positions: &Positions<'_, T>,
    scheme: Scheme,
    cotangent: &[[T; 3]],
    values: Option<&mut [[T; 3]]>,
    grad_padded: Option<[&mut [T]; 3]>,
    grad_pos: Option<&mut [[T; 3]]>,
) -> Result<(), MeshError> {
    let n = positions.len();
    check_len("cotangent", n, Some(cotangent.len()))?;
    check_len("values", n, values.as_deref().map(<[[T; 3]]>::len))?;
    check_len("grad_pos", n, grad_pos.as_deref().map(<[[T; 3]]>::len))?;
    for p in padded {
        check_len("padded slab", slab.padded_len(), Some(p.len()))?;
    }
    if let Some(g) = grad_padded.as_ref() {
        for p in g {
            check_len("grad_padded", slab.padded_len(), Some(p.len()))?;
        }
    }
    let coords = slab.coords(positions, scheme)?;
    if let Some(g) = grad_padded {
        with_support!(scheme, S => {
            slab.paint_many::<T, S, 3>(&coords, g, |i| cotangent[i].map(|v| v.as_f64()))
        });
    }
    if grad_pos.is_some() || values.is_some() {
        let shape = slab.mesh.shape();
        let inv_cell = slab.mesh.cell_size().map(|c| 1.0 / c);
        with_support!(scheme, S => {
            par_particles(n, grad_pos, values, |i, gp, val| {
                let st = slab.stencil::<T, S>(&coords, i);
                vector_readout_particle(&padded, &st, shape, &cotangent[i], inv_cell, gp, val);
            });
        });
    }
    Ok(())
}
