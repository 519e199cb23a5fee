//! `pm run`: a validated [`RunPlan`] through the forward simulation, with snapshots, P(k),
//! pictures, a progress bar and a summary.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Instant;

use ndarray_npy::WritableElement;
use pm_decomp::{Comm, CommExt, SerialComm, ThreadComm};
use pm_fft::Real;
use pm_force::ForceKernel;
use pm_integrate::{IntegrateError, ModeOptions, Observer, Simulation, State, StepInfo, TimeSteps};
use pm_lensing::ConvergenceObserver;
use pm_mesh::Scheme;
use serde::Serialize;

use crate::CliError;
use crate::config::{Precision, RunPlan, kernel_name};
use crate::kernel::ConfiguredKernel;
use crate::output::write_json;
use crate::progress::{Progress, peak_memory_bytes};
use crate::rundir::RunDir;
use crate::snapshot::{
    Products, SnapshotMeta, SnapshotTarget, scheme_name, snapshot_dir_name, write_snapshot,
};

/// The first stopping signal received (0: none yet).
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// SIGINT: 2 on every Unix.
pub const SIGINT: i32 = 2;
/// SIGTERM: 15 on every Unix.
pub const SIGTERM: i32 = 15;
/// SIGHUP: 1 on every Unix.
pub const SIGHUP: i32 = 1;

/// Makes SIGINT (Ctrl-C), SIGTERM (what `timeout`, SLURM, docker and systemd send) and
/// SIGHUP (a closed terminal) stop the command cleanly: a run at the end of the current
/// step (a lensing projection within about a second, the step then completing), after any
/// snapshot being written is complete; a reconstruction or gradient check between
/// iterations. The first signal is remembered ([`stop_signal`]); a second signal, of any
/// of the three, is the same request (no hard abort: SIGKILL is the way to end pm at once).
/// A watcher thread receives the signals. Call once, from a binary.
#[cfg(unix)]
pub fn install_interrupt_handler() -> Result<(), CliError> {
    let mut signals =
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]).map_err(|e| {
            CliError::Io {
                path: PathBuf::from("<signal handler>"),
                reason: e.to_string(),
            }
        })?;
    std::thread::Builder::new()
        .name("pm-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                // Only the first signal counts; later ones repeat the request.
                let _ = STOP_SIGNAL.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
            }
        })
        .map_err(|e| CliError::Io {
            path: PathBuf::from("<signal handler>"),
            reason: e.to_string(),
        })?;
    Ok(())
}

/// Without Unix signals there is nothing to install.
#[cfg(not(unix))]
pub fn install_interrupt_handler() -> Result<(), CliError> {
    Ok(())
}

/// True once SIGINT, SIGTERM or SIGHUP has been received.
pub fn interrupted() -> bool {
    stop_signal().is_some()
}

/// The first stopping signal received (SIGINT, SIGTERM or SIGHUP), if any.
pub fn stop_signal() -> Option<i32> {
    match STOP_SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

// The numbers above are the platform's.
#[cfg(unix)]
const _: () = assert!(
    SIGINT == signal_hook::consts::SIGINT
        && SIGTERM == signal_hook::consts::SIGTERM
        && SIGHUP == signal_hook::consts::SIGHUP
);

/// The stopping signal agreed over the ranks of `comm`: the largest of the ranks' first
/// signals (0: none on any rank), the same on every rank. Collective.
pub fn agreed_signal(comm: &dyn Comm) -> Result<i32, pm_decomp::DecompError> {
    let mut first = [u64::try_from(STOP_SIGNAL.load(Ordering::SeqCst)).unwrap_or(0)];
    if comm.size() > 1 {
        comm.all_reduce_max(&mut first)?;
    }
    Ok(i32::try_from(first[0]).unwrap_or(0))
}

/// The name of a stopping signal: `SIGINT`, `SIGTERM`, `SIGHUP` (`signal N` otherwise).
pub fn signal_name(signal: i32) -> String {
    match signal {
        SIGINT => "SIGINT".into(),
        SIGTERM => "SIGTERM".into(),
        SIGHUP => "SIGHUP".into(),
        s => format!("signal {s}"),
    }
}

/// How to run a plan.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run directory (the config's `output.directory` unless overridden).
    pub directory: PathBuf,
    /// Write into a directory that holds files other than a previous run's (they are kept;
    /// a previous run's files are replaced in any case).
    pub overwrite: bool,
    /// Show the progress bar (it also needs stdout to be a terminal).
    pub progress: bool,
    /// Ranks of the thread communicator (1: the serial run).
    pub ranks: usize,
}

