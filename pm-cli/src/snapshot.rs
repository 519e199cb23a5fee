//! Snapshots on disk: a directory per output time with `positions.npy`, `momenta.npy`,
//! `meta.json` and the products (`density.npy`, `power.csv`, `density.png`, `power.png`),
//! written whole or not at all; reading them back for `pm power` and `pm info`.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use ndarray_npy::{ReadNpyExt, ReadableElement, WritableElement};
use pm_cosmo::Cosmology;
use pm_decomp::{Comm, CommExt};
use pm_fft::{CpuFft3d, Real};
use pm_integrate::State;
use pm_mesh::{
    Mesh, MeshBlock, Positions, PowerOptions, PowerSpectrum, RealField, Scheme, density_contrast,
    mean_particle_mass, power_spectrum, power_spectrum_on,
};
use serde::{Deserialize, Serialize};

use crate::CliError;
use crate::output::{NpyFile, PartialDir, write_bytes, write_json};
use crate::plot::{Curve, MapStyle, map_png, pixels_per_cell, power_spectrum_png};
use crate::rundir::RunDir;

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
    ///
    /// Checks what later steps size arrays by, so that an edited or foreign `meta.json` is an
    /// error naming the field, not a panic or a huge allocation: the format, `particles`
    /// and `mesh` at least 1 with `particles^3` and `mesh^3` counts that fit in 64 bits, a
    /// finite positive `box_size` and `a`, the precision and every file's dtype and shape
    /// (`(particles^3, 3)` for particles, `mesh^3` cells for a density).
    pub fn read(dir: &Path) -> Result<Self, CliError> {
        let path = dir.join("meta.json");
        let text = std::fs::read_to_string(&path).map_err(|e| snapshot_error(&path, e))?;
        let meta: Self = serde_json::from_str(&text).map_err(|e| snapshot_error(&path, e))?;
        meta.check()
            .map_err(|reason| snapshot_error(&path, reason))?;
        Ok(meta)
    }

    /// Particles of the lattice, `particles^3`, when that count fits in a `usize`.
    pub fn particle_count(&self) -> Option<usize> {
        self.particles.checked_pow(3)
    }

    fn check(&self) -> Result<(), String> {
        if self.format != "pmrs-snapshot" {
            return Err(format!(
                "format {:?}: not a pmrs snapshot (expected \"pmrs-snapshot\")",
                self.format
            ));
        }
        let count = |key: &str, n: usize| match n.checked_pow(3) {
            Some(c) if n >= 1 => Ok(c),
            _ => Err(format!(
                "{key} = {n}: must be at least 1 with {key}^3 < 2^64"
            )),
        };
        let particles = count("particles", self.particles)?;
        count("mesh", self.mesh)?;
        for (key, v) in [("box_size", self.box_size), ("a", self.a)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("{key} = {v}: must be finite and positive"));
            }
        }
        if !matches!(self.precision.as_str(), "f32" | "f64") {
            return Err(format!(
                "precision {:?}: expected \"f32\" or \"f64\"",
                self.precision
            ));
        }
        let dtype = if self.precision == "f32" {
            "float32"
        } else {
            "float64"
        };
        for (role, entry) in &self.files {
            if entry.dtype != dtype {
                return Err(format!(
                    "files.{role}.dtype {:?}: the snapshot's precision {} means {dtype:?}",
                    entry.dtype, self.precision
                ));
            }
            let expected = match role.as_str() {
                "positions" | "momenta" => vec![particles, 3],
                "density" => vec![self.mesh; 3],
                _ => continue,
            };
            if entry.shape != expected {
                return Err(format!(
                    "files.{role}.shape {:?} does not match particles = {} and mesh = {} \
                     (expected {expected:?})",
                    entry.shape, self.particles, self.mesh
                ));
            }
        }
        Ok(())
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

/// Where and what a snapshot writes.
pub struct SnapshotTarget<'a> {
    /// The snapshot directory (an existing one of that name is replaced when the new one is
    /// complete).
    pub dir: &'a Path,
    /// The run directory it is written into, on rank 0 (its manifest lists the snapshot
    /// before it appears); `None` on the other ranks or outside a run.
    pub run: Option<&'a RunDir>,
    /// What to write besides `meta.json`.
    pub products: Products,
    /// Mass assignment of the density and P(k).
    pub scheme: Scheme,
    /// Linear theory `D1(a)^2 P_lin(k)` at the snapshot's time, for the P(k) column and plot.
    pub linear: &'a dyn Fn(f64) -> f64,
}

