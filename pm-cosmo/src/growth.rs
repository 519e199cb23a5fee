//! Linear growth D1(a) and second-order (2LPT) growth D2(a) from their ODEs, with every
//! derivative the FastPM kick and drift factors and COLA need.
//!
//! With the momentum-like variables P_n = a^3 E(a) dD_n/da (FastPM's convention for
//! p = a^3 E dx/da), the growth equations of a pressureless matter perturbation in a background
//! that also holds radiation, curvature and dark energy are (e.g. Bouchet et al. 1995, A&A 296,
//! 575; Feng et al. 2016, MNRAS 463, 2273, eqs. 9-14):
//!
//! ```text
//! dD1/da = P1 / (a^3 E),   dP1/da = 3/2 Omega_m D1 / (a^2 E)
//! dD2/da = P2 / (a^3 E),   dP2/da = 3/2 Omega_m (D2 - D1^2) / (a^2 E)
//! ```
//!
//! They are integrated in x = ln a with fixed-step RK4 from a_init = 1e-8 (1e-5 without radiation),
//! starting on the growing modes of a matter + radiation universe (dark energy and curvature
//! are negligible there). With y = a / a_eq and a_eq = Omega_r / Omega_m:
//!
//! - D1 = a_eq (y + 2/3), dD1/da = 1: the exact growing mode (Meszaros 1974);
//! - D2 = a_eq^2 (-2/3 y - 1/2 y^2 + 1/36 y^3 + ...): the power-series solution of the D2
//!   equation in y with that D1, choosing the branch with D2 -> 0 as a -> 0 (no second-order
//!   displacement before gravity acts). Any other branch differs by a multiple of D1.
//!
//! Without radiation the growing modes are D1 = a and D2 = -3/7 a^2. D1 is normalised to 1 at
//! a = 1 and D2 by the same factor squared, so D2 = -3/7 D1^2 exactly in Einstein-de Sitter.
//! With radiation D2 / (-3/7 D1^2) exceeds the matter + Lambda value by about 2% at a = 0.01
//! and 0.1% at a = 0.1 (the radiation era delays second-order growth); pmwd and JaxPM, which
//! leave radiation out, match the radiation-free numbers.
//!
//! Between nodes the table is interpolated with cubic Hermite polynomials in ln a using the
//! exact slopes from the ODE; with the default spacing (h = 0.005 in ln a) the interpolation
//! and integration errors are about 1e-10 relative, below 1e-9 everywhere
//! (`growth_interpolation_error` test).

use crate::background::Background;
use crate::error::{CosmoError, Result};
use crate::params::Cosmology;
use crate::scalar::{Scalar, cst};
use crate::table::{LogGrid, hermite, rk4_step};

/// Smallest scale factor of the growth and distance tables.
pub const A_MIN: f64 = 1e-5;
/// Largest scale factor of the growth and distance tables.
pub const A_MAX: f64 = 4.0;
/// Where the growth ODEs start when radiation is included: a_init / a_eq <= 2e-3 for every
/// valid cosmology (a_eq >= 5e-6), so the series initial conditions are exact to ~1e-9.
const A_INIT_RADIATION: f64 = 1e-8;
/// Default node spacing in ln a.
pub const DEFAULT_DLNA: f64 = 0.005;

/// Everything about linear and second-order growth at one scale factor.
///
/// The "momentum" and "force" growth functions are the FastPM ones: for a Zel'dovich
/// displacement x = D1 s the momentum is p = a^3 E dx/da = gp1 s and the force (dp/da =
/// F / (a^2 E)) is F = gf1 s; likewise for the 2LPT term.
#[derive(Clone, Copy, Debug)]
pub struct GrowthAt<S = f64> {
    /// Scale factor.
    pub a: f64,
    /// Linear growth factor, D1(1) = 1.
    pub d1: S,
    /// Second-order growth factor (negative; -3/7 D1^2 in Einstein-de Sitter).
    pub d2: S,
    /// dD1/da.
    pub dd1_da: S,
    /// dD2/da.
    pub dd2_da: S,
    /// Growth rate f1 = dln D1 / dln a.
    pub f1: S,
    /// Second-order growth rate f2 = dln D2 / dln a.
    pub f2: S,
    /// Momentum growth gp1 = a^3 E dD1/da.
    pub gp1: S,
    /// Momentum growth gp2 = a^3 E dD2/da.
    pub gp2: S,
    /// Force growth gf1 = a^2 E dgp1/da = 3/2 Omega_m D1.
    pub gf1: S,
    /// Force growth gf2 = a^2 E dgp2/da = 3/2 Omega_m (D2 - D1^2).
    pub gf2: S,
    /// dgf1/da = 3/2 Omega_m dD1/da.
    pub dgf1_da: S,
    /// dgf2/da = 3/2 Omega_m (dD2/da - 2 D1 dD1/da).
    pub dgf2_da: S,
    /// Second derivative d^2 D1 / da^2.
    pub d2d1_da2: S,
    /// Second derivative d^2 D2 / da^2.
    pub d2d2_da2: S,
    /// E(a) = H(a)/H0.
    pub e: S,
}

