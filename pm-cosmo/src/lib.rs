//! Cosmology for particle-mesh simulations: parameters, background expansion, linear and
//! second-order growth, comoving distances and the linear matter power spectrum, all
//! differentiable with respect to the cosmological parameters.
//!
//! Part of pmrs: `docs/ARCHITECTURE.md` in the workspace is the map of the crates, the one
//! engine every run goes through (the serial run is the one-rank case) and the conventions.
//!
//! Units follow the workspace's `docs/ARCHITECTURE.md`: H0 = 100 h km/s/Mpc, comoving lengths in Mpc/h,
//! wavenumbers in h/Mpc, power spectra in (Mpc/h)^3, time variable the scale factor a.
//!
//! Every computation is generic over a [`Scalar`]: `f64`, or a dual number that carries exact
//! derivatives. [`Cosmology::with_gradients`] seeds the seven [`Param`]s (Omega_m, Omega_b, h,
//! n_s, sigma8 or A_s, w0, wa) so that one evaluation gives a value and its full gradient:
//!
//! ```
//! use pm_cosmo::{Cosmology, GrowthTable, Param, derivative};
//! let c = Cosmology::planck18();
//! let g = GrowthTable::new(&c.with_gradients()).unwrap();
//! let d = g.d1(0.5);
//! // D1(0.5) falls as Omega_m grows (more matter, earlier growth, normalised at a = 1).
//! assert!(derivative(&d, Param::OmegaM) < 0.0);
//! ```
//!
//! This crate stands alone: it depends on no other pm- crate.

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
