//! Cosmological parameters: the [`Cosmology`] struct, its presets, validation and
//! (de)serialisation.

use serde::{Deserialize, Serialize};

use crate::constants::{neutrino_to_photon_per_species, omega_gamma_h2};
use crate::error::{CosmoError, Result};
use crate::scalar::{N_PARAMS, Param, ParamDual, Scalar, cst, param_dual};

/// How the amplitude of the linear power spectrum is fixed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Amplitude<S = f64> {
    /// sigma8: rms of the linear density contrast at a = 1 in spheres of radius 8 Mpc/h.
    Sigma8(S),
    /// A_s: amplitude of the primordial curvature power spectrum at the pivot
    /// k = 0.05 / Mpc.
    As(S),
}

/// A cosmological model: flat or curved w0-wa CDM with baryons and radiation.
///
/// Units follow `docs/ARCHITECTURE.md`: H0 = 100 h km/s/Mpc, lengths in Mpc/h. Radiation (photons at
/// `t_cmb` plus `n_eff` massless neutrino species) enters E(a) when `include_radiation` is set;
/// pmwd and JaxPM leave it out, so turn it off to match them. The dark-energy density is
/// Omega_de = 1 - Omega_m - Omega_r - Omega_k.
///
/// `S` is `f64` for plain values or a dual number for derivatives (see
/// [`Cosmology::with_gradients`]). Build one from a preset and change what you need:
///
/// ```
/// use pm_cosmo::Cosmology;
/// let mut c = Cosmology::planck18();
/// c.w0 = -0.9;
/// c.validate().unwrap();
/// assert!((c.omega_m() - 0.3097).abs() < 1e-3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cosmology<S = f64> {
    /// Cold dark matter density today, Omega_c.
    pub omega_c: S,
    /// Baryon density today, Omega_b.
    pub omega_b: S,
    /// Dimensionless Hubble constant.
    pub h: S,
    /// Primordial spectral index.
    pub n_s: S,
    /// Power-spectrum normalisation.
    pub amplitude: Amplitude<S>,
    /// Dark-energy equation of state today (CPL: w(a) = w0 + wa (1 - a)).
    pub w0: S,
    /// Dark-energy equation of state slope.
    pub wa: S,
    /// Curvature density today (0 for flat, the default).
    pub omega_k: S,
    /// CMB temperature today in kelvin (used by the Eisenstein & Hu transfer and for radiation).
    pub t_cmb: f64,
    /// Effective number of massless neutrino species.
    pub n_eff: f64,
    /// Include photons and massless neutrinos in the expansion rate E(a).
    pub include_radiation: bool,
}

impl Cosmology<f64> {
    /// Planck 2018 (TT,TE,EE+lowE+lensing+BAO, Table 2 last column of Planck Collaboration VI,
    /// A&A 641, A6 (2020)): Omega_c h^2 = 0.11933, Omega_b h^2 = 0.02242, h = 0.6766,
    /// n_s = 0.9665, sigma8 = 0.8102, flat, w = -1, T_cmb = 2.7255 K, N_eff = 3.044.
    pub fn planck18() -> Self {
        let h: f64 = 0.6766;
        Cosmology {
            omega_c: 0.11933 / (h * h),
            omega_b: 0.02242 / (h * h),
            h,
            n_s: 0.9665,
            amplitude: Amplitude::Sigma8(0.8102),
            w0: -1.0,
            wa: 0.0,
            omega_k: 0.0,
            t_cmb: 2.7255,
            n_eff: 3.044,
            include_radiation: true,
        }
    }

    /// WMAP nine-year (WMAP only, Hinshaw et al. 2013, ApJS 208, 19, Table 3):
    /// Omega_b h^2 = 0.02264, Omega_c h^2 = 0.1138, h = 0.700, n_s = 0.972, sigma8 = 0.821.
    pub fn wmap9() -> Self {
        let h: f64 = 0.700;
        Cosmology {
            omega_c: 0.1138 / (h * h),
            omega_b: 0.02264 / (h * h),
            h,
            n_s: 0.972,
            amplitude: Amplitude::Sigma8(0.821),
            ..Self::planck18()
        }
    }

