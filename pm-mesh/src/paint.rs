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

use crate::{Mesh, MeshError, Positions, RealField, Scheme};

/// Particles per block of the parallel bucket sort (local indices fit in a `u16`).
const SORT_BLOCK: usize = 1 << 16;

/// Particles per task of the particle-parallel loops (readout and the VJPs).
pub(crate) const PARTICLE_CHUNK: usize = 2048;

/// Runs `$body` with the const generic `$s` set to the scheme's support (1, 2 or 3).
macro_rules! with_support {
    ($scheme:expr, $s:ident => $body:expr) => {
        match $scheme.support() {
            1 => {
                const $s: usize = 1;
                $body
            }
            2 => {
                const $s: usize = 2;
                $body
            }
            3 => {
                const $s: usize = 3;
                $body
            }
            _ => unreachable!("schemes have support 1, 2 or 3"),
        }
    };
}
pub(crate) use with_support;

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
    let mesh = *field.mesh();
    positions.validate(&mesh)?;
    check_len("weights", positions.len(), weights.map(<[T]>::len))?;
    let binning = Binning::new(positions, &mesh, scheme, 0.0);
    binning.paint(field.as_slice_mut(), &|i| {
        weights.map_or(1.0, |w| w[i].as_f64())
    });
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
    let mesh = *cotangent.mesh();
    positions.validate(&mesh)?;
    let n = positions.len();
    check_len("weights", n, weights.map(<[T]>::len))?;
    check_len("grad_pos", n, grad_pos.as_deref().map(<[[T; 3]]>::len))?;
    check_len("grad_weights", n, grad_weights.as_deref().map(<[T]>::len))?;
    if grad_pos.is_none() && grad_weights.is_none() {
        return Ok(());
    }
    let want_pos = grad_pos.is_some();
    let grid = cotangent.as_slice();
    let shape = mesh.shape();
    let inv_cell = mesh.cell_size().map(|c| 1.0 / c);
    let coords = Coords::new(positions, &mesh, 0.0);
    with_support!(scheme, S => {
        par_particles(n, grad_pos, grad_weights, |i, gp, gw| {
            let st = coords.stencil::<S>(i);
            if want_pos {
                let (v, g) = gather::<T, S, true>(grid, &st, shape);
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
                let (v, _) = gather::<T, S, false>(grid, &st, shape);
                *gw = *gw + T::lit(v);
            }
        });
    });
    Ok(())
}

/// `Err(MeshError::Length)` when an optional array does not have `expected` entries.
pub(crate) fn check_len(
    what: &'static str,
    expected: usize,
    got: Option<usize>,
) -> Result<(), MeshError> {
    match got {
        Some(got) if got != expected => Err(MeshError::Length {
            what,
            expected,
            got,
        }),
        _ => Ok(()),
    }
}

/// Where the particles of a [`Positions`] are, in cells of a mesh, precomputed for fast
/// per-particle evaluation: the same values as [`Positions::mesh_coords`] (the same f64
/// operations), then shifted by `shift` cells along every axis (not re-wrapped: the stencil
/// indices are wrapped instead, so the coordinates lie in `[0, n + shift)`).
pub(crate) struct Coords<'a, T: Real> {
    source: Source<'a, T>,
    shape: [usize; 3],
    n: [f64; 3],
    cell: [f64; 3],
    shift: f64,
}

enum Source<'a, T: Real> {
    Absolute(&'a [[T; 3]]),
    /// `q` tabulates [`crate::Lattice::q`] per axis (it depends on one index per axis).
    /// With `ids`, particle `i` is the lattice point `ids[i]`; without, the point `i`.
    Displaced {
        disp: &'a [[T; 3]],
        ids: Option<&'a [u64]>,
        q: [Vec<f64>; 3],
        ny: usize,
        nz: usize,
    },
}

