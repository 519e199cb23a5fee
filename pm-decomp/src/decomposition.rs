//! The [`Decomposition`] trait (which rank holds which part of the mesh, in real and Fourier
//! space) and [`BlockSplit`], the 1D block split every decomposition is built from.
//!
//! Convention for every decomposition here: a rank's local array is the **C-order sub-block
//! of the global array** given by its ranges, in the global axis order. Real space is
//! `[nx][ny][nz]`; Fourier space is the global half-complex array `[nx][ny][nz/2+1]` of
//! `docs/ARCHITECTURE.md`, so local element `(i, j, k)` is global mode
//! `(r0.start + i, r1.start + j, r2.start + k)` and a local kernel loop needs only the
//! range offsets. There is no transposed storage to keep track of.

use std::ops::Range;

use crate::DecompError;

/// `n` items split into `parts` contiguous blocks as evenly as possible: the first
/// `n % parts` blocks get `n / parts + 1` items, the others `n / parts`.
///
/// Block `p` is `[p*b + min(p, r), (p+1)*b + min(p+1, r))` with `b = n / parts`,
/// `r = n % parts`. Requires `1 <= parts <= n`, so no block is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockSplit {
    n: usize,
    parts: usize,
}

impl BlockSplit {
    /// Splits `n` items into `parts` blocks; [`DecompError::RankCount`] unless
    /// `1 <= parts <= n`.
    pub fn new(n: usize, parts: usize) -> Result<Self, DecompError> {
        if parts == 0 {
            return Err(DecompError::RankCount {
                size: parts,
                reason: "need at least one part".into(),
            });
        }
        if parts > n {
            return Err(DecompError::RankCount {
                size: parts,
                reason: format!("cannot split {n} planes into {parts} non-empty blocks"),
            });
        }
        Ok(Self { n, parts })
    }

    /// Number of items.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of blocks.
    pub fn parts(&self) -> usize {
        self.parts
    }

    /// The items of block `p` (empty for `p >= parts`).
    pub fn range(&self, p: usize) -> Range<usize> {
        if p >= self.parts {
            return self.n..self.n;
        }
        let (b, r) = (self.n / self.parts, self.n % self.parts);
        let start = p * b + p.min(r);
        start..start + b + usize::from(p < r)
    }

    /// Number of items in block `p`.
    pub fn len(&self, p: usize) -> usize {
        self.range(p).len()
    }

    /// Whether block `p` is empty (only for `p >= parts`).
    pub fn is_empty(&self, p: usize) -> bool {
        self.len(p) == 0
    }

    /// The block holding item `i`, or `None` when `i >= n`.
    pub fn owner(&self, i: usize) -> Option<usize> {
        if i >= self.n {
            return None;
        }
        let (b, r) = (self.n / self.parts, self.n % self.parts);
        let big = r * (b + 1);
        Some(if i < big {
            i / (b + 1)
        } else {
            r + (i - big) / b
        })
    }
}

/// Checks a mesh shape (every dimension at least 1, `nz` even like `pm_fft`).
pub(crate) fn check_mesh(shape: [usize; 3]) -> Result<(), DecompError> {
    if shape.contains(&0) {
        return Err(DecompError::Shape {
            shape,
            reason: "every dimension must be at least 1",
        });
    }
    if !shape[2].is_multiple_of(2) {
        return Err(DecompError::Shape {
            shape,
            reason: "nz (the real-to-complex axis) must be even",
        });
    }
    Ok(())
}

/// Maps a coordinate in mesh units onto its cell `floor(x) mod n`.
pub(crate) fn cell_of(x: f64, n: usize) -> Result<usize, DecompError> {
    if !x.is_finite() {
        return Err(DecompError::Position {
            what: "position",
            value: format!("{x}"),
            reason: "not finite",
        });
    }
    let w = x.rem_euclid(n as f64).floor();
    // rem_euclid of a tiny negative number can round up to exactly n.
    Ok((w as usize) % n)
}

/// How the mesh is shared between the ranks of a communicator.
///
/// Positions are in **mesh units** (cell widths, `x_mesh = x / L * n` per axis); the
/// cell holding position `x` is `floor(x) mod n` per axis, and a position's owner is the
/// owner of that cell in real space. Object safe.
pub trait Decomposition {
    /// Global real mesh shape `[nx, ny, nz]`.
    fn shape(&self) -> [usize; 3];

