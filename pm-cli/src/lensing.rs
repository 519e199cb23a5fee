//! `[lensing]`: Born convergence maps from the run's lightcone (pm-lensing), written to
//! `lensing/` in the run directory: `kappa_flat.npy` (`(pixels, pixels)` f64, rows along
//! the field's second axis), `kappa_flat.png`, `cl_flat.csv` (`ell,cl,modes,limber`),
//! `kappa_healpix.fits` (RING, readable by `healpy.read_map`) and `lensing.json`.

use std::path::PathBuf;

use pm_cosmo::{Cosmology, GrowthTable, LinearPower};
use pm_lensing::fits::{Card, write_healpix_map_file};
use pm_lensing::{
    BornKernel, BornProjection, FlatSky, FullSky, Lightcone, Sources, flat_power_spectrum,
    limber_convergence,
};
use serde::{Deserialize, Serialize};

use crate::CliError;
use crate::output::{PartialDir, write_bytes, write_json, write_npy};
use crate::rundir::RunDir;

/// `[lensing]` as written in TOML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LensingSection {
    /// Build convergence maps.
    pub enabled: bool,
    /// Source redshift (one plane).
    pub source_z: f64,
    /// Observer position, Mpc/h (default: the box centre).
    pub observer: Option<[f64; 3]>,
    /// Flat-sky field of view, degrees on a side (0: no flat map).
    pub fov_deg: f64,
    /// Flat-sky pixels per side.
    pub pixels: usize,
    /// Flat-sky line of sight (box axes).
    pub line_of_sight: [f64; 3],
    /// HEALPix nside of the full-sky map (0: none).
    pub nside: usize,
}

impl Default for LensingSection {
    fn default() -> Self {
        Self {
            enabled: false,
            source_z: 0.5,
            observer: None,
            fov_deg: 10.0,
            pixels: 256,
            line_of_sight: [1.0, 0.37, 0.21],
            nside: 0,
        }
    }
}

/// A validated `[lensing]`: the projections to feed.
#[derive(Debug, Clone)]
pub struct LensingPlan {
    /// The flat-sky projection, if any.
    pub flat: Option<BornProjection<FlatSky>>,
    /// The full-sky projection, if any.
    pub full: Option<BornProjection<FullSky>>,
    /// The section it came from.
    pub section: LensingSection,
}

fn invalid(key: &str, reason: impl std::fmt::Display) -> CliError {
    CliError::Config {
        key: format!("lensing.{key}"),
        reason: reason.to_string(),
    }
}

impl LensingSection {
    /// Checks the section against the run (`box_size` Mpc/h, the cosmology) and builds the
    /// projections; `None` when lensing is off.
    pub fn plan(
        &self,
        cosmology: &Cosmology,
        box_size: f64,
    ) -> Result<Option<LensingPlan>, CliError> {
        if !self.enabled {
            return Ok(None);
        }
        if !(self.source_z.is_finite() && self.source_z > 0.0 && self.source_z <= 20.0) {
            return Err(invalid(
                "source_z",
                format!("{} must be in (0, 20]", self.source_z),
            ));
        }
        let observer = self.observer.unwrap_or([0.5 * box_size; 3]);
        if observer.iter().any(|x| !x.is_finite()) {
            return Err(invalid("observer", format!("{observer:?} must be finite")));
        }
        if self.fov_deg == 0.0 && self.nside == 0 {
            return Err(invalid(
                "enabled",
                "true but neither a flat map (fov_deg > 0) nor a full-sky map (nside > 0) is asked for",
            ));
        }
        let kernel = BornKernel::new(cosmology, &Sources::Plane { z: self.source_z })
            .map_err(|e| invalid("source_z", e))?;
        let cone = Lightcone::new(observer, [box_size; 3], kernel.source_distance());
        // Any fov_deg but 0 asks for a flat map, so that a negative or NaN one is refused by
        // FlatSky::new rather than silently taken as none.
        let flat = if self.fov_deg != 0.0 {
            let sky = FlatSky::new(self.line_of_sight, self.fov_deg, self.pixels).map_err(|e| {
                let key = match &e {
                    pm_lensing::LensingError::Config { what, .. } if *what == "pixels" => "pixels",
                    pm_lensing::LensingError::Config { what, .. } if *what == "line of sight" => {
                        "line_of_sight"
                    }
                    _ => "fov_deg",
                };
                invalid(key, e)
            })?;
            Some(BornProjection::new(kernel.clone(), cone, sky))
        } else {
            None
        };
        let full = if self.nside > 0 {
            let sky = FullSky::new(self.nside).map_err(|e| invalid("nside", e))?;
            Some(BornProjection::new(kernel, cone, sky))
        } else {
            None
        };
        Ok(Some(LensingPlan {
            flat,
            full,
            section: self.clone(),
        }))
    }
}

/// What `lensing.json` records.
#[derive(Debug, Clone, Serialize)]
struct LensingMeta<'a> {
    format: &'static str,
    code: String,
    section: &'a LensingSection,
    observer: [f64; 3],
    source_distance_mpc_h: f64,
    lightcone_a: [f64; 2],
    mean_convergence_subtracted: f64,
    files: Vec<&'static str>,
}