impl<'a, T: Real> Coords<'a, T> {
    /// Precomputes the lattice tables and the mesh geometry. The positions must have been
    /// validated against `mesh`.
    pub(crate) fn new(positions: &Positions<'a, T>, mesh: &Mesh, shift: f64) -> Self {
        let source = match *positions {
            Positions::Absolute(x) => Source::Absolute(x),
            Positions::Displaced { lattice, disp } => Self::displaced(lattice, disp, None),
            Positions::Indexed { lattice, ids, disp } => Self::displaced(lattice, disp, Some(ids)),
        };
        let shape = mesh.shape();
        Self {
            source,
            shape,
            n: shape.map(|n| n as f64),
            cell: mesh.cell_size(),
            shift,
        }
    }

    fn displaced(
        lattice: crate::Lattice,
        disp: &'a [[T; 3]],
        ids: Option<&'a [u64]>,
    ) -> Source<'a, T> {
        let [nx, ny, nz] = lattice.shape();
        let q = [
            (0..nx).map(|j| lattice.q(j * ny * nz)[0]).collect(),
            (0..ny).map(|j| lattice.q(j * nz)[1]).collect(),
            (0..nz).map(|j| lattice.q(j)[2]).collect(),
        ];
        Source::Displaced {
            disp,
            ids,
            q,
            ny,
            nz,
        }
    }

    /// Wraps `x` (Mpc/h) into `[0, n)` cells along `axis`, as [`Positions::mesh_coords`], and
    /// adds the shift.
    #[inline(always)]
    fn wrap(&self, x: f64, axis: usize) -> f64 {
        let n = self.n[axis];
        let t = x / self.cell[axis];
        // Fast path: already inside the box (rem_euclid would return t unchanged).
        let mut u = if (0.0..n).contains(&t) {
            t
        } else {
            t.rem_euclid(n)
        };
        if u >= n {
            // rem_euclid of a tiny negative number rounds up to n.
            u -= n;
        }
        u + self.shift
    }

    /// Coordinates of particle `i` in cells.
    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> [f64; 3] {
        let x: [f64; 3] = match &self.source {
            Source::Absolute(x) => x[i].map(|v| v.as_f64()),
            Source::Displaced {
                disp,
                ids,
                q,
                ny,
                nz,
            } => {
                let point = ids.map_or(i, |ids| ids[i] as usize);
                let (ix, rest) = (point / (ny * nz), point % (ny * nz));
                let idx = [ix, rest / nz, rest % nz];
                let d = disp[i];
                std::array::from_fn(|a| q[a][idx[a]] + d[a].as_f64())
            }
        };
        std::array::from_fn(|a| self.wrap(x[a], a))
    }

    /// Number of particles.
    pub(crate) fn len(&self) -> usize {
        match &self.source {
            Source::Absolute(x) => x.len(),
            Source::Displaced { disp, .. } => disp.len(),
        }
    }

    /// The stencil of particle `i` for the scheme of support `S`.
    #[inline(always)]
    pub(crate) fn stencil<const S: usize>(&self, i: usize) -> Stencil<S> {
        Stencil::new(self.get(i), self.shape)
    }
}

/// [`Scheme::weights`] for the scheme of support `S` at `x >= 0` (the coordinates here are
/// never negative), with `floor` done by truncation (a libm call otherwise on baseline
/// x86-64). Bitwise the same as [`Scheme::weights`] for `x >= 0`.
#[inline(always)]
pub(crate) fn weights_nonneg<const S: usize>(x: f64) -> (i64, [f64; 3], [f64; 3]) {
    debug_assert!(x >= 0.0);
    match S {
        1 => ((x + 0.5) as i64, [1.0, 0.0, 0.0], [0.0; 3]),
        2 => {
            let j = x as i64;
            let t = x - j as f64;
            (j, [1.0 - t, t, 0.0], [-1.0, 1.0, 0.0])
        }
        _ => {
            let j = (x + 0.5) as i64;
            let d = x - j as f64;
            let (l, r) = (0.5 - d, 0.5 + d);
            (
                j - 1,
                [0.5 * l * l, 0.75 - d * d, 0.5 * r * r],
                [-l, -2.0 * d, r],
            )
        }
    }
}