/// Writes the snapshot of every rank's particles at `meta.a` into `target.dir`, whole or not
/// at all; `state` holds this rank's particles (all of them on one rank). Returns the
/// directory on rank 0. Collective.
///
/// Written in parallel, nothing gathered: rank 0 creates the hidden `.a_X.partial`
/// directory and the `.npy` files with their headers at their full length; every rank then
/// writes its own particles' rows at their lattice indices (`positions.npy`, `momenta.npy`:
/// row `i` is lattice point `i`) and its own x-planes of the density (painted on its slab of
/// the force mesh, with the ghost planes exchanged); the P(k) is binned per rank and the bins
/// added over the ranks; rank 0 writes `power.csv`, the pictures and `meta.json` and renames
/// the directory into place once every rank has written. Memory per rank: its particles'
/// wrapped positions (`12` or `24` bytes each), on several ranks the order of its particles
/// by index (8 bytes each), a 4-8 MB write buffer, and its slab of the force mesh (real and
/// Fourier) when the density, P(k) or pictures are asked.
pub fn write_snapshot<T: Real + WritableElement>(
    comm: &dyn Comm,
    target: &SnapshotTarget<'_>,
    mut meta: SnapshotMeta,
    state: &State<T>,
) -> Result<Option<PathBuf>, CliError> {
    let rank0 = comm.rank() == 0;
    let created = rank0.then(|| PartialDir::create(target.dir, true));
    let out = match created {
        Some(Ok(out)) => Some(out),
        Some(Err(e)) => {
            agree(comm, Err(e), target.dir)?;
            unreachable!("agree returns the error")
        }
        None => None,
    };
    agree(comm, Ok(()), target.dir)?;
    let tmp = PartialDir::path_for(target.dir)?;
    let n = state.lattice.len();
    let dtype = dtype_name::<T>().to_string();
    let products = target.products;
    // Everything is measured from the positions as stored (wrapped, in T), so `pm power` on
    // the snapshot reproduces power.csv exactly.
    let l = meta.box_size;
    let wrapped = wrapped_positions(state, l);
    if products.particles {
        let ids = state.ids.as_deref();
        for (name, rows) in [("positions.npy", &wrapped), ("momenta.npy", &state.mom)] {
            let path = tmp.join(name);
            let file = NpyFile::new::<T>(&path, &[n, 3]);
            agree(comm, if rank0 { file.create() } else { Ok(()) }, &path)?;
            agree(comm, file.write_rows(ids, rows), &path)?;
        }
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
        let block = density_block::<T>(comm, Mesh::cubic(m, l)?, &wrapped, n, target.scheme)?;
        let DensityBlock { block, delta } = block;
        if products.density {
            let path = tmp.join("density.npy");
            let file = NpyFile::new::<T>(&path, &[m, m, m]);
            agree(comm, if rank0 { file.create() } else { Ok(()) }, &path)?;
            let first = (block.x_planes().start * m * m) as u64;
            agree(comm, file.write_run(first, delta.as_slice()), &path)?;
            meta.files.insert(
                "density".into(),
                FileEntry {
                    file: "density.npy".into(),
                    dtype: dtype.clone(),
                    shape: vec![m, m, m],
                    description: format!(
                        "density contrast delta = rho / rho_mean - 1, {} paint on the force mesh, \
                         C order [x][y][z]",
                        scheme_name(target.scheme)
                    ),
                },
            );
        }
        let options = PowerOptions {
            compensate: Some(target.scheme),
            ..Default::default()
        };
        let slab = if products.plots {
            Some(slab_picture(comm, &block, &delta)?)
        } else {
            None
        };
        let power = power_of(comm, &block, delta, &options)?;
        let lin: Vec<f64> = power.k.iter().map(|&k| (target.linear)(k)).collect();
        if rank0 {
            if products.power {
                write_power_csv(&tmp.join("power.csv"), &power, Some(&lin))?;
                meta.power = Some(PowerMeta {
                    file: "power.csv".into(),
                    mesh: m,
                    scheme: scheme_name(target.scheme).into(),
                    shot_noise: meta.box_size.powi(3) / n as f64,
                });
            }
            if let Some((slab, thickness)) = slab {
                // A picture that cannot be drawn (a run too small to plot) is skipped; the
                // snapshot's data is written all the same.
                match write_pictures(&tmp, &meta, &slab, thickness, &power, &lin) {
                    Err(CliError::Plot(e)) => crate::warn!(
                        "pm: warning: {}: pictures skipped: {e}",
                        target.dir.display()
                    ),
                    other => other?,
                }
            }
        }
    }
    if let Some(out) = out {
        write_json(&out.file("meta.json"), &meta)?;
        let path = out.commit(target.run)?;
        agree(comm, Ok(()), target.dir)?;
        Ok(Some(path))
    } else {
        agree(comm, Ok(()), target.dir)?;
        Ok(None)
    }
}

