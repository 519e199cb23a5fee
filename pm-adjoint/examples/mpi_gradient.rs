//! The gradient of a distributed run under MPI, checked against the serial gradient.
//!
//! ```text
//! cargo build --release -p pm-adjoint --features mpi --example mpi_gradient
//! mpirun --allow-run-as-root --oversubscribe -np 2 \
//!     target/release/examples/mpi_gradient [PARTICLES [MESH [BOX [STEPS]]]]
//! ```
//!
//! Builds every rank's share of the same [`Simulation`] (`PARTICLES^3` particles, default
//! 16, on a `MESH^3` force mesh, default 32, in a `BOX` Mpc/h box, default 64, 2LPT at a =
//! 0.1 and `STEPS` FastPM steps to a = 1, default 4, f64) on `MpiComm::world` and
//! differentiates a Gaussian likelihood of the painted final density plus the white-noise
//! prior with `value_and_gradient`. Rank 0 then computes the one-rank `value_and_gradient`
//! on `SerialComm` and prints one line with `max |diff| / max |serial|` of the
//! white-noise gradient, the value, the prefactor and step-coefficient gradients, and the
//! wall times. Exits with status 1 when any exceeds `1e-10` or anything fails.

use std::time::Instant;

use pm_adjoint::{
    GaussianLikelihood, Painted, Sigma, StepCoefficientGradients, Sum, WhiteNoisePrior,
    value_and_gradient,
};
use pm_cosmo::Cosmology;
use pm_decomp::{Comm, MpiComm, SerialComm};
use pm_integrate::{Simulation, StepperKind, TimeSteps};
use pm_mesh::{Mesh, RealField};
use pm_testkit::max_rel_diff_or_abs;

type Error = Box<dyn std::error::Error>;

/// Relative tolerance of the comparison with the serial gradient.
const TOLERANCE: f64 = 1e-10;

fn count(args: &[String], i: usize, default: usize) -> Result<usize, Error> {
    match args.get(i) {
        None => Ok(default),
        Some(s) => Ok(s
            .parse::<usize>()
            .map_err(|e| format!("argument {} ({s:?}): {e}", i + 1))?),
    }
}

/// A Gaussian likelihood (sigma 0.5) of the painted density against a smooth made-up
/// field, plus the white-noise prior.
fn objective(mesh: Mesh) -> Result<Sum<'static, f64>, Error> {
    let [n0, n1, n2] = mesh.shape();
    let t = std::f64::consts::TAU;
    let data = ndarray::Array3::from_shape_fn((n0, n1, n2), |(i, j, k)| {
        0.3 * (t * i as f64 / n0 as f64).sin() * (t * j as f64 / n1 as f64).cos()
            + 0.1 * (2.0 * t * k as f64 / n2 as f64).sin()
    });
    let likelihood =
        GaussianLikelihood::new(RealField::from_array(mesh, data)?, Sigma::Scalar(0.5))?;
    Ok(Sum::new()
        .with(Painted::new(likelihood))
        .with(WhiteNoisePrior::new()))
}

fn flat(steps: &[StepCoefficientGradients]) -> Vec<f64> {
    steps
        .iter()
        .flat_map(|g| [g.kick1, g.drift, g.kick2].into_iter().chain(g.psi))
        .collect()
}

/// Runs on this rank; on rank 0 returns the summary line and whether the check passed.
fn run(comm: &MpiComm, args: &[String]) -> Result<Option<(String, bool)>, Error> {
    let particles = count(args, 0, 16)?;
    let mesh = count(args, 1, 32)?;
    let box_size: f64 = match args.get(2) {
        None => 64.0,
        Some(s) => s.parse().map_err(|e| format!("argument 3 ({s:?}): {e}"))?,
    };
    let steps = count(args, 3, 4)?;
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
    let grid = *sim.particle_mesh();
    let objective_here = objective(grid)?;
    comm.barrier()?;
    let t = Instant::now();
    let g = value_and_gradient(comm, &sim, &sim.noise_block()?, &objective_here)?;
    comm.barrier()?;
    let t_dist = t.elapsed().as_secs_f64();
    let noise = g.gather_noise(comm)?;
    if comm.rank() != 0 {
        return Ok(None);
    }
    let t = Instant::now();
    let one = builder().build()?;
    let serial = value_and_gradient(&SerialComm, &one, &one.white_noise()?, &objective(grid)?)?;
    let t_serial = t.elapsed().as_secs_f64();
    let d_noise = max_rel_diff_or_abs(
        noise.as_slice().iter().copied(),
        serial.noise.as_slice().iter().copied(),
    );
    let d_value = ((g.value - serial.value) / serial.value).abs();
    let d_prefactor = ((g.prefactor - serial.prefactor) / serial.prefactor).abs();
    let d_steps = max_rel_diff_or_abs(flat(&g.steps), flat(&serial.steps));
    let worst = d_noise.max(d_value).max(d_prefactor).max(d_steps);
    let ok = worst <= TOLERANCE;
    let line = format!(
        "mpi_gradient {}: {} ranks, {particles}^3 particles, {mesh}^3 mesh, {box_size} Mpc/h, \
         {steps} FastPM steps, f64: max|diff|/max|serial| noise gradient {d_noise:.2e}, value \
         {d_value:.2e}, prefactor {d_prefactor:.2e}, steps {d_steps:.2e} (tolerance \
         {TOLERANCE:.0e}); distributed {t_dist:.3} s, serial {t_serial:.3} s",
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
