#![doc = include_str!("../README.md")]
//!
//! ## The pieces
//!
//! * [`ForceKernel`]: the Fourier-space gradient and Laplacian (and an optional,
//!   parametrised filter) that turn a density into a force; implement it to change gravity.
//! * Kernels: [`NaiveKernel`] (`i k / k^2`), [`FastPmKernel`] (FastPM's finite differences),
//!   [`SharpenedKernel`] (parametrised, as pmwd's spatial optimisation).
//! * [`Gravity`]: paint, FFT, kernel, inverse FFTs, readout, with the FastPM normalisation
//!   `nabla^2 psi = 3/2 Omega_m delta`, `F = -nabla psi`, `dp/da = F / (a^2 E)`; and its VJP
//!   with respect to particle positions, the prefactor and the kernel parameters. Written
//!   once over one rank's `pm_mesh::MeshBlock` and a `pm_decomp::Comm`: the serial solve is
//!   the one-rank case (`SerialComm`), the distributed one equals it to rounding.
//! * [`ewald`]: the exact periodic force of a point mass, the reference the tests compare to.

mod error;
pub mod ewald;
mod fastpm;
mod gravity;
mod kernel;
mod naive;
mod sharpened;

pub use error::ForceError;
pub use fastpm::FastPmKernel;
pub use gravity::{Gravity, GravityVjp, VjpArrays};
pub use kernel::ForceKernel;
pub use naive::NaiveKernel;
pub use sharpened::SharpenedKernel;
