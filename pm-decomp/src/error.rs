//! Errors of pm-decomp.

/// Everything that can go wrong in a communicator, a decomposition or a distributed transform.
///
/// Every public function that takes user input returns these instead of panicking; a panic in
/// this crate means a broken internal invariant.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DecompError {
    /// A rank count that cannot be used (zero ranks, more ranks than planes, a process grid
    /// whose product is not the rank count, ...).
    #[error("cannot use {size} ranks: {reason}")]
    RankCount {
        /// The rejected rank count.
        size: usize,
        /// Why it was rejected.
        reason: String,
    },
    /// A rank index that is not in `0..size`.
    #[error("rank {rank} is out of range for a communicator of {size} ranks")]
    RankOutOfRange {
        /// The rejected rank.
        rank: usize,
        /// The number of ranks.
        size: usize,
    },
    /// A mesh shape that cannot be decomposed or transformed.
    #[error("cannot use mesh shape {shape:?}: {reason}")]
    Shape {
        /// The rejected shape `[nx, ny, nz]`.
        shape: [usize; 3],
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A buffer with the wrong number of elements.
    #[error("{what} has length {got}, expected {expected}")]
    BufferSize {
        /// Which buffer.
        what: &'static str,
        /// The length that is needed.
        expected: usize,
        /// The length that was passed.
        got: usize,
    },
    /// A communicator whose size or rank differs from the one a plan was built for.
    #[error(
        "communicator is rank {got_rank} of {got_size}, but the plan was built for rank \
         {expected_rank} of {expected_size}"
    )]
    CommMismatch {
        /// The rank count of the plan.
        expected_size: usize,
        /// The rank of the plan.
        expected_rank: usize,
        /// The rank count of the communicator passed.
        got_size: usize,
        /// The rank of the communicator passed.
        got_rank: usize,
    },
    /// Ranks passed inconsistent arguments to a collective operation (for example all-reduce
    /// buffers of different lengths).
    #[error("inconsistent collective call: {0}")]
    Collective(String),
    /// A byte message whose length is not a whole number of elements.
    #[error("received {bytes} bytes, not a multiple of the element size {elem}")]
    Decode {
        /// The message length in bytes.
        bytes: usize,
        /// The size of one element in bytes.
        elem: usize,
    },
    /// A message larger than the transport can carry in one call (MPI counts are `i32`).
    #[error("message of {bytes} bytes exceeds the transport limit of {limit} bytes")]
    MessageTooLarge {
        /// The message length in bytes.
        bytes: usize,
        /// The largest length the transport accepts.
        limit: usize,
    },
    /// A thread rank waited for a message from a rank that has already returned without
    /// sending it (the ranks did not make the same sequence of collective calls).
    #[error("rank {rank} exited before sending the message this rank waits for")]
    PeerExited {
        /// The rank that exited.
        rank: usize,
    },
    /// Another thread rank panicked, so the collective operation cannot complete.
    #[error("another rank panicked; communicator aborted")]
    Aborted,
    /// A position or index that is not finite or not on the mesh.
    #[error("{what} {value} is not valid: {reason}")]
    Position {
        /// What was passed (`"position"`, `"cell index"`, ...).
        what: &'static str,
        /// The rejected value, formatted.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A failure reported by the 1D FFT library (an internal error: sizes are checked first).
    #[error("1D FFT failed: {0}")]
    Fft(String),
}