/// Agrees on a local result over the ranks (a rank that failed returns its error, the
/// others an error naming `path`). Collective.
fn agree(comm: &dyn Comm, local: Result<(), CliError>, path: &Path) -> Result<(), CliError> {
    if comm.size() == 1 {
        return local;
    }
    let failed = comm
        .sum_u64(u64::from(local.is_err()))
        .map_err(pm_integrate::IntegrateError::from)?;
    local?;
    if failed > 0 {
        return Err(CliError::Io {
            path: path.to_path_buf(),
            reason: format!("{failed} rank(s) failed to write it"),
        });
    }
    Ok(())
}

/// This rank's particles' positions as a snapshot stores them: `q + disp` wrapped into
/// `[0, box_size)` and rounded to `T` (the rows of `positions.npy`, in the state's order).
pub fn wrapped_positions<T: Real>(state: &State<T>, box_size: f64) -> Vec<[T; 3]> {
    (0..state.len())
        .map(|i| state.position(i).map(|x| wrap::<T>(x, box_size)))
        .collect()
}

/// The P(k) of every rank's particles (this rank's `wrapped` positions from
/// [`wrapped_positions`], `n` in all) and, when `keep_density`, the density contrast on
/// this rank's x-planes of `mesh`, as a snapshot's `power.csv` and `density.npy` hold them
/// (the same code). Collective.
pub fn density_and_power<T: Real>(
    comm: &dyn Comm,
    mesh: Mesh,
    wrapped: &[[T; 3]],
    n: usize,
    scheme: Scheme,
    keep_density: bool,
) -> Result<(Option<RealField<T>>, PowerSpectrum), CliError> {
    let DensityBlock { block, delta } = density_block::<T>(comm, mesh, wrapped, n, scheme)?;
    let options = PowerOptions {
        compensate: Some(scheme),
        ..Default::default()
    };
    // The P(k) transforms the field in place: a copy only when the field is kept.
    if keep_density {
        let power = power_of(comm, &block, delta.clone(), &options)?;
        Ok((Some(delta), power))
    } else {
        Ok((None, power_of(comm, &block, delta, &options)?))
    }
}

/// The P(k) of the density contrast `delta` on `block` (consumed: transformed in place).
/// Collective.
fn power_of<T: Real>(
    comm: &dyn Comm,
    block: &MeshBlock<T>,
    mut delta: RealField<T>,
    options: &PowerOptions,
) -> Result<PowerSpectrum, CliError> {
    let modes = block.forward_field(comm, &mut delta)?;
    drop(delta);
    Ok(power_spectrum_on(comm, &modes, options)?)
}

/// A rank's slab of the painted density contrast.
struct DensityBlock<T: Real> {
    block: MeshBlock<T>,
    /// `delta` on the block's x-planes.
    delta: RealField<T>,
}

/// The density contrast `delta = (N_cells / N) sum_i W(x_i - c) - 1` of every rank's
/// particles (this rank's `wrapped`, of `n` in all) on this rank's slab of `mesh`. The
/// particles are those of the run's force-mesh slab (the same mesh), rounded to `T`, so a
/// particle may sit a rounding off its slab: one extra ghost plane on each side admits it.
fn density_block<T: Real>(
    comm: &dyn Comm,
    mesh: Mesh,
    wrapped: &[[T; 3]],
    n: usize,
    scheme: Scheme,
) -> Result<DensityBlock<T>, CliError> {
    let (lo, hi) = pm_decomp::widths_for_support(scheme.support());
    let block = MeshBlock::new(mesh, comm)?.with_ghosts(lo + 1, hi + 1)?;
    let mut padded = block.zeros_padded();
    block.paint(&mut padded, &Positions::Absolute(wrapped), None, scheme)?;
    block.add_ghosts(comm, &mut padded)?;
    let mass = mean_particle_mass(&mesh, n);
    let owned: Vec<T> = padded[block.owned_elements()]
        .iter()
        .map(|v| T::lit(mass * v.as_f64() - 1.0))
        .collect();
    let delta = RealField::from_block(mesh, block.x_planes(), owned)?;
    Ok(DensityBlock { block, delta })
}

