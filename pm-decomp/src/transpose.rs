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
    pub(crate) fn check_comm(&self, comm: &(impl Comm + ?Sized)) -> Result<(), DecompError> {
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
        let (me, size, ny, w) = (d.rank(), d.size(), d.shape()[1], self.w);
        let (nxl, nyl) = (d.x_range(me).len(), d.ky_range(me).len());
        let mut send = Vec::with_capacity((input.len() - nxl * nyl * w) * T::BYTES);
        let mut counts = Vec::with_capacity(size);
        for dest in 0..size {
            let ys = d.ky_range(dest);
            let before = send.len();
            for xl in 0..nxl {
                let row = (xl * ny) * w;
                let run = &input[row + ys.start * w..row + ys.end * w];
                if dest == me {
                    // This rank's own block is copied directly, not through the communicator.
                    let x = d.x_range(me).start + xl;
                    output[x * nyl * w..(x + 1) * nyl * w].copy_from_slice(run);
                } else {
                    encode_into(run, &mut send);
                }
            }
            counts.push(send.len() - before);
        }
        let recv = comm.all_to_all_v_bytes(&send, &counts)?;
        drop(send);
        for src in (0..size).filter(|&s| s != me) {
            let xs = d.x_range(src);
            let out = &mut output[xs.start * nyl * w..xs.end * nyl * w];
            decode_into(recv.part(src), out).map_err(|e| collective_error(src, e))?;
        }
        Ok(())
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
        let (me, size, ny, w) = (d.rank(), d.size(), d.shape()[1], self.w);
        let (nxl, nyl) = (d.x_range(me).len(), d.ky_range(me).len());
        let mut send = Vec::with_capacity((input.len() - nxl * nyl * w) * T::BYTES);
        let mut counts = Vec::with_capacity(size);
        for dest in 0..size {
            let xs = d.x_range(dest);
            let before = send.len();
            let block = &input[xs.start * nyl * w..xs.end * nyl * w];
            if dest == me {
                // This rank's own block is copied directly, not through the communicator.
                let ys = d.ky_range(me);
                for (xl, run) in block.chunks_exact(nyl * w).enumerate() {
                    let row = (xl * ny) * w;
                    output[row + ys.start * w..row + ys.end * w].copy_from_slice(run);
                }
            } else {
                encode_into(block, &mut send);
            }
            counts.push(send.len() - before);
        }
        let recv = comm.all_to_all_v_bytes(&send, &counts)?;
        drop(send);
        for src in (0..size).filter(|&s| s != me) {
            let ys = d.ky_range(src);
            let part = recv.part(src);
            let run = ys.len() * w * T::BYTES;
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
            for xl in 0..nxl {
                let row = (xl * ny) * w;
                decode_into(
                    &part[xl * run..(xl + 1) * run],
                    &mut output[row + ys.start * w..row + ys.end * w],
                )?;
            }
        }
        Ok(())
    }
}

/// Checks that `comm` has the size and rank of `decomp`.
pub(crate) fn check_comm(
    decomp: &impl Decomposition,
    comm: &(impl Comm + ?Sized),
) -> Result<(), DecompError> {
    if comm.size() != decomp.size() || comm.rank() != decomp.rank() {
        return Err(DecompError::CommMismatch {
            expected_size: decomp.size(),
            expected_rank: decomp.rank(),
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
