//! [`SlabDecomposition`]: the mesh split into slabs along x in real space and along y in
//! Fourier space.

use std::ops::Range;

use crate::comm::Comm;
use crate::decomposition::{BlockSplit, Decomposition, check_index, check_mesh};
use crate::{DecompError, comm::check_rank};

/// A 1D (slab) decomposition of an `[nx, ny, nz]` mesh over `size` ranks.
///
/// * **Real space**: rank `r` holds the x-planes `x_range(r)` (a [`BlockSplit`] of `nx`),
///   all of y and z: local array `[nx_local][ny][nz]`, C order.
/// * **Fourier space** (after the distributed FFT's transpose): rank `r` holds the
///   `ky` rows `ky_range(r)` (a [`BlockSplit`] of `ny`), all of `kx` and `kz`: local array
///   `[nx][ny_local][nz/2+1]`, C order, the sub-block `[:, ky_range, :]` of the serial
///   Fourier array.
///
/// Uneven splits are allowed: the first `n % size` ranks get one more plane. Needs
/// `size <= nx` and `size <= ny` so that no rank is empty, and `nz` even.
///
/// Memory per rank of a slab FFT, with `N = nx*ny*nz`, `Nc = nx*ny*(nz/2+1)`, `s` bytes
/// per real and `P` ranks (uneven splits round up by one plane): the real block
/// `N/P * s`, the Fourier block `Nc/P * 2s`, and during a transform about twice the Fourier
/// block in temporaries (the packed send and the received bytes).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SlabDecomposition {
    shape: [usize; 3],
    rank: usize,
    x: BlockSplit,
    y: BlockSplit,
}

impl SlabDecomposition {
    /// The slab decomposition of `shape` for rank `rank` of `size`.
    ///
    /// Errors: [`DecompError::Shape`] for a zero dimension or odd `nz`,
    /// [`DecompError::RankCount`] for `size == 0` or `size > nx` or `size > ny`,
    /// [`DecompError::RankOutOfRange`] for `rank >= size`.
    pub fn new(shape: [usize; 3], size: usize, rank: usize) -> Result<Self, DecompError> {
        check_mesh(shape)?;
        let x = BlockSplit::new(shape[0], size).map_err(|_| DecompError::RankCount {
            size,
            reason: format!("a slab decomposition needs 1 <= ranks <= nx = {}", shape[0]),
        })?;
        let y = BlockSplit::new(shape[1], size).map_err(|_| DecompError::RankCount {
            size,
            reason: format!(
                "a slab decomposition needs 1 <= ranks <= ny = {} (Fourier slabs are along y)",
                shape[1]
            ),
        })?;
        check_rank(rank, size)?;
        Ok(Self { shape, rank, x, y })
    }

    /// The slab decomposition of `shape` for the calling rank of `comm`.
    pub fn for_comm(shape: [usize; 3], comm: &(impl Comm + ?Sized)) -> Result<Self, DecompError> {
        Self::new(shape, comm.size(), comm.rank())
    }

    /// The split of the x-planes (real space).
    pub fn x_split(&self) -> BlockSplit {
        self.x
    }

    /// The split of the ky-rows (Fourier space).
    pub fn y_split(&self) -> BlockSplit {
        self.y
    }

    /// The x-planes of rank `r` in real space.
    pub fn x_range(&self, r: usize) -> Range<usize> {
        self.x.range(r)
    }

    /// The ky-rows of rank `r` in Fourier space.
    pub fn ky_range(&self, r: usize) -> Range<usize> {
        self.y.range(r)
    }

    /// The rank holding x-plane `i` in real space, `None` for `i >= nx`.
    pub fn x_owner(&self, i: usize) -> Option<usize> {
        self.x.owner(i)
    }

    /// The rank holding ky-row `j` in Fourier space, `None` for `j >= ny`.
    pub fn ky_owner(&self, j: usize) -> Option<usize> {
        self.y.owner(j)
    }

    /// `nz/2 + 1`, the length of the half-complex axis.
    pub fn nzc(&self) -> usize {
        self.shape[2] / 2 + 1
    }

    /// Checks that `comm` is the communicator this decomposition was made for (its size and
    /// this rank), [`DecompError::CommMismatch`] otherwise.
    pub fn check_comm(&self, comm: &(impl Comm + ?Sized)) -> Result<(), DecompError> {
        crate::transpose::check_comm(self, comm)
    }
}

impl Decomposition for SlabDecomposition {
    fn shape(&self) -> [usize; 3] {
        self.shape
    }

    fn size(&self) -> usize {
        self.x.parts()
    }

    fn rank(&self) -> usize {
        self.rank
    }

    fn real_range_of(&self, r: usize) -> [Range<usize>; 3] {
        if r >= self.size() {
            return [0..0, 0..0, 0..0];
        }
        [self.x.range(r), 0..self.shape[1], 0..self.shape[2]]
    }

    fn fourier_range_of(&self, r: usize) -> [Range<usize>; 3] {
        if r >= self.size() {
            return [0..0, 0..0, 0..0];
        }
        [0..self.shape[0], self.y.range(r), 0..self.nzc()]
    }

    fn real_owner(&self, cell: [usize; 3]) -> Result<usize, DecompError> {
        check_index("cell index", cell, self.shape)?;
        self.x
            .owner(cell[0])
            .ok_or_else(|| unreachable_index("cell index", cell))
    }

    fn fourier_owner(&self, mode: [usize; 3]) -> Result<usize, DecompError> {
        check_index(
            "mode index",
            mode,
            [self.shape[0], self.shape[1], self.nzc()],
        )?;
        self.y
            .owner(mode[1])
            .ok_or_else(|| unreachable_index("mode index", mode))
    }
}

/// The error for an index that passed `check_index` but has no owner (cannot happen).
pub(crate) fn unreachable_index(what: &'static str, idx: [usize; 3]) -> DecompError {
    DecompError::Position {
        what,
        value: format!("{idx:?}"),
        reason: "outside the mesh",
    }
}
