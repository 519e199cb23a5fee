//! The linear matter power spectrum P(k) at a = 1, in (Mpc/h)^3 for k in h/Mpc, from the
//! Eisenstein & Hu (1998) transfer function (with or without baryon wiggles) or from a table,
//! normalised by sigma8 or A_s, and differentiable in the cosmological parameters.
//!
//! - [`eisenstein_hu`]: the transfer function T(k) (EH98 eqs. 2-24 and 26-31);
//! - [`primordial`]: P(k) = N k^n_s T(k)^2 and the A_s normalisation;
//! - [`sigma`]: sigma(R), the top-hat window and the fixed ln k quadrature;
//! - [`tabulated`]: CAMB/CLASS tables with log-log interpolation.
//!
//! With the amplitude given by sigma8, N makes sigma(8 Mpc/h) = sigma8 at a = 1 (always at
//! a = 1, whatever the output times; pmwd#30). With A_s, N follows from the primordial
//! spectrum (see [`primordial`]). Growth to other epochs is P(k, a) = D1(a)^2 P(k, 1)
//! ([`LinearPower::power_at`]).
//!
//! ```
//! use pm_cosmo::{Cosmology, Param, derivative};
//! use pm_cosmo::power::LinearPower;
//! let c = Cosmology::planck18();
//! let p = LinearPower::eisenstein_hu(&c).unwrap();
//! assert!((p.sigma_r(8.0) - 0.8102).abs() < 1e-10);
//! let pk = p.power(0.1).unwrap(); // (Mpc/h)^3
//! assert!(pk > 5e3 && pk < 8e3);
//! // The same with exact derivatives: P grows as sigma8^2.
//! let pd = LinearPower::eisenstein_hu(&c.with_gradients()).unwrap();
//! let pk_d = pd.power(0.1).unwrap();
//! assert!((derivative(&pk_d, Param::Amplitude) - 2.0 * pk / 0.8102).abs() < 1e-6 * pk);
//! ```

pub mod eisenstein_hu;
pub mod primordial;
pub mod sigma;
pub mod tabulated;

pub use eisenstein_hu::{EhForm, EisensteinHu};
pub use sigma::top_hat_window;
pub use tabulated::TabulatedPower;

use crate::error::{CosmoError, Result};
use crate::growth::GrowthTable;
use crate::params::{Amplitude, Cosmology};
use crate::scalar::{Scalar, cst};
use sigma::{FINE_DLNK, LnKQuadrature};

/// Radius of the sigma8 normalisation, Mpc/h.
pub const SIGMA8_RADIUS: f64 = 8.0;

/// A table must cover at least this k range (h/Mpc) to be rescaled to sigma8: the top-hat
/// integral of sigma(8 Mpc/h) is then truncated by less than ~1e-6 relative.
pub const SIGMA8_TABLE_K_RANGE: (f64, f64) = (1e-3, 10.0);

/// The k dependence of the spectrum, before the amplitude.
#[derive(Clone, Debug)]
enum Shape<S> {
    /// k^n_s T(k)^2 with the Eisenstein & Hu T.
    EisensteinHu {
        eh: EisensteinHu<S>,
        form: EhForm,
        n_s: S,
    },
    /// The tabulated P(k).
    Tabulated(TabulatedPower),
}

/// The linear matter power spectrum at a = 1: P(k) = amplitude x shape(k), in (Mpc/h)^3 for k
/// in h/Mpc. `S` is `f64` or a dual number (see [`Cosmology::with_gradients`]).
#[derive(Clone, Debug)]
pub struct LinearPower<S = f64> {
    shape: Shape<S>,
    amplitude: S,
}

impl<S: Scalar> LinearPower<S> {
    /// Eisenstein & Hu with baryon acoustic oscillations (EH98 eqs. 2-24).
    pub fn eisenstein_hu(cosmo: &Cosmology<S>) -> Result<Self> {
        Self::from_eisenstein_hu(cosmo, EhForm::Wiggle)
    }

    /// Eisenstein & Hu without baryon oscillations (EH98 eqs. 26-31).
    pub fn eisenstein_hu_no_wiggle(cosmo: &Cosmology<S>) -> Result<Self> {
        Self::from_eisenstein_hu(cosmo, EhForm::NoWiggle)
    }

    /// P(k) = N k^n_s T(k)^2 with the Eisenstein & Hu T(k) of the given form; N from sigma8
    /// (sigma(8 Mpc/h) = sigma8 at a = 1) or from A_s (see [`primordial`]).
    pub fn from_eisenstein_hu(cosmo: &Cosmology<S>, form: EhForm) -> Result<Self> {
        cosmo.validate()?;
        let shape = Shape::EisensteinHu {
            eh: EisensteinHu::new(cosmo)?,
            form,
            n_s: cosmo.n_s,
        };
        let amplitude = match cosmo.amplitude {
            Amplitude::Sigma8(s8) => {
                let unit = LinearPower {
                    shape: shape.clone(),
                    amplitude: cst(1.0),
                };
                s8 * s8 / unit.sigma2(SIGMA8_RADIUS)
            }
            Amplitude::As(a_s) => {
                let growth = GrowthTable::new(cosmo)?;
                primordial::amplitude_from_as(cosmo, a_s, &growth)
            }
        };
        Ok(LinearPower { shape, amplitude })
    }

