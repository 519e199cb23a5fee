//! [`Binning`]: the particles sorted by x chunk of the rows they paint, so that painting
//! runs in parallel, race-free and in an order fixed by the mesh alone (see [`crate::paint`]'s
//! module documentation).

use pm_fft::Real;
use rayon::prelude::*;

use crate::planes::Planes;
use crate::stencil::{Coords, Stencil, deposit_plane, weights_nonneg, with_support, wrap_run};
use crate::{Mesh, Positions, Scheme};

/// Particles per block of the parallel bucket sort (local indices fit in a `u16`).
const SORT_BLOCK: usize = 1 << 16;
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

/// The particles sorted by x chunk of the rows of `planes` they paint, ready to be painted
/// in parallel (see the module docs).
pub(crate) struct Binning<'a, 'p, T: Real, P: Planes> {
    coords: Coords<'a, T>,
    planes: &'p P,
    scheme: Scheme,
    /// Chunk `c` covers the x slabs `starts[c]..starts[c+1]`; empty for a sequential paint.
    starts: Vec<usize>,
    /// Number of y blocks per chunk.
    y_blocks: usize,
    blocks: Vec<SortBlock>,
}

/// First row of every chunk plus `nx` (the rows), for an even number (>= 2) of chunks, each
/// at least `max(support, 2)` rows wide; `None` when `nx` is too small (paint sequentially).
fn chunk_starts(nx: usize, support: usize) -> Option<Vec<usize>> {
    let width = support.max(2);
    let nc = 2 * (nx / (2 * width));
    (nc >= 2).then(|| (0..=nc).map(|c| c * nx / nc).collect())
}

impl<'a, 'p, T: Real, P: Planes> Binning<'a, 'p, T, P> {
    /// Sorts the particles (shifted by `shift` cells along every axis) by the x chunk of
    /// the rows of `planes` their stencils start in. The positions must have been validated
    /// against `mesh`, and on a padded slab every stencil checked to lie inside it.
    pub(crate) fn new(
        positions: &Positions<'a, T>,
        mesh: &Mesh,
        scheme: Scheme,
        shift: f64,
        planes: &'p P,
    ) -> Self {
        Self::from_coords(Coords::new(positions, mesh, shift), scheme, planes)
    }

    /// [`Binning::new`] from precomputed coordinates.
    pub(crate) fn from_coords(coords: Coords<'a, T>, scheme: Scheme, planes: &'p P) -> Self {
        let nx = coords.shape()[0];
        let rows = planes.rows();
        let layout = if planes.consecutive() {
            chunk_starts(rows, scheme.support())
        } else {
            None
        };
        let Some(starts) = layout else {
            return Self {
                coords,
                planes,
                scheme,
                starts: Vec::new(),
                y_blocks: 1,
                blocks: Vec::new(),
            };
        };
        let nc = starts.len() - 1;
        let mut chunk_of = vec![0u32; rows];
        for c in 0..nc {
            chunk_of[starts[c]..starts[c + 1]].fill(c as u32);
        }
        // y blocks of at least 4 rows, at most 32 of them.
        let ny = coords.shape()[1];
        let y_rows = ny.div_ceil(32).max(4);
        let y_blocks = ny.div_ceil(y_rows);
        let n = coords.len();
        let coords_ref = &coords;
        let blocks = with_support!(scheme, S => {
            (0..n.div_ceil(SORT_BLOCK))
                .into_par_iter()
                .map(|blk| {
                    let start = blk * SORT_BLOCK;
                    let end = n.min(start + SORT_BLOCK);
                    let ids: Vec<u32> = (start..end)
                        .map(|i| {
                            let u = coords_ref.get(i);
                            let (fx, _, _) = weights_nonneg::<S>(u[0]);
                            let (fy, _, _) = weights_nonneg::<S>(u[1]);
                            let row = planes.row(wrap_run::<1>(fx, nx)[0]);
                            let c = chunk_of[row] as usize;
                            let yb = wrap_run::<1>(fy, ny)[0] / y_rows;
                            (c * y_blocks + yb) as u32
                        })
                        .collect();
                    sort_block(start, &ids, nc * y_blocks)
                })
                .collect()
        });
        Self {
            coords,
            planes,
            scheme,
            starts,
            y_blocks,
            blocks,
        }
    }

    /// The stencil of particle `i` with its x-indices mapped to rows.
    #[inline(always)]
    fn stencil<const S: usize>(&self, i: usize) -> Stencil<S> {
        let mut st = self.coords.stencil::<S>(i);
        self.planes.map(&mut st);
        st
    }

    /// `grid[c] += sum_i weight(i) W(x_i + shift - c)` for the particles this binning was
    /// built from (`grid` is the C-order array `[rows][ny][nz]` of the planes).
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
        let shape = self.coords.shape();
        let plane = shape[1] * shape[2];
        if self.starts.is_empty() {
            // Few rows: one sequential pass in index order.
            let mut grids = grids;
            for i in 0..self.coords.len() {
                let st = self.stencil::<S>(i);
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
        let shape = self.coords.shape();
        let plane = shape[1] * shape[2];
        let s0 = self.starts[c];
        let width = self.starts[c + 1] - s0;
        let buckets = (c * self.y_blocks..(c + 1) * self.y_blocks)
            .flat_map(|b| self.blocks.iter().map(move |block| (b, block)));
        for (b, block) in buckets {
            let list = &block.local[block.offsets[b] as usize..block.offsets[b + 1] as usize];
            for &l in list {
                let i = block.start + l as usize;
                let st = self.stencil::<S>(i);
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