/// The maps of a finished run and the lightcone's range of scale factors.
#[derive(Debug, Clone, Copy)]
pub struct Maps<'a> {
    /// The flat-sky map, if any.
    pub flat: Option<&'a [f64]>,
    /// The HEALPix map, if any.
    pub full: Option<&'a [f64]>,
    /// First and last scale factor of the lightcone.
    pub lightcone_a: [f64; 2],
}

/// Writes the maps of a finished run into `lensing/` of the run directory `dir`
/// (atomically, as one directory, listed in its manifest), with Limber's prediction from
/// `power` and `growth`.
pub fn write_lensing(
    dir: &RunDir,
    plan: &LensingPlan,
    maps: Maps<'_>,
    power: &LinearPower<f64>,
    growth: &GrowthTable<f64>,
) -> Result<PathBuf, CliError> {
    let Maps {
        flat,
        full,
        lightcone_a,
    } = maps;
    let out = PartialDir::create(&dir.path().join("lensing"), true)?;
    let mut files = vec!["lensing.json"];
    let any = plan
        .flat
        .as_ref()
        .map(|p| p.kernel())
        .or(plan.full.as_ref().map(|p| p.kernel()));
    let kernel = any.expect("a plan has at least one map");
    let cone = plan
        .flat
        .as_ref()
        .map(|p| *p.cone())
        .or(plan.full.as_ref().map(|p| *p.cone()))
        .expect("a plan has at least one map");
    let lensing_err = |e: pm_lensing::LensingError| CliError::Io {
        path: dir.path().join("lensing"),
        reason: e.to_string(),
    };
    if let (Some(p), Some(map)) = (&plan.flat, flat) {
        let n = p.map().side();
        write_npy(&out.file("kappa_flat.npy"), map, &[n, n])?;
        let title = format!(
            "Born convergence κ, z_s = {}, {}° field, {n}² pixels",
            plan.section.source_z, plan.section.fov_deg
        );
        let half = 0.5 * plan.section.fov_deg;
        let style = crate::plot::MapStyle {
            extent: -half..half,
            axes: ["θ₁ [deg] (tangent plane)", "θ₂ [deg]"],
            caption: "κ",
            log: false,
        };
        let ppc = crate::plot::pixels_per_cell(n);
        let png = crate::plot::map_png(map, [n, n], ppc, &title, &style)?;
        write_bytes(&out.file("kappa_flat.png"), &png)?;
        // ell from the field's fundamental to half the pixel Nyquist, 16 log bins.
        let fundamental = 2.0 * std::f64::consts::PI / (n as f64 * p.map().pixel_size());
        let top = 0.5 * std::f64::consts::PI / p.map().pixel_size();
        let edges: Vec<f64> = (0..=16)
            .map(|i| fundamental * (top / fundamental).powf(i as f64 / 16.0))
            .collect();
        let cl = flat_power_spectrum(p.map(), map, &edges).map_err(lensing_err)?;
        let r_hi = kernel.distance(lightcone_a[0]).map_err(lensing_err)?;
        let r_lo = kernel.distance(lightcone_a[1]).map_err(lensing_err)?;
        let mut csv = String::from("ell,cl,modes,limber\n");
        for b in 0..cl.ell.len() {
            let limber = if cl.modes[b] > 0 {
                limber_convergence(kernel, power, growth, r_lo, r_hi, cl.ell[b])
                    .map_err(lensing_err)?
            } else {
                f64::NAN
            };
            csv.push_str(&format!(
                "{:e},{:e},{},{:e}\n",
                cl.ell[b], cl.cl[b], cl.modes[b], limber
            ));
        }
        write_bytes(&out.file("cl_flat.csv"), csv.as_bytes())?;
        files.extend(["kappa_flat.npy", "kappa_flat.png", "cl_flat.csv"]);
    }
    if let (Some(p), Some(map)) = (&plan.full, full) {
        let cards = [
            Card::float("ZSOURCE", plan.section.source_z, "source redshift"),
            Card::float("ASTART", lightcone_a[0], "lightcone from this scale factor"),
            Card::float("AEND", lightcone_a[1], "to this one"),
            Card::str(
                "CODE",
                concat!("pmrs ", env!("CARGO_PKG_VERSION")),
                "writer",
            ),
        ];
        let path = out.file("kappa_healpix.fits");
        write_healpix_map_file(&path, p.map().healpix().nside(), map, "KAPPA", &cards).map_err(
            |e| CliError::Io {
                path: path.clone(),
                reason: e.to_string(),
            },
        )?;
        files.push("kappa_healpix.fits");
    }
    let mean = plan
        .flat
        .as_ref()
        .map(|p| p.mean_convergence(lightcone_a[0], lightcone_a[1]))
        .or(plan
            .full
            .as_ref()
            .map(|p| p.mean_convergence(lightcone_a[0], lightcone_a[1])))
        .expect("a plan has at least one map")
        .map_err(lensing_err)?;
    write_json(
        &out.file("lensing.json"),
        &LensingMeta {
            format: "pmrs-lensing",
            code: format!("pmrs {}", env!("CARGO_PKG_VERSION")),
            section: &plan.section,
            observer: cone.origin(),
            source_distance_mpc_h: kernel.source_distance(),
            lightcone_a,
            mean_convergence_subtracted: mean,
            files,
        },
    )?;
    out.commit(Some(dir))
}
