//! The Eisenstein & Hu (1998, ApJ 496, 605; astro-ph/9709112) fitting formula for the matter
//! transfer function T(k) of cold dark matter plus baryons: the full form with baryon acoustic
//! oscillations (their eqs. 2-24) and the zero-baryon-oscillation ("no-wiggle") form
//! (eqs. 26-31).
//!
//! The paper writes wavenumbers in 1/Mpc and lengths in Mpc. Here every wavenumber is in h/Mpc
//! and every length in Mpc/h (the workspace convention): a paper wavenumber k (in 1/Mpc)
//! becomes k / h (in h/Mpc) and a paper length s (in Mpc) becomes s h (in Mpc/h). Products
//! such as k s and k / k_eq are unchanged.
//!
//! Conventions (chosen to match the authors' public code `tf_fit.c` and CCL's `ccl_eh.c`, so
//! that our numbers agree with CCL):
//! - Theta_2.7 = T_cmb / 2.7 K.
//! - The number of eq. 2, 2.50e4 Omega_m h^2 Theta^-4, is used as 1 + z_eq (it is "really
//!   1 + z" in `tf_fit.c`), and eq. 5 is evaluated with z -> 1 + z: R_eq = 31.5 Omega_b h^2
//!   Theta^-4 (10^3 / (1 + z_eq)) and R_d = 31.5 Omega_b h^2 Theta^-4 (10^3 / (1 + z_d)).
//!   y = (1 + z_eq) / (1 + z_d) in eq. 15. The difference from the literal reading is a
//!   ~0.1% shift of the sound horizon, far below the formula's own accuracy.
//! - The no-wiggle q (eq. 28) takes k in h/Mpc, q = k Theta^2 / Gamma_eff with
//!   Gamma_eff = Omega_m h (...) (eq. 30).
//!
//! Only Omega_m, Omega_b, h (all may be dual numbers) and T_cmb enter; T(k) -> 1 as k -> 0.

use crate::error::{CosmoError, Result};
use crate::params::Cosmology;
use crate::scalar::{Scalar, cst};

/// Which Eisenstein & Hu transfer function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EhForm {
    /// The full fitting formula with baryon acoustic oscillations (EH98 eqs. 2-24).
    Wiggle,
    /// The zero-baryon-oscillation form (EH98 eqs. 26-31): the smooth "no-wiggle" shape.
    NoWiggle,
}

/// The Eisenstein & Hu (1998) transfer function of one cosmology: the k-independent quantities
/// of the paper, computed once, and T(k) for k in h/Mpc.
///
/// ```
/// use pm_cosmo::Cosmology;
/// use pm_cosmo::power::{EhForm, EisensteinHu};
/// let eh = EisensteinHu::new(&Cosmology::planck18()).unwrap();
/// assert!((eh.transfer(1e-5, EhForm::Wiggle) - 1.0).abs() < 1e-6);
/// // Sound horizon at the drag epoch, about 150 Mpc = 101 Mpc/h for Planck 2018.
/// assert!((eh.sound_horizon() / 0.6766 - 150.0).abs() < 3.0);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct EisensteinHu<S = f64> {
    /// Omega_m h, the shape parameter Gamma of eqs. 28 and 30.
    omega_m_h: S,
    /// Theta_2.7 = T_cmb / 2.7 K.
    theta: f64,
    /// Baryon fraction f_b = Omega_b / Omega_m.
    f_b: S,
    /// Cold dark matter fraction f_c = Omega_c / Omega_m.
    f_c: S,
    /// Wavenumber of matter-radiation equality k_eq (eq. 3), h/Mpc.
    k_eq: S,
    /// Sound horizon at the drag epoch s (eq. 6), Mpc/h.
    s: S,
    /// Silk damping wavenumber k_Silk (eq. 7), h/Mpc.
    k_silk: S,
    /// CDM suppression alpha_c (eq. 11).
    alpha_c: S,
    /// CDM log shift beta_c (eq. 12).
    beta_c: S,
    /// Baryon suppression alpha_b (eq. 14).
    alpha_b: S,
    /// Baryon envelope shift beta_b (eq. 24).
    beta_b: S,
    /// Node shift beta_node (eq. 23).
    beta_node: S,
    /// Approximate sound horizon of the no-wiggle form (eq. 26), Mpc/h.
    s_approx: S,
    /// alpha_Gamma of the no-wiggle form (eq. 31).
    alpha_gamma: S,
}