    /// Einstein-de Sitter: Omega_m = 1 (5% of it baryons), no radiation, no dark energy,
    /// h = 0.7, n_s = 1, sigma8 = 0.8. Growth is analytic here: D1 = a, D2 = -3/7 a^2.
    pub fn einstein_de_sitter() -> Self {
        Cosmology {
            omega_c: 0.95,
            omega_b: 0.05,
            h: 0.7,
            n_s: 1.0,
            amplitude: Amplitude::Sigma8(0.8),
            include_radiation: false,
            ..Self::planck18()
        }
    }

    /// A preset by name: `planck18`, `wmap9` or `eds`.
    pub fn preset(name: &str) -> Result<Self> {
        match name {
            "planck18" | "Planck18" | "planck2018" => Ok(Self::planck18()),
            "wmap9" | "WMAP9" => Ok(Self::wmap9()),
            "eds" | "einstein-de-sitter" => Ok(Self::einstein_de_sitter()),
            other => Err(CosmoError::Unsupported(format!(
                "unknown cosmology preset '{other}': known presets are planck18, wmap9, eds"
            ))),
        }
    }

    /// The same cosmology with every number a [`ParamDual`] seeded with unit derivatives in
    /// the seven [`Param`] directions, so that anything computed from it carries its gradient.
    ///
    /// ```
    /// use pm_cosmo::{Cosmology, Param, derivative};
    /// let c = Cosmology::planck18().with_gradients();
    /// assert_eq!(derivative(&c.omega_m(), Param::OmegaM), 1.0);
    /// assert_eq!(derivative(&c.omega_c, Param::OmegaB), -1.0);
    /// ```
    pub fn with_gradients(&self) -> Cosmology<ParamDual> {
        let unit = |p: Param| {
            let mut e = [0.0; N_PARAMS];
            e[p.index()] = 1.0;
            e
        };
        let mut dc = unit(Param::OmegaM);
        dc[Param::OmegaB.index()] = -1.0;
        let amp = match self.amplitude {
            Amplitude::Sigma8(s) => Amplitude::Sigma8(param_dual(s, unit(Param::Amplitude))),
            Amplitude::As(a) => Amplitude::As(param_dual(a, unit(Param::Amplitude))),
        };
        Cosmology {
            omega_c: param_dual(self.omega_c, dc),
            omega_b: param_dual(self.omega_b, unit(Param::OmegaB)),
            h: param_dual(self.h, unit(Param::H)),
            n_s: param_dual(self.n_s, unit(Param::Ns)),
            amplitude: amp,
            w0: param_dual(self.w0, unit(Param::W0)),
            wa: param_dual(self.wa, unit(Param::Wa)),
            omega_k: param_dual(self.omega_k, [0.0; N_PARAMS]),
            t_cmb: self.t_cmb,
            n_eff: self.n_eff,
            include_radiation: self.include_radiation,
        }
    }

    /// The same cosmology with one [`Param`] moved by `delta` (the others held fixed, as in
    /// [`Param`]'s definition). Used for finite-difference checks.
    pub fn shifted(&self, p: Param, delta: f64) -> Self {
        let mut c = *self;
        match p {
            Param::OmegaM => c.omega_c += delta,
            Param::OmegaB => {
                c.omega_b += delta;
                c.omega_c -= delta;
            }
            Param::H => c.h += delta,
            Param::Ns => c.n_s += delta,
            Param::Amplitude => {
                c.amplitude = match c.amplitude {
                    Amplitude::Sigma8(s) => Amplitude::Sigma8(s + delta),
                    Amplitude::As(a) => Amplitude::As(a + delta),
                }
            }
            Param::W0 => c.w0 += delta,
            Param::Wa => c.wa += delta,
        }
        c
    }
}

impl<S: Scalar> Cosmology<S> {
    /// Matter density today, Omega_m = Omega_c + Omega_b.
    pub fn omega_m(&self) -> S {
        self.omega_c + self.omega_b
    }

    /// Radiation density today, Omega_r = Omega_gamma (1 + N_eff (7/8)(4/11)^(4/3)), or 0
    /// when radiation is switched off.
    pub fn omega_r(&self) -> S {
        if !self.include_radiation {
            return cst(0.0);
        }
        let og_h2 = omega_gamma_h2(self.t_cmb);
        let factor = 1.0 + self.n_eff * neutrino_to_photon_per_species();
        (self.h * self.h).recip() * (og_h2 * factor)
    }

