//! [`SlabTranspose`]: redistributes an array from x-slabs to y-slabs and back (the global
//! transpose of a slab FFT).
//!
//! The global array is `[nx][ny][w]` (C order; `w` elements per `(x, y)` pair, e.g.
//! `w = nz/2+1` complex modes). Before [`SlabTranspose::x_to_y`] rank `r` holds the x-slab
//! `[x_range(r)][ny][w]`; after it, the y-slab `[nx][y_range(r)][w]`. Both are C-order
//! sub-blocks of the same global array: the global array does not change, only who holds
//! which part. [`SlabTranspose::y_to_x`] is the exact inverse.
//!
//! Messages: rank `r` sends rank `d` the block `[x_range(r)][y_range(d)][w]`, which is
//! `nx_l(r)` contiguous runs of `ny_l(d) * w` elements in the x-slab, and lands as one
//! contiguous run `[x_range(r)][ny_l(d)][w]` in rank `d`'s y-slab; the receive side of
//! `x_to_y` (and the send side of `y_to_x`) is a plain copy.
//!
//! A rank's own block (`d = r`) is copied directly without going through the communicator.
//!
//! Adjoint: both maps are permutations of the global array, so each one's adjoint (with
//! respect to the sum over ranks of the local dot products) is its inverse:
//! `x_to_y^T = y_to_x`.

use std::ops::Range;

use crate::DecompError;
use crate::comm::Comm;
use crate::data::{CommData, decode_into, encode_into};
use crate::decomposition::Decomposition;
use crate::slab::SlabDecomposition;

/// The x-slab <-> y-slab redistribution of a `[nx][ny][w]` array on a [`SlabDecomposition`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlabTranspose {
    decomp: SlabDecomposition,
    w: usize,
}

impl SlabTranspose {
    /// The transpose of `[nx][ny][w]` arrays (`nx`, `ny` from `decomp`); `w >= 1`.
    pub fn new(decomp: SlabDecomposition, w: usize) -> Result<Self, DecompError> {
        if w == 0 {
            return Err(DecompError::Shape {
                shape: decomp.shape(),
                reason: "the transposed inner width w must be at least 1",
            });
        }
        Ok(Self { decomp, w })
    }

    /// The decomposition.
    pub fn decomposition(&self) -> &SlabDecomposition {
        &self.decomp
    }

    /// The inner width `w`.
    pub fn width(&self) -> usize {
        self.w
    }

    /// Elements of this rank's x-slab, `nx_l * ny * w`.
    pub fn x_slab_len(&self) -> usize {
        let r = self.decomp.rank();
        self.decomp.x_range(r).len() * self.decomp.shape()[1] * self.w
    }

    /// Elements of this rank's y-slab, `nx * ny_l * w`.
    pub fn y_slab_len(&self) -> usize {
        let r = self.decomp.rank();
        self.decomp.shape()[0] * self.decomp.ky_range(r).len() * self.w
    }

    /// Checks that `comm` is the communicator this transpose was built for.
    pub fn check_comm(&self, comm: &(impl Comm + ?Sized)) -> Result<(), DecompError> {
        check_comm(&self.decomp, comm)
    }

    /// Redistributes x-slabs `[nx_l][ny][w]` (`input`) into y-slabs `[nx][ny_l][w]`
    /// (`output`). Collective.
    pub fn x_to_y<T: CommData>(
        &self,
        comm: &(impl Comm + ?Sized),
        input: &[T],
        output: &mut [T],
    ) -> Result<(), DecompError> {
        self.check_comm(comm)?;
        check_len("x-slab input", input.len(), self.x_slab_len())?;
        check_len("y-slab output", output.len(), self.y_slab_len())?;
        let d = &self.decomp;
        let me = d.rank();
        let run = d.ky_range(me).len() * self.w;
        // This rank's own block is copied directly, not through the communicator.
        let own = &mut output[self.y_block(me)];
        for (rows, out) in self.x_runs(me).zip(own.chunks_exact_mut(run)) {
            out.copy_from_slice(&input[rows]);
        }
        self.exchange::<T>(
            comm,
            input.len() - self.y_block(me).len(),
            |dest, send| {
                for rows in self.x_runs(dest) {
                    encode_into(&input[rows], send);
                }
            },
            |src, part| {
                let out = &mut output[self.y_block(src)];
                decode_into(part, out).map_err(|e| collective_error(src, e))
            },
        )
    }

