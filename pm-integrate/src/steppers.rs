//! The FastPM, leapfrog and COLA steppers.
//!
//! Each scheme is a set of [`Formulas`]: its kick and drift factors, written once as functions
//! generic over [`pm_cosmo::Scalar`] of a [`GrowthTable`]. One [`KdkStepper`] turns any of
//! them into a [`Stepper`]: evaluated on the `f64` table the formulas give the
//! [`Coefficients`] of the run, evaluated on the same table in [`ParamDual`] (seeded by
//! [`Cosmology::with_gradients`]) they give those coefficients' exact derivatives with respect
//! to the seven cosmological [`Param`](pm_cosmo::Param)s ([`Stepper::kick_derivatives`],
//! [`Stepper::drift_derivatives`]), which pm-adjoint chains with the adjoint's coefficient
//! gradients. The public steppers are the aliases [`FastPm`], [`Leapfrog`] and [`Cola`].

use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use pm_cosmo::{Cosmology, GrowthTable, N_PARAMS, Param, ParamDual, Scalar, derivative, value};

use crate::stepper::integrate;
use crate::{Coefficients, IntegrateError, Stepper};

/// [`Coefficients`] in any scalar type: what the generic formulas return.
///
/// (`pub` only so that it may appear in [`Formulas`]; this module is private and lib.rs does
/// not re-export it.)
#[derive(Debug, Clone, Copy)]
pub struct Coef<S> {
    scale: S,
    psi1: S,
    psi2: S,
}

/// What a [`Formulas`] kick or drift returns.
type CoefResult<S> = Result<Coef<S>, IntegrateError>;

impl<S: Scalar> Coef<S> {
    /// A pure `scale` coefficient (FastPM, leapfrog).
    fn scale(scale: S) -> Self {
        Self {
            scale,
            psi1: S::from(0.0),
            psi2: S::from(0.0),
        }
    }

    /// The plain values.
    fn values(self) -> Coefficients {
        Coefficients {
            scale: value(self.scale),
            psi1: value(self.psi1),
            psi2: value(self.psi2),
        }
    }
}

impl Coef<ParamDual> {
    /// The derivatives, one [`Coefficients`] per parameter in [`Param::ALL`] order.
    fn derivatives(self) -> [Coefficients; N_PARAMS] {
        Param::ALL.map(|p| Coefficients {
            scale: derivative(&self.scale, p),
            psi1: derivative(&self.psi1, p),
            psi2: derivative(&self.psi2, p),
        })
    }
}

/// The growth tables behind a stepper: the `f64` one for the coefficients, and, when the
/// stepper knows its cosmology, the same table in [`ParamDual`] for their derivatives, built
/// on first use (about 30 times the cost of the `f64` table: 25 ms against 0.7 ms measured on
/// the 2-core development machine) and then shared by clones.
#[derive(Debug, Clone)]
struct Tables {
    values: Arc<GrowthTable<f64>>,
    cosmology: Option<Cosmology<f64>>,
    duals: Arc<OnceLock<Arc<GrowthTable<ParamDual>>>>,
}

impl Tables {
    fn new(values: Arc<GrowthTable<f64>>) -> Self {
        Self {
            values,
            cosmology: None,
            duals: Arc::new(OnceLock::new()),
        }
    }

    fn with_cosmology(self, cosmology: &Cosmology<f64>) -> Self {
        Self {
            values: self.values,
            cosmology: Some(*cosmology),
            duals: Arc::new(OnceLock::new()),
        }
    }