    /// Number of ranks.
    fn size(&self) -> usize;

    /// The rank this decomposition describes.
    fn rank(&self) -> usize;

    /// Global index ranges `[x, y, z]` of this rank's block of the real mesh.
    fn real_range(&self) -> [Range<usize>; 3] {
        self.real_range_of(self.rank())
    }

    /// Global index ranges `[kx, ky, kz]` of this rank's block of the Fourier mesh
    /// `[nx][ny][nz/2+1]`.
    fn fourier_range(&self) -> [Range<usize>; 3] {
        self.fourier_range_of(self.rank())
    }

    /// The real-space ranges of rank `r` (empty ranges for `r >= size`).
    fn real_range_of(&self, r: usize) -> [Range<usize>; 3];

    /// The Fourier-space ranges of rank `r` (empty ranges for `r >= size`).
    fn fourier_range_of(&self, r: usize) -> [Range<usize>; 3];

    /// The rank holding real cell `[i, j, k]`; [`DecompError::Position`] off the mesh.
    fn real_owner(&self, cell: [usize; 3]) -> Result<usize, DecompError>;

    /// The rank holding Fourier mode `[kx, ky, kz]` (indices into `[nx][ny][nz/2+1]`);
    /// [`DecompError::Position`] off the mesh.
    fn fourier_owner(&self, mode: [usize; 3]) -> Result<usize, DecompError>;

    /// The rank owning a position in mesh units (periodic: any finite value is wrapped);
    /// [`DecompError::Position`] for NaN or infinities.
    fn position_owner(&self, pos: [f64; 3]) -> Result<usize, DecompError> {
        let s = self.shape();
        self.real_owner([
            cell_of(pos[0], s[0])?,
            cell_of(pos[1], s[1])?,
            cell_of(pos[2], s[2])?,
        ])
    }

    /// Local real shape (the lengths of [`Decomposition::real_range`]).
    fn real_local_shape(&self) -> [usize; 3] {
        self.real_range().map(|r| r.len())
    }

    /// Local Fourier shape (the lengths of [`Decomposition::fourier_range`]).
    fn fourier_local_shape(&self) -> [usize; 3] {
        self.fourier_range().map(|r| r.len())
    }

    /// Number of local real elements.
    fn real_local_len(&self) -> usize {
        self.real_local_shape().iter().product()
    }

    /// Number of local complex elements.
    fn fourier_local_len(&self) -> usize {
        self.fourier_local_shape().iter().product()
    }
}

/// Checks a cell or mode index against a shape.
pub(crate) fn check_index(
    what: &'static str,
    idx: [usize; 3],
    shape: [usize; 3],
) -> Result<(), DecompError> {
    if idx.iter().zip(shape.iter()).any(|(i, n)| i >= n) {
        return Err(DecompError::Position {
            what,
            value: format!("{idx:?}"),
            reason: "outside the mesh",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_split_is_a_partition() {
        for n in 1..40 {
            for parts in 1..=n {
                let s = BlockSplit::new(n, parts).unwrap();
                let mut next = 0;
                for p in 0..parts {
                    let r = s.range(p);
                    assert_eq!(r.start, next);
                    assert!(!r.is_empty());
                    assert!(r.len() == n / parts || r.len() == n / parts + 1);
                    assert_eq!(r.len() == n / parts + 1, p < n % parts);
                    for i in r.clone() {
                        assert_eq!(s.owner(i), Some(p));
                    }
                    next = r.end;
                }
                assert_eq!(next, n);
                assert_eq!(s.owner(n), None);
            }
            assert!(BlockSplit::new(n, n + 1).is_err());
        }
        assert!(BlockSplit::new(3, 0).is_err());
    }

    #[test]
    fn cells_wrap() {
        assert_eq!(cell_of(-1e-20, 16).unwrap(), 0);
        assert_eq!(cell_of(-0.5, 16).unwrap(), 15);
        assert_eq!(cell_of(16.0, 16).unwrap(), 0);
        assert_eq!(cell_of(35.9, 16).unwrap(), 3);
        assert!(cell_of(f64::NAN, 16).is_err());
        assert!(cell_of(f64::INFINITY, 16).is_err());
    }
}
