//! [`PencilDecomposition`]: the mesh split over a 2D process grid (pencils).

use std::ops::Range;

use crate::DecompError;
use crate::comm::{Comm, check_rank};
use crate::decomposition::{BlockSplit, Decomposition, check_index, check_mesh};
use crate::slab::unreachable_index;

/// A 2D (pencil) decomposition of an `[nx, ny, nz]` mesh over a `p0 x p1` process grid,
/// `size = p0 * p1`, rank `r = r0 * p1 + r1` (row-major grid coordinates `(r0, r1)`).
///
/// * **Real space**: z-pencils. Rank `(r0, r1)` holds x in block `r0` of a [`BlockSplit`]
///   of `nx` into `p0`, y in block `r1` of `ny` into `p1`, all of z:
///   local array `[nx_l][ny_l][nz]`.
/// * **Fourier space**: x-pencils. Rank `(r0, r1)` holds all of `kx`, `ky` in block `r0`
///   of `ny` into `p0`, `kz` in block `r1` of `nz/2+1` into `p1`: local array
///   `[nx][ny_l][nzc_l]`, the sub-block of the serial Fourier array.
///
/// This is the layout a pencil FFT reaches with the r2c along z, a transpose within each
/// process row (ranks sharing `r0`: y gathered, kz split), the y FFTs, a transpose within
/// each process column (ranks sharing `r1`: x gathered, y split), and the x FFTs. The
/// pencil FFT itself is not built yet; with `p1 = 1` the ranges are those of a
/// [`crate::SlabDecomposition`].
///
/// Needs `p0 <= nx`, `p0 <= ny`, `p1 <= ny`, `p1 <= nz/2+1` (no empty block).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PencilDecomposition {
    shape: [usize; 3],
    grid: [usize; 2],
    rank: usize,
    x: BlockSplit,
    y_real: BlockSplit,
    y_fourier: BlockSplit,
    kz: BlockSplit,
}

impl PencilDecomposition {
    /// The pencil decomposition of `shape` over the process grid `[p0, p1]` for rank `rank`.
    ///
    /// Errors: [`DecompError::Shape`] for a zero dimension or odd `nz`,
    /// [`DecompError::RankCount`] for a grid with a zero side or a side larger than the
    /// axes it splits, [`DecompError::RankOutOfRange`] for `rank >= p0 * p1`.
    pub fn new(shape: [usize; 3], grid: [usize; 2], rank: usize) -> Result<Self, DecompError> {
        check_mesh(shape)?;
        let [p0, p1] = grid;
        let size = p0.saturating_mul(p1);
        let bad = |what: String| DecompError::RankCount {
            size,
            reason: format!("process grid {p0} x {p1}: {what}"),
        };
        let nzc = shape[2] / 2 + 1;
        let x = BlockSplit::new(shape[0], p0)
            .map_err(|_| bad(format!("need 1 <= p0 <= nx = {}", shape[0])))?;
        let y_fourier = BlockSplit::new(shape[1], p0)
            .map_err(|_| bad(format!("need p0 <= ny = {}", shape[1])))?;
        let y_real = BlockSplit::new(shape[1], p1)
            .map_err(|_| bad(format!("need 1 <= p1 <= ny = {}", shape[1])))?;
        let kz = BlockSplit::new(nzc, p1).map_err(|_| bad(format!("need p1 <= nz/2+1 = {nzc}")))?;
        check_rank(rank, size)?;
        Ok(Self {
            shape,
            grid,
            rank,
            x,
            y_real,
            y_fourier,
            kz,
        })
    }

    /// The pencil decomposition for the calling rank of `comm` over the grid `[p0, p1]`
    /// ([`DecompError::RankCount`] unless `p0 * p1 == comm.size()`).
    pub fn for_comm(
        shape: [usize; 3],
        grid: [usize; 2],
        comm: &(impl Comm + ?Sized),
    ) -> Result<Self, DecompError> {
        if grid[0].saturating_mul(grid[1]) != comm.size() {
            return Err(DecompError::RankCount {
                size: comm.size(),
                reason: format!(
                    "process grid {} x {} has a different size",
                    grid[0], grid[1]
                ),
            });
        }
        Self::new(shape, grid, comm.rank())
    }

    /// The most square grid `[p0, p1]` with `p0 * p1 = size`, `p0 >= p1`, that fits `shape`
    /// (falls back to less square ones); [`DecompError::RankCount`] if none fits.
    pub fn default_grid(shape: [usize; 3], size: usize) -> Result<[usize; 2], DecompError> {
        let nzc = shape[2] / 2 + 1;
        let fits =
            |p0: usize, p1: usize| p0 <= shape[0] && p0 <= shape[1] && p1 <= shape[1] && p1 <= nzc;
        let mut p1 = (size as f64).sqrt() as usize;
        while p1 >= 1 {
            if size.is_multiple_of(p1) && fits(size / p1, p1) {
                return Ok([size / p1, p1]);
            }
            p1 -= 1;
        }
        Err(DecompError::RankCount {
            size,
            reason: format!("no process grid fits the mesh {shape:?}"),
        })
    }

    /// The process grid `[p0, p1]`.
    pub fn grid(&self) -> [usize; 2] {
        self.grid
    }

    /// Grid coordinates `(r0, r1)` of rank `r`.
    pub fn coords(&self, r: usize) -> [usize; 2] {
        [r / self.grid[1], r % self.grid[1]]
    }

    /// The rank at grid coordinates `[r0, r1]`.
    pub fn rank_at(&self, coords: [usize; 2]) -> usize {
        coords[0] * self.grid[1] + coords[1]
    }
}

impl Decomposition for PencilDecomposition {
    fn shape(&self) -> [usize; 3] {
        self.shape
    }

    fn size(&self) -> usize {
        self.grid[0] * self.grid[1]
    }

    fn rank(&self) -> usize {
        self.rank
    }

    fn real_range_of(&self, r: usize) -> [Range<usize>; 3] {
        if r >= self.size() {
            return [0..0, 0..0, 0..0];
        }
        let [r0, r1] = self.coords(r);
        [self.x.range(r0), self.y_real.range(r1), 0..self.shape[2]]
    }

    fn fourier_range_of(&self, r: usize) -> [Range<usize>; 3] {
        if r >= self.size() {
            return [0..0, 0..0, 0..0];
        }
        let [r0, r1] = self.coords(r);
        [
            0..self.shape[0],
            self.y_fourier.range(r0),
            self.kz.range(r1),
        ]
    }

    fn real_owner(&self, cell: [usize; 3]) -> Result<usize, DecompError> {
        check_index("cell index", cell, self.shape)?;
        match (self.x.owner(cell[0]), self.y_real.owner(cell[1])) {
            (Some(a), Some(b)) => Ok(self.rank_at([a, b])),
            _ => Err(unreachable_index("cell index", cell)),
        }
    }

    fn fourier_owner(&self, mode: [usize; 3]) -> Result<usize, DecompError> {
        let nzc = self.shape[2] / 2 + 1;
        check_index("mode index", mode, [self.shape[0], self.shape[1], nzc])?;
        match (self.y_fourier.owner(mode[1]), self.kz.owner(mode[2])) {
            (Some(a), Some(b)) => Ok(self.rank_at([a, b])),
            _ => Err(unreachable_index("mode index", mode)),
        }
    }
}
