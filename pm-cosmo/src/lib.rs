#![doc = include_str!("../README.md")]
//!
//! ## Scalars and gradients
//!
//! Every computation is generic over a [`Scalar`]: `f64`, or a dual number ([`ParamDual`])
//! that carries exact derivatives. [`Cosmology::with_gradients`] seeds the seven [`Param`]s
//! (Omega_m, Omega_b, h, n_s, sigma8 or A_s, w0, wa) so that one evaluation gives a value and
//! its full gradient; [`derivative`] and [`value`] read them back.

mod background;
pub mod constants;
mod distance;
mod error;
mod growth;
mod params;
pub mod power;
mod scalar;
mod table;

pub use background::Background;
pub use distance::DistanceTable;
pub use error::{CosmoError, Result};
pub use growth::{A_MAX, A_MIN, DEFAULT_DLNA, GrowthAt, GrowthTable};
pub use params::{Amplitude, Cosmology};
pub use power::{EhForm, LinearPower, TabulatedPower};
pub use scalar::{N_PARAMS, Param, ParamDual, Scalar, derivative, param_dual, value};
