//! The homogeneous background: the expansion rate E(a) = H(a)/H0 and the density parameters.

use crate::params::Cosmology;
use crate::scalar::Scalar;

/// Expansion history of a [`Cosmology`]: analytic, nothing tabulated.
///
/// E(a)^2 = Omega_m a^-3 + Omega_r a^-4 + Omega_k a^-2 + Omega_de f_de(a), with the CPL
/// dark-energy density f_de(a) = a^(-3 (1 + w0 + wa)) exp(-3 wa (1 - a))
/// (Chevallier & Polarski 2001; Linder 2003).
///
/// ```
/// use pm_cosmo::{Background, Cosmology};
/// let bg = Background::new(&Cosmology::einstein_de_sitter());
/// assert!((bg.e(0.25) - 8.0).abs() < 1e-12); // E = a^(-3/2)
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Background<S = f64> {
    omega_m: S,
    omega_r: S,
    omega_k: S,
    omega_de: S,
    w0: S,
    wa: S,
}

impl<S: Scalar> Background<S> {
    /// The background of `cosmo` (the parameters are not validated here; see
    /// [`Cosmology::validate`]).
    pub fn new(cosmo: &Cosmology<S>) -> Self {
        Background {
            omega_m: cosmo.omega_m(),
            omega_r: cosmo.omega_r(),
            omega_k: cosmo.omega_k,
            omega_de: cosmo.omega_de(),
            w0: cosmo.w0,
            wa: cosmo.wa,
        }
    }

    /// Matter density parameter today.
    pub fn omega_m0(&self) -> S {
        self.omega_m
    }

    /// Curvature density parameter today.
    pub fn omega_k0(&self) -> S {
        self.omega_k
    }

    /// Dark-energy density relative to today, f_de(a) = rho_de(a) / rho_de(1)
    /// = a^(-3 (1 + w0 + wa)) exp(-3 wa (1 - a)).
    pub fn dark_energy_density(&self, a: f64) -> S {
        let one_plus = self.w0 + self.wa + 1.0;
        (one_plus * (-3.0 * a.ln()) - self.wa * (3.0 * (1.0 - a))).exp()
    }

    /// Dark-energy equation of state w(a) = w0 + wa (1 - a).
    pub fn w(&self, a: f64) -> S {
        self.w0 + self.wa * (1.0 - a)
    }

    /// E(a)^2 = (H(a)/H0)^2.
    pub fn e2(&self, a: f64) -> S {
        let ia = 1.0 / a;
        self.omega_m * ia.powi(3)
            + self.omega_r * ia.powi(4)
            + self.omega_k * ia.powi(2)
            + self.omega_de * self.dark_energy_density(a)
    }

    /// E(a) = H(a)/H0.
    pub fn e(&self, a: f64) -> S {
        self.e2(a).sqrt()
    }

    /// Logarithmic derivative dlnE/dlna = (a / 2E^2) dE^2/da.
    pub fn dlne_dlna(&self, a: f64) -> S {
        let ia = 1.0 / a;
        // a dE^2/da, term by term: -3 Om a^-3, -4 Or a^-4, -2 Ok a^-2, -3 (1 + w(a)) Ode f_de.
        let de = self.omega_de * self.dark_energy_density(a) * (self.w(a) + 1.0) * -3.0;
        let a_de2 = self.omega_m * (-3.0 * ia.powi(3))
            + self.omega_r * (-4.0 * ia.powi(4))
            + self.omega_k * (-2.0 * ia.powi(2))
            + de;
        a_de2 / (self.e2(a) * 2.0)
    }

    /// Matter density parameter at a, Omega_m(a) = Omega_m a^-3 / E(a)^2.
    pub fn omega_m_at(&self, a: f64) -> S {
        self.omega_m * a.powi(-3) / self.e2(a)
    }

    /// Scale factor of matter-radiation equality, a_eq = Omega_r / Omega_m (0 without radiation).
    pub fn a_equality(&self) -> S {
        self.omega_r / self.omega_m
    }

    /// Radiation density parameter today.
    pub fn omega_r0(&self) -> S {
        self.omega_r
    }
}