    /// The dual table, built on the first call. Errors if the stepper was built without a
    /// cosmology, or if the cosmology does not reproduce the `f64` table (a different
    /// cosmology was passed) to 1e-8.
    fn duals(&self, stepper: &str) -> Result<&GrowthTable<ParamDual>, IntegrateError> {
        if let Some(t) = self.duals.get() {
            return Ok(t);
        }
        let cosmology = self.cosmology.ok_or_else(|| IntegrateError::Config {
            what: "stepper",
            reason: format!(
                "{stepper} was built without its cosmology, so it has no parameter derivatives \
                 (use `with_parameter_derivatives`)"
            ),
        })?;
        let table = GrowthTable::new(&cosmology.with_gradients())?;
        let (lo, hi) = self.values.range();
        for a in [lo.max(1e-3), 0.1, 0.5, 1.0, hi.min(2.0)] {
            let (want, got) = (self.values.at(a)?, table.at(a)?);
            for (w, g) in [(want.d1, got.d1), (want.gp1, got.gp1), (want.d2, got.d2)] {
                if (w - value(g)).abs() > 1e-8 * w.abs() {
                    return Err(IntegrateError::Config {
                        what: "stepper",
                        reason: format!(
                            "the cosmology given for the parameter derivatives of {stepper} \
                             does not reproduce its growth table (at a = {a}: {w} vs {})",
                            value(g)
                        ),
                    });
                }
            }
        }
        let _ = self.duals.set(Arc::new(table));
        Ok(self.duals.get().expect("just set"))
    }
}

/// `int_{a0}^{a1} da / (a^n E(a))`: the leapfrog kick (`n = 2`) and drift (`n = 3`) factors,
/// exact for a force / momentum held constant over the step, since `dp/da = F / (a^2 E)` and
/// `dx/da = p / (a^3 E)`. 8-point Gauss-Legendre on pieces of at most 0.05 in ln a (the
/// nodes depend on `a0, a1` only, so the quadrature is a smooth function of the parameters
/// that enter `E`).
fn leapfrog_factor<S: Scalar>(growth: &GrowthTable<S>, a0: f64, a1: f64, n: i32) -> S {
    let bg = growth.background();
    integrate(|a| S::from(1.0) / (bg.e(a) * a.powi(n)), a0, a1)
}

/// Leapfrog kick (`n = 2`) or drift (`n = 3`): `int da / (a^n E)`.
fn leapfrog<S: Scalar>(g: &GrowthTable<S>, a0: f64, a1: f64, n: i32) -> CoefResult<S> {
    g.check_range(a0.min(a1), a0.max(a1))?;
    Ok(Coef::scale(leapfrog_factor(g, a0, a1, n)))
}

/// The kick and drift factors of one time-stepping scheme, as functions of the growth table
/// generic over its scalar (`f64` for the values, [`ParamDual`] for their parameter
/// derivatives). [`KdkStepper`] makes a [`Stepper`] of them.
///
/// Sealed: this module is private and lib.rs re-exports only the three stepper aliases, so
/// the schemes are [`FastPmFormulas`], [`LeapfrogFormulas`] and [`ColaFormulas`].
pub trait Formulas: Send + Sync + 'static {
    /// The stepper's [`Stepper::name`] (also used in its error messages).
    const NAME: &'static str;

    /// Whether the coefficients use the LPT fields ([`Stepper::needs_lpt`]).
    const NEEDS_LPT: bool;

    /// The kick of the momenta from `a0` to `a1` with the force evaluated at `af`.
    fn kick<S: Scalar>(g: &GrowthTable<S>, a0: f64, a1: f64, af: f64) -> CoefResult<S>;

    /// The drift of the positions from `a0` to `a1` with the momenta taken at `am`.
    fn drift<S: Scalar>(g: &GrowthTable<S>, a0: f64, a1: f64, am: f64) -> CoefResult<S>;
}

/// The coefficient formulas of [`FastPm`].
#[derive(Debug, Clone, Copy)]
pub struct FastPmFormulas;

impl Formulas for FastPmFormulas {
    const NAME: &'static str = "fastpm";
    const NEEDS_LPT: bool = false;

    /// FastPM kick: `[gp1(a1) - gp1(a0)] / gf1(a_f)`.
    fn kick<S: Scalar>(g: &GrowthTable<S>, a0: f64, a1: f64, af: f64) -> CoefResult<S> {
        let (g0, g1, gf) = (g.at(a0)?, g.at(a1)?, g.at(af)?);
        Ok(Coef::scale((g1.gp1 - g0.gp1) / gf.gf1))
    }