/// What a finished run reports (also written as `summary.json`).
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// The run directory.
    pub directory: PathBuf,
    /// Snapshot directories written.
    pub snapshots: Vec<PathBuf>,
    /// Particles.
    pub particles: usize,
    /// Steps.
    pub steps: usize,
    /// Worker threads.
    pub threads: usize,
    /// Wall time of the whole run, seconds.
    pub wall_seconds: f64,
    /// Peak resident memory of the process, bytes (Linux only).
    pub peak_memory_bytes: Option<u64>,
    /// Particle updates per second: particles x steps / wall time.
    pub particle_steps_per_second: f64,
}

/// The top-level entries a run of `plan` writes into its directory: `config.toml`,
/// `summary.json`, a directory per snapshot and `lensing` when maps are made.
pub fn planned_entries(plan: &RunPlan) -> Vec<String> {
    let mut names = vec!["config.toml".to_string(), "summary.json".to_string()];
    names.extend(
        plan.outputs
            .iter()
            .map(|&i| snapshot_dir_name(plan.scale_factors[i])),
    );
    if plan.lensing.is_some() {
        names.push("lensing".into());
    }
    names
}

/// Runs `plan` into `options.directory`, opened as a [`RunDir`] before any work: locked,
/// refused when it holds entries pm did not write (unless `overwrite`), and an earlier
/// run's entries replaced one by one as the new ones complete (see [`crate::rundir`]). A
/// directory the run created is removed again when the run fails before its first output.
pub fn run(plan: &RunPlan, options: &RunOptions) -> Result<RunSummary, CliError> {
    check_ranks(plan, options.ranks)?;
    let pool = thread_pool(plan)?;
    let dir = RunDir::open(
        &options.directory,
        &planned_entries(plan),
        options.overwrite,
    )?;
    let start = Instant::now();
    let snapshots = pool.install(|| match plan.config.simulation.precision {
        Precision::F32 => run_ranks::<f32>(plan, options, &dir),
        Precision::F64 => run_ranks::<f64>(plan, options, &dir),
    });
    let snapshots = match snapshots {
        Ok(s) => s,
        Err(e) => {
            dir.abandon();
            return Err(e);
        }
    };
    finish_summary(
        plan,
        options,
        snapshots,
        pool.current_num_threads(),
        start,
        dir,
    )
}