/// `S` consecutive grid indices from `first`, wrapped into `[0, n)`.
#[inline(always)]
fn wrap_run<const S: usize>(first: i64, n: usize) -> [usize; S] {
    let ni = n as i64;
    if first >= 0 && first + S as i64 <= ni {
        let f = first as usize;
        std::array::from_fn(|k| f + k)
    } else {
        std::array::from_fn(|k| (first + k as i64).rem_euclid(ni) as usize)
    }
}

/// The `S^3` stencil of one particle: wrapped indices, weights and their derivatives (per
/// cell) along each axis. The weight of cell `(ix[a], iy[b], iz[c])` is
/// `w[0][a] w[1][b] w[2][c]`.
#[derive(Clone, Copy)]
pub(crate) struct Stencil<const S: usize> {
    /// Wrapped indices per axis.
    pub(crate) idx: [[usize; S]; 3],
    /// 1D weights per axis.
    pub(crate) w: [[f64; S]; 3],
    /// Derivatives of the 1D weights with respect to the coordinate in cells.
    pub(crate) dw: [[f64; S]; 3],
}

impl<const S: usize> Stencil<S> {
    /// The stencil of a particle at `u` (cells, non-negative) on a grid of `shape`.
    #[inline(always)]
    pub(crate) fn new(u: [f64; 3], shape: [usize; 3]) -> Self {
        let mut idx = [[0; S]; 3];
        let mut w = [[0.0; S]; 3];
        let mut dw = [[0.0; S]; 3];
        for a in 0..3 {
            let (first, wa, dwa) = weights_nonneg::<S>(u[a]);
            idx[a] = wrap_run::<S>(first, shape[a]);
            w[a] = std::array::from_fn(|k| wa[k]);
            dw[a] = std::array::from_fn(|k| dwa[k]);
        }
        Self { idx, w, dw }
    }
}

/// Adds `f w_y w_z` of the stencil to one x plane (`ny * nz` values).
#[inline(always)]
pub(crate) fn deposit_plane<T: Real, const S: usize>(
    plane: &mut [T],
    st: &Stencil<S>,
    nz: usize,
    f: f64,
) {
    for b in 0..S {
        let fy = f * st.w[1][b];
        let row = &mut plane[st.idx[1][b] * nz..][..nz];
        for c in 0..S {
            let z = st.idx[2][c];
            row[z] = row[z] + T::lit(fy * st.w[2][c]);
        }
    }
}

/// `sum_c grid[c] W(x - c)` and, when `GRAD`, its gradient with respect to `x` in cells,
/// accumulated in f64.
#[inline(always)]
pub(crate) fn gather<T: Real, const S: usize, const GRAD: bool>(
    grid: &[T],
    st: &Stencil<S>,
    shape: [usize; 3],
) -> (f64, [f64; 3]) {
    let [_, ny, nz] = shape;
    let mut val = 0.0;
    let mut g = [0.0; 3];
    for a in 0..S {
        let base = st.idx[0][a] * ny;
        for b in 0..S {
            let row = &grid[(base + st.idx[1][b]) * nz..][..nz];
            let mut s0 = 0.0;
            let mut s1 = 0.0;
            for c in 0..S {
                let v = row[st.idx[2][c]].as_f64();
                s0 += st.w[2][c] * v;
                if GRAD {
                    s1 += st.dw[2][c] * v;
                }
            }
            let wxy = st.w[0][a] * st.w[1][b];
            val += wxy * s0;
            if GRAD {
                g[0] += st.dw[0][a] * st.w[1][b] * s0;
                g[1] += st.w[0][a] * st.dw[1][b] * s0;
                g[2] += wxy * s1;
            }
        }
    }
    (val, g)
}