    /// FastPM drift: `[D1(a1) - D1(a0)] / gp1(a_m)`.
    fn drift<S: Scalar>(g: &GrowthTable<S>, a0: f64, a1: f64, am: f64) -> CoefResult<S> {
        let (g0, g1, gm) = (g.at(a0)?, g.at(a1)?, g.at(am)?);
        Ok(Coef::scale((g1.d1 - g0.d1) / gm.gp1))
    }
}

/// The coefficient formulas of [`Leapfrog`].
#[derive(Debug, Clone, Copy)]
pub struct LeapfrogFormulas;

impl Formulas for LeapfrogFormulas {
    const NAME: &'static str = "leapfrog";
    const NEEDS_LPT: bool = false;

    /// Leapfrog kick: `int_{a0}^{a1} da / (a^2 E)` (`af` does not enter).
    fn kick<S: Scalar>(g: &GrowthTable<S>, a0: f64, a1: f64, _af: f64) -> CoefResult<S> {
        leapfrog(g, a0, a1, 2)
    }

    /// Leapfrog drift: `int_{a0}^{a1} da / (a^3 E)` (`am` does not enter).
    fn drift<S: Scalar>(g: &GrowthTable<S>, a0: f64, a1: f64, _am: f64) -> CoefResult<S> {
        leapfrog(g, a0, a1, 3)
    }
}

/// The coefficient formulas of [`Cola`].
#[derive(Debug, Clone, Copy)]
pub struct ColaFormulas;

impl Formulas for ColaFormulas {
    const NAME: &'static str = "cola";
    const NEEDS_LPT: bool = true;

    /// COLA kick: `K = int da/(a^2 E)`, `psi_n: gp_n(a1) - gp_n(a0) - K gf_n(a_f)`.
    fn kick<S: Scalar>(g: &GrowthTable<S>, a0: f64, a1: f64, af: f64) -> CoefResult<S> {
        let (g0, g1, gf) = (g.at(a0)?, g.at(a1)?, g.at(af)?);
        let k = leapfrog_factor(g, a0, a1, 2);
        Ok(Coef {
            scale: k,
            psi1: g1.gp1 - g0.gp1 - k * gf.gf1,
            psi2: g1.gp2 - g0.gp2 - k * gf.gf2,
        })
    }

    /// COLA drift: `D = int da/(a^3 E)`, `psi_n: D_n(a1) - D_n(a0) - D gp_n(a_m)`.
    fn drift<S: Scalar>(g: &GrowthTable<S>, a0: f64, a1: f64, am: f64) -> CoefResult<S> {
        let (g0, g1, gm) = (g.at(a0)?, g.at(a1)?, g.at(am)?);
        let d = leapfrog_factor(g, a0, a1, 3);
        Ok(Coef {
            scale: d,
            psi1: g1.d1 - g0.d1 - d * gm.gp1,
            psi2: g1.d2 - g0.d2 - d * gm.gp2,
        })
    }
}

/// A kick-drift-kick [`Stepper`] whose coefficients are the [`Formulas`] `F` evaluated on a
/// growth table: [`FastPm`], [`Leapfrog`] or [`Cola`].
#[derive(Debug, Clone)]
pub struct KdkStepper<F> {
    tables: Tables,
    formulas: PhantomData<F>,
}

impl<F: Formulas> KdkStepper<F> {
    /// The stepper on a growth table (leapfrog uses only its background).
    pub fn new(growth: Arc<GrowthTable<f64>>) -> Self {
        Self {
            tables: Tables::new(growth),
            formulas: PhantomData,
        }
    }

    /// Enables [`Stepper::kick_derivatives`] and [`Stepper::drift_derivatives`]: `cosmology`
    /// must be the one the growth table was built from (checked when the derivatives are
    /// first asked for, which is when its dual-number table is built).
    pub fn with_parameter_derivatives(self, cosmology: &Cosmology<f64>) -> Self {
        Self {
            tables: self.tables.with_cosmology(cosmology),
            formulas: PhantomData,
        }
    }
}

