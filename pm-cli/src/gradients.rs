//! `pm grad-check` (the adjoint gradient of the configured run against finite differences)
//! and `pm reconstruct` (the white noise of a snapshot's run, recovered from its final
//! density by gradient descent).

use pm_decomp::SerialComm;
use std::path::{Path, PathBuf};

use ndarray_npy::{ReadableElement, WritableElement};
use pm_adjoint::{
    AdjointError, FieldObjective, FieldOutput, Objective, ObjectiveInput, Painted,
    ReconstructionOptions, Stage, compare_linear, reconstruct_while, run_cosmology_gradient,
    value_and_gradient,
};
use pm_cosmo::{LinearPower, Param};
use pm_fft::Real;
use pm_force::ForceKernel;
use pm_integrate::Simulation;
use pm_mesh::{Mesh, Positions, PowerOptions, RealField, Scheme, density_contrast};
use serde::Serialize;

use crate::CliError;
use crate::config::{Config, Precision, RunPlan};
use crate::output::{write_bytes, write_json, write_npy};
use crate::run::{build_simulation, interrupted, stop_signal};
use crate::rundir::RunDir;
use crate::snapshot::{SnapshotMeta, read_positions};

/// `L = sum_cells delta^2 / (2 N_cells)`: half the variance of the final density contrast,
/// the objective of `pm grad-check` (it depends on every particle).
#[derive(Debug, Clone)]
pub struct HalfVariance {
    /// The mesh the particles are painted on.
    pub mesh: Mesh,
}

impl<T: Real> FieldObjective<T> for HalfVariance {
    fn name(&self) -> String {
        "half variance of delta".into()
    }
    fn mesh(&self) -> &Mesh {
        &self.mesh
    }
    fn evaluate_field(&self, delta: &RealField<T>) -> Result<FieldOutput<T>, AdjointError> {
        let n = self.mesh.n_cells() as f64;
        let value = delta
            .as_slice()
            .iter()
            .map(|d| d.as_f64().powi(2))
            .sum::<f64>()
            / (2.0 * n);
        let mut gradient = delta.clone();
        gradient
            .as_slice_mut()
            .iter_mut()
            .for_each(|g| *g = T::lit(g.as_f64() / n));
        Ok(FieldOutput { value, gradient })
    }
}

/// One gradient checked against a central difference.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was varied.
    pub name: String,
    /// The adjoint's directional derivative.
    pub adjoint: f64,
    /// `(L(x + h v) - L(x - h v)) / 2h`.
    pub finite_difference: f64,
    /// The step `h`.
    pub step: f64,
    /// `|adjoint - fd| / max(|adjoint|, |fd|)`.
    pub relative_error: f64,
}

fn check(name: String, adjoint: f64, finite_difference: f64, step: f64) -> Check {
    let scale = adjoint
        .abs()
        .max(finite_difference.abs())
        .max(f64::MIN_POSITIVE);
    Check {
        name,
        adjoint,
        finite_difference,
        step,
        relative_error: (adjoint - finite_difference).abs() / scale,
    }
}

/// The objective's value for a run of `sim` from `noise`.
fn loss<K: ForceKernel>(
    sim: &Simulation<f64, K>,
    noise: &RealField<f64>,
    objective: &dyn Objective<f64>,
) -> Result<f64, CliError> {
    let start = sim.initial_state_from(&SerialComm, noise)?;
    let state = sim.evolve(start, &mut [])?;
    Ok(objective
        .evaluate(
            &SerialComm,
            ObjectiveInput {
                noise,
                state: &state,
            },
        )?
        .value)
}

