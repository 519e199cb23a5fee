//! The [`Comm`] trait: the message-passing operations every distributed algorithm here needs,
//! and [`CommExt`], its typed helpers.
//!
//! [`Comm`] moves **bytes** and is object safe (`&dyn Comm`, `Box<dyn Comm>`), so a plan or a
//! simulation can hold any communicator without being generic over it. [`CommExt`] (blanket
//! implemented for every `Comm`, `dyn Comm` included) adds the typed versions over
//! [`CommData`] element types (`f32`, `f64`, `u64`, `[T; 3]`, `Complex<T>`, ...).
//!
//! Semantics shared by every implementation:
//!
//! * Collective operations (`barrier`, `all_gather`, `all_to_all_v`, `broadcast`, `split`,
//!   the reductions) must be called by every rank of the communicator in the same order.
//! * Results never depend on timing. Reductions gather every rank's contribution and combine
//!   them **in rank order** (`((v_0 + v_1) + v_2) + ...`) on every rank, so the result is
//!   bitwise identical on all ranks and between runs. This costs `size` times the buffer in
//!   memory and traffic, which is fine for the small reductions it is meant for (sums,
//!   power-spectrum bins, objectives); never all-reduce a whole grid.
//! * Byte messages of one call are limited by the transport; MPI counts are `i32`, so one
//!   call can move at most `i32::MAX` bytes into one rank ([`DecompError::MessageTooLarge`]).

mod serial;
mod thread;

#[cfg(feature = "mpi")]
mod mpi;

#[cfg(feature = "mpi")]
pub use self::mpi::MpiComm;
pub use serial::SerialComm;
pub use thread::ThreadComm;

use crate::DecompError;
use crate::data::{CommData, decode, decode_into, element_count, encode, encode_into};

/// A byte buffer split into one contiguous part per rank (the result of a gather or an
/// all-to-all): part `r` is `data[offsets[r]..offsets[r + 1]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parts {
    data: Vec<u8>,
    offsets: Vec<usize>,
}

impl Parts {
    /// Builds parts from a buffer and the byte count of each part.
    ///
    /// Returns [`DecompError::BufferSize`] when the counts do not add up to `data.len()`.
    pub fn new(data: Vec<u8>, counts: &[usize]) -> Result<Self, DecompError> {
        let mut offsets = Vec::with_capacity(counts.len() + 1);
        offsets.push(0usize);
        let mut total = 0usize;
        for &c in counts {
            total = total.checked_add(c).ok_or(DecompError::BufferSize {
                what: "parts",
                expected: usize::MAX,
                got: data.len(),
            })?;
            offsets.push(total);
        }
        if total != data.len() {
            return Err(DecompError::BufferSize {
                what: "parts buffer",
                expected: total,
                got: data.len(),
            });
        }
        Ok(Self { data, offsets })
    }

    /// Concatenates one vector per rank.
    pub fn from_vecs(parts: Vec<Vec<u8>>) -> Self {
        let total = parts.iter().map(Vec::len).sum();
        let mut data = Vec::with_capacity(total);
        let mut offsets = Vec::with_capacity(parts.len() + 1);
        offsets.push(0);
        for p in parts {
            data.extend_from_slice(&p);
            offsets.push(data.len());
        }
        Self { data, offsets }
    }

    /// Number of parts (the number of ranks).
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether there are no parts.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Part `r`, or an empty slice when `r >= len()`.
    pub fn part(&self, r: usize) -> &[u8] {
        match (self.offsets.get(r), self.offsets.get(r + 1)) {
            (Some(&a), Some(&b)) => &self.data[a..b],
            _ => &[],
        }
    }

    /// Byte count of every part.
    pub fn counts(&self) -> Vec<usize> {
        self.offsets.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// The whole buffer, parts in rank order.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Iterates over the parts in rank order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.offsets.windows(2).map(|w| &self.data[w[0]..w[1]])
    }
}

/// A communicator: a fixed group of `size` ranks that exchange byte messages.
///
/// Implementations: [`SerialComm`] (one rank), [`ThreadComm`] (ranks are threads of one
/// process) and, with the `mpi` feature, `MpiComm` (ranks are MPI processes). The trait is
/// object safe; use [`CommExt`] for typed data. All methods except `rank`, `size` and
/// `send_recv_bytes` are collective (see the module docs).
pub trait Comm {
    /// This rank, in `0..size()`.
    fn rank(&self) -> usize;

    /// Number of ranks.
    fn size(&self) -> usize;

    /// Short name of the implementation (`"serial"`, `"threads"`, `"mpi"`), for logs.
    fn kind(&self) -> &'static str;