/// [`run`] split over the ranks of `comm` (every rank calls it, e.g. each process of an
/// MPI job; `options.ranks` is ignored): the same run as on one rank, each rank holding the
/// particles of its slab. Rank 0 checks the run directory and writes `config.toml`, the
/// snapshots' headers and side-cars, the lensing maps and `summary.json`; every rank writes
/// its own particles into the snapshots' arrays. Returns the summary on every rank (its
/// snapshots only on rank 0; its peak memory is this process's). Collective.
///
/// Errors: as [`run`], on every rank (a directory rank 0 refuses is reported on the
/// others as a collective failure).
pub fn run_on(
    plan: &RunPlan,
    options: &RunOptions,
    comm: &dyn Comm,
) -> Result<RunSummary, CliError> {
    check_ranks(plan, comm.size())?;
    let opened = if comm.rank() == 0 {
        RunDir::open(
            &options.directory,
            &planned_entries(plan),
            options.overwrite,
        )
        .map(Some)
    } else {
        Ok(None)
    };
    let failed = comm
        .sum_u64(u64::from(opened.is_err()))
        .map_err(IntegrateError::from)?;
    let dir = opened?;
    if failed > 0 {
        return Err(CliError::Config {
            key: "--output".into(),
            reason: format!(
                "{} cannot take the run (see rank 0's error)",
                options.directory.display()
            ),
        });
    }
    let start = Instant::now();
    // A communicator need not be shareable across threads (MPI's is not), so this rank's
    // work runs on rayon's global pool, sized here when this is the process's first use.
    let threads = plan.config.simulation.threads;
    if rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .is_err()
        && threads != 0
        && threads != rayon::current_num_threads()
    {
        return Err(CliError::Config {
            key: "simulation.threads".into(),
            reason: format!(
                "{threads}: this process's thread pool already runs {} threads",
                rayon::current_num_threads()
            ),
        });
    }
    let snapshots = match plan.config.simulation.precision {
        Precision::F32 => run_rank::<f32>(plan, options, comm, dir.as_ref()),
        Precision::F64 => run_rank::<f64>(plan, options, comm, dir.as_ref()),
    };
    let snapshots = match snapshots {
        Ok(s) => s,
        Err(e) => {
            if let Some(dir) = dir {
                dir.abandon();
            }
            return Err(e);
        }
    };
    let threads = rayon::current_num_threads();
    match dir {
        Some(dir) => finish_summary(plan, options, snapshots, threads, start, dir),
        None => Ok(summary(plan, options, snapshots, threads, start)),
    }
}

/// The worker threads of `simulation.threads` (0: rayon's default).
fn thread_pool(plan: &RunPlan) -> Result<rayon::ThreadPool, CliError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(plan.config.simulation.threads)
        .build()
        .map_err(|e| CliError::Config {
            key: "simulation.threads".into(),
            reason: e.to_string(),
        })
}

fn summary(
    plan: &RunPlan,
    options: &RunOptions,
    snapshots: Vec<PathBuf>,
    threads: usize,
    start: Instant,
) -> RunSummary {
    let wall_seconds = start.elapsed().as_secs_f64();
    let particles = plan.config.simulation.particles.pow(3);
    let steps = plan.scale_factors.len() - 1;
    RunSummary {
        directory: options.directory.clone(),
        snapshots,
        particles,
        steps,
        threads,
        wall_seconds,
        peak_memory_bytes: peak_memory_bytes(),
        particle_steps_per_second: (particles * steps) as f64 / wall_seconds,
    }
}

/// The summary of a completed run: `config.toml` and `summary.json` written, then the run
/// directory completed (an earlier run's entries this run did not write removed).
fn finish_summary(
    plan: &RunPlan,
    options: &RunOptions,
    snapshots: Vec<PathBuf>,
    threads: usize,
    start: Instant,
    dir: RunDir,
) -> Result<RunSummary, CliError> {
    let summary = summary(plan, options, snapshots, threads, start);
    write_config(plan, dir.path())?;
    write_json(&dir.path().join("summary.json"), &summary)?;
    dir.complete()?;
    Ok(summary)
}

/// The one-rank simulation a plan describes, in precision `T`.
pub fn build_simulation<T: Real>(
    plan: &RunPlan,
) -> Result<Simulation<T, ConfiguredKernel>, CliError> {
    build_simulation_on(plan, &SerialComm)
}