/// Checks the adjoint gradient of the configured run, always in f64, on the objective
/// [`HalfVariance`] of the final density on the force mesh: the derivative along `directions`
/// random white-noise directions, and, when the run uses Eisenstein & Hu's P(k), along each
/// of the seven cosmological parameters. Central differences with steps `1e-6` (noise, unit
/// variance) and `3e-6` relative (parameters). Mass assignment makes the run piecewise smooth:
/// a particle crossing a cell boundary inside the step spoils a difference, so steps are
/// small; what is left is truncation ~h^2 and rounding ~1e-16 |L| / h, 1e-9 to 1e-7 relative
/// (pm-adjoint's tests scan the step).
///
/// A stopping signal (see [`crate::run::install_interrupt_handler`]) ends it between two
/// runs with [`CliError::Stopped`].
pub fn grad_check(plan: &RunPlan, directions: usize) -> Result<Vec<Check>, CliError> {
    let sim = build_simulation::<f64>(plan)?;
    let checked = std::cell::Cell::new(0);
    let stop_here = || -> Result<(), CliError> {
        match stop_signal() {
            Some(signal) => Err(CliError::Stopped {
                signal,
                what: format!(
                    "pm grad-check stopped after {} check(s), nothing reported",
                    checked.get()
                ),
            }),
            None => Ok(()),
        }
    };
    let mesh = Mesh::cubic(plan.config.simulation.mesh, plan.config.simulation.box_size)?;
    let objective = Painted::new(HalfVariance { mesh });
    let noise = sim.white_noise()?;
    let gradient = value_and_gradient(&SerialComm, &sim, &noise, &objective)?;
    let mut checks = Vec::new();
    let particle_mesh = *sim.particle_mesh();
    for d in 0..directions {
        let v = pm_integrate::white_noise::<f64>(
            particle_mesh.shape(),
            plan.config.simulation.seed.wrapping_add(1 + d as u64),
        );
        let v = RealField::from_array(particle_mesh, v)?;
        let adjoint: f64 = gradient
            .noise
            .as_slice()
            .iter()
            .zip(v.as_slice())
            .map(|(g, v)| g * v)
            .sum();
        let h = 1e-6;
        let shifted = |sign: f64| {
            stop_here()?;
            let mut x = noise.clone();
            x.as_slice_mut()
                .iter_mut()
                .zip(v.as_slice())
                .for_each(|(x, v)| *x += sign * h * v);
            loss(&sim, &x, &objective)
        };
        let fd = (shifted(1.0)? - shifted(-1.0)?) / (2.0 * h);
        checks.push(check(
            format!("white noise, direction {}", d + 1),
            adjoint,
            fd,
            h,
        ));
        checked.set(checks.len());
    }
    if plan.config.cosmology.power_spectrum == "eisenstein_hu" {
        stop_here()?;
        let adjoint = run_cosmology_gradient(&SerialComm, &sim, &noise, &gradient, None)?.total;
        for p in Param::ALL {
            let value = parameter_value(&plan.cosmology, p);
            let h = 3e-6 * value.abs().max(0.1);
            let shifted = |sign: f64| -> Result<f64, CliError> {
                stop_here()?;
                let mut moved = plan.clone();
                moved.cosmology = plan.cosmology.shifted(p, sign * h);
                moved.power = LinearPower::eisenstein_hu(&moved.cosmology)?;
                loss(&build_simulation::<f64>(&moved)?, &noise, &objective)
            };
            let fd = (shifted(1.0)? - shifted(-1.0)?) / (2.0 * h);
            checks.push(check(p.name().into(), adjoint[p.index()], fd, h));
            checked.set(checks.len());
        }
    }
    Ok(checks)
}

fn parameter_value(c: &pm_cosmo::Cosmology, p: Param) -> f64 {
    match p {
        Param::OmegaM => c.omega_m(),
        Param::OmegaB => c.omega_b,
        Param::H => c.h,
        Param::Ns => c.n_s,
        Param::Amplitude => match c.amplitude {
            pm_cosmo::Amplitude::Sigma8(s) => s,
            pm_cosmo::Amplitude::As(a) => a,
        },
        Param::W0 => c.w0,
        Param::Wa => c.wa,
    }
}

/// Options of `pm reconstruct`.
#[derive(Debug, Clone)]
pub struct ReconstructOptions {
    /// The Adam schedule.
    pub stages: Vec<Stage>,
    /// Mesh cells per side of the data density (default: the particles per side).
    pub mesh: Option<usize>,
    /// Where to write the results (a run directory: see [`crate::rundir`]).
    pub directory: PathBuf,
    /// Also write into a directory holding entries pm did not write (they are left alone).
    pub overwrite: bool,
    /// Print a line every this many iterations (0: never).
    pub every: usize,
    /// The memory limit the estimate is checked against before any work.
    pub memory: crate::estimate::MemoryLimit,
}

/// What `pm reconstruct` writes into its directory.
const RECONSTRUCTION_FILES: [&str; 4] = [
    "white_noise.npy",
    "history.csv",
    "comparison.csv",
    "reconstruction.json",
];