    /// Dark-energy density today, Omega_de = 1 - Omega_m - Omega_r - Omega_k.
    pub fn omega_de(&self) -> S {
        cst::<S>(1.0) - self.omega_m() - self.omega_r() - self.omega_k
    }

    /// The plain `f64` values of this cosmology (dropping any derivatives).
    pub fn values(&self) -> Cosmology<f64> {
        Cosmology {
            omega_c: self.omega_c.re(),
            omega_b: self.omega_b.re(),
            h: self.h.re(),
            n_s: self.n_s.re(),
            amplitude: match self.amplitude {
                Amplitude::Sigma8(s) => Amplitude::Sigma8(s.re()),
                Amplitude::As(a) => Amplitude::As(a.re()),
            },
            w0: self.w0.re(),
            wa: self.wa.re(),
            omega_k: self.omega_k.re(),
            t_cmb: self.t_cmb,
            n_eff: self.n_eff,
            include_radiation: self.include_radiation,
        }
    }

    /// Checks that every parameter is physical; the error names the first offending
    /// parameter and its allowed range.
    ///
    /// Ranges: 0 <= Omega_c, 0 <= Omega_b, 0 < Omega_m <= 2, 0.2 <= h <= 2, 0.5 <= n_s <= 1.5,
    /// 0 < sigma8 <= 3 or 0 < A_s <= 1e-7, -3 <= w0 <= 1, -5 <= wa <= 5, w0 + wa < 0 (dark
    /// energy subdominant at early times, as the growing-mode initial conditions assume),
    /// -1 <= Omega_k <= 1, 0 < T_cmb <= 10 K, 0 <= N_eff <= 10, and E(a)^2 > 0 for
    /// 1e-5 <= a <= 4 (no recollapse).
    pub fn validate(&self) -> Result<()> {
        let c = self.values();
        let check = |name: &'static str, v: f64, ok: bool, allowed: &'static str| {
            if ok && v.is_finite() {
                Ok(())
            } else {
                Err(CosmoError::OutOfRange {
                    name,
                    value: v,
                    allowed,
                })
            }
        };
        check("Omega_c", c.omega_c, c.omega_c >= 0.0, "[0, 2 - Omega_b]")?;
        check("Omega_b", c.omega_b, c.omega_b >= 0.0, "[0, 2 - Omega_c]")?;
        let om = c.omega_m();
        check("Omega_m", om, om > 0.0 && om <= 2.0, "(0, 2]")?;
        check("h", c.h, (0.2..=2.0).contains(&c.h), "[0.2, 2]")?;
        check("n_s", c.n_s, (0.5..=1.5).contains(&c.n_s), "[0.5, 1.5]")?;
        match c.amplitude {
            Amplitude::Sigma8(s) => check("sigma8", s, s > 0.0 && s <= 3.0, "(0, 3]")?,
            Amplitude::As(a) => check("A_s", a, a > 0.0 && a <= 1e-7, "(0, 1e-7]")?,
        }
        check("w0", c.w0, (-3.0..=1.0).contains(&c.w0), "[-3, 1]")?;
        check("wa", c.wa, (-5.0..=5.0).contains(&c.wa), "[-5, 5]")?;
        check(
            "wa",
            c.wa,
            c.w0 + c.wa < 0.0,
            "w0 + wa < 0 (dark energy must be subdominant at early times)",
        )?;
        check(
            "Omega_k",
            c.omega_k,
            (-1.0..=1.0).contains(&c.omega_k),
            "[-1, 1]",
        )?;
        check(
            "T_cmb",
            c.t_cmb,
            c.t_cmb > 0.0 && c.t_cmb <= 10.0,
            "(0, 10] K",
        )?;
        check("N_eff", c.n_eff, (0.0..=10.0).contains(&c.n_eff), "[0, 10]")?;
        let bg = crate::Background::new(&c);
        let n = 400;
        for i in 0..=n {
            let a = (1e-5f64.ln() + (4.0f64.ln() - 1e-5f64.ln()) * i as f64 / n as f64).exp();
            let e2 = bg.e2(a);
            if e2.is_nan() || e2 <= 0.0 {
                return Err(CosmoError::NoExpansion { a, e2 });
            }
        }
        Ok(())
    }
}

