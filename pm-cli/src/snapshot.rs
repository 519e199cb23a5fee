//! Snapshots on disk: a directory per output time with `positions.npy`, `momenta.npy`,
//! `meta.json` and the products (`density.npy`, `power.csv`, `density.png`, `power.png`),
//! written whole or not at all; reading them back for `pm power` and `pm info`.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use ndarray_npy::{ReadNpyExt, ReadableElement, WritableElement};
use pm_cosmo::Cosmology;
use pm_fft::{CpuFft3d, Real};
use pm_mesh::{
    Mesh, Positions, PowerOptions, PowerSpectrum, RealField, Scheme, density_contrast,
    power_spectrum,
};
use serde::{Deserialize, Serialize};

use crate::CliError;
use crate::output::{PartialDir, write_bytes, write_json, write_npy};
use crate::plot::{Curve, density_slice_png, power_spectrum_png};

/// The name of a snapshot directory for scale factor `a`.
pub fn snapshot_dir_name(a: f64) -> String {
    format!("a_{a:.4}")
}

/// A file of a snapshot: name, numpy dtype and shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// File name inside the snapshot directory.
    pub file: String,
    /// numpy dtype (`float32` or `float64`).
    pub dtype: String,
    /// Array shape.
    pub shape: Vec<usize>,
    /// What the numbers are, with units.
    pub description: String,
}

/// The P(k) estimate stored with a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerMeta {
    /// CSV file name.
    pub file: String,
    /// Mesh cells per side the particles were painted on.
    pub mesh: usize,
    /// Mass assignment of the paint (its window is deconvolved).
    pub scheme: String,
    /// Poisson shot noise V / N_particles, (Mpc/h)^3, *not* subtracted from the CSV's power.
    pub shot_noise: f64,
}

/// `meta.json`: everything needed to interpret and reproduce a snapshot. Holds no time stamp
/// or timing, so a rerun gives the same bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// `"pmrs-snapshot"`.
    pub format: String,
    /// The code and its version.
    pub code: String,
    /// Scale factor.
    pub a: f64,
    /// Redshift 1/a - 1.
    pub z: f64,
    /// Steps taken to reach `a` (0: the LPT initial conditions).
    pub step: usize,
    /// Box side, Mpc/h.
    pub box_size: f64,
    /// Particles per side (the Lagrangian lattice).
    pub particles: usize,
    /// Force mesh cells per side.
    pub mesh: usize,
    /// The cosmology.
    pub cosmology: Cosmology,
    /// The linear power spectrum's source.
    pub power_spectrum: String,
    /// White-noise seed, if the noise came from one.
    pub seed: Option<u64>,
    /// White-noise file, if the noise came from one.
    pub white_noise: Option<PathBuf>,
    /// LPT order of the initial conditions.
    pub lpt_order: u32,
    /// Stepper name.
    pub stepper: String,
    /// Every step boundary of the run.
    pub scale_factors: Vec<f64>,
    /// Force kernel description.
    pub force_kernel: String,
    /// Mass assignment of the force.
    pub force_scheme: String,
    /// `f32` or `f64`.
    pub precision: String,
    /// The arrays in the directory, by role (`positions`, `momenta`, `density`).
    pub files: std::collections::BTreeMap<String, FileEntry>,
    /// The power spectrum, if written.
    pub power: Option<PowerMeta>,
}

impl SnapshotMeta {
    /// Reads `dir/meta.json`.
    pub fn read(dir: &Path) -> Result<Self, CliError> {
        let path = dir.join("meta.json");
        let text = std::fs::read_to_string(&path).map_err(|e| snapshot_error(&path, e))?;
        serde_json::from_str(&text).map_err(|e| snapshot_error(&path, e))
    }
}