impl<S: Scalar> EisensteinHu<S> {
    /// The k-independent quantities of EH98 for `cosmo`. Needs Omega_b > 0 (the fitting formula
    /// divides by the baryon density); errors otherwise.
    pub fn new(cosmo: &Cosmology<S>) -> Result<Self> {
        let ob = cosmo.omega_b.re();
        if ob.is_nan() || ob <= 0.0 {
            return Err(CosmoError::OutOfRange {
                name: "Omega_b",
                value: cosmo.omega_b.re(),
                allowed: "(0, Omega_m) for the Eisenstein & Hu transfer function",
            });
        }
        let h = cosmo.h;
        let h2 = h * h;
        let omega_m = cosmo.omega_m();
        let om_h2 = omega_m * h2; // Omega_m h^2
        let ob_h2 = cosmo.omega_b * h2; // Omega_b h^2
        let theta = cosmo.t_cmb / 2.7;
        let theta2 = theta * theta;
        let theta4 = theta2 * theta2;
        let f_b = cosmo.omega_b / omega_m;
        let f_c = cosmo.omega_c / omega_m;

        // Eq. 2: 1 + z_eq = 2.50e4 Omega_m h^2 Theta^-4 (see the module notes).
        let zp1_eq = om_h2 * (2.50e4 / theta4);
        // Eq. 3: k_eq = 7.46e-2 Omega_m h^2 Theta^-2 / Mpc = (that / h) h/Mpc.
        let k_eq = om_h2 * (7.46e-2 / theta2) / h;
        // Eq. 4: redshift of the drag epoch.
        let b1 = om_h2.powf(-0.419) * 0.313 * (om_h2.powf(0.674) * 0.607 + 1.0);
        let b2 = om_h2.powf(0.223) * 0.238;
        let z_d = om_h2.powf(0.251) * 1291.0 / (om_h2.powf(0.828) * 0.659 + 1.0)
            * (b1 * (b2 * ob_h2.ln()).exp() + 1.0);
        // Eq. 5: baryon-to-photon momentum ratio R = 31.5 Omega_b h^2 Theta^-4 (10^3 / (1 + z)).
        let r_of = |zp1: S| ob_h2 * (31.5e3 / theta4) / zp1;
        let r_eq = r_of(zp1_eq);
        let r_d = r_of(z_d + 1.0);
        // Eq. 6: sound horizon at the drag epoch, in units of 1/k_eq (so Mpc/h here).
        let s = (k_eq * 3.0).recip()
            * 2.0
            * (r_eq.recip() * 6.0).sqrt()
            * (((r_d + 1.0).sqrt() + (r_d + r_eq).sqrt()) / (r_eq.sqrt() + 1.0)).ln();
        // Eq. 7: Silk damping scale, 1.6 (Omega_b h^2)^0.52 (Omega_m h^2)^0.73
        // [1 + (10.4 Omega_m h^2)^-0.95] / Mpc, divided by h for h/Mpc.
        let k_silk =
            ob_h2.powf(0.52) * 1.6 * om_h2.powf(0.73) * ((om_h2 * 10.4).powf(-0.95) + 1.0) / h;
        // Eq. 11: alpha_c = a1^(-f_b) a2^(-f_b^3).
        let a1 = (om_h2 * 46.9).powf(0.670) * ((om_h2 * 32.1).powf(-0.532) + 1.0);
        let a2 = (om_h2 * 12.0).powf(0.424) * ((om_h2 * 45.0).powf(-0.582) + 1.0);
        let alpha_c = (-(a1.ln() * f_b) - a2.ln() * f_b.powi(3)).exp();
        // Eq. 12: 1 / beta_c = 1 + b1 (f_c^b2 - 1).
        let bb1 = ((om_h2 * 458.0).powf(-0.708) + 1.0).recip() * 0.944;
        let bb2 = (om_h2 * 0.395).powf(-0.0266);
        let beta_c = (bb1 * ((bb2 * f_c.ln()).exp() - 1.0) + 1.0).recip();
        // Eqs. 14-15: alpha_b = 2.07 k_eq s (1 + R_d)^(-3/4) G((1 + z_eq) / (1 + z_d)).
        let y = zp1_eq / (z_d + 1.0);
        let sq = (y + 1.0).sqrt();
        let g = y * (sq * -6.0 + (y * 3.0 + 2.0) * ((sq + 1.0) / (sq - 1.0)).ln());
        let alpha_b = k_eq * s * 2.07 * (r_d + 1.0).powf(-0.75) * g;
        // Eq. 24: beta_b = 0.5 + f_b + (3 - 2 f_b) sqrt((17.2 Omega_m h^2)^2 + 1).
        let beta_b = f_b + 0.5 + (f_b * -2.0 + 3.0) * ((om_h2 * 17.2).powi(2) + 1.0).sqrt();
        // Eq. 23: beta_node = 8.41 (Omega_m h^2)^0.435.
        let beta_node = om_h2.powf(0.435) * 8.41;
        // Eq. 26: s ~ 44.5 ln(9.83 / Omega_m h^2) / sqrt(1 + 10 (Omega_b h^2)^(3/4)) Mpc.
        let s_approx =
            (om_h2.recip() * 9.83).ln() * 44.5 / (ob_h2.powf(0.75) * 10.0 + 1.0).sqrt() * h;
        // Eq. 31.
        let alpha_gamma = cst::<S>(1.0) - (om_h2 * 431.0).ln() * 0.328 * f_b
            + (om_h2 * 22.3).ln() * 0.38 * f_b * f_b;
        Ok(EisensteinHu {
            omega_m_h: omega_m * h,
            theta,
            f_b,
            f_c,
            k_eq,
            s,
            k_silk,
            alpha_c,
            beta_c,
            alpha_b,
            beta_b,
            beta_node,
            s_approx,
            alpha_gamma,
        })
    }

