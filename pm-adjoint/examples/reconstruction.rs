//! Reconstruction of the initial conditions from a final density field (FlowPM's toy
//! problem): make a "true" final density from a true white noise, then recover the white
//! noise from that noise-free density by Adam on likelihood + prior, starting from zero
//! noise, and compare the reconstructed and true linear densities per k bin (cross-correlation
//! r(k) and transfer function T(k)).
//!
//! ```text
//! cargo run --release -p pm-adjoint --features tools --example reconstruction -- \
//!     [--particles 64] [--mesh 64] [--box 128] [--steps 5] [--seed 42] [--f64] \
//!     [--schedule ITERS:SIGMA:SMOOTHING:LR,...] [--prior-weight 1] [--reset]
//! ```
//!
//! The default schedule (120 Adam steps, see `DEFAULT_SCHEDULE`) starts with the 30 steps
//! that the test `tests/adjoint/reconstruction.rs` asserts on.

use std::time::Instant;

use pm_adjoint::{
    AdamOptions, ReconstructionOptions, Stage, compare_linear, painted_density, reconstruct,
};
use pm_cosmo::Cosmology;
use pm_fft::Real;
use pm_integrate::{Simulation, TimeSteps};
use pm_mesh::{Mesh, PowerOptions, RealField, Scheme};

/// The default schedule: the residual's smoothing annealed from 4 to 2 to 1 Mpc/h (large
/// scales first) with the learning rate halved at each stage (larger rates at later stages
/// wreck the large scales, see the report of issue 5); sigma = 0.5 keeps the likelihood
/// dominant out to k ~ 1 h/Mpc (the `q(k)` printed). Its first 30 steps are the test's.
const DEFAULT_SCHEDULE: &str = "40:0.5:4:0.01,40:0.5:2:0.005,40:0.5:1:0.0025";

struct Args {
    particles: usize,
    mesh: usize,
    box_size: f64,
    steps: usize,
    seed: u64,
    f64: bool,
    schedule: Vec<Stage>,
    prior_weight: f64,
    reset: bool,
    every: usize,
    beta2: f64,
}

fn parse_schedule(s: &str) -> Vec<Stage> {
    s.split(',')
        .map(|stage| {
            let v: Vec<f64> = stage
                .split(':')
                .map(|x| x.parse().expect("schedule entries are numbers"))
                .collect();
            assert_eq!(v.len(), 4, "a stage is ITERS:SIGMA:SMOOTHING:LR");
            Stage {
                iterations: v[0] as usize,
                sigma: v[1],
                smoothing: v[2],
                learning_rate: v[3],
            }
        })
        .collect()
}