/// [`gather`] (values only) of `G` grids at once: the stencil's rows are located once and
/// every grid is summed in the same order as [`gather`] does it, so each result is bitwise
/// the one of a separate [`gather`].
#[inline(always)]
pub(crate) fn gather_many<T: Real, const S: usize, const G: usize>(
    grids: &[&[T]; G],
    st: &Stencil<S>,
    shape: [usize; 3],
) -> [f64; G] {
    let [_, ny, nz] = shape;
    let mut val = [0.0; G];
    for a in 0..S {
        let base = st.idx[0][a] * ny;
        for b in 0..S {
            let row = (base + st.idx[1][b]) * nz;
            let wxy = st.w[0][a] * st.w[1][b];
            for (v, grid) in val.iter_mut().zip(grids) {
                let row = &grid[row..][..nz];
                let mut s0 = 0.0;
                for c in 0..S {
                    s0 += st.w[2][c] * row[st.idx[2][c]].as_f64();
                }
                *v += wxy * s0;
            }
        }
    }
    val
}

/// Runs `f(i, a_i, b_i)` for every particle `i < n` in parallel (tasks of [`PARTICLE_CHUNK`]
/// particles), with mutable access to entry `i` of each optional output (`len == n`).
pub(crate) fn par_particles<A, B, F>(n: usize, a: Option<&mut [A]>, b: Option<&mut [B]>, f: F)
where
    A: Send,
    B: Send,
    F: Fn(usize, Option<&mut A>, Option<&mut B>) + Sync,
{
    fn split<X>(s: Option<&mut [X]>, tasks: usize) -> Vec<Option<&mut [X]>> {
        match s {
            Some(s) => s.chunks_mut(PARTICLE_CHUNK).map(Some).collect(),
            None => (0..tasks).map(|_| None).collect(),
        }
    }
    let tasks = n.div_ceil(PARTICLE_CHUNK);
    let a = split(a, tasks);
    let b = split(b, tasks);
    a.into_par_iter()
        .zip(b)
        .enumerate()
        .for_each(|(t, (mut a, mut b))| {
            let start = t * PARTICLE_CHUNK;
            let end = n.min(start + PARTICLE_CHUNK);
            for i in start..end {
                let ai = a.as_deref_mut().map(|s| &mut s[i - start]);
                let bi = b.as_deref_mut().map(|s| &mut s[i - start]);
                f(i, ai, bi);
            }
        });
}

/// One block of the bucket sort: the particles `start..start+len` listed by chunk.
struct SortBlock {
    /// First particle of the block.
    start: usize,
    /// `local[offsets[b]..offsets[b+1]]` are the particles of bucket `b = chunk * y_blocks +
    /// y_block`, in index order.
    offsets: Vec<u32>,
    /// Particle indices relative to `start`.
    local: Vec<u16>,
}

/// The particles sorted by x chunk, ready to be painted in parallel (see the module docs).
pub(crate) struct Binning<'a, T: Real> {
    coords: Coords<'a, T>,
    scheme: Scheme,
    /// Chunk `c` covers the x slabs `starts[c]..starts[c+1]`; empty for a sequential paint.
    starts: Vec<usize>,
    /// Number of y blocks per chunk.
    y_blocks: usize,
    blocks: Vec<SortBlock>,
}

/// First x slab of every chunk plus `nx`, for an even number (>= 2) of chunks, each at least
/// `max(support, 2)` slabs wide; `None` when `nx` is too small (paint sequentially).
fn chunk_starts(nx: usize, support: usize) -> Option<Vec<usize>> {
    let width = support.max(2);
    let nc = 2 * (nx / (2 * width));
    (nc >= 2).then(|| (0..=nc).map(|c| c * nx / nc).collect())
}