    /// Sound horizon at the drag epoch s (EH98 eq. 6), in Mpc/h.
    pub fn sound_horizon(&self) -> S {
        self.s
    }

    /// Wavenumber of matter-radiation equality k_eq (EH98 eq. 3), in h/Mpc.
    pub fn k_equality(&self) -> S {
        self.k_eq
    }

    /// T(k) for `k` in h/Mpc (k >= 0), in the chosen form.
    pub fn transfer(&self, k: f64, form: EhForm) -> S {
        match form {
            EhForm::Wiggle => self.transfer_wiggle(k),
            EhForm::NoWiggle => self.transfer_no_wiggle(k),
        }
    }

    /// The pressureless transfer function of EH98 eqs. 19-20, with q = k / (13.41 k_eq)
    /// (eq. 10):
    ///
    /// T0(k; alpha, beta) = L / (L + C q^2), L = ln(e + 1.8 beta q),
    /// C = 14.2 / alpha + 386 / (1 + 69.9 q^1.08).
    fn t0(&self, q: S, alpha: S, beta: S) -> S {
        let l = (beta * q * 1.8 + std::f64::consts::E).ln();
        let c = alpha.recip() * 14.2 + (q.powf(1.08) * 69.9 + 1.0).recip() * 386.0;
        l / (l + c * q * q)
    }