/// Tabulated D1, D2 and their momentum growth functions for one cosmology, valid for
/// [`A_MIN`] <= a <= [`A_MAX`].
///
/// ```
/// use pm_cosmo::{Cosmology, GrowthTable};
/// let g = GrowthTable::new(&Cosmology::planck18()).unwrap();
/// let at = g.at(0.5).unwrap();
/// assert!((at.d1 - 0.61).abs() < 0.01 && (at.f1 - 0.87).abs() < 0.01);
/// assert_eq!(g.d1(1.0), 1.0);
/// ```
#[derive(Clone, Debug)]
pub struct GrowthTable<S = f64> {
    grid: LogGrid,
    bg: Background<S>,
    // Per node: [D1, P1, D2, P2], normalised.
    y: Vec<[S; 4]>,
    // Per node: d/dlna of the above.
    dy: Vec<[S; 4]>,
}

/// Right-hand side of the growth ODEs in x = ln a for the state [D1, P1, D2, P2].
fn growth_rhs<S: Scalar>(bg: &Background<S>, x: f64, y: &[S; 4]) -> [S; 4] {
    let a = x.exp();
    let e = bg.e(a);
    let a2e = e * (a * a);
    let ae = e * a;
    let src = bg.omega_m0() * 1.5;
    [
        y[1] / a2e,
        src * y[0] / ae,
        y[3] / a2e,
        src * (y[2] - y[0] * y[0]) / ae,
    ]
}

/// The growing-mode state [D1, P1, D2, P2] at a scale factor `a` well before matter-radiation
/// equality (or any a without radiation), unnormalised; see the module documentation.
fn growing_modes<S: Scalar>(bg: &Background<S>, a: f64) -> [S; 4] {
    let a3e = bg.e(a) * a.powi(3);
    let a_eq = bg.a_equality();
    if a_eq.re() == 0.0 {
        let d1 = cst::<S>(a);
        return [d1, a3e, d1 * d1 * (-3.0 / 7.0), a3e * (-6.0 / 7.0 * a)];
    }
    let y = a_eq.recip() * a;
    let d1 = (y + 2.0 / 3.0) * a_eq;
    // D2 = a_eq^2 (-2/3 y - 1/2 y^2 + 1/36 y^3); dD2/da = a_eq (-2/3 - y + 1/12 y^2).
    let d2 = (y * (-2.0 / 3.0) - y * y * 0.5 + y * y * y * (1.0 / 36.0)) * a_eq * a_eq;
    let dd2 = (y * -1.0 - 2.0 / 3.0 + y * y * (1.0 / 12.0)) * a_eq;
    [d1, a3e, d2, a3e * dd2]
}

impl<S: Scalar> GrowthTable<S> {
    /// Integrates the growth ODEs for `cosmo` with the default node spacing.
    pub fn new(cosmo: &Cosmology<S>) -> Result<Self> {
        Self::with_spacing(cosmo, DEFAULT_DLNA)
    }

    /// As [`GrowthTable::new`] with node spacing `dlna` in ln a (for convergence tests).
    pub fn with_spacing(cosmo: &Cosmology<S>, dlna: f64) -> Result<Self> {
        cosmo.validate()?;
        let bg = Background::new(cosmo);
        let grid = LogGrid::new(A_MIN, A_MAX, dlna);
        let f = |x: f64, y: &[S; 4]| growth_rhs(&bg, x, y);
        // Start on the growing modes, early enough that a_init << a_eq, then integrate to the
        // first node.
        // A fixed a_init (not one tied to a_eq) keeps the table a smooth function of the
        // parameters: the step count must not jump when they move.
        let a_init = if bg.a_equality().re() > 0.0 {
            A_INIT_RADIATION
        } else {
            A_MIN
        };
        let mut state = growing_modes(&bg, a_init);
        let (x_init, x_min) = (a_init.ln(), grid.x(0));
        if x_init < x_min {
            let steps = ((x_min - x_init) / grid.h).ceil() as usize;
            let h = (x_min - x_init) / steps as f64;
            for k in 0..steps {
                state = rk4_step(&f, x_init + k as f64 * h, &state, h);
            }
        }
        let mut y = Vec::with_capacity(grid.n);
        y.push(state);
        for i in 1..grid.n {
            let x = grid.x(i - 1);
            let h = grid.x(i) - x;
            let next = rk4_step(&f, x, &y[i - 1], h);
            y.push(next);
        }
        let norm = y[grid.i_one][0];
        let norm2 = norm * norm;
        for s in y.iter_mut() {
            *s = [s[0] / norm, s[1] / norm, s[2] / norm2, s[3] / norm2];
        }
        let dy = (0..grid.n).map(|i| f(grid.x(i), &y[i])).collect();
        Ok(GrowthTable { grid, bg, y, dy })
    }

