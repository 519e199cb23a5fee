#![doc = include_str!("../README.md")]
//!
//! ## The pipeline
//!
//! ```text
//! Simulation steps (x_i at a_i) ──> Lightcone: which particles cross r(a) in the step, in
//!      which periodic replica, where (linear interpolation within the step)
//!   ──> BornKernel W(r) = A g(r) / a(r), A = 3/2 Omega_m (H0/c)^2, g from the sources
//!   ──> BornProjection onto a SkyMap: FlatSky (gnomonic square) or FullSky (HEALPix RING),
//!       bilinear deposits, with step_jvp / step_vjp
//!   ──> ConvergenceObserver (a plain forward run) or ConvergenceLoss (a pm-integrate
//!       StepObservable: gradients through pm_adjoint::value_and_gradient_along)
//!   ──> flat_power_spectrum vs limber_convergence; .npy and HEALPix FITS outputs
//! ```

// `!(x > 0.0)` is how input checks here reject NaN along with the out-of-range values.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

mod angular;
mod error;
pub mod fits;
mod flatsky;
mod fullsky;
pub mod healpix;
mod kernel;
mod lightcone;
mod objective;
mod observer;
mod projection;
mod sky;

pub use angular::{AngularSpectrum, flat_power_spectrum, limber_convergence};
pub use error::LensingError;
pub use flatsky::FlatSky;
pub use fullsky::FullSky;
pub use kernel::{BornKernel, Sources};
pub use lightcone::{Lightcone, crossing_point};
pub use objective::ConvergenceLoss;
pub use observer::ConvergenceObserver;
pub use projection::{BornProjection, StepCrossings, crossings_held_at_once};
pub use sky::SkyMap;
