//! Errors of pm-fft.

/// Everything that can go wrong when planning or running a 3D FFT.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum FftError {
    /// A buffer passed to a transform has the wrong length.
    #[error("{what} buffer has length {got}, expected {expected}")]
    BufferSize {
        /// Which buffer (`"real"` or `"complex"`).
        what: &'static str,
        /// The length the plan needs.
        expected: usize,
        /// The length that was passed.
        got: usize,
    },
    /// A grid shape that cannot be planned: every dimension must be at least 1 and `nz`
    /// (the real-to-complex axis) must be even and at least 2.
    #[error("cannot plan a 3D real FFT of shape {shape:?}: {reason}")]
    Shape {
        /// The rejected shape `[nx, ny, nz]`.
        shape: [usize; 3],
        /// Why it was rejected.
        reason: &'static str,
    },
}