    /// The tabulated range of scale factors.
    pub fn range(&self) -> (f64, f64) {
        (self.grid.a_min(), self.grid.a_max())
    }

    /// The background this table was built on.
    pub fn background(&self) -> &Background<S> {
        &self.bg
    }

    /// Errors unless `[a_lo, a_hi]` lies inside the table (use before a run).
    pub fn check_range(&self, a_lo: f64, a_hi: f64) -> Result<()> {
        for a in [a_lo, a_hi] {
            self.grid
                .locate(a)
                .ok_or(CosmoError::ScaleFactorOutOfRange {
                    quantity: "growth",
                    a,
                    min: self.grid.a_min(),
                    max: self.grid.a_max(),
                })?;
        }
        Ok(())
    }

    /// Interpolated [D1, P1, D2, P2] at a.
    fn state(&self, a: f64) -> Result<[S; 4]> {
        let (i, t) = self
            .grid
            .locate(a)
            .ok_or(CosmoError::ScaleFactorOutOfRange {
                quantity: "growth",
                a,
                min: self.grid.a_min(),
                max: self.grid.a_max(),
            })?;
        let h = self.grid.x(i + 1) - self.grid.x(i);
        let (y0, y1, m0, m1) = (&self.y[i], &self.y[i + 1], &self.dy[i], &self.dy[i + 1]);
        Ok(std::array::from_fn(|j| {
            hermite(y0[j], y1[j], m0[j], m1[j], t, h).0
        }))
    }

    /// All growth quantities at scale factor `a`, or an error outside the table.
    pub fn at(&self, a: f64) -> Result<GrowthAt<S>> {
        let [d1, p1, d2, p2] = self.state(a)?;
        let bg = &self.bg;
        let e = bg.e(a);
        let a3e = e * a.powi(3);
        let om = bg.omega_m0() * 1.5;
        let dd1_da = p1 / a3e;
        let dd2_da = p2 / a3e;
        let gf1 = om * d1;
        let gf2 = om * (d2 - d1 * d1);
        // P' = gf / (a^2 E) and P = a^3 E D'  =>  D'' = (P' - d(a^3 E)/da D') / (a^3 E),
        // with d(a^3 E)/da = a^2 E (3 + dlnE/dlna).
        let da3e = e * (a * a) * (bg.dlne_dlna(a) + 3.0);
        let a2e = e * (a * a);
        let d2d1_da2 = (gf1 / a2e - da3e * dd1_da) / a3e;
        let d2d2_da2 = (gf2 / a2e - da3e * dd2_da) / a3e;
        Ok(GrowthAt {
            a,
            d1,
            d2,
            dd1_da,
            dd2_da,
            f1: dd1_da * a / d1,
            f2: dd2_da * a / d2,
            gp1: p1,
            gp2: p2,
            gf1,
            gf2,
            dgf1_da: om * dd1_da,
            dgf2_da: om * (dd2_da - d1 * dd1_da * 2.0),
            d2d1_da2,
            d2d2_da2,
            e,
        })
    }

    /// D1(a), normalised to 1 at a = 1.
    ///
    /// # Panics
    /// If `a` is outside [`GrowthTable::range`]; use [`GrowthTable::at`] or
    /// [`GrowthTable::check_range`] for user-supplied scale factors.
    pub fn d1(&self, a: f64) -> S {
        self.expect(a).d1
    }

    /// D2(a) (same normalisation, D2 = -3/7 D1^2 in Einstein-de Sitter). Panics as [`Self::d1`].
    pub fn d2(&self, a: f64) -> S {
        self.expect(a).d2
    }

    /// Growth rate f1 = dln D1/dln a. Panics as [`Self::d1`].
    pub fn f1(&self, a: f64) -> S {
        self.expect(a).f1
    }

    /// Second-order growth rate f2 = dln D2/dln a. Panics as [`Self::d1`].
    pub fn f2(&self, a: f64) -> S {
        self.expect(a).f2
    }

    fn expect(&self, a: f64) -> GrowthAt<S> {
        match self.at(a) {
            Ok(g) => g,
            Err(e) => panic!("{e}"),
        }
    }
}
