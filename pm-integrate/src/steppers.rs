//! The FastPM, leapfrog and COLA steppers.

use std::sync::Arc;

use pm_cosmo::GrowthTable;

use crate::stepper::integrate;
use crate::{Coefficients, IntegrateError, Stepper};

/// `int da / (a^2 E)` (kick) and `int da / (a^3 E)` (drift): the exact factors for a
/// constant force / momentum over the step, with `dp/da = F / (a^2 E)`, `dx/da = p / (a^3 E)`.
fn leapfrog_factors(growth: &GrowthTable<f64>, a0: f64, a1: f64, power: i32) -> f64 {
    let bg = growth.background();
    integrate(|a| 1.0 / (a.powi(power) * bg.e(a)), a0, a1)
}

/// FastPM's kick and drift (Feng, Chu, Seljak & McDonald 2016, MNRAS 463, 2273, eqs. 21
/// and 24): the factors are chosen so that a particle on its Zel'dovich trajectory
/// (`x = D1 s`, `p = gp1 s`, `F = gf1 s`) is followed exactly for any step size:
///
/// ```text
/// kick:  p += F(a_f) [gp1(a1) - gp1(a0)] / gf1(a_f),
/// drift: x += p(a_m) [D1(a1) - D1(a0)] / gp1(a_m),
/// ```
///
/// with `gp1 = a^3 E dD1/da` and `gf1 = a^2 E dgp1/da = 3/2 Omega_m D1` (pm-cosmo).
#[derive(Debug, Clone)]
pub struct FastPm {
    growth: Arc<GrowthTable<f64>>,
}

impl FastPm {
    /// The FastPM stepper on a growth table.
    pub fn new(growth: Arc<GrowthTable<f64>>) -> Self {
        Self { growth }
    }
}

impl Stepper for FastPm {
    fn name(&self) -> String {
        "fastpm".into()
    }

    fn kick(&self, a0: f64, a1: f64, af: f64) -> Result<Coefficients, IntegrateError> {
        let (g0, g1, gf) = (
            self.growth.at(a0)?,
            self.growth.at(a1)?,
            self.growth.at(af)?,
        );
        Ok(Coefficients {
            scale: (g1.gp1 - g0.gp1) / gf.gf1,
            ..Default::default()
        })
    }

    fn drift(&self, a0: f64, a1: f64, am: f64) -> Result<Coefficients, IntegrateError> {
        let (g0, g1, gm) = (
            self.growth.at(a0)?,
            self.growth.at(a1)?,
            self.growth.at(am)?,
        );
        Ok(Coefficients {
            scale: (g1.d1 - g0.d1) / gm.gp1,
            ..Default::default()
        })
    }
}

/// Plain leapfrog: the force and momentum held constant over the half steps,
/// `kick = int_{a0}^{a1} da / (a^2 E)`, `drift = int_{a0}^{a1} da / (a^3 E)` (Quinn et al.
/// 1997 in the scale factor; the evaluation times do not enter).
#[derive(Debug, Clone)]
pub struct Leapfrog {
    growth: Arc<GrowthTable<f64>>,
}

impl Leapfrog {
    /// The leapfrog stepper (the growth table supplies the background).
    pub fn new(growth: Arc<GrowthTable<f64>>) -> Self {
        Self { growth }
    }
}

impl Stepper for Leapfrog {
    fn name(&self) -> String {
        "leapfrog".into()
    }

    fn kick(&self, a0: f64, a1: f64, _af: f64) -> Result<Coefficients, IntegrateError> {
        self.growth.check_range(a0.min(a1), a0.max(a1))?;
        Ok(Coefficients {
            scale: leapfrog_factors(&self.growth, a0, a1, 2),
            ..Default::default()
        })
    }

    fn drift(&self, a0: f64, a1: f64, _am: f64) -> Result<Coefficients, IntegrateError> {
        self.growth.check_range(a0.min(a1), a0.max(a1))?;
        Ok(Coefficients {
            scale: leapfrog_factors(&self.growth, a0, a1, 3),
            ..Default::default()
        })
    }
}

/// COLA (Tassev, Zaldarriaga & Eisenstein 2013, JCAP 06, 036; seed 004): particles move in
/// the frame of their 2LPT trajectory `x_LPT = D1 psi1 + D2 psi2`, and only the residual
/// `x_res = x - x_LPT`, `p_res = p - (gp1 psi1 + gp2 psi2)` is integrated by leapfrog, with
/// the residual force `F - (gf1 psi1 + gf2 psi2)`. Written on the full momentum:
///
/// ```text
/// kick:  p += K F + [gp1(a1) - gp1(a0) - K gf1(a_f)] psi1 + [gp2(a1) - gp2(a0) - K gf2(a_f)] psi2,
/// drift: x += D p + [D1(a1) - D1(a0) - D gp1(a_m)] psi1 + [D2(a1) - D2(a0) - D gp2(a_m)] psi2,
/// ```
///
/// with the leapfrog `K = int da/(a^2 E)`, `D = int da/(a^3 E)` (the standard, not Tassev's
/// modified, factors for the residual).
#[derive(Debug, Clone)]
pub struct Cola {
    growth: Arc<GrowthTable<f64>>,
}

impl Cola {
    /// The COLA stepper on a growth table.
    pub fn new(growth: Arc<GrowthTable<f64>>) -> Self {
        Self { growth }
    }
}

impl Stepper for Cola {
    fn name(&self) -> String {
        "cola".into()
    }

    fn needs_lpt(&self) -> bool {
        true
    }

    fn kick(&self, a0: f64, a1: f64, af: f64) -> Result<Coefficients, IntegrateError> {
        let (g0, g1, gf) = (
            self.growth.at(a0)?,
            self.growth.at(a1)?,
            self.growth.at(af)?,
        );
        let k = leapfrog_factors(&self.growth, a0, a1, 2);
        Ok(Coefficients {
            scale: k,
            psi1: g1.gp1 - g0.gp1 - k * gf.gf1,
            psi2: g1.gp2 - g0.gp2 - k * gf.gf2,
        })
    }

    fn drift(&self, a0: f64, a1: f64, am: f64) -> Result<Coefficients, IntegrateError> {
        let (g0, g1, gm) = (
            self.growth.at(a0)?,
            self.growth.at(a1)?,
            self.growth.at(am)?,
        );
        let d = leapfrog_factors(&self.growth, a0, a1, 3);
        Ok(Coefficients {
            scale: d,
            psi1: g1.d1 - g0.d1 - d * gm.gp1,
            psi2: g1.d2 - g0.d2 - d * gm.gp2,
        })
    }
}