impl<F: Formulas> Stepper for KdkStepper<F> {
    fn name(&self) -> String {
        F::NAME.into()
    }

    fn needs_lpt(&self) -> bool {
        F::NEEDS_LPT
    }

    fn kick(&self, a0: f64, a1: f64, af: f64) -> Result<Coefficients, IntegrateError> {
        Ok(F::kick(&self.tables.values, a0, a1, af)?.values())
    }

    fn drift(&self, a0: f64, a1: f64, am: f64) -> Result<Coefficients, IntegrateError> {
        Ok(F::drift(&self.tables.values, a0, a1, am)?.values())
    }

    fn kick_derivatives(
        &self,
        a0: f64,
        a1: f64,
        af: f64,
    ) -> Result<[Coefficients; N_PARAMS], IntegrateError> {
        Ok(F::kick(self.tables.duals(F::NAME)?, a0, a1, af)?.derivatives())
    }

    fn drift_derivatives(
        &self,
        a0: f64,
        a1: f64,
        am: f64,
    ) -> Result<[Coefficients; N_PARAMS], IntegrateError> {
        Ok(F::drift(self.tables.duals(F::NAME)?, a0, a1, am)?.derivatives())
    }
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
/// `FastPm::new(growth)`, optionally `.with_parameter_derivatives(&cosmology)`.
pub type FastPm = KdkStepper<FastPmFormulas>;

/// Plain leapfrog: the force and momentum held constant over the half steps,
/// `kick = int_{a0}^{a1} da / (a^2 E)`, `drift = int_{a0}^{a1} da / (a^3 E)` (Quinn et al.
/// 1997 in the scale factor; the evaluation times do not enter). `Leapfrog::new(growth)`
/// (the growth table supplies the background), optionally
/// `.with_parameter_derivatives(&cosmology)`.
pub type Leapfrog = KdkStepper<LeapfrogFormulas>;

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
/// modified, factors for the residual). `Cola::new(growth)`, optionally
/// `.with_parameter_derivatives(&cosmology)`.
pub type Cola = KdkStepper<ColaFormulas>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The three steppers on `cosmology`, with derivatives.
    fn steppers(cosmology: &Cosmology<f64>) -> Vec<Box<dyn Stepper>> {
        let g = Arc::new(GrowthTable::new(cosmology).unwrap());
        vec![
            Box::new(FastPm::new(g.clone()).with_parameter_derivatives(cosmology)),
            Box::new(Leapfrog::new(g.clone()).with_parameter_derivatives(cosmology)),
            Box::new(Cola::new(g).with_parameter_derivatives(cosmology)),
        ]
    }

    /// A cosmology away from the special points (w0 = -1, wa = 0) so every parameter moves
    /// the background.
    fn cosmology() -> Cosmology<f64> {
        let mut c = Cosmology::planck18();
        c.w0 = -0.9;
        c.wa = 0.1;
        c
    }

    #[test]
    fn dual_coefficients_have_the_f64_values() {
        let c = cosmology();
        let g = GrowthTable::new(&c).unwrap();
        let d = GrowthTable::new(&c.with_gradients()).unwrap();
        let close = |x: Coefficients, y: Coefficients| {
            for (u, v) in [(x.scale, y.scale), (x.psi1, y.psi1), (x.psi2, y.psi2)] {
                assert!((u - v).abs() <= 1e-14 * u.abs().max(1e-300), "{u} vs {v}");
            }
        };
        let (a0, a1, ah) = (0.1, 0.4, 0.25);
        close(
            FastPmFormulas::kick(&g, a0, ah, a0).unwrap().values(),
            FastPmFormulas::kick(&d, a0, ah, a0).unwrap().values(),
        );
        close(
            FastPmFormulas::drift(&g, a0, a1, ah).unwrap().values(),
            FastPmFormulas::drift(&d, a0, a1, ah).unwrap().values(),
        );
        close(
            leapfrog(&g, a0, a1, 3).unwrap().values(),
            leapfrog(&d, a0, a1, 3).unwrap().values(),
        );
        close(
            ColaFormulas::kick(&g, ah, a1, a1).unwrap().values(),
            ColaFormulas::kick(&d, ah, a1, a1).unwrap().values(),
        );
        close(
            ColaFormulas::drift(&g, a0, a1, ah).unwrap().values(),
            ColaFormulas::drift(&d, a0, a1, ah).unwrap().values(),
        );
    }

