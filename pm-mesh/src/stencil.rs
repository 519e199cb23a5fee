//! Per-particle mass-assignment machinery shared by paint, readout and their VJPs: where a
//! particle is in cells ([`Coords`]), its stencil of cells and weights ([`Stencil`]), the
//! deposit into and the gather from a grid, and the particle-parallel loop.

use pm_fft::Real;
use rayon::prelude::*;

use crate::{Mesh, MeshError, Positions};

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

    /// The mesh shape.
    #[inline(always)]
    pub(crate) fn shape(&self) -> [usize; 3] {
        self.shape
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
pub(crate) fn wrap_run<const S: usize>(first: i64, n: usize) -> [usize; S] {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scheme;

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
}