/// The picture's slab: `1 + delta` averaged over the first 1/16 of the box along x (at least
/// one plane), `[ny][nz]`, on rank 0 (the planes are sent there from their ranks), and the
/// number of planes. Collective.
fn slab_picture<T: Real>(
    comm: &dyn Comm,
    block: &MeshBlock<T>,
    delta: &RealField<T>,
) -> Result<(Vec<f64>, usize), CliError> {
    let [nx, ny, nz] = block.mesh().shape();
    let thickness = (nx / 16).max(1);
    let mut slab = vec![0.0; ny * nz];
    let xr = block.x_planes();
    for x in xr.start..xr.end.min(thickness) {
        let plane = &delta.as_slice()[(x - xr.start) * ny * nz..][..ny * nz];
        for (s, v) in slab.iter_mut().zip(plane) {
            *s += (1.0 + v.as_f64()) / thickness as f64;
        }
    }
    if comm.size() > 1 {
        comm.all_reduce_sum(&mut slab)
            .map_err(pm_integrate::IntegrateError::from)?;
    }
    Ok((slab, thickness))
}

/// `density.png` (the slab) and `power.png` (P(k) against linear theory where the estimator
/// has modes) into `dir`.
fn write_pictures(
    dir: &Path,
    meta: &SnapshotMeta,
    slab: &[f64],
    thickness: usize,
    power: &PowerSpectrum,
    lin: &[f64],
) -> Result<(), CliError> {
    let m = meta.mesh;
    let title = format!(
        "a = {:.3}, {}³ particles, {} Mpc/h",
        meta.a, meta.particles, meta.box_size
    );
    let slice_title = format!(
        "slab {:.1} Mpc/h, a = {:.3}",
        meta.box_size * thickness as f64 / m as f64,
        meta.a
    );
    let style = MapStyle {
        extent: 0.0..meta.box_size,
        axes: ["z [Mpc/h]", "y [Mpc/h]"],
        caption: "log₁₀(1 + δ)",
        log: true,
    };
    write_bytes(
        &dir.join("density.png"),
        &map_png(slab, [m, m], pixels_per_cell(m), &slice_title, &style)?,
    )?;
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
        &dir.join("power.png"),
        &power_spectrum_png(&curves, 1, &title, 720, 600)?,
    )
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
    if entry.dtype != dtype_name::<T>() {
        return Err(snapshot_error(
            &dir.join("meta.json"),
            format!(
                "files.positions.dtype is {} but {} was asked for",
                entry.dtype,
                dtype_name::<T>()
            ),
        ));
    }
    let path = dir.join(&entry.file);
    let mut file = std::fs::File::open(&path).map_err(|e| snapshot_error(&path, e))?;
    // The array must hold `(particles^3, 3)` values (checked by `SnapshotMeta::read`); a file
    // too short for that is refused before reading, so that a header claiming a huge shape
    // cannot ask for memory the file does not back.
    let rows = meta
        .particle_count()
        .ok_or_else(|| snapshot_error(&dir.join("meta.json"), "particles^3 overflows"))?;
    let data_bytes = rows
        .checked_mul(3 * std::mem::size_of::<T>())
        .ok_or_else(|| snapshot_error(&dir.join("meta.json"), "particles^3 overflows"))?;
    let file_bytes = file.metadata().map_err(|e| snapshot_error(&path, e))?.len();
    if file_bytes < data_bytes as u64 {
        return Err(snapshot_error(
            &path,
            format!(
                "{file_bytes} bytes cannot hold the {rows} x 3 {} that meta.json promises \
                 (particles = {})",
                entry.dtype, meta.particles
            ),
        ));
    }
    // The header's shape too, before the reader allocates from it.
    let declared = pm_integrate::npy_shape(std::io::BufReader::new(&file))
        .map_err(|e| snapshot_error(&path, e))?;
    if declared != [rows, 3] {
        return Err(snapshot_error(
            &path,
            format!(
                "shape {declared:?}, but meta.json says particles = {} so ({rows}, 3)",
                meta.particles
            ),
        ));
    }
    // The data, from the start of the same file: its shape is the header's, checked above.
    std::io::Seek::rewind(&mut file).map_err(|e| snapshot_error(&path, e))?;
    let array = Array2::<T>::read_npy(std::io::BufReader::new(file)).map_err(|e| {
        snapshot_error(
            &path,
            format!("{e} (expected {} of shape (n, 3))", entry.dtype),
        )
    })?;
    Ok(array
        .rows()
        .into_iter()
        .map(|c| [c[0], c[1], c[2]])
        .collect())
}