fn args() -> Args {
    let mut a = Args {
        particles: 64,
        mesh: 64,
        box_size: 128.0,
        steps: 5,
        seed: 42,
        f64: false,
        schedule: parse_schedule(DEFAULT_SCHEDULE),
        prior_weight: 1.0,
        reset: false,
        every: 10,
        beta2: 0.999,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--particles" => a.particles = value().parse().unwrap(),
            "--mesh" => a.mesh = value().parse().unwrap(),
            "--box" => a.box_size = value().parse().unwrap(),
            "--steps" => a.steps = value().parse().unwrap(),
            "--seed" => a.seed = value().parse().unwrap(),
            "--schedule" => a.schedule = parse_schedule(&value()),
            "--prior-weight" => a.prior_weight = value().parse().unwrap(),
            "--every" => a.every = value().parse().unwrap(),
            "--beta2" => a.beta2 = value().parse().unwrap(),
            "--f64" => a.f64 = true,
            "--reset" => a.reset = true,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn run<T: Real>(a: &Args) {
    let sim = Simulation::<T, _>::builder(Cosmology::planck18())
        .box_size(a.box_size)
        .particles(a.particles)
        .mesh(a.mesh)
        .steps(TimeSteps::LinearA {
            a_start: 0.1,
            a_end: 1.0,
            steps: a.steps,
        })
        .seed(a.seed)
        .build()
        .expect("valid simulation");
    let t0 = Instant::now();
    let truth = sim.white_noise().unwrap();
    let data_mesh = Mesh::cubic(a.mesh, a.box_size).unwrap();
    let data = painted_density(&sim.run(&mut []).unwrap(), data_mesh, Scheme::Cic).unwrap();
    let forward = t0.elapsed().as_secs_f64();
    println!(
        "{}: {}^3 particles, {}^3 mesh, {} Mpc/h, {} FastPM steps from a = 0.1 (2LPT), seed {}; \
         data: noise-free CIC density, var(delta) = {:.3} (forward run {forward:.2} s)",
        T::NAME,
        a.particles,
        a.mesh,
        a.box_size,
        a.steps,
        a.seed,
        data.as_slice()
            .iter()
            .map(|v| v.as_f64().powi(2))
            .sum::<f64>()
            / data_mesh.n_cells() as f64,
    );
    println!("schedule (iterations, sigma, smoothing Mpc/h, learning rate):");
    for st in &a.schedule {
        // Linear theory at a = 1, window ignored: a white-noise mode w_k moves delta_k by
        // sqrt(P N / V) w_k, so the likelihood's curvature per mode over the prior's is
        // q(k) = P(k) (N / V) exp(-k^2 R^2) / sigma^2: the likelihood dominates where q > 1.
        let q: Vec<String> = [0.1, 0.2, 0.5, 1.0]
            .iter()
            .map(|&k| {
                let p = sim.power().power(k).unwrap();
                let cell_volume = (a.box_size / a.particles as f64).powi(3);
                let q = p / cell_volume * (-k * k * st.smoothing * st.smoothing).exp()
                    / (st.sigma * st.sigma);
                format!("q({k}) = {q:.2e}")
            })
            .collect();
        println!(
            "  {:4} {:6} {:5} {:6}   {}",
            st.iterations,
            st.sigma,
            st.smoothing,
            st.learning_rate,
            q.join(", ")
        );
    }

    let options = ReconstructionOptions {
        prior_weight: a.prior_weight,
        reset_each_stage: a.reset,
        adam: AdamOptions {
            beta2: a.beta2,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut noise = RealField::zeros(*sim.particle_mesh());
    let t0 = Instant::now();
    let total: usize = a.schedule.iter().map(|s| s.iterations).sum();
    let history = reconstruct(
        &sim,
        &data,
        &mut noise,
        &a.schedule,
        &options,
        &mut |it, w| {
            if it.index % a.every == 0 || it.index + 1 == total {
                let r = compare_linear(&sim, &truth, w, &PowerOptions::default())
                    .unwrap()
                    .r();
                println!(
                    "iter {:4} stage {} loss {:.6e} (prior {:.4e}) |grad|_rms {:.3e} r(k1..4) \
                 {:.3} {:.3} {:.3} {:.3}  {:.1} s",
                    it.index,
                    it.stage,
                    it.loss,
                    it.prior,
                    it.gradient_rms,
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    t0.elapsed().as_secs_f64()
                );
            }
        },
    )
    .unwrap();
    let elapsed = t0.elapsed().as_secs_f64();
    let last = history.last().unwrap();
    println!(
        "{} iterations in {elapsed:.1} s ({:.3} s each); final loss {:.6e}",
        history.len(),
        elapsed / history.len() as f64,
        last.loss
    );

    let cross = compare_linear(&sim, &truth, &noise, &PowerOptions::default()).unwrap();
    let (r, tf) = (cross.r(), cross.transfer());
    println!("   k [h/Mpc]  modes      r(k)      T(k)");
    for i in 0..cross.k.len() {
        if cross.n_modes[i] > 0 {
            println!(
                "{:12.4} {:6} {:9.4} {:9.4}",
                cross.k[i], cross.n_modes[i], r[i], tf[i]
            );
        }
    }
}

fn main() {
    let a = args();
    if a.f64 {
        run::<f64>(&a);
    } else {
        run::<f32>(&a);
    }
}