    /// Every coefficient's dual derivative against fourth-order central differences
    /// `[f(-2h) - 8 f(-h) + 8 f(h) - f(2h)] / 12h` of the `f64` coefficient over
    /// `Cosmology::shifted`, for forward and backward steps. With `h = 1e-3` (2e-4 for
    /// Omega_b) the truncation error is ~h^4 ~ 1e-12 and the rounding error ~1e-16 / h ~ 1e-13
    /// relative to the O(1) growth factors; COLA's psi coefficients are small differences of
    /// such factors, so the comparison is relative to `max(|fd|, 1e-6)`.
    #[test]
    fn coefficient_derivatives_match_central_differences() {
        let c = cosmology();
        let base = steppers(&c);
        // (a_from, a_to, a_eval) of kicks and drifts, forward and backward.
        let times = [
            (0.1, 0.25, 0.1),
            (0.25, 0.4, 0.4),
            (0.1, 0.4, 0.25),
            (0.7, 1.0, 0.85),
            (0.4, 0.1, 0.25),
        ];
        let (mut worst, mut worst_small) = (0.0f64, 0.0f64);
        for p in Param::ALL {
            let h = match p {
                Param::OmegaB => 2e-4,
                _ => 1e-3,
            };
            let shifted: Vec<Vec<Box<dyn Stepper>>> = [-2.0, -1.0, 1.0, 2.0]
                .iter()
                .map(|m| steppers(&c.shifted(p, m * h)))
                .collect();
            for (s, stepper) in base.iter().enumerate() {
                for &(a0, a1, ae) in &times {
                    for kick in [true, false] {
                        let eval = |st: &dyn Stepper| {
                            let c = if kick {
                                st.kick(a0, a1, ae).unwrap()
                            } else {
                                st.drift(a0, a1, ae).unwrap()
                            };
                            [c.scale, c.psi1, c.psi2]
                        };
                        let dual = if kick {
                            stepper.kick_derivatives(a0, a1, ae).unwrap()
                        } else {
                            stepper.drift_derivatives(a0, a1, ae).unwrap()
                        }[p.index()];
                        let f: Vec<[f64; 3]> =
                            shifted.iter().map(|st| eval(st[s].as_ref())).collect();
                        for (j, got) in [dual.scale, dual.psi1, dual.psi2].into_iter().enumerate() {
                            let fd =
                                (f[0][j] - 8.0 * f[1][j] + 8.0 * f[2][j] - f[3][j]) / (12.0 * h);
                            let err = (got - fd).abs() / fd.abs().max(1e-6);
                            if fd.abs() > 1e-6 {
                                worst = worst.max(err);
                            } else {
                                worst_small = worst_small.max((got - fd).abs());
                            }
                            assert!(
                                err < 1e-6,
                                "{} {} part {j} d/d{}: dual {got:e} fd {fd:e} (a {a0} -> {a1} at {ae})",
                                stepper.name(),
                                if kick { "kick" } else { "drift" },
                                p.name()
                            );
                        }
                    }
                }
            }
        }
        println!(
            "dual vs central difference: worst relative {worst:.1e} (derivatives above 1e-6), \
             worst absolute {worst_small:.1e} (below)"
        );
    }

    #[test]
    fn derivatives_need_the_cosmology() {
        let c = cosmology();
        let g = Arc::new(GrowthTable::new(&c).unwrap());
        assert!(
            FastPm::new(g.clone())
                .kick_derivatives(0.1, 0.2, 0.1)
                .is_err()
        );
        // A different cosmology than the table's is caught.
        let wrong = FastPm::new(g).with_parameter_derivatives(&Cosmology::wmap9());
        assert!(wrong.drift_derivatives(0.1, 0.2, 0.15).is_err());
    }
}