impl<'a, T: Real> Binning<'a, T> {
    /// Sorts the particles (shifted by `shift` cells along every axis) by x chunk.
    /// The positions must have been validated against `mesh`.
    pub(crate) fn new(
        positions: &Positions<'a, T>,
        mesh: &Mesh,
        scheme: Scheme,
        shift: f64,
    ) -> Self {
        let coords = Coords::new(positions, mesh, shift);
        let nx = mesh.shape()[0];
        let Some(starts) = chunk_starts(nx, scheme.support()) else {
            return Self {
                coords,
                scheme,
                starts: Vec::new(),
                y_blocks: 1,
                blocks: Vec::new(),
            };
        };
        let nc = starts.len() - 1;
        let mut chunk_of = vec![0u32; nx];
        for c in 0..nc {
            chunk_of[starts[c]..starts[c + 1]].fill(c as u32);
        }
        // y blocks of at least 4 rows, at most 32 of them.
        let ny = mesh.shape()[1];
        let rows = ny.div_ceil(32).max(4);
        let y_blocks = ny.div_ceil(rows);
        let n = positions.len();
        let blocks = with_support!(scheme, S => {
            (0..n.div_ceil(SORT_BLOCK))
                .into_par_iter()
                .map(|blk| {
                    let start = blk * SORT_BLOCK;
                    let end = n.min(start + SORT_BLOCK);
                    let ids: Vec<u32> = (start..end)
                        .map(|i| {
                            let u = coords.get(i);
                            let (fx, _, _) = weights_nonneg::<S>(u[0]);
                            let (fy, _, _) = weights_nonneg::<S>(u[1]);
                            let c = chunk_of[wrap_run::<1>(fx, nx)[0]] as usize;
                            let yb = wrap_run::<1>(fy, ny)[0] / rows;
                            (c * y_blocks + yb) as u32
                        })
                        .collect();
                    sort_block(start, &ids, nc * y_blocks)
                })
                .collect()
        });
        Self {
            coords,
            scheme,
            starts,
            y_blocks,
            blocks,
        }
    }

    /// `grid[c] += sum_i weight(i) W(x_i + shift - c)` for the particles this binning was
    /// built from (`grid` is the mesh's C-order grid).
    pub(crate) fn paint<W>(&self, grid: &mut [T], weight: &W)
    where
        W: Fn(usize) -> f64 + Sync,
    {
        self.paint_many::<_, 1>([grid], &|i| [weight(i)]);
    }

    /// [`Binning::paint`] of `G` grids at once with per-particle weights `weight(i)[g]`:
    /// each particle's stencil is computed once. Every grid receives exactly the additions,
    /// in the same order, that a separate [`Binning::paint`] would make (bitwise the same).
    pub(crate) fn paint_many<W, const G: usize>(&self, grids: [&mut [T]; G], weight: &W)
    where
        W: Fn(usize) -> [f64; G] + Sync,
    {
        with_support!(self.scheme, S => self.paint_s::<W, S, G>(grids, weight))
    }

    fn paint_s<W, const S: usize, const G: usize>(&self, grids: [&mut [T]; G], weight: &W)
    where
        W: Fn(usize) -> [f64; G] + Sync,
    {
        let shape = self.coords.shape;
        let plane = shape[1] * shape[2];
        if self.starts.is_empty() {
            // Small nx: one sequential pass in index order.
            let mut grids = grids;
            for i in 0..self.coords.len() {
                let st = self.coords.stencil::<S>(i);
                let m = weight(i);
                for (grid, m) in grids.iter_mut().zip(m) {
                    for a in 0..S {
                        let p = &mut grid[st.idx[0][a] * plane..][..plane];
                        deposit_plane(p, &st, shape[2], m * st.w[0][a]);
                    }
                }
            }
            return;
        }
        let nc = self.starts.len() - 1;
        // chunks[c][g]: the slabs of chunk c in grid g.
        let mut chunks: Vec<[&mut [T]; G]> = Vec::with_capacity(nc);
        let mut rest = grids;
        for c in 0..nc {
            let len = (self.starts[c + 1] - self.starts[c]) * plane;
            let mut head: [&mut [T]; G] = std::array::from_fn(|_| <&mut [T]>::default());
            for (h, r) in head.iter_mut().zip(rest.iter_mut()) {
                let (first, tail) = std::mem::take(r).split_at_mut(len);
                *h = first;
                *r = tail;
            }
            chunks.push(head);
        }
        // Phase 1: even chunks with their right neighbours; phase 2: odd chunks, the last
        // one paired with chunk 0 (rotation puts the pairs side by side).
        for phase in 0..2 {
            if phase == 1 {
                chunks.rotate_left(1);
            }
            chunks.par_chunks_mut(2).enumerate().for_each(|(p, pair)| {
                let (lo, hi) = pair.split_at_mut(1);
                self.paint_chunk::<W, S, G>(2 * p + phase, &mut lo[0], &mut hi[0], weight);
            });
        }
    }

