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
//! They are integrated in x = ln a with fixed-step RK4 from a_init = 1e-5, starting on the
//! growing modes: D1 = a + 2/3 a_eq, dD1/da = 1 (the exact growing mode of a matter + radiation
//! universe, Meszaros 1974, with a_eq = Omega_r / Omega_m; D1 = a without radiation), and
//! D2 = -3/7 D1^2, dD2/da = -6/7 D1 dD1/da (the matter-era growing mode). D1 is normalised to 1
//! at a = 1 and D2 by the same factor squared, so D2 = -3/7 D1^2 exactly in Einstein-de Sitter.
//!
//! Between nodes the table is interpolated with cubic Hermite polynomials in ln a using the
//! exact slopes from the ODE; with the default spacing (h = 0.005 in ln a) the interpolation
//! and integration errors are about 1e-10 relative, below 1e-9 everywhere
//! (`growth_interpolation_error` test).

use crate::background::Background;
use crate::error::{CosmoError, Result};
use crate::params::Cosmology;
use crate::scalar::Scalar;
use crate::table::{LogGrid, hermite, rk4_step};

/// Smallest scale factor of the growth and distance tables.
pub const A_MIN: f64 = 1e-5;
/// Largest scale factor of the growth and distance tables.
pub const A_MAX: f64 = 4.0;
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
/// assert!((at.d1 - 0.61).abs() < 0.01 && (at.f1 - 0.76).abs() < 0.01);
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
        let a0 = grid.a_min();
        let d1 = bg.a_equality() * (2.0 / 3.0) + a0;
        let p1 = bg.e(a0) * a0.powi(3);
        let y0 = [d1, p1, d1 * d1 * (-3.0 / 7.0), d1 * p1 * (-6.0 / 7.0)];
        let f = |x: f64, y: &[S; 4]| growth_rhs(&bg, x, y);
        let mut y = Vec::with_capacity(grid.n);
        y.push(y0);
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
