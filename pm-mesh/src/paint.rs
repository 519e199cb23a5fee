//! Paint (mass assignment, particles to grid) and its vector-Jacobian product.
//!
//! # Parallel, deterministic painting
//!
//! Every particle is binned by the first x slab `j0` (wrapped into `[0, nx)`) that its
//! stencil touches. The x axis is cut into an even number of chunks whose layout depends only
//! on `nx` and the scheme (each at least `max(support, 2)` slabs wide), so a particle binned in
//! chunk `c` writes only to chunk `c` and the first `support - 1` slabs of chunk `c + 1`
//! (chunk 0 after the last one). Painting runs in two phases: the even chunks in parallel, each
//! holding the disjoint mutable pair `(c, c + 1)`, then the odd chunks with the pairs
//! `(c, c + 1 mod nc)`. Within a chunk, particles are painted sequentially, ordered by
//! y block (at most 32 blocks of rows, for cache locality: the working set is a few rows of
//! `support + 1` slabs) and then by index; the order comes from a stable bucket sort by
//! (chunk, y block) done block-wise in parallel. So the order of the additions into every
//! cell is fixed by the mesh and the scheme alone: the grid is bitwise the same for any number
//! of threads. No grid copies are made; the extra memory is 2 bytes per particle plus at most
//! `16 nx` bucket offsets (4 bytes) per 65536 particles.
//! Meshes with fewer than `2 max(support, 2)` slabs along x are painted sequentially.

use pm_fft::Real;
use rayon::prelude::*;

use crate::binning::Binning;
use crate::planes::{Planes, Whole, coords_on};
use crate::stencil::{check_len, gather, par_particles, with_support};
use crate::{Mesh, MeshError, Positions, RealField, Scheme};

/// Mass per particle that makes the mean density 1 in mesh units: `n_cells / n_particles`.
/// Painting with this weight gives `1 + delta`.
pub fn mean_particle_mass(mesh: &Mesh, n_particles: usize) -> f64 {
    mesh.n_cells() as f64 / n_particles as f64
}

/// The density contrast of `positions` painted on `mesh` with `scheme`:
///
/// ```text
/// delta[c] = m sum_i W(x_i - c) - 1,    m = n_cells / n_particles
/// ```
///
/// (`m` from [`mean_particle_mass`], so that the mean of `1 + delta` is 1; the product is
/// formed in f64 and rounded once to `T`).
///
/// ```
/// use pm_mesh::{Lattice, Mesh, Positions, Scheme, density_contrast};
/// let mesh = Mesh::cubic(8, 64.0).unwrap();
/// let lattice = Lattice::cubic(4, 64.0).unwrap();
/// let disp = vec![[0.0f64; 3]; lattice.len()];
/// let delta = density_contrast(&Positions::Displaced { lattice, disp: &disp }, mesh, Scheme::Cic)
///     .unwrap();
/// let mean: f64 = delta.as_slice().iter().sum::<f64>() / 512.0;
/// assert!(mean.abs() < 1e-12);
/// ```
pub fn density_contrast<T: Real>(
    positions: &Positions<'_, T>,
    mesh: Mesh,
    scheme: Scheme,
) -> Result<RealField<T>, MeshError> {
    let mut rho = RealField::zeros(mesh);
    paint(&mut rho, positions, None, scheme)?;
    let m = mean_particle_mass(&mesh, positions.len());
    rho.as_slice_mut()
        .par_iter_mut()
        .for_each(|v| *v = T::lit(m * v.as_f64() - 1.0));
    Ok(rho)
}

/// Adds the weight `w_i` (1 when `weights` is `None`) of every particle to `field`:
///
/// `field[c] += sum_i w_i W(x_i - c)`, with `W(s) = W1(s_x) W1(s_y) W1(s_z)` the scheme's
/// window (`s` in cells, periodic) and `x_i` the wrapped position in cells.
///
/// The sums are accumulated in `T`, in an order fixed by the mesh and the scheme, so the result
/// is bitwise independent of the number of rayon threads (see the module documentation).
///
/// Errors: a non-finite coordinate ([`MeshError::NonFinite`]), a lattice that does not match
/// the field's mesh ([`MeshError::Length`] / [`MeshError::MeshMismatch`]), `weights` of the wrong
/// length ([`MeshError::Length`]).
///
/// ```
/// use pm_mesh::{Mesh, Positions, RealField, Scheme, paint};
/// let mesh = Mesh::cubic(4, 4.0).unwrap();
/// let mut rho = RealField::<f64>::zeros(mesh);
/// let x = [[1.25, 2.0, 3.0]];
/// paint(&mut rho, &Positions::Absolute(&x), None, Scheme::Cic).unwrap();
/// assert_eq!(rho.data()[[1, 2, 3]], 0.75);
/// assert_eq!(rho.data()[[2, 2, 3]], 0.25);
/// ```
pub fn paint<T: Real>(
    field: &mut RealField<T>,
    positions: &Positions<'_, T>,
    weights: Option<&[T]>,
    scheme: Scheme,
) -> Result<(), MeshError> {
    let whole = Whole {
        mesh: *field.mesh(),
    };
    paint_rows(field.as_slice_mut(), &whole, positions, weights, scheme)
}