    /// Paints the particles of chunk `c` into its slabs `lo` and the next chunk's `hi`
    /// (one of each per grid).
    fn paint_chunk<W, const S: usize, const G: usize>(
        &self,
        c: usize,
        lo: &mut [&mut [T]; G],
        hi: &mut [&mut [T]; G],
        weight: &W,
    ) where
        W: Fn(usize) -> [f64; G] + Sync,
    {
        let shape = self.coords.shape;
        let plane = shape[1] * shape[2];
        let s0 = self.starts[c];
        let width = self.starts[c + 1] - s0;
        let buckets = (c * self.y_blocks..(c + 1) * self.y_blocks)
            .flat_map(|b| self.blocks.iter().map(move |block| (b, block)));
        for (b, block) in buckets {
            let list = &block.local[block.offsets[b] as usize..block.offsets[b + 1] as usize];
            for &l in list {
                let i = block.start + l as usize;
                let st = self.coords.stencil::<S>(i);
                let m = weight(i);
                let r0 = st.idx[0][0] - s0;
                for g in 0..G {
                    for a in 0..S {
                        let r = r0 + a;
                        let p = if r < width {
                            &mut lo[g][r * plane..][..plane]
                        } else {
                            &mut hi[g][(r - width) * plane..][..plane]
                        };
                        deposit_plane(p, &st, shape[2], m[g] * st.w[0][a]);
                    }
                }
            }
        }
    }
}

/// Stable bucket sort of the particles `start..start+ids.len()` by bucket id (`< nc`).
fn sort_block(start: usize, ids: &[u32], nc: usize) -> SortBlock {
    let mut offsets = vec![0u32; nc + 1];
    for &c in ids {
        offsets[c as usize + 1] += 1;
    }
    for c in 0..nc {
        offsets[c + 1] += offsets[c];
    }
    let mut cursor = offsets[..nc].to_vec();
    let mut local = vec![0u16; ids.len()];
    for (l, &c) in ids.iter().enumerate() {
        local[cursor[c as usize] as usize] = l as u16;
        cursor[c as usize] += 1;
    }
    SortBlock {
        start,
        offsets,
        local,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_weights_match_scheme_weights() {
        fn check<const S: usize>() {
            let scheme = Scheme::ALL[S - 1];
            for i in 0..20_000 {
                let x = i as f64 * 0.012_345_678_9;
                for x in [x, (i / 4) as f64 * 0.5, 1e-300 * i as f64] {
                    let a = weights_nonneg::<S>(x);
                    let b = scheme.weights(x);
                    assert_eq!(a.0, b.0, "{scheme:?} {x}");
                    for k in 0..3 {
                        assert_eq!(a.1[k].to_bits(), b.1[k].to_bits(), "{scheme:?} {x}");
                        assert_eq!(a.2[k].to_bits(), b.2[k].to_bits(), "{scheme:?} {x}");
                    }
                }
            }
        }
        check::<1>();
        check::<2>();
        check::<3>();
    }

    #[test]
    fn chunk_layout() {
        assert_eq!(chunk_starts(5, 3), None);
        assert_eq!(chunk_starts(7, 3), Some(vec![0, 3, 7]));
        assert_eq!(chunk_starts(12, 3), Some(vec![0, 3, 6, 9, 12]));
        let s = chunk_starts(40, 2).unwrap();
        assert_eq!(s.len() - 1, 20);
        for support in 1..=3 {
            for nx in 1..100 {
                if let Some(s) = chunk_starts(nx, support) {
                    assert_eq!((s.len() - 1) % 2, 0);
                    assert_eq!(*s.last().unwrap(), nx);
                    assert!(s.windows(2).all(|w| w[1] - w[0] >= support.max(2)));
                }
            }
        }
    }
}