impl Default for Cosmology<f64> {
    fn default() -> Self {
        Self::planck18()
    }
}

/// The on-disk form of [`Cosmology`]: names as cosmologists write them, sigma8 or A_s.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CosmologyFile {
    #[serde(rename = "Omega_c")]
    omega_c: f64,
    #[serde(rename = "Omega_b")]
    omega_b: f64,
    h: f64,
    n_s: f64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    sigma8: Option<f64>,
    #[serde(rename = "A_s", skip_serializing_if = "Option::is_none", default)]
    a_s: Option<f64>,
    #[serde(default = "minus_one")]
    w0: f64,
    #[serde(default)]
    wa: f64,
    #[serde(rename = "Omega_k", default)]
    omega_k: f64,
    #[serde(rename = "T_cmb", default = "default_t_cmb")]
    t_cmb: f64,
    #[serde(rename = "N_eff", default = "default_n_eff")]
    n_eff: f64,
    #[serde(default = "yes")]
    include_radiation: bool,
}

fn minus_one() -> f64 {
    -1.0
}
fn default_t_cmb() -> f64 {
    2.7255
}
fn default_n_eff() -> f64 {
    3.044
}
fn yes() -> bool {
    true
}

impl TryFrom<CosmologyFile> for Cosmology {
    type Error = CosmoError;
    fn try_from(f: CosmologyFile) -> Result<Self> {
        let amplitude = match (f.sigma8, f.a_s) {
            (Some(s), None) => Amplitude::Sigma8(s),
            (None, Some(a)) => Amplitude::As(a),
            (Some(_), Some(_)) => {
                return Err(CosmoError::Unsupported(
                    "give either sigma8 or A_s, not both".into(),
                ));
            }
            (None, None) => {
                return Err(CosmoError::Unsupported(
                    "the power-spectrum amplitude is missing: give sigma8 or A_s".into(),
                ));
            }
        };
        let c = Cosmology {
            omega_c: f.omega_c,
            omega_b: f.omega_b,
            h: f.h,
            n_s: f.n_s,
            amplitude,
            w0: f.w0,
            wa: f.wa,
            omega_k: f.omega_k,
            t_cmb: f.t_cmb,
            n_eff: f.n_eff,
            include_radiation: f.include_radiation,
        };
        c.validate()?;
        Ok(c)
    }
}

impl From<&Cosmology> for CosmologyFile {
    fn from(c: &Cosmology) -> Self {
        let (sigma8, a_s) = match c.amplitude {
            Amplitude::Sigma8(s) => (Some(s), None),
            Amplitude::As(a) => (None, Some(a)),
        };
        CosmologyFile {
            omega_c: c.omega_c,
            omega_b: c.omega_b,
            h: c.h,
            n_s: c.n_s,
            sigma8,
            a_s,
            w0: c.w0,
            wa: c.wa,
            omega_k: c.omega_k,
            t_cmb: c.t_cmb,
            n_eff: c.n_eff,
            include_radiation: c.include_radiation,
        }
    }
}

/// Written with the names cosmologists use (`Omega_c`, `Omega_b`, `h`, `n_s`, `sigma8` or
/// `A_s`, `w0`, `wa`, `Omega_k`, `T_cmb`, `N_eff`, `include_radiation`).
impl Serialize for Cosmology {
    fn serialize<Ser: serde::Serializer>(
        &self,
        s: Ser,
    ) -> std::result::Result<Ser::Ok, Ser::Error> {
        CosmologyFile::from(self).serialize(s)
    }
}

/// Reads the form [`Serialize`] writes; `w0`, `wa`, `Omega_k`, `T_cmb`, `N_eff` and
/// `include_radiation` may be left out (defaults -1, 0, 0, 2.7255, 3.044, true). The result is
/// validated: unknown keys and unphysical values are errors that name the parameter.
impl<'de> Deserialize<'de> for Cosmology {
    fn deserialize<De: serde::Deserializer<'de>>(d: De) -> std::result::Result<Self, De::Error> {
        let f = CosmologyFile::deserialize(d)?;
        Cosmology::try_from(f).map_err(serde::de::Error::custom)
    }
}