/// Parses `ITERATIONS:SIGMA:SMOOTHING:RATE[,...]`.
pub fn parse_stages(text: &str) -> Result<Vec<Stage>, CliError> {
    let bad = |reason: String| CliError::Config {
        key: "--schedule".into(),
        reason,
    };
    text.split(',')
        .map(|stage| {
            let v: Vec<&str> = stage.split(':').collect();
            if v.len() != 4 {
                return Err(bad(format!(
                    "\"{stage}\": a stage is ITERATIONS:SIGMA:SMOOTHING:LEARNING_RATE"
                )));
            }
            let num = |s: &str| {
                s.parse::<f64>()
                    .map_err(|_| bad(format!("\"{s}\" in \"{stage}\" is not a number")))
            };
            let iterations = v[0]
                .parse::<usize>()
                .map_err(|_| bad(format!("\"{}\" in \"{stage}\" is not a count", v[0])))?;
            Ok(Stage {
                iterations,
                sigma: num(v[1])?,
                smoothing: num(v[2])?,
                learning_rate: num(v[3])?,
            })
        })
        .collect()
}

/// The run that made a snapshot, as a plan: its cosmology, box, particles, mesh, stepper,
/// LPT order, precision and the steps up to the snapshot (its white noise is what
/// `pm reconstruct` recovers).
pub fn plan_from_snapshot(meta: &SnapshotMeta) -> Result<RunPlan, CliError> {
    let mut config = Config::default();
    let s = &mut config.simulation;
    s.box_size = meta.box_size;
    s.particles = meta.particles;
    s.mesh = meta.mesh;
    s.seed = meta.seed.unwrap_or(0);
    s.lpt_order = meta.lpt_order;
    s.stepper = match meta.stepper.as_str() {
        "fastpm" => crate::config::StepperName::Fastpm,
        "leapfrog" => crate::config::StepperName::Leapfrog,
        "cola" => crate::config::StepperName::Cola,
        other => {
            return Err(CliError::Snapshot {
                path: PathBuf::from("meta.json"),
                reason: format!("unknown stepper \"{other}\""),
            });
        }
    };
    s.scale_factors = Some(meta.scale_factors[..=meta.step].to_vec());
    s.precision = if meta.precision == "f64" {
        Precision::F64
    } else {
        Precision::F32
    };
    config.output.a = vec![meta.a];
    let mut plan = config.plan(Path::new("."))?;
    plan.cosmology = meta.cosmology;
    plan.power = match meta.power_spectrum.as_str() {
        "eisenstein_hu_no_wiggle" => LinearPower::eisenstein_hu_no_wiggle(&meta.cosmology)?,
        _ => LinearPower::eisenstein_hu(&meta.cosmology)?,
    };
    Ok(plan)
}

