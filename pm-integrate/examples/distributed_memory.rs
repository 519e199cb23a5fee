//! Time and peak memory of a distributed forward run on thread ranks, against the serial run.
//!
//! ```text
//! cargo run --release -p pm-integrate --features tools --example distributed_memory -- \
//!     PARTICLES MESH RANKS [f32|f64] [STEPS]
//! ```
//!
//! Runs `Simulation::run_on` on `RANKS` thread ranks (`0`: the serial `Simulation::run`
//! instead) for `PARTICLES^3` particles on a `MESH^3` force mesh in a
//! 256 Mpc/h box, 2LPT at a = 0.1 and FastPM steps to a = 1 (10 by default), and prints the
//! wall time and the process's peak resident memory (`VmHWM` of `/proc/self/status`, Linux).
//! The ranks are threads of one process, so the peak is that of all ranks together: divide
//! by `RANKS` for the memory per rank. Run each rank count in its own process (the peak
//! never decreases).

use std::time::Instant;

use pm_cosmo::Cosmology;
use pm_decomp::ThreadComm;
use pm_fft::Real;
use pm_integrate::{Simulation, TimeSteps};

/// Peak resident memory of this process in MiB, if `/proc` tells.
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn run<T: Real>(
    particles: usize,
    mesh: usize,
    ranks: usize,
    steps: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let builder = || {
        Simulation::<T, _>::builder(Cosmology::planck18())
            .box_size(256.0)
            .particles(particles)
            .mesh(mesh)
            .steps(TimeSteps::LinearA {
                a_start: 0.1,
                a_end: 1.0,
                steps,
            })
            .seed(1)
    };
    let before = peak_mib();
    let t = Instant::now();
    let n = if ranks == 0 {
        builder().build()?.run(&mut [])?.len()
    } else {
        ThreadComm::run(ranks, |comm| {
            let sim = builder().build_on(comm)?;
            sim.run_on(comm, &mut []).map(|s| s.len())
        })?
        .into_iter()
        .sum::<Result<usize, _>>()?
    };
    let secs = t.elapsed().as_secs_f64();
    let peak = peak_mib();
    let fmt = |m: Option<f64>| m.map_or("?".to_string(), |m| format!("{m:.0} MiB"));
    println!(
        "{} {particles}^3 particles, {mesh}^3 mesh, {steps} steps, {}: {n} particles, \
         {secs:.2} s, peak RSS {} (after set-up {}), per rank {}",
        T::NAME,
        if ranks == 0 {
            "serial".to_string()
        } else {
            format!("{ranks} thread ranks")
        },
        fmt(peak),
        fmt(before),
        fmt(peak.map(|p| p / ranks.max(1) as f64)),
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: distributed_memory PARTICLES MESH RANKS [f32|f64] [STEPS]";
    let num = |i: usize| -> Result<usize, Box<dyn std::error::Error>> {
        Ok(args.get(i).ok_or(usage)?.parse::<usize>()?)
    };
    let (particles, mesh, ranks) = (num(0)?, num(1)?, num(2)?);
    let steps = if args.len() > 4 { num(4)? } else { 10 };
    match args.get(3).map(String::as_str).unwrap_or("f32") {
        "f32" => run::<f32>(particles, mesh, ranks, steps),
        "f64" => run::<f64>(particles, mesh, ranks, steps),
        other => Err(format!("unknown precision {other}; {usage}").into()),
    }
}