/// The calling rank's share of the simulation a plan describes over `comm`. Collective.
pub fn build_simulation_on<T: Real>(
    plan: &RunPlan,
    comm: &dyn Comm,
) -> Result<Simulation<T, ConfiguredKernel>, CliError> {
    let s = &plan.config.simulation;
    let f = &plan.config.force;
    let builder = Simulation::<T, _>::builder(plan.cosmology)
        .box_size(s.box_size)
        .particles(s.particles)
        .mesh(s.mesh)
        .kernel(ConfiguredKernel::from_config(f))
        .scheme(f.scheme.into())
        .window_compensation(f.compensate)
        .stepper(s.stepper.into())
        .steps(TimeSteps::Explicit(plan.scale_factors.clone()))
        .lpt(plan.lpt_order)
        .modes(ModeOptions {
            fixed_amplitude: s.fixed_amplitude,
            phase_flip: s.phase_flip,
        })
        .power(plan.power.clone());
    let builder = match &plan.white_noise {
        Some(path) => builder.white_noise_file(path),
        None => builder.seed(s.seed),
    };
    Ok(builder.build_on(comm)?)
}

/// This rank's part of the run of `plan` over `comm` (the one-rank run on `SerialComm`): its
/// share of the particles through every step, every rank writing its own particles into
/// the snapshots at their output times, the lensing observers fed on every rank. `dir` is
/// the opened run directory on rank 0 (`None` on the others). Returns the snapshot
/// directories on rank 0. Collective: every rank stops at the same step when SIGINT,
/// SIGTERM or SIGHUP arrives on any.
fn run_rank<T: Real + WritableElement>(
    plan: &RunPlan,
    options: &RunOptions,
    comm: &dyn Comm,
    dir: Option<&RunDir>,
) -> Result<Vec<PathBuf>, CliError> {
    let sim = build_simulation_on::<T>(plan, comm)?;
    let initial = sim.initial_state(comm)?;
    // The configuration goes in now for a new run, and when the run completes for a
    // rerun (until then the earlier run's describes the snapshots that are there).
    let started = match dir {
        Some(dir) if !dir.had("config.toml") => write_config(plan, dir.path()),
        _ => Ok(()),
    };
    agree(comm, started, || CliError::Io {
        path: options.directory.clone(),
        reason: "rank 0 could not create the run directory".into(),
    })?;
    let output = RankOutput {
        directory: &options.directory,
        run: dir,
    };
    let steps = plan.scale_factors.len() - 1;
    let progress = Progress::new(steps, options.progress && comm.rank() == 0);
    let written = RefCell::new(Vec::new());
    let failure = RefCell::new(None);
    let signal = std::cell::Cell::new(0);
    let mut observer = |info: &StepInfo, state: &State<T>| -> Result<(), IntegrateError> {
        progress.step(info.index, info.a);
        if plan.outputs.contains(&info.index) {
            match snapshot_at(plan, output, &sim, info.index, state, comm) {
                Ok(path) => written.borrow_mut().extend(path),
                Err(e) => {
                    let message = e.to_string();
                    *failure.borrow_mut() = Some(e);
                    return Err(IntegrateError::Observer(message));
                }
            }
        }
        // Every rank stops at the same step when a signal arrives on any.
        if info.index < info.steps {
            signal.set(agreed_signal(comm)?);
            if signal.get() != 0 {
                return Err(IntegrateError::Observer("interrupted".into()));
            }
        }
        Ok(())
    };
    // The projections give up within about a second of a signal (a small box under a deep
    // lightcone has thousands of replicas a step); the step observer above then stops
    // every rank together at the end of the step.
    let flat_projection = plan
        .lensing
        .as_ref()
        .and_then(|l| l.flat.clone())
        .map(|p| p.with_stop(interrupted));
    let full_projection = plan
        .lensing
        .as_ref()
        .and_then(|l| l.full.clone())
        .map(|p| p.with_stop(interrupted));
    let mut flat = flat_projection
        .as_ref()
        .map(ConvergenceObserver::<_, T>::new);
    let mut full = full_projection
        .as_ref()
        .map(ConvergenceObserver::<_, T>::new);
    let result = {
        let mut observers: Vec<&mut dyn Observer<T>> = vec![&mut observer];
        if let Some(o) = flat.as_mut() {
            observers.push(o);
        }
        if let Some(o) = full.as_mut() {
            observers.push(o);
        }
        sim.evolve_on(comm, initial, &mut observers)
    };
    progress.finish();
    if let Some(e) = failure.into_inner() {
        return Err(e);
    }
    let interrupted_error = |signal: i32| CliError::Interrupted {
        signal: if signal != 0 {
            signal
        } else {
            stop_signal().unwrap_or(SIGINT)
        },
        directory: options.directory.clone(),
        snapshots: written.borrow().len(),
    };
    match result {
        Ok(_) => {
            if let Some(lensing) = &plan.lensing {
                // A projection stopped in the last step: every rank learns it in finish.
                let mut stopped = false;
                let mut to_cli = |e: pm_lensing::LensingError| match e {
                    pm_lensing::LensingError::Stopped => {
                        stopped = true;
                        None
                    }
                    e => Some(CliError::Io {
                        path: options.directory.join("lensing"),
                        reason: e.to_string(),
                    }),
                };
                let flat = match flat.map(|o| o.finish(comm)).transpose() {
                    Ok(m) => m,
                    Err(e) => to_cli(e).map_or(Ok(None), Err)?,
                };
                let full = match full.map(|o| o.finish(comm)).transpose() {
                    Ok(m) => m,
                    Err(e) => to_cli(e).map_or(Ok(None), Err)?,
                };
                if stopped {
                    let signal = agreed_signal(comm).map_err(IntegrateError::from)?;
                    return Err(interrupted_error(signal));
                }
                let a = &plan.scale_factors;
                let wrote = if let Some(dir) = dir {
                    let maps = crate::lensing::Maps {
                        flat: flat.as_deref(),
                        full: full.as_deref(),
                        lightcone_a: [a[0], a[a.len() - 1]],
                    };
                    let (power, growth) = (sim.power(), sim.growth());
                    crate::lensing::write_lensing(dir, lensing, maps, power, growth).map(drop)
                } else {
                    Ok(())
                };
                agree(comm, wrote, || CliError::Io {
                    path: options.directory.join("lensing"),
                    reason: "rank 0 could not write the lensing maps".into(),
                })?;
            }
            Ok(written.take())
        }
        Err(IntegrateError::Observer(m)) if m == "interrupted" => {
            Err(interrupted_error(signal.get()))
        }
        Err(_) if interrupted() => Err(interrupted_error(0)),
        Err(e) => Err(e.into()),
    }
}