    /// Blocks until every rank has called `barrier`.
    fn barrier(&self) -> Result<(), DecompError>;

    /// Every rank contributes `send` (any length); every rank receives all contributions,
    /// part `r` from rank `r`.
    fn all_gather_bytes(&self, send: &[u8]) -> Result<Parts, DecompError>;

    /// All-to-all with variable counts: `send` is split into `size()` consecutive parts of
    /// `send_counts[d]` bytes, part `d` going to rank `d`; the result's part `s` is what rank
    /// `s` sent to this rank.
    ///
    /// Returns [`DecompError::BufferSize`] when `send_counts` has not `size()` entries or
    /// does not add up to `send.len()`.
    fn all_to_all_v_bytes(&self, send: &[u8], send_counts: &[usize]) -> Result<Parts, DecompError>;

    /// Copies `data` from rank `root` to every rank (`data` is resized on the receivers).
    fn broadcast_bytes(&self, root: usize, data: &mut Vec<u8>) -> Result<(), DecompError>;

    /// Sends `send` to rank `dest` and receives the message rank `source` sends to this rank
    /// with the same `tag`, without deadlock when every rank does the same (a shift along a
    /// ring of neighbours: `dest = rank + 1`, `source = rank - 1`, modulo `size`).
    ///
    /// Point to point, not collective: only `dest` and `source` take part. Messages between
    /// one pair of ranks with one tag arrive in the order they were sent.
    fn send_recv_bytes(
        &self,
        send: &[u8],
        dest: usize,
        source: usize,
        tag: u16,
    ) -> Result<Vec<u8>, DecompError>;

    /// Splits the communicator into sub-communicators, one per distinct `color`; in each,
    /// ranks are ordered by `(key, rank in this communicator)`. Collective. Used for the
    /// rows and columns of a pencil process grid.
    fn split(&self, color: usize, key: usize) -> Result<Box<dyn Comm>, DecompError>;
}

/// Checks a rank index against a communicator size.
pub(crate) fn check_rank(rank: usize, size: usize) -> Result<(), DecompError> {
    if rank >= size {
        return Err(DecompError::RankOutOfRange { rank, size });
    }
    Ok(())
}

/// Checks `send_counts` of an all-to-all against the communicator size and buffer length.
pub(crate) fn check_counts(
    send: &[u8],
    send_counts: &[usize],
    size: usize,
) -> Result<(), DecompError> {
    if send_counts.len() != size {
        return Err(DecompError::BufferSize {
            what: "all-to-all send counts",
            expected: size,
            got: send_counts.len(),
        });
    }
    let total = send_counts
        .iter()
        .try_fold(0usize, |a, &c| a.checked_add(c))
        .unwrap_or(usize::MAX);
    if total != send.len() {
        return Err(DecompError::BufferSize {
            what: "all-to-all send buffer",
            expected: total,
            got: send.len(),
        });
    }
    Ok(())
}

/// Typed helpers over any [`Comm`], for [`CommData`] element types.
///
/// Blanket-implemented for every `Comm` (and `dyn Comm`); import the trait to use them.
pub trait CommExt: Comm {
    /// Every rank's `send`, in rank order.
    fn all_gather<T: CommData>(&self, send: &[T]) -> Result<Vec<Vec<T>>, DecompError> {
        let parts = self.all_gather_bytes(&encode(send))?;
        parts.iter().map(decode).collect()
    }

    /// All-to-all with variable counts: `send[d]` goes to rank `d`; returns what each rank
    /// sent here, indexed by source rank. `send.len()` must be `size()`.
    fn all_to_all_v<T: CommData>(&self, send: &[Vec<T>]) -> Result<Vec<Vec<T>>, DecompError> {
        if send.len() != self.size() {
            return Err(DecompError::BufferSize {
                what: "all-to-all send parts",
                expected: self.size(),
                got: send.len(),
            });
        }
        let mut bytes = Vec::with_capacity(send.iter().map(|v| v.len() * T::BYTES).sum());
        let mut counts = Vec::with_capacity(send.len());
        for v in send {
            encode_into(v, &mut bytes);
            counts.push(v.len() * T::BYTES);
        }
        let parts = self.all_to_all_v_bytes(&bytes, &counts)?;
        parts.iter().map(decode).collect()
    }