    /// Redistributes y-slabs `[nx][ny_l][w]` (`input`) into x-slabs `[nx_l][ny][w]`
    /// (`output`); the inverse (and adjoint) of [`SlabTranspose::x_to_y`]. Collective.
    pub fn y_to_x<T: CommData>(
        &self,
        comm: &(impl Comm + ?Sized),
        input: &[T],
        output: &mut [T],
    ) -> Result<(), DecompError> {
        self.check_comm(comm)?;
        check_len("y-slab input", input.len(), self.y_slab_len())?;
        check_len("x-slab output", output.len(), self.x_slab_len())?;
        let d = &self.decomp;
        let me = d.rank();
        let run = d.ky_range(me).len() * self.w;
        // This rank's own block is copied directly, not through the communicator.
        let own = &input[self.y_block(me)];
        for (rows, chunk) in self.x_runs(me).zip(own.chunks_exact(run)) {
            output[rows].copy_from_slice(chunk);
        }
        self.exchange::<T>(
            comm,
            input.len() - self.y_block(me).len(),
            |dest, send| encode_into(&input[self.y_block(dest)], send),
            |src, part| {
                let run = d.ky_range(src).len() * self.w * T::BYTES;
                let nxl = d.x_range(me).len();
                if part.len() != nxl * run {
                    return Err(collective_error(
                        src,
                        DecompError::BufferSize {
                            what: "transpose message (bytes)",
                            expected: nxl * run,
                            got: part.len(),
                        },
                    ));
                }
                for (rows, bytes) in self.x_runs(src).zip(part.chunks_exact(run.max(1))) {
                    decode_into(bytes, &mut output[rows])?;
                }
                Ok(())
            },
        )
    }

    /// The runs of this rank's x-slab `[nx_l][ny][w]` that hold rank `r`'s y-rows: one
    /// range of `ny_l(r) * w` elements per local x-plane.
    fn x_runs(&self, r: usize) -> impl Iterator<Item = Range<usize>> + '_ {
        let d = &self.decomp;
        let (ny, w) = (d.shape()[1], self.w);
        let ys = d.ky_range(r);
        (0..d.x_range(d.rank()).len()).map(move |xl| {
            let row = xl * ny * w;
            row + ys.start * w..row + ys.end * w
        })
    }

    /// The part of this rank's y-slab `[nx][ny_l][w]` that holds rank `r`'s x-planes: one
    /// contiguous range `[x_range(r)][ny_l][w]`.
    fn y_block(&self, r: usize) -> Range<usize> {
        let d = &self.decomp;
        let plane = d.ky_range(d.rank()).len() * self.w;
        let xs = d.x_range(r);
        xs.start * plane..xs.end * plane
    }

    /// The message pattern of both directions: `pack(dest, send)` appends the bytes for
    /// every other rank `dest` (this rank's own block is copied by the caller), one
    /// all-to-all-v, then `unpack(src, bytes)` for every other rank in rank order.
    fn exchange<T: CommData>(
        &self,
        comm: &(impl Comm + ?Sized),
        send_elements: usize,
        mut pack: impl FnMut(usize, &mut Vec<u8>),
        mut unpack: impl FnMut(usize, &[u8]) -> Result<(), DecompError>,
    ) -> Result<(), DecompError> {
        let (me, size) = (self.decomp.rank(), self.decomp.size());
        let mut send = Vec::with_capacity(send_elements * T::BYTES);
        let mut counts = Vec::with_capacity(size);
        for dest in 0..size {
            let before = send.len();
            if dest != me {
                pack(dest, &mut send);
            }
            counts.push(send.len() - before);
        }
        let recv = comm.all_to_all_v_bytes(&send, &counts)?;
        drop(send);
        for src in (0..size).filter(|&s| s != me) {
            unpack(src, recv.part(src))?;
        }
        Ok(())
    }
}

/// Checks that `comm` has the size and rank of `decomp`.
pub(crate) fn check_comm(
    decomp: &impl Decomposition,
    comm: &(impl Comm + ?Sized),
) -> Result<(), DecompError> {
    check_comm_is(decomp.size(), decomp.rank(), comm)
}

/// Checks that `comm` is rank `rank` of `size` ([`DecompError::CommMismatch`] otherwise).
pub(crate) fn check_comm_is(
    size: usize,
    rank: usize,
    comm: &(impl Comm + ?Sized),
) -> Result<(), DecompError> {
    if comm.size() != size || comm.rank() != rank {
        return Err(DecompError::CommMismatch {
            expected_size: size,
            expected_rank: rank,
            got_size: comm.size(),
            got_rank: comm.rank(),
        });
    }
    Ok(())
}

/// Checks a buffer length.
pub(crate) fn check_len(
    what: &'static str,
    got: usize,
    expected: usize,
) -> Result<(), DecompError> {
    if got != expected {
        return Err(DecompError::BufferSize {
            what,
            expected,
            got,
        });
    }
    Ok(())
}

/// A message of the wrong size from `src`: the ranks disagree about the decomposition.
fn collective_error(src: usize, e: DecompError) -> DecompError {
    DecompError::Collective(format!(
        "transpose message from rank {src} has the wrong size ({e}); do all ranks use the same \
         shape and decomposition?"
    ))
}
