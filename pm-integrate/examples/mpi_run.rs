//! A distributed forward run under MPI, checked against the serial run.
//!
//! ```text
//! cargo build --release -p pm-integrate --features mpi --example mpi_run
//! mpirun --allow-run-as-root --oversubscribe -np 2 \
//!     target/release/examples/mpi_run [PARTICLES [MESH [BOX [STEPS]]]]
//! ```
//!
//! Builds every rank's share of the same [`Simulation`] (`PARTICLES^3` particles, default 32,
//! on a `MESH^3` force mesh, default 64, in a `BOX` Mpc/h box, default 128, 2LPT at a = 0.1
//! and `STEPS` FastPM steps to a = 1, default 10, f64) on `MpiComm::world`, runs it with
//! `Simulation::run_on` and gathers the particles. Rank 0 then runs the one-rank
//! `Simulation::run` and prints one line with the agreement, `max |diff| / max |serial|`
//! of the displacements and of the momenta, and the wall times. Exits with status 1 when
//! either exceeds `1e-10` or anything fails.

use std::time::Instant;

use pm_cosmo::Cosmology;
use pm_decomp::{Comm, MpiComm};
use pm_integrate::{Simulation, StepperKind, TimeSteps};
use pm_testkit::max_rel_diff_or_abs;

type Error = Box<dyn std::error::Error>;

/// Relative tolerance of the comparison with the serial run.
const TOLERANCE: f64 = 1e-10;

/// `max |a - b| / max |b|` over all components (`max |a - b|` when `b` is all zero).
fn rel_diff(a: &[[f64; 3]], b: &[[f64; 3]]) -> f64 {
    max_rel_diff_or_abs(a.iter().flatten().copied(), b.iter().flatten().copied())
}

fn arg(args: &[String], i: usize, default: f64) -> Result<f64, Error> {
    match args.get(i) {
        None => Ok(default),
        Some(s) => Ok(s
            .parse::<f64>()
            .map_err(|e| format!("argument {} ({s:?}): {e}", i + 1))?),
    }
}

fn count(args: &[String], i: usize, default: usize) -> Result<usize, Error> {
    match args.get(i) {
        None => Ok(default),
        Some(s) => Ok(s
            .parse::<usize>()
            .map_err(|e| format!("argument {} ({s:?}): {e}", i + 1))?),
    }
}

/// Runs on this rank; on rank 0 returns the summary line and whether the check passed.
fn run(comm: &MpiComm, args: &[String]) -> Result<Option<(String, bool)>, Error> {
    let particles = count(args, 0, 32)?;
    let mesh = count(args, 1, 64)?;
    let box_size = arg(args, 2, 128.0)?;
    let steps = count(args, 3, 10)?;
    let builder = || {
        Simulation::<f64, _>::builder(Cosmology::planck18())
            .box_size(box_size)
            .particles(particles)
            .mesh(mesh)
            .stepper(StepperKind::FastPm)
            .steps(TimeSteps::LinearA {
                a_start: 0.1,
                a_end: 1.0,
                steps,
            })
            .seed(1)
    };
    let sim = builder().build_on(comm)?;
    comm.barrier()?;
    let t = Instant::now();
    let local = sim.run_on(comm, &mut [])?;
    comm.barrier()?;
    let t_dist = t.elapsed().as_secs_f64();
    let gathered = local.gather(comm)?;
    if comm.rank() != 0 {
        return Ok(None);
    }
    let t = Instant::now();
    let serial = builder().build()?.run(&mut [])?;
    let t_serial = t.elapsed().as_secs_f64();
    let d_disp = rel_diff(&gathered.disp, &serial.disp);
    let d_mom = rel_diff(&gathered.mom, &serial.mom);
    let ok = d_disp <= TOLERANCE && d_mom <= TOLERANCE;
    let line = format!(
        "mpi_run {}: {} ranks, {particles}^3 particles, {mesh}^3 mesh, {box_size} Mpc/h, \
         {steps} FastPM steps, f64: max|diff|/max|serial| disp {d_disp:.2e}, mom {d_mom:.2e} \
         (tolerance {TOLERANCE:.0e}); distributed {t_dist:.3} s, serial {t_serial:.3} s",
        if ok { "ok" } else { "FAILED" },
        comm.size(),
    );
    Ok(Some((line, ok)))
}

fn main() {
    let Some(universe) = pm_decomp::mpi::initialize() else {
        eprintln!("MPI was already initialised");
        std::process::exit(1);
    };
    let comm = MpiComm::world(&universe);
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&comm, &args) {
        Ok(Some((line, ok))) => {
            println!("{line}");
            if !ok {
                std::process::exit(1);
            }
        }
        Ok(None) => {}
        Err(e) => {
            eprintln!("rank {}: FAILED: {e}", comm.rank());
            std::process::exit(1);
        }
    }
}