fn snapshot_error(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::Snapshot {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// numpy's name for `T`.
pub fn dtype_name<T: Real>() -> &'static str {
    if T::NAME == "f32" {
        "float32"
    } else {
        "float64"
    }
}

/// The density contrast of `positions` painted with `scheme` on an `n^3` mesh of side
/// `box_size`, and its power spectrum (window deconvolved, shot noise not subtracted, the
/// default bins of [`pm_mesh::Binning::default_for`]: width k_f up to the Nyquist frequency).
pub fn measure_density<T: Real>(
    positions: &Positions<'_, T>,
    box_size: f64,
    n: usize,
    scheme: Scheme,
) -> Result<(RealField<T>, PowerSpectrum), CliError> {
    let mesh = Mesh::cubic(n, box_size)?;
    let rho = density_contrast(positions, mesh, scheme)?;
    let plan = CpuFft3d::<T>::new(mesh.shape())?;
    let power = power_spectrum(
        &rho.forward(&plan)?,
        &PowerOptions {
            compensate: Some(scheme),
            ..Default::default()
        },
    )?;
    Ok((rho, power))
}

/// A P(k) table as CSV text: `k,power,modes,linear` (h/Mpc, (Mpc/h)^3, count, (Mpc/h)^3),
/// skipping empty bins; `linear` is D1(a)^2 P_lin(k), or empty when not given.
pub fn power_csv(power: &PowerSpectrum, linear: Option<&[f64]>) -> String {
    let mut text = String::from("k,power,modes,linear\n");
    for b in 0..power.k.len() {
        if power.n_modes[b] == 0 {
            continue;
        }
        let lin = linear.map(|l| format!("{:e}", l[b])).unwrap_or_default();
        text.push_str(&format!(
            "{:e},{:e},{},{lin}\n",
            power.k[b], power.power[b], power.n_modes[b]
        ));
    }
    text
}

/// Writes [`power_csv`] to `path`, atomically.
pub fn write_power_csv(
    path: &Path,
    power: &PowerSpectrum,
    linear: Option<&[f64]>,
) -> Result<(), CliError> {
    write_bytes(path, power_csv(power, linear).as_bytes())
}

/// What a snapshot should contain besides `meta.json`.
#[derive(Debug, Clone, Copy)]
pub struct Products {
    /// positions.npy and momenta.npy.
    pub particles: bool,
    /// density.npy.
    pub density: bool,
    /// power.csv.
    pub power: bool,
    /// density.png and power.png.
    pub plots: bool,
}

/// Writes the snapshot of `disp`/`mom` on `lattice` at `meta.a` into `dir` (whole or not at
/// all); `linear(k)` is linear theory at that time for the P(k) column and plot.
pub fn write_snapshot<T: Real + WritableElement>(
    dir: &Path,
    replace: bool,
    mut meta: SnapshotMeta,
    positions: &Positions<'_, T>,
    momenta: &[[T; 3]],
    products: Products,
    scheme: Scheme,
    linear: &dyn Fn(f64) -> f64,
) -> Result<PathBuf, CliError> {
    let out = PartialDir::create(dir, replace)?;
    let n = positions.len();
    let dtype = dtype_name::<T>().to_string();
    // Everything is measured from the positions as stored (wrapped, in T), so `pm power` on
    // the snapshot reproduces power.csv exactly.
    let l = meta.box_size;
    let wrapped: Vec<[T; 3]> = (0..n)
        .map(|i| positions.position(i).map(|x| wrap::<T>(x, l)))
        .collect();
    if products.particles {
        write_npy(&out.file("positions.npy"), wrapped.as_flattened(), &[n, 3])?;
        write_npy(&out.file("momenta.npy"), momenta.as_flattened(), &[n, 3])?;
        meta.files.insert(
            "positions".into(),
            FileEntry {
                file: "positions.npy".into(),
                dtype: dtype.clone(),
                shape: vec![n, 3],
                description: "comoving positions x, Mpc/h, wrapped into [0, box_size); row i is \
                              lattice point i in C order"
                    .into(),
            },
        );
        meta.files.insert(
            "momenta".into(),
            FileEntry {
                file: "momenta.npy".into(),
                dtype: dtype.clone(),
                shape: vec![n, 3],
                description: "momenta p = a^3 E(a) dx/da, Mpc/h (FastPM and pmwd convention)"
                    .into(),
            },
        );
    }
    if products.density || products.power || products.plots {
        let m = meta.mesh;
        let (delta, power) =
            measure_density(&Positions::Absolute(&wrapped), meta.box_size, m, scheme)?;
        let lin: Vec<f64> = power.k.iter().map(|&k| linear(k)).collect();
        if products.density {
            write_npy(&out.file("density.npy"), delta.as_slice(), &[m, m, m])?;
            meta.files.insert(
                "density".into(),
                FileEntry {
                    file: "density.npy".into(),
                    dtype: dtype.clone(),
                    shape: vec![m, m, m],
                    description: format!(
                        "density contrast delta = rho / rho_mean - 1, {} paint on the force mesh, \
                         C order [x][y][z]",
                        scheme_name(scheme)
                    ),
                },
            );
        }
        if products.power {
            write_power_csv(&out.file("power.csv"), &power, Some(&lin))?;
            meta.power = Some(PowerMeta {
                file: "power.csv".into(),
                mesh: m,
                scheme: scheme_name(scheme).into(),
                shot_noise: meta.box_size.powi(3) / n as f64,
            });
        }
        if products.plots {
            let title = format!(
                "a = {:.3}  {}^3 particles  {} Mpc/h",
                meta.a, meta.particles, meta.box_size
            );
            // A slab of 1/16 of the box from x = 0, projected along x, on a mesh of one cell
            // per particle (finer meshes show the lattice in the voids).
            let m = meta.particles;
            let picture = density_contrast(
                &Positions::Absolute(&wrapped),
                Mesh::cubic(m, meta.box_size)?,
                Scheme::Cic,
            )?;
            let thickness = (m / 16).max(1);
            let mut slab = vec![0.0; m * m];
            let d = picture.as_slice();
            for x in 0..thickness {
                for (s, v) in slab.iter_mut().zip(&d[x * m * m..(x + 1) * m * m]) {
                    *s += (1.0 + v.as_f64()) / thickness as f64;
                }
            }
            drop(picture);
            let slice_title = format!(
                "slab {:.1} Mpc/h, a = {:.3}",
                meta.box_size * thickness as f64 / m as f64,
                meta.a
            );
            let pixels = (512 / m).max(1);
            write_bytes(
                &out.file("density.png"),
                &density_slice_png(&slab, [m, m], pixels, &slice_title)?,
            )?;
            // Linear theory where the estimator has modes.
            let lin_shown: Vec<f64> = lin
                .iter()
                .zip(&power.n_modes)
                .map(|(&l, &c)| if c > 0 { l } else { f64::NAN })
                .collect();
            let curves = [
                Curve {
                    label: "pmrs",
                    k: &power.k,
                    p: &power.power,
                    dashed: false,
                },
                Curve {
                    label: "linear",
                    k: &power.k,
                    p: &lin_shown,
                    dashed: true,
                },
            ];
            write_bytes(
                &out.file("power.png"),
                &power_spectrum_png(&curves, &title, 640, 480)?,
            )?;
        }
    }
    write_json(&out.file("meta.json"), &meta)?;
    out.commit()
}

/// `x` mod `l` in `[0, l)` as `T` (a value that rounds up to `l` in `T` becomes 0).
fn wrap<T: Real>(x: f64, l: f64) -> T {
    let w = T::lit(x.rem_euclid(l));
    if w.as_f64() >= l { T::zero() } else { w }
}

/// The config's name of a scheme.
pub fn scheme_name(s: Scheme) -> &'static str {
    match s {
        Scheme::Ngp => "ngp",
        Scheme::Cic => "cic",
        Scheme::Tsc => "tsc",
    }
}

/// A snapshot's positions, read back as `T`.
pub fn read_positions<T: Real + ReadableElement>(
    dir: &Path,
    meta: &SnapshotMeta,
) -> Result<Vec<[T; 3]>, CliError> {
    let entry = meta.files.get("positions").ok_or_else(|| {
        snapshot_error(
            dir,
            "has no positions (the run was made with output.snapshots = false)",
        )
    })?;
    let path = dir.join(&entry.file);
    let file = std::fs::File::open(&path).map_err(|e| snapshot_error(&path, e))?;
    let array = Array2::<T>::read_npy(std::io::BufReader::new(file)).map_err(|e| {
        snapshot_error(
            &path,
            format!("{e} (expected {} of shape (n, 3))", entry.dtype),
        )
    })?;
    if array.ncols() != 3 {
        return Err(snapshot_error(
            &path,
            format!("shape {:?}, expected (n, 3)", array.shape()),
        ));
    }
    let flat = array.as_standard_layout();
    Ok(flat
        .as_slice()
        .expect("standard layout")
        .chunks_exact(3)
        .map(|c| [c[0], c[1], c[2]])
        .collect())
}
