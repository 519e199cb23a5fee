//! Strong scaling of the distributed forward run, with the wall time per phase.
//!
//! ```text
//! cargo run --release -p pm-integrate --features tools --example scaling -- [PARTICLES [MESH [STEPS [RANKS...]]]]
//! cargo build --release -p pm-integrate --features mpi,tools --example scaling
//! mpirun --allow-run-as-root --oversubscribe -np 4 \
//!     target/release/examples/scaling --mpi [PARTICLES [MESH [STEPS]]]
//! ```
//!
//! Runs `Simulation::evolve_on` for `PARTICLES^3` particles (default 128) on a `MESH^3` force mesh
//! (default 128) in a 256 Mpc/h box, 2LPT at a = 0.1 and `STEPS` FastPM steps to a = 1
//! (default 10), f32: on thread ranks (`ThreadComm`, one process) for each of `RANKS`
//! (default 1 2 4), or with `--mpi` (feature `mpi`) on the ranks of `MpiComm::world`. Prints
//! a markdown table: the wall time of the whole run, of the initial conditions and of the
//! steps, then the time per step of each phase of the steps (`Simulation::times`, the
//! maximum over ranks; initial conditions excluded). Phases are timed on each rank
//! including the time spent waiting for the others in collective calls.

use std::time::Instant;

use pm_cosmo::Cosmology;
use pm_decomp::{Comm, PhaseTimes, ThreadComm};
use pm_force::FastPmKernel;
use pm_integrate::{Simulation, StepperKind, TimeSteps};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// One row of the table.
struct Row {
    ranks: usize,
    wall: f64,
    ic: f64,
    steps: f64,
    per_step: PhaseTimes,
}

/// Runs the simulation on `comm`; every rank returns the same row.
fn measure(sim: &Simulation<f32, FastPmKernel>, comm: &dyn Comm) -> Result<Row, Error> {
    comm.barrier()?;
    let t0 = Instant::now();
    let state = sim.initial_state(comm)?;
    comm.barrier()?;
    let ic = t0.elapsed().as_secs_f64();
    sim.reset_times();
    let t1 = Instant::now();
    let state = sim.evolve_on(comm, state, &mut [])?;
    comm.barrier()?;
    let steps = t1.elapsed().as_secs_f64();
    let wall = t0.elapsed().as_secs_f64();
    let n_steps = sim.scale_factors().len().saturating_sub(1).max(1);
    let mut per_step = sim.times();
    // `other`: the rest of the steps (kicks, drifts, the kernel, agreements).
    per_step.other = (steps - (per_step.total() - per_step.other)).max(0.0);
    let per_step = per_step.max_over_ranks(comm)?.scaled(1.0 / n_steps as f64);
    drop(state);
    Ok(Row {
        ranks: comm.size(),
        wall,
        ic,
        steps,
        per_step,
    })
}

fn header(kind: &str) {
    println!(
        "| {kind} ranks | wall s | ICs s | steps s | per step: fft s | transpose s | paint s | \
         halo s | readout s | migration s | other s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
}

fn print_row(r: &Row) {
    let p = r.per_step;
    println!(
        "| {} | {:.2} | {:.2} | {:.2} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
        r.ranks,
        r.wall,
        r.ic,
        r.steps,
        p.fft,
        p.transpose,
        p.paint,
        p.halo,
        p.readout,
        p.migration,
        p.other
    );
}

fn parse(args: &[String], i: usize, default: usize) -> Result<usize, Error> {
    match args.get(i) {
        None => Ok(default),
        Some(s) => Ok(s
            .parse::<usize>()
            .map_err(|e| format!("argument {s:?}: {e}"))?),
    }
}

fn simulation(
    comm: &dyn Comm,
    [particles, mesh, steps]: [usize; 3],
) -> Result<Simulation<f32, FastPmKernel>, Error> {
    Ok(Simulation::<f32, _>::builder(Cosmology::planck18())
        .box_size(256.0)
        .particles(particles)
        .mesh(mesh)
        .stepper(StepperKind::FastPm)
        .steps(TimeSteps::LinearA {
            a_start: 0.1,
            a_end: 1.0,
            steps,
        })
        .seed(1)
        .build_on(comm)?)
}

#[cfg(feature = "mpi")]
fn run_mpi(args: &[String]) -> Result<(), Error> {
    let universe = pm_decomp::mpi::initialize().ok_or("MPI was already initialised")?;
    let comm = pm_decomp::MpiComm::world(&universe);
    let sizes = [
        parse(args, 0, 128)?,
        parse(args, 1, 128)?,
        parse(args, 2, 10)?,
    ];
    let sim = simulation(&comm, sizes)?;
    let row = measure(&sim, &comm)?;
    if comm.rank() == 0 {
        header("MPI");
        print_row(&row);
    }
    Ok(())
}

#[cfg(not(feature = "mpi"))]
fn run_mpi(_: &[String]) -> Result<(), Error> {
    Err("--mpi needs the example built with `--features mpi`".into())
}

fn main() -> Result<(), Error> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--mpi") {
        args.remove(i);
        return run_mpi(&args);
    }
    let sizes = [
        parse(&args, 0, 128)?,
        parse(&args, 1, 128)?,
        parse(&args, 2, 10)?,
    ];
    let ranks = if args.len() > 3 {
        (3..args.len())
            .map(|i| parse(&args, i, 1))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        vec![1, 2, 4]
    };
    header("thread");
    for n in ranks {
        let rows = ThreadComm::run(n, |comm| {
            simulation(comm, sizes)
                .and_then(|sim| measure(&sim, comm))
                .map_err(|e| e.to_string())
        })?;
        let row = rows
            .into_iter()
            .next()
            .ok_or("no ranks")?
            .map_err(|e| -> Error { e.into() })?;
        print_row(&row);
    }
    Ok(())
}