/// Agrees on a local result over the ranks: a rank that failed returns its own error, the
/// others `other()` (so that no rank waits in a later collective). Collective.
fn agree(
    comm: &dyn Comm,
    local: Result<(), CliError>,
    other: impl FnOnce() -> CliError,
) -> Result<(), CliError> {
    if comm.size() == 1 {
        return local;
    }
    let failed = comm
        .sum_u64(u64::from(local.is_err()))
        .map_err(IntegrateError::from)?;
    local?;
    if failed > 0 {
        return Err(other());
    }
    Ok(())
}

/// The metadata of a run's snapshot after step `step`, at scale factor `a`, before the
/// written files (`files`, `power`) are filled in.
pub fn snapshot_meta<T: Real>(
    plan: &RunPlan,
    sim: &Simulation<T, ConfiguredKernel>,
    step: usize,
    a: f64,
) -> SnapshotMeta {
    let config = &plan.config;
    SnapshotMeta {
        format: "pmrs-snapshot".into(),
        code: format!("pmrs {}", env!("CARGO_PKG_VERSION")),
        a,
        z: 1.0 / a - 1.0,
        step,
        box_size: config.simulation.box_size,
        particles: config.simulation.particles,
        mesh: config.simulation.mesh,
        cosmology: plan.cosmology,
        power_spectrum: config.cosmology.power_spectrum.clone(),
        seed: plan.white_noise.is_none().then_some(config.simulation.seed),
        white_noise: plan.white_noise.clone(),
        lpt_order: config.simulation.lpt_order,
        stepper: sim.stepper().name(),
        scale_factors: plan.scale_factors.clone(),
        force_kernel: format!(
            "{} ({})",
            kernel_name(config.force.kernel),
            sim.forces().gravity.kernel().name()
        ),
        force_scheme: scheme_name(config.force.scheme.into()).into(),
        precision: T::NAME.into(),
        files: Default::default(),
        power: None,
    }
}