    /// A tabulated spectrum used as is (the cosmology's amplitude is ignored; derivatives are
    /// all zero).
    pub fn tabulated(table: TabulatedPower) -> Self {
        LinearPower {
            shape: Shape::Tabulated(table),
            amplitude: cst(1.0),
        }
    }

    /// A tabulated spectrum rescaled so that sigma(8 Mpc/h) = the cosmology's sigma8 (so it is
    /// differentiable in sigma8, and only in sigma8). sigma is integrated over the table's own
    /// range, which must cover [`SIGMA8_TABLE_K_RANGE`]; errors otherwise, and when the
    /// cosmology is normalised by A_s (that would need the transfer function).
    pub fn tabulated_normalised(table: TabulatedPower, cosmo: &Cosmology<S>) -> Result<Self> {
        let Amplitude::Sigma8(s8) = cosmo.amplitude else {
            return Err(CosmoError::Unsupported(
                "a tabulated P(k) can be rescaled to sigma8 only; give sigma8 instead of A_s, \
                 or use the table as is"
                    .into(),
            ));
        };
        table.check_range(SIGMA8_TABLE_K_RANGE.0, SIGMA8_TABLE_K_RANGE.1)?;
        let unit = Self::tabulated(table);
        let amplitude = s8 * s8 / unit.sigma2(SIGMA8_RADIUS);
        Ok(LinearPower { amplitude, ..unit })
    }

    /// The spectrum's k dependence without the amplitude.
    fn shape(&self, k: f64) -> Result<S> {
        match &self.shape {
            Shape::EisensteinHu { eh, form, n_s } => {
                if !(k.is_finite() && k >= 0.0) {
                    return Err(CosmoError::WavenumberOutOfRange {
                        source_name: " (Eisenstein & Hu: needs 0 <= k < inf)".into(),
                        k,
                        min: 0.0,
                        max: f64::INFINITY,
                    });
                }
                if k == 0.0 {
                    return Ok(cst(0.0));
                }
                let t = eh.transfer(k, *form);
                Ok((*n_s * k.ln()).exp() * t * t)
            }
            Shape::Tabulated(t) => t.power(k).map(cst),
        }
    }

    /// P(k, a = 1) in (Mpc/h)^3 for k in h/Mpc. The analytic spectra accept any k >= 0
    /// (P(0) = 0); a table errors outside its range.
    pub fn power(&self, k: f64) -> Result<S> {
        Ok(self.shape(k)? * self.amplitude)
    }

    /// P(k, a) = D1(a)^2 P(k, 1) in (Mpc/h)^3, with D1 from `growth` (normalised to 1 at
    /// a = 1; build it from the same cosmology). Errors outside the growth table or the k range.
    pub fn power_at(&self, k: f64, a: f64, growth: &GrowthTable<S>) -> Result<S> {
        let d = growth.at(a)?.d1;
        Ok(self.power(k)? * d * d)
    }

    /// The wavenumbers (h/Mpc) where [`LinearPower::power`] is defined: [0, inf) for the
    /// analytic spectra, the table's range otherwise.
    pub fn k_range(&self) -> (f64, f64) {
        match &self.shape {
            Shape::EisensteinHu { .. } => (0.0, f64::INFINITY),
            Shape::Tabulated(t) => t.k_range(),
        }
    }

    /// Errors unless [k_min, k_max] (h/Mpc) lies where [`LinearPower::power`] is defined
    /// (use before a run with the mesh's k range).
    pub fn check_range(&self, k_min: f64, k_max: f64) -> Result<()> {
        match &self.shape {
            Shape::EisensteinHu { .. } => {
                self.shape(k_min)?;
                self.shape(k_max)?;
                Ok(())
            }
            Shape::Tabulated(t) => t.check_range(k_min, k_max),
        }
    }

    /// sigma^2(R) at a = 1 (see [`sigma`]).
    fn sigma2(&self, r: f64) -> S {
        let p = |k: f64| match self.shape(k) {
            Ok(v) => v * self.amplitude,
            Err(e) => panic!("quadrature node outside the spectrum's range: {e}"),
        };
        match &self.shape {
            Shape::EisensteinHu { .. } => LnKQuadrature::analytic().sigma2(r, p),
            Shape::Tabulated(t) => LnKQuadrature::from_breaks(t.ln_k(), FINE_DLNK).sigma2(r, p),
        }
    }

    /// The rms linear density contrast in top-hat spheres of radius `r` (Mpc/h) at a = 1,
    /// sigma(R)^2 = int dln k k^3 P(k) / (2 pi^2) W(kR)^2, by a fixed Gauss-Legendre rule in
    /// ln k (see [`sigma`]): over [1e-6, 1e4] h/Mpc for the analytic spectra (accurate to
    /// 1e-10 relative for 0.5 <= R <= 100 Mpc/h, 4e-8 at R = 500 Mpc/h), over its own range
    /// for a table (the rule's panels follow the table's nodes, so it integrates the log-log
    /// interpolant to rounding; nothing is added beyond the table's ends).
    pub fn sigma_r(&self, r: f64) -> S {
        self.sigma2(r).sqrt()
    }

    /// sigma(8 Mpc/h) at a = 1.
    pub fn sigma8(&self) -> S {
        self.sigma_r(SIGMA8_RADIUS)
    }

    /// The amplitude N: P(k) = N k^n_s T(k)^2 (k in h/Mpc) for Eisenstein & Hu, the rescaling
    /// factor (1 when used as is) for a table.
    pub fn amplitude(&self) -> S {
        self.amplitude
    }
}
