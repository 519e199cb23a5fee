//! Errors of pm-mesh.

use pm_decomp::DecompError;
use pm_fft::FftError;

/// Everything that can go wrong with a mesh, a field, particles or a power spectrum.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum MeshError {
    /// A mesh shape that cannot be used (a zero dimension, or odd `nz`).
    #[error("invalid mesh shape {shape:?}: {reason}")]
    Shape {
        /// The rejected shape.
        shape: [usize; 3],
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A box size that is not finite and positive.
    #[error("invalid box size {box_size:?} Mpc/h: every side must be finite and positive")]
    BoxSize {
        /// The rejected box size in Mpc/h.
        box_size: [f64; 3],
    },
    /// Two arrays that must have the same length do not.
    #[error("{what} has length {got}, expected {expected}")]
    Length {
        /// Which array.
        what: &'static str,
        /// The length needed.
        expected: usize,
        /// The length passed.
        got: usize,
    },
    /// Two fields (or a field and a plan) live on different meshes.
    #[error("mesh mismatch: {what}")]
    MeshMismatch {
        /// What did not match.
        what: String,
    },
    /// A particle coordinate (or displacement) is NaN or infinite.
    #[error("particle {index} has a non-finite coordinate {value}")]
    NonFinite {
        /// Index of the particle.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// Invalid options (binning, shot noise, ...).
    #[error("invalid option {what}: {reason}")]
    Option {
        /// Which option.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// An FFT failed (wrong plan shape or buffer).
    #[error(transparent)]
    Fft(#[from] FftError),
    /// A particle painted onto (or read out from) a rank's padded x-slab whose stencil reaches
    /// an x-plane outside it (`MeshBlock`): the particle is not on this rank's slab, or the
    /// halo is too narrow for the scheme.
    #[error(
        "particle {index} touches global x-plane {plane}, outside the padded slab of \
         {planes} planes starting at global plane {first} (periodic); migrate the particles to \
         the rank owning their x-plane or widen the halo"
    )]
    OutsideSlab {
        /// Index of the particle.
        index: usize,
        /// The global x-plane its stencil touches.
        plane: usize,
        /// Global plane of padded plane 0.
        first: usize,
        /// Planes of the padded slab.
        planes: usize,
    },
    /// From the domain decomposition (halo construction).
    #[error(transparent)]
    Decomp(#[from] DecompError),
}