/// [`paint`] into the rows of `planes` (the whole mesh, or a rank's padded slab):
/// `grid[row(c)] += sum_i w_i W(x_i - c)`. The one body behind [`paint`] and
/// [`crate::MeshBlock::paint`].
pub(crate) fn paint_rows<T: Real, P: Planes>(
    grid: &mut [T],
    planes: &P,
    positions: &Positions<'_, T>,
    weights: Option<&[T]>,
    scheme: Scheme,
) -> Result<(), MeshError> {
    check_len("weights", positions.len(), weights.map(<[T]>::len))?;
    let coords = coords_on(positions, planes, scheme, &[("grid", grid.len())])?;
    let binning = Binning::from_coords(coords, scheme, planes);
    binning.paint(grid, &|i| weights.map_or(1.0, |w| w[i].as_f64()));
    Ok(())
}

/// VJP of [`paint`]: for a cotangent grid `g`, accumulates
///
/// * `grad_pos[i] += w_i sum_c g[c] grad W(x_i - c)` (per particle, Mpc/h: the derivative
///   in cells divided by the cell size of each axis),
/// * `grad_weights[i] += sum_c g[c] W(x_i - c)` (the readout of `g` at `x_i`).
///
/// `None` skips a gradient. NGP's window is piecewise constant, so its position gradient is
/// zero. Parallel over particles; the result does not depend on the number of threads.
pub fn paint_vjp<T: Real>(
    cotangent: &RealField<T>,
    positions: &Positions<'_, T>,
    weights: Option<&[T]>,
    scheme: Scheme,
    grad_pos: Option<&mut [[T; 3]]>,
    grad_weights: Option<&mut [T]>,
) -> Result<(), MeshError> {
    let whole = Whole {
        mesh: *cotangent.mesh(),
    };
    let grads = ParticleGrads {
        pos: grad_pos,
        weights: grad_weights,
    };
    paint_vjp_rows(
        cotangent.as_slice(),
        &whole,
        positions,
        weights,
        scheme,
        grads,
    )
}

/// The per-particle gradients a paint VJP accumulates into ([`crate::MeshBlock::paint_vjp`]);
/// `None` skips one.
#[derive(Debug, Default)]
pub struct ParticleGrads<'g, T> {
    /// `dL/dx`, one `[T; 3]` per particle (Mpc/h).
    pub pos: Option<&'g mut [[T; 3]]>,
    /// `dL/dw`, one per particle.
    pub weights: Option<&'g mut [T]>,
}

/// [`paint_vjp`] of a cotangent on the rows of `planes` (every row, ghosts included, holding
/// the cotangent of its global plane). The one body behind [`paint_vjp`] and
/// [`crate::MeshBlock::paint_vjp`].
pub(crate) fn paint_vjp_rows<T: Real, P: Planes>(
    cotangent: &[T],
    planes: &P,
    positions: &Positions<'_, T>,
    weights: Option<&[T]>,
    scheme: Scheme,
    grads: ParticleGrads<'_, T>,
) -> Result<(), MeshError> {
    let n = positions.len();
    let ParticleGrads {
        pos: grad_pos,
        weights: grad_weights,
    } = grads;
    check_len("weights", n, weights.map(<[T]>::len))?;
    check_len("grad_pos", n, grad_pos.as_deref().map(<[[T; 3]]>::len))?;
    check_len("grad_weights", n, grad_weights.as_deref().map(<[T]>::len))?;
    let coords = coords_on(positions, planes, scheme, &[("cotangent", cotangent.len())])?;
    if grad_pos.is_none() && grad_weights.is_none() {
        return Ok(());
    }
    let want_pos = grad_pos.is_some();
    let mesh = planes.mesh();
    let shape = mesh.shape();
    let inv_cell = mesh.cell_size().map(|c| 1.0 / c);
    with_support!(scheme, S => {
        par_particles(n, grad_pos, grad_weights, |i, gp, gw| {
            let st = planes.stencil::<T, S>(&coords, i);
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