/// Linear theory at scale factor `a`, `k -> D1(a)^2 P_lin(k)` ((Mpc/h)^3, NaN where the
/// spectrum is not defined): the `linear` column of a snapshot's P(k).
pub fn linear_power<T: Real>(
    sim: &Simulation<T, ConfiguredKernel>,
    a: f64,
) -> impl Fn(f64) -> f64 + '_ {
    move |k| sim.power().power_at(k, a, sim.growth()).unwrap_or(f64::NAN)
}

/// Where a rank writes: the run directory's path on every rank, and the opened
/// [`RunDir`] on rank 0.
#[derive(Clone, Copy)]
struct RankOutput<'a> {
    directory: &'a Path,
    run: Option<&'a RunDir>,
}

/// Writes the snapshot of every rank's particles after step `index` (`state` holds this
/// rank's); its directory on rank 0. Collective.
fn snapshot_at<T: Real + WritableElement>(
    plan: &RunPlan,
    out: RankOutput<'_>,
    sim: &Simulation<T, ConfiguredKernel>,
    index: usize,
    state: &State<T>,
    comm: &dyn Comm,
) -> Result<Option<PathBuf>, CliError> {
    let c = &plan.config.output;
    let meta = snapshot_meta(plan, sim, index, state.a);
    let path = out.directory.join(snapshot_dir_name(state.a));
    let linear = linear_power(sim, state.a);
    let products = Products {
        particles: c.snapshots,
        density: c.density,
        power: c.power,
        plots: c.plots,
    };
    let target = SnapshotTarget {
        dir: &path,
        run: out.run,
        products,
        scheme: Scheme::Cic,
        linear: &linear,
    };
    write_snapshot(comm, &target, meta, state)
}

/// Checks that a plan can run on `ranks` ranks: at least 1, and no more ranks than the
/// particle grid and the force mesh have planes.
pub fn check_ranks(plan: &RunPlan, ranks: usize) -> Result<(), CliError> {
    let bad = |reason: String| CliError::Config {
        key: "--ranks".into(),
        reason,
    };
    if ranks == 0 {
        return Err(bad("0: must be at least 1".into()));
    }
    if ranks == 1 {
        return Ok(());
    }
    let s = &plan.config.simulation;
    let planes = s.particles.min(s.mesh);
    if ranks > planes {
        return Err(bad(format!(
            "{ranks}: at most {planes} (the slab decomposition needs a plane of the particle grid and of the mesh per rank)"
        )));
    }
    Ok(())
}

/// The run on `options.ranks` ranks of the in-process thread communicator (one rank: the
/// serial run on `SerialComm`); the snapshot directories written by rank 0.
fn run_ranks<T: Real + WritableElement>(
    plan: &RunPlan,
    options: &RunOptions,
    dir: &RunDir,
) -> Result<Vec<PathBuf>, CliError> {
    if options.ranks == 1 {
        return run_rank::<T>(plan, options, &SerialComm, Some(dir));
    }
    let results = ThreadComm::run(options.ranks, |comm| {
        let dir = (comm.rank() == 0).then_some(dir);
        run_rank::<T>(plan, options, comm, dir)
    })
    .map_err(IntegrateError::from)?;
    let mut first = None;
    for r in results {
        let written = r?;
        first.get_or_insert(written);
    }
    Ok(first.unwrap_or_default())
}

/// Writes the full configuration of the run (every default filled in) as `config.toml`.
fn write_config(plan: &RunPlan, dir: &Path) -> Result<(), CliError> {
    let path = dir.join("config.toml");
    let text = toml::to_string(&plan.config).map_err(|e| CliError::Io {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    crate::output::write_bytes(&path, text.as_bytes())
}
