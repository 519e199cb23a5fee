//! `pm`: run, inspect and check particle-mesh simulations. `pm --help` lists the commands.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pm_cli::config::{Config, DEFAULT_CONFIG, RunPlan};
use pm_cli::estimate::{self, Estimate, MemoryLimit};
use pm_cli::gradients::{ReconstructOptions, grad_check, parse_stages, reconstruct_snapshot};
use pm_cli::run::{RunOptions, install_interrupt_handler, run};
use pm_cli::snapshot::{SnapshotMeta, measure_density, power_csv, read_positions, write_power_csv};
use pm_cli::{CliError, say, warn};
use pm_mesh::{Positions, Scheme};

#[derive(Parser)]
#[command(
    name = "pm",
    version,
    about = "Fast, differentiable particle-mesh N-body simulations"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a simulation (the built-in default when no config is given).
    Run {
        /// A TOML config (`pm init` writes a commented one).
        config: Option<PathBuf>,
        /// Run directory (default: the config's output.directory).
        #[arg(long)]
        output: Option<PathBuf>,
        /// Also write into a directory holding entries pm did not write (they are left
        /// alone; an earlier run's entries are replaced in any case).
        #[arg(long)]
        overwrite: bool,
        /// No progress bar and no summary.
        #[arg(long, short)]
        quiet: bool,
        /// Split the run over this many ranks of the in-process thread communicator (slab
        /// decomposition, particle migration; the result equals the 1-rank run to rounding).
        #[arg(long, default_value_t = 1)]
        ranks: usize,
        /// Split the run over the processes of an MPI job, one rank each: launch as
        /// `mpirun -np N pm run CONFIG --mpi` (needs a pm built with `--features mpi`).
        #[arg(long, conflicts_with = "ranks")]
        mpi: bool,
        /// Refuse the run when its memory estimate exceeds SIZE (512M, 2G, 1.5GiB, bytes)
        /// instead of the available memory (MemAvailable): lower it to test, raise it to
        /// force a run the estimate would refuse.
        #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
        max_memory: Option<String>,
        /// Refuse a lensing run whose lightcone is expected to find more than COUNT particle
        /// crossings (default 5e8, about a minute of projection per map on 2 cores).
        #[arg(long, value_name = "COUNT", allow_hyphen_values = true)]
        max_crossings: Option<String>,
    },
    /// Write the commented default config.
    Init {
        /// Where to write it.
        #[arg(default_value = "pm.toml")]
        path: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Check a config without running it.
    Validate {
        /// The config.
        config: PathBuf,
    },
    /// P(k) of a snapshot as CSV (k,power,modes,linear) on stdout or into a file.
    Power {
        /// A snapshot directory (e.g. pm-output/a_1.0000).
        snapshot: PathBuf,
        /// Mesh cells per side (default: the run's force mesh).
        #[arg(long)]
        mesh: Option<usize>,
        /// Write the CSV here instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Refuse the run when its memory estimate exceeds SIZE (512M, 2G, 1.5GiB, bytes)
        /// instead of the available memory (MemAvailable): lower it to test, raise it to
        /// force a run the estimate would refuse.
        #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
        max_memory: Option<String>,
    },
    /// Print a snapshot's metadata.
    Info {
        /// A snapshot directory.
        snapshot: PathBuf,
    },
    /// Check the adjoint gradient of a run against finite differences (in f64).
    GradCheck {
        /// A TOML config (default: the built-in one).
        config: Option<PathBuf>,
        /// Random white-noise directions to check.
        #[arg(long, default_value_t = 2)]
        directions: usize,
        /// Largest relative error accepted. In f64 the agreement is 1e-9 to 1e-7 unless a
        /// particle crosses a cell boundary within a difference's step (mass assignment is
        /// piecewise smooth), which can cost up to ~1e-5; a wrong gradient is off by O(1).
        #[arg(long, default_value_t = 1e-4)]
        tolerance: f64,
        /// Refuse the run when its memory estimate exceeds SIZE (512M, 2G, 1.5GiB, bytes)
        /// instead of the available memory (MemAvailable): lower it to test, raise it to
        /// force a run the estimate would refuse.
        #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
        max_memory: Option<String>,
    },
    /// Recover the white noise of a snapshot's run from its final density.
    Reconstruct {
        /// The data: a snapshot directory written by `pm run`.
        snapshot: PathBuf,
        /// Adam stages ITERATIONS:SIGMA:SMOOTHING_MPC:LEARNING_RATE, comma separated.
        #[arg(long, default_value = "40:0.5:4:0.01,40:0.5:2:0.005,40:0.5:1:0.0025")]
        schedule: String,
        /// Mesh cells per side of the data density (default: particles per side).
        #[arg(long)]
        mesh: Option<usize>,
        /// Where to write the results.
        #[arg(long, default_value = "pm-reconstruction")]
        output: PathBuf,
        /// Also write into a directory holding entries pm did not write (they are left
        /// alone).
        #[arg(long)]
        overwrite: bool,
        /// Print every this many iterations.
        #[arg(long, default_value_t = 10)]
        every: usize,
        /// Refuse the run when its memory estimate exceeds SIZE (512M, 2G, 1.5GiB, bytes)
        /// instead of the available memory (MemAvailable): lower it to test, raise it to
        /// force a run the estimate would refuse.
        #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
        max_memory: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away: stop quietly, as `head` expects a writer to.
        Err(
            e @ CliError::Stdout {
                closed_pipe: true, ..
            },
        ) => ExitCode::from(e.exit_code()),
        Err(e) => {
            // Not eprintln!, which panics when stderr is gone (a terminal hung up: SIGHUP).
            warn!("pm: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// The closing lines of `pm run`.
fn print_summary(summary: &pm_cli::run::RunSummary) -> Result<(), CliError> {
    for s in &summary.snapshots {
        say!("wrote {}", s.display())?;
    }
    say!(
        "done: {:.2} s wall, peak memory {}, {:.3e} particle-steps/s, {} threads",
        summary.wall_seconds,
        summary
            .peak_memory_bytes
            .map(|b| format!("{:.0} MB", b as f64 / 1e6))
            .unwrap_or_else(|| "unknown".into()),
        summary.particle_steps_per_second,
        summary.threads
    )
}

/// `pm run --mpi`: this process's rank of the MPI job runs its share ([`pm_cli::run::run_on`]);
/// rank 0 prints. An error ends the process at once (after printing it with the rank), with
/// status 1, or 128 + the signal for a stopped run, so that `mpirun` stops the other ranks
/// instead of leaving them waiting.
#[cfg(feature = "mpi")]
fn run_mpi(plan: &RunPlan, options: &RunOptions) -> Result<(), CliError> {
    use pm_decomp::Comm;
    let Some(universe) = pm_decomp::mpi::initialize() else {
        return Err(CliError::Config {
            key: "--mpi".into(),
            reason: "MPI was already initialised in this process".into(),
        });
    };
    let comm = pm_decomp::MpiComm::world(&universe);
    let rank = comm.rank();
    match pm_cli::run::run_on(plan, options, &comm) {
        Ok(summary) => {
            if rank == 0 && options.progress {
                say!("pm run --mpi: {} ranks", comm.size())?;
                print_summary(&summary)?;
            }
            Ok(())
        }
        Err(e) => {
            warn!("pm run --mpi, rank {rank}: error: {e}");
            std::process::exit(i32::from(e.exit_code()));
        }
    }
}

/// Without the `mpi` feature, `--mpi` is refused with how to get it.
#[cfg(not(feature = "mpi"))]
fn run_mpi(_plan: &RunPlan, _options: &RunOptions) -> Result<(), CliError> {
    Err(CliError::Config {
        key: "--mpi".into(),
        reason: "this pm was built without MPI; build it with \
                 `cargo build --release -p pm-cli --features mpi` (needs an MPI library and libclang)"
            .into(),
    })
}

/// The config at `path` (or the default) and the directory its relative paths start from.
fn load(path: Option<&Path>) -> Result<RunPlan, CliError> {
    match path {
        Some(p) => {
            let base = p.parent().unwrap_or(Path::new("."));
            Config::read(p)?.plan(base)
        }
        None => Config::default().plan(Path::new(".")),
    }
}

/// `--mesh` must name at least one cell per side (its upper end is the memory estimate's).
fn check_mesh_option(mesh: Option<usize>) -> Result<(), CliError> {
    match mesh {
        Some(0) => Err(CliError::Config {
            key: "--mesh".into(),
            reason: "0 cells per side; give at least 1 (an even number for the FFT)".into(),
        }),
        _ => Ok(()),
    }
}

/// `--max-memory` parsed, or the machine's available memory.
fn memory_limit(max_memory: Option<&str>) -> Result<MemoryLimit, CliError> {
    Ok(MemoryLimit::new(
        max_memory.map(estimate::parse_size).transpose()?,
    ))
}

fn execute(command: Command) -> Result<(), CliError> {
    match command {
        Command::Run {
            config,
            output,
            overwrite,
            quiet,
            ranks,
            mpi,
            max_memory,
            max_crossings,
        } => {
            let plan = load(config.as_deref())?;
            let limit = memory_limit(max_memory.as_deref())?;
            let max_crossings = match max_crossings.as_deref() {
                Some(text) => estimate::parse_count(text)?,
                None => estimate::MAX_CROSSINGS,
            };
            if !mpi {
                pm_cli::run::check_ranks(&plan, ranks)?;
            }
            // Before any work and before the run directory is touched. Under --mpi each
            // process holds its share, which is unknown here: only the lightcone is checked.
            let estimate = Estimate::run(&plan, if mpi { 1 } else { ranks })?;
            estimate::check_crossings(&estimate, max_crossings)?;
            if !mpi {
                estimate::check_memory(&estimate, &limit, "pm run")?;
            }
            install_interrupt_handler()?;
            let directory = output.unwrap_or_else(|| plan.config.output.directory.clone());
            let options = RunOptions {
                directory,
                overwrite,
                progress: !quiet,
                ranks,
            };
            if mpi {
                return run_mpi(&plan, &options);
            }
            let directory = &options.directory;
            let s = &plan.config.simulation;
            if !quiet {
                say!(
                    "pm run: {}^3 particles, {}^3 mesh, {} Mpc/h, {} {} steps from a = {} to {}, \
                     {} -> {}",
                    s.particles,
                    s.mesh,
                    s.box_size,
                    plan.scale_factors.len() - 1,
                    toml::Value::try_from(s.stepper)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default(),
                    plan.scale_factors[0],
                    plan.scale_factors.last().copied().unwrap_or_default(),
                    match s.precision {
                        pm_cli::config::Precision::F32 => "f32",
                        pm_cli::config::Precision::F64 => "f64",
                    },
                    directory.display()
                )?;
            }
            let summary = run(&plan, &options)?;
            if !quiet {
                print_summary(&summary)?;
            }
            Ok(())
        }
        Command::Init { path, force } => {
            if path.exists() && !force {
                return Err(CliError::Io {
                    path,
                    reason: "exists already (pass --force to replace it)".into(),
                });
            }
            pm_cli::output::write_bytes(&path, DEFAULT_CONFIG.as_bytes())?;
            say!("wrote {}", path.display())
        }
        Command::Validate { config } => {
            let plan = load(Some(&config))?;
            let estimate = Estimate::run(&plan, 1)?;
            say!(
                "{}: valid ({} steps, snapshots at a = {:?}, cosmology Omega_m = {:.4}, sigma8 = {:.4})",
                config.display(),
                plan.scale_factors.len() - 1,
                plan.outputs
                    .iter()
                    .map(|&i| plan.scale_factors[i])
                    .collect::<Vec<_>>(),
                plan.cosmology.omega_m(),
                plan.power.sigma8()
            )?;
            say!(
                "estimate: {} ({})",
                estimate.summary(),
                estimate.breakdown()
            )?;
            let limit = estimate::available_memory();
            let refusal = estimate::check_crossings(&estimate, estimate::MAX_CROSSINGS)
                .err()
                .or_else(|| estimate::check_memory(&estimate, &limit, "pm run").err());
            match (refusal, &limit) {
                (Some(e), _) => say!("pm run would be refused on this machine: {e}"),
                (None, estimate::MemoryLimit::Available(b)) => {
                    say!("fits this machine ({} available)", estimate::Bytes(*b))
                }
                (None, _) => say!("the available memory is unknown"),
            }
        }
        Command::Power {
            snapshot,
            mesh,
            output,
            max_memory,
        } => {
            check_mesh_option(mesh)?;
            let limit = memory_limit(max_memory.as_deref())?;
            let meta = SnapshotMeta::read(&snapshot)?;
            let n = mesh.unwrap_or(meta.mesh);
            let entry_dtype = meta.files.get("positions").map(|e| e.dtype.as_str());
            let t_bytes = if entry_dtype == Some("float64") { 8 } else { 4 };
            let key = if mesh.is_some() {
                "--mesh"
            } else {
                "--mesh (default: the snapshot's mesh)"
            };
            let estimate = Estimate::power(meta.particles, t_bytes, n, key)?;
            estimate::check_memory(&estimate, &limit, "pm power")?;
            let power = if entry_dtype == Some("float64") {
                let x = read_positions::<f64>(&snapshot, &meta)?;
                measure_density(&Positions::Absolute(&x), meta.box_size, n, Scheme::Cic)?.1
            } else {
                let x = read_positions::<f32>(&snapshot, &meta)?;
                measure_density(&Positions::Absolute(&x), meta.box_size, n, Scheme::Cic)?.1
            };
            let linear = pm_cosmo::LinearPower::eisenstein_hu(&meta.cosmology)
                .ok()
                .filter(|_| meta.power_spectrum.starts_with("eisenstein_hu"))
                .and_then(|p| {
                    let g = pm_cosmo::GrowthTable::new(&meta.cosmology).ok()?;
                    Some(
                        power
                            .k
                            .iter()
                            .map(|&k| p.power_at(k, meta.a, &g).unwrap_or(f64::NAN))
                            .collect::<Vec<_>>(),
                    )
                });
            match output {
                Some(path) => write_power_csv(&path, &power, linear.as_deref()),
                None => pm_cli::terminal::say_text(&power_csv(&power, linear.as_deref())),
            }
        }
        Command::Info { snapshot } => {
            let meta = SnapshotMeta::read(&snapshot)?;
            let text = serde_json::to_string_pretty(&meta).map_err(|e| CliError::Snapshot {
                path: snapshot.join("meta.json"),
                reason: e.to_string(),
            })?;
            say!("{text}")
        }
        Command::GradCheck {
            config,
            directions,
            tolerance,
            max_memory,
        } => {
            if !(tolerance.is_finite() && tolerance >= 0.0) {
                return Err(CliError::Config {
                    key: "--tolerance".into(),
                    reason: format!("{tolerance} must be a finite number >= 0"),
                });
            }
            let plan = load(config.as_deref())?;
            let limit = memory_limit(max_memory.as_deref())?;
            // The check runs in f64 whatever the config's precision.
            let mut f64_plan = plan.clone();
            f64_plan.config.simulation.precision = pm_cli::config::Precision::F64;
            let mesh = plan.config.simulation.mesh;
            let estimate = Estimate::adjoint(&f64_plan, mesh, "simulation.mesh", false)?;
            estimate::check_memory(&estimate, &limit, "pm grad-check")?;
            install_interrupt_handler()?;
            say!(
                "pm grad-check: d L / d(input) of L = sum(delta^2) / 2N on the final density, \
                 adjoint against central differences, f64"
            )?;
            let checks = grad_check(&plan, directions)?;
            let mut worst: f64 = 0.0;
            for c in &checks {
                say!(
                    "  {:28} adjoint {:+.10e}  finite difference {:+.10e}  relative error {:.2e}",
                    c.name,
                    c.adjoint,
                    c.finite_difference,
                    c.relative_error
                )?;
                worst = worst.max(c.relative_error);
            }
            if worst > tolerance {
                return Err(CliError::Config {
                    key: "grad-check".into(),
                    reason: format!("largest relative error {worst:.2e} exceeds {tolerance:.0e}"),
                });
            }
            say!("all {} checks within {tolerance:.0e}", checks.len())
        }
        Command::Reconstruct {
            snapshot,
            schedule,
            mesh,
            output,
            overwrite,
            every,
            max_memory,
        } => {
            check_mesh_option(mesh)?;
            install_interrupt_handler()?;
            let options = ReconstructOptions {
                stages: parse_stages(&schedule)?,
                mesh,
                directory: output,
                overwrite,
                every,
                memory: memory_limit(max_memory.as_deref())?,
            };
            // A progress line that cannot be printed does not stop the reconstruction; the
            // first such failure is reported once its results are written.
            let mut printed = Ok(());
            let written = reconstruct_snapshot(&snapshot, &options, &mut |line| {
                if printed.is_ok() {
                    printed = say!("{line}");
                }
            })?;
            printed?;
            for p in written {
                say!("wrote {}", p.display())?;
            }
            Ok(())
        }
    }
}