    /// All-to-all with equal counts: `send` holds `size()` blocks of `send.len() / size()`
    /// elements, block `d` going to rank `d`; `recv` receives block `s` from rank `s`
    /// (the same length as `send`).
    fn all_to_all<T: CommData>(&self, send: &[T], recv: &mut [T]) -> Result<(), DecompError> {
        let size = self.size();
        if !send.len().is_multiple_of(size) {
            return Err(DecompError::BufferSize {
                what: "all-to-all send buffer (a multiple of the rank count)",
                expected: send.len() / size * size,
                got: send.len(),
            });
        }
        if recv.len() != send.len() {
            return Err(DecompError::BufferSize {
                what: "all-to-all receive buffer",
                expected: send.len(),
                got: recv.len(),
            });
        }
        let block = send.len() / size;
        let counts = vec![block * T::BYTES; size];
        let parts = self.all_to_all_v_bytes(&encode(send), &counts)?;
        if parts.data().len() != recv.len() * T::BYTES {
            return Err(DecompError::Collective(format!(
                "all_to_all: received {} bytes, expected {} (ranks passed different lengths)",
                parts.data().len(),
                recv.len() * T::BYTES
            )));
        }
        decode_into(parts.data(), recv)
    }

    /// Element-wise reduction of `data` over all ranks with `op`, combining the ranks'
    /// values in rank order, `op(op(v_0, v_1), v_2)...`, so the result is bitwise the same
    /// on every rank. Every rank must pass the same length
    /// ([`DecompError::Collective`] otherwise).
    fn all_reduce_with<T: CommData>(
        &self,
        data: &mut [T],
        op: impl Fn(T, T) -> T,
    ) -> Result<(), DecompError> {
        let parts = self.all_gather_bytes(&encode(data))?;
        for (r, p) in parts.iter().enumerate() {
            let n = element_count::<T>(p)?;
            if n != data.len() {
                return Err(DecompError::Collective(format!(
                    "all_reduce: rank {r} passed {n} elements, this rank {}",
                    data.len()
                )));
            }
        }
        if T::BYTES == 0 {
            return Ok(());
        }
        let mut iter = parts.iter();
        let first = iter.next().unwrap_or(&[]);
        for (d, b) in data.iter_mut().zip(first.chunks_exact(T::BYTES)) {
            *d = T::read_le(b);
        }
        for p in iter {
            for (d, b) in data.iter_mut().zip(p.chunks_exact(T::BYTES)) {
                *d = op(*d, T::read_le(b));
            }
        }
        Ok(())
    }

    /// Element-wise sum over all ranks, in rank order (deterministic, see
    /// [`CommExt::all_reduce_with`]).
    fn all_reduce_sum<T: CommData + std::ops::Add<Output = T>>(
        &self,
        data: &mut [T],
    ) -> Result<(), DecompError> {
        self.all_reduce_with(data, |a, b| a + b)
    }

    /// Element-wise maximum over all ranks (`b` replaces `a` only when `b > a`, so NaNs from
    /// later ranks are ignored and a NaN on rank 0 is kept).
    fn all_reduce_max<T: CommData + PartialOrd>(&self, data: &mut [T]) -> Result<(), DecompError> {
        self.all_reduce_with(data, |a, b| if b > a { b } else { a })
    }

    /// Element-wise minimum over all ranks (NaN handling as [`CommExt::all_reduce_max`]).
    fn all_reduce_min<T: CommData + PartialOrd>(&self, data: &mut [T]) -> Result<(), DecompError> {
        self.all_reduce_with(data, |a, b| if b < a { b } else { a })
    }

    /// Sum of one `f64` per rank, in rank order.
    fn sum_f64(&self, x: f64) -> Result<f64, DecompError> {
        let mut v = [x];
        self.all_reduce_sum(&mut v)?;
        Ok(v[0])
    }

    /// Sum of one `u64` per rank (wrapping on overflow).
    fn sum_u64(&self, x: u64) -> Result<u64, DecompError> {
        let mut v = [x];
        self.all_reduce_with(&mut v, u64::wrapping_add)?;
        Ok(v[0])
    }

    /// Copies `data` from `root` to every rank.
    fn broadcast<T: CommData>(&self, root: usize, data: &mut Vec<T>) -> Result<(), DecompError> {
        let mut bytes = if self.rank() == root {
            encode(data)
        } else {
            Vec::new()
        };
        self.broadcast_bytes(root, &mut bytes)?;
        if self.rank() != root {
            *data = decode(&bytes)?;
        }
        Ok(())
    }

    /// Typed [`Comm::send_recv_bytes`]: sends `send` to `dest`, returns what `source` sent
    /// here with the same `tag`.
    fn send_recv<T: CommData>(
        &self,
        send: &[T],
        dest: usize,
        source: usize,
        tag: u16,
    ) -> Result<Vec<T>, DecompError> {
        decode(&self.send_recv_bytes(&encode(send), dest, source, tag)?)
    }
}

impl<C: Comm + ?Sized> CommExt for C {}
