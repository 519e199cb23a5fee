//! Normalisation of a transfer-function model by the primordial amplitude A_s.
//!
//! The primordial (comoving) curvature perturbation R has the dimensionless spectrum
//! Delta^2_R(k) = A_s (k / k_p)^(n_s - 1), with the pivot k_p = 0.05 / Mpc (Planck's choice).
//! In the matter era, on scales that were super-horizon at equality, the Newtonian potential
//! is Phi = -(3/5) R T(k), and the Poisson equation k^2 Phi = -(3/2) Omega_m H0^2 delta / a
//! turns it into the density contrast. With the linear growth factor D_md(a) normalised to
//! D_md = a in the matter era (and the same equation carried through the dark-energy era by
//! D_md), this gives
//!
//! ```text
//! delta(k, a) = (2/5) (k / H0)^2 R(k) T(k) D_md(a) / Omega_m
//! Delta^2(k, a) = (4/25) A_s (k / k_p)^(n_s - 1) (k / H0)^4 T(k)^2 (D_md(a) / Omega_m)^2
//! P(k, a) = 2 pi^2 Delta^2(k, a) / k^3
//! ```
//!
//! (Dodelson, Modern Cosmology (2003), ch. 7: delta = (3/5) k^2 Phi_p T D1 / (Omega_m H0^2)
//! with Phi_p = (2/3) R the primordial potential in the radiation era and D1 = a in the matter
//! era. This is the usual map from A_s to P(k) for a transfer-function model, e.g. that of
//! Komatsu's MatterPower.jl with the Eisenstein & Hu T(k).)
//! Here k and H0 = 1 / 2997.92458 are in h/Mpc, so k_p = 0.05 / h h/Mpc, and P is in (Mpc/h)^3.
//!
//! D_md(1) comes from the growth table: its ODE starts on the growing mode
//! D = a + (2/3) a_eq of a matter + radiation universe (D = a without radiation), so the
//! matter-era normalisation of the table's D1 (which is 1 at a = 1) is
//! D_md(1) = (a_min + 2/3 a_eq) / D1(a_min). The growth of the k -> 0 mode and of the
//! sub-horizon Meszaros mode differ by O(a_eq) ~ 3e-4 in D at a = 1, the inherent ambiguity of
//! a scale-independent D_md with radiation; it is far below the ~1-2% by which the
//! Eisenstein & Hu T(k) differs from a Boltzmann code.

use crate::constants::HUBBLE_DISTANCE_MPC_H;
use crate::growth::GrowthTable;
use crate::params::Cosmology;
use crate::scalar::Scalar;

/// Pivot wavenumber of A_s, in 1/Mpc.
pub const PIVOT_K_PER_MPC: f64 = 0.05;

/// D_md(1): the linear growth factor today in the normalisation D_md = a (+ 2/3 a_eq) in the
/// matter era, from a growth table (whose D1 is 1 today).
pub fn matter_era_growth_today<S: Scalar>(growth: &GrowthTable<S>) -> S {
    let (a0, _) = growth.range();
    let a_eq = growth.background().a_equality();
    (a_eq * (2.0 / 3.0) + a0) / growth.d1(a0)
}

/// The amplitude N of P(k, a = 1) = N k^n_s T(k)^2 (k in h/Mpc, P in (Mpc/h)^3) implied by A_s:
///
/// N = 2 pi^2 (4/25) A_s k_p^(1 - n_s) (c / H0)^4 (D_md(1) / Omega_m)^2,
///
/// with k_p = 0.05 / h h/Mpc and c / H0 = 2997.92458 Mpc/h (see the module notes).
pub fn amplitude_from_as<S: Scalar>(cosmo: &Cosmology<S>, a_s: S, growth: &GrowthTable<S>) -> S {
    let two_pi2 = 2.0 * std::f64::consts::PI * std::f64::consts::PI;
    let k_p = cosmo.h.recip() * PIVOT_K_PER_MPC; // h/Mpc
    let tilt = (k_p.ln() * (cosmo.n_s * -1.0 + 1.0)).exp(); // k_p^(1 - n_s)
    let d_over_om = matter_era_growth_today(growth) / cosmo.omega_m();
    a_s * tilt * d_over_om * d_over_om * (two_pi2 * 4.0 / 25.0 * HUBBLE_DISTANCE_MPC_H.powi(4))
}
