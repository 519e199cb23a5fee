#![doc = include_str!("../README.md")]
//!
//! ## Conventions
//!
//! Lengths in Mpc/h, wavenumbers in h/Mpc; grids C order `[x][y][z]`, grid point `j` at
//! `x = j * cell`; Fourier grids half-complex along z; `P(k) = V |delta_k|^2 / N^2`. Every
//! forward operation has a `*_vjp` beside it ([`paint_vjp`], [`readout_vjp`], ...) that
//! **accumulates** (`+=`) into the gradient buffers it is given, so contributions from
//! several paths add up without temporaries.

mod binning;
mod block;
mod compensate;
mod error;
mod field;
mod mesh;
mod paint;
mod planes;
mod positions;
mod power;
mod readout;
mod scheme;
mod stencil;

pub use block::MeshBlock;
pub use compensate::{deconvolve, paint_interlaced};
pub use error::MeshError;
pub use field::{FourierField, RealField};
pub use mesh::Mesh;
pub use paint::{ParticleGrads, density_contrast, mean_particle_mass, paint, paint_vjp};
pub use pm_fft::{Complex, Real};
pub use positions::{Lattice, Positions};
pub use power::{
    Binning, CrossPowerSpectrum, ModeBins, PowerOptions, PowerSpectrum, cross_power_spectrum,
    power_spectrum, power_spectrum_on, power_spectrum_real,
};
pub use readout::{
    FieldGrads, VectorReadout, readout, readout_vector, readout_vector_and_vjp, readout_vector_vjp,
    readout_vjp,
};
pub use scheme::Scheme;