/// Recovers the white noise of the run that made the snapshot in `snapshot_dir` from its
/// final CIC density (noise-free data), writing `white_noise.npy`, `history.csv` and, when
/// the snapshot's seed is known, `comparison.csv` (r(k) and T(k) of the reconstructed against
/// the true linear density) into `options.directory`. A stopping signal (see
/// [`crate::run::install_interrupt_handler`]) ends it after the current iteration with
/// [`CliError::Stopped`], writing nothing.
pub fn reconstruct_snapshot(
    snapshot_dir: &Path,
    options: &ReconstructOptions,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<PathBuf>, CliError> {
    let meta = SnapshotMeta::read(snapshot_dir)?;
    if meta.power_spectrum != "eisenstein_hu" && meta.power_spectrum != "eisenstein_hu_no_wiggle" {
        return Err(CliError::Snapshot {
            path: snapshot_dir.to_path_buf(),
            reason: format!(
                "made with the power spectrum \"{}\": pm reconstruct rebuilds Eisenstein & Hu \
                 runs only",
                meta.power_spectrum
            ),
        });
    }
    let plan = plan_from_snapshot(&meta)?;
    // Refused before the output directory is touched or anything is allocated.
    let (data_mesh, key) = match options.mesh {
        Some(n) => (n, "--mesh"),
        None => (
            meta.particles,
            "--mesh (default: the snapshot's particles per side)",
        ),
    };
    let estimate = crate::estimate::Estimate::adjoint(&plan, data_mesh, key, true)?;
    crate::estimate::check_memory(&estimate, &options.memory, "pm reconstruct")?;
    let planned = RECONSTRUCTION_FILES.map(String::from);
    let dir = RunDir::open(&options.directory, &planned, options.overwrite)?;
    let written = match plan.config.simulation.precision {
        Precision::F32 => reconstruct_typed::<f32>(snapshot_dir, &meta, &plan, options, log),
        Precision::F64 => reconstruct_typed::<f64>(snapshot_dir, &meta, &plan, options, log),
    };
    match written {
        Ok(w) => {
            dir.complete()?;
            Ok(w)
        }
        Err(e) => {
            dir.abandon();
            Err(e)
        }
    }
}

fn reconstruct_typed<T: Real + ReadableElement + WritableElement>(
    snapshot_dir: &Path,
    meta: &SnapshotMeta,
    plan: &RunPlan,
    options: &ReconstructOptions,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<PathBuf>, CliError> {
    let sim = build_simulation::<T>(plan)?;
    let n = options.mesh.unwrap_or(meta.particles);
    let mesh = Mesh::cubic(n, meta.box_size)?;
    let positions = read_positions::<T>(snapshot_dir, meta)?;
    let data = density_contrast(&Positions::Absolute(&positions), mesh, Scheme::Cic)?;
    drop(positions);
    let truth = match meta.seed {
        Some(_) => Some(sim.white_noise()?),
        None => None,
    };
    let mut noise = RealField::<T>::zeros(*sim.particle_mesh());
    let total: usize = options.stages.iter().map(|s| s.iterations).sum();
    let every = options.every;
    let history = reconstruct_while(
        &sim,
        &data,
        &mut noise,
        &options.stages,
        &ReconstructionOptions::default(),
        &mut |it, _| {
            if every > 0 && (it.index % every == 0 || it.index + 1 == total) {
                log(&format!(
                    "iteration {:4}/{total} stage {} loss {:.6e} prior {:.4e} |grad|_rms {:.3e}",
                    it.index + 1,
                    it.stage + 1,
                    it.loss,
                    it.prior,
                    it.gradient_rms
                ));
            }
            if interrupted() {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        },
    )?;
    let dir = &options.directory;
    if let Some(signal) = stop_signal() {
        return Err(CliError::Stopped {
            signal,
            what: format!(
                "pm reconstruct stopped after iteration {} of {total}, nothing written to {}",
                history.len(),
                dir.display()
            ),
        });
    }
    let mut written = Vec::new();
    let shape = sim.particle_mesh().shape();
    let path = dir.join("white_noise.npy");
    write_npy(&path, noise.as_slice(), &shape)?;
    written.push(path);
    let mut text = String::from("iteration,stage,loss,prior,gradient_rms\n");
    for it in &history {
        text.push_str(&format!(
            "{},{},{:e},{:e},{:e}\n",
            it.index, it.stage, it.loss, it.prior, it.gradient_rms
        ));
    }
    let path = dir.join("history.csv");
    write_bytes(&path, text.as_bytes())?;
    written.push(path);
    if let Some(truth) = truth {
        let cross = compare_linear(&sim, &truth, &noise, &PowerOptions::default())?;
        let (r, t) = (cross.r(), cross.transfer());
        let mut text = String::from("k,r,transfer,modes\n");
        for b in 0..cross.k.len() {
            if cross.n_modes[b] > 0 {
                text.push_str(&format!(
                    "{:e},{:e},{:e},{}\n",
                    cross.k[b], r[b], t[b], cross.n_modes[b]
                ));
            }
        }
        let path = dir.join("comparison.csv");
        write_bytes(&path, text.as_bytes())?;
        written.push(path);
    }
    let last = history.last();
    write_json(
        &dir.join("reconstruction.json"),
        &serde_json::json!({
            "snapshot": snapshot_dir,
            "data_mesh": n,
            "iterations": total,
            "final_loss": last.map(|i| i.loss),
            "stages": options.stages.iter().map(|s| serde_json::json!({
                "iterations": s.iterations, "sigma": s.sigma,
                "smoothing": s.smoothing, "learning_rate": s.learning_rate,
            })).collect::<Vec<_>>(),
        }),
    )?;
    written.push(dir.join("reconstruction.json"));
    Ok(written)
}