    /// The full transfer function with baryon acoustic oscillations, EH98 eq. 16
    /// (k in h/Mpc, s in Mpc/h, T0 and q as in `t0`):
    ///
    /// ```text
    /// T   = f_b T_b + f_c T_c
    /// T_c = f T0(k; 1, beta_c) + (1 - f) T0(k; alpha_c, beta_c),  f = 1 / (1 + (k s / 5.4)^4)
    ///                                                                      (eqs. 17-18)
    /// T_b = [ T0(k; 1, 1) / (1 + (k s / 5.2)^2)
    ///       + alpha_b / (1 + (beta_b / k s)^3) exp(-(k / k_Silk)^1.4) ] j0(k s~)   (eq. 21)
    /// s~  = s / (1 + (beta_node / k s)^3)^(1/3)                                   (eq. 22)
    /// ```
    pub fn transfer_wiggle(&self, k: f64) -> S {
        if k == 0.0 {
            return cst(1.0);
        }
        let q = self.k_eq.recip() * (k / 13.41);
        let ks = self.s * k;
        let f = ((ks * (1.0 / 5.4)).powi(4) + 1.0).recip();
        let one = cst::<S>(1.0);
        let t_c =
            self.t0(q, one, self.beta_c) * f + self.t0(q, self.alpha_c, self.beta_c) * (one - f);
        let ks_tilde = ks * ((self.beta_node / ks).powi(3) + 1.0).cbrt().recip();
        let t_b = (self.t0(q, one, one) / ((ks * (1.0 / 5.2)).powi(2) + 1.0)
            + self.alpha_b / ((self.beta_b / ks).powi(3) + 1.0)
                * (-(self.k_silk.recip() * k).powf(1.4)).exp())
            * spherical_j0(ks_tilde);
        self.f_b * t_b + self.f_c * t_c
    }

    /// The zero-baryon-oscillation transfer function, EH98 eqs. 28-31 (k in h/Mpc):
    ///
    /// T = L0 / (L0 + C0 q^2), L0 = ln(2e + 1.8 q), C0 = 14.2 + 731 / (1 + 62.5 q),
    /// q = k Theta^2 / Gamma_eff, Gamma_eff = Omega_m h [alpha_Gamma
    /// + (1 - alpha_Gamma) / (1 + (0.43 k s)^4)], with s from eq. 26.
    pub fn transfer_no_wiggle(&self, k: f64) -> S {
        let one = cst::<S>(1.0);
        let gamma_eff = self.omega_m_h
            * (self.alpha_gamma
                + (one - self.alpha_gamma) / ((self.s_approx * (0.43 * k)).powi(4) + 1.0));
        let q = gamma_eff.recip() * (k * self.theta * self.theta);
        let l0 = (q * 1.8 + 2.0 * std::f64::consts::E).ln();
        let c0 = (q * 62.5 + 1.0).recip() * 731.0 + 14.2;
        l0 / (l0 + c0 * q * q)
    }
}

/// Spherical Bessel function j0(x) = sin(x) / x, with its Taylor series
/// 1 - x^2/6 + x^4/120 - x^6/5040 + x^8/362880 for |x| < 0.1 so that dual-number derivatives
/// stay accurate where sin(x) / x cancels (truncation below 1e-17 there).
fn spherical_j0<S: Scalar>(x: S) -> S {
    if x.re().abs() < 0.1 {
        let x2 = x * x;
        let one = cst::<S>(1.0);
        one - x2
            * (one - x2 * (one - x2 * (one - x2 * (1.0 / 72.0)) * (1.0 / 42.0)) * (1.0 / 20.0))
            * (1.0 / 6.0)
    } else {
        x.sin() / x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn j0_series_matches_sin_over_x() {
        for &x in &[1e-8, 1e-3, 0.05, 0.0999, 0.1001] {
            let s: f64 = spherical_j0(x);
            assert!((s - x.sin() / x).abs() < 1e-16, "{x}");
        }
    }

    #[test]
    fn transfer_tends_to_one_and_falls() {
        let eh = EisensteinHu::new(&Cosmology::planck18()).unwrap();
        for form in [EhForm::Wiggle, EhForm::NoWiggle] {
            assert!((eh.transfer(1e-7, form) - 1.0).abs() < 1e-8);
            let t1 = eh.transfer(1.0, form);
            assert!(t1 > 1e-3 && t1 < 0.05, "{t1}");
        }
    }
}
