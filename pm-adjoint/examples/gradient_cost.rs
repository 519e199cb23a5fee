//! Wall time and peak memory of a forward run and of one gradient evaluation, for
//! docs/BENCHMARKS.md (issue 5: memory flat in the number of steps, under 2x the forward
//! run's peak, under 3x its time).
//!
//! ```text
//! cargo build --release -p pm-adjoint --features tools --example gradient_cost
//! /usr/bin/time -v target/release/examples/gradient_cost forward 128 10
//! /usr/bin/time -v target/release/examples/gradient_cost gradient 128 10
//! /usr/bin/time -v target/release/examples/gradient_cost gradient 128 100
//! ```
//!
//! Arguments: `forward|gradient`, particles per side `n` (mesh `n^3`, box `2 n` Mpc/h, as
//! docs/ARCHITECTURE.md's 128^3 / 256 Mpc/h speed setup), number of FastPM steps from a = 0.1 to 1; f32.
//! Run each case in its own process so that the peak RSS `/usr/bin/time -v` reports belongs
//! to that case alone. The objective is `L = sum_i |disp_i|^2 / 2 + sum noise^2 / 2`
//! (its cotangent is the final displacement: a dense, generic cotangent).

use pm_decomp::SerialComm;
use std::time::Instant;

use pm_adjoint::{AdjointError, Objective, ObjectiveInput, ObjectiveOutput, StateCotangent};
use pm_cosmo::Cosmology;
use pm_fft::Real;
use pm_integrate::{Simulation, TimeSteps};

/// `L = |disp|^2 / 2 + |noise|^2 / 2`.
struct Quadratic;

impl<T: Real> Objective<T> for Quadratic {
    fn name(&self) -> String {
        "quadratic".into()
    }

    fn evaluate(
        &self,
        _: &dyn pm_decomp::Comm,
        input: ObjectiveInput<'_, T>,
    ) -> Result<ObjectiveOutput<T>, AdjointError> {
        let d2: f64 = input
            .state
            .disp
            .iter()
            .flatten()
            .map(|v| v.as_f64().powi(2))
            .sum();
        let n2: f64 = input
            .noise
            .as_slice()
            .iter()
            .map(|v| v.as_f64().powi(2))
            .sum();
        let mut cot = StateCotangent::zeros(input.state.len());
        cot.disp.clone_from(&input.state.disp);
        Ok(ObjectiveOutput {
            value: 0.5 * (d2 + n2),
            noise: Some(input.noise.clone()),
            state: Some(cot),
        })
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: gradient_cost forward|gradient N STEPS [REPEAT]";
    let mode = args.get(1).ok_or(usage)?.clone();
    let n: usize = args.get(2).ok_or(usage)?.parse()?;
    let steps: usize = args.get(3).ok_or(usage)?.parse()?;
    // Optional: evaluate this many times in the process and report each (the first is cold:
    // FFT plans and the allocator's first touch of the buffers).
    let repeat: usize = args.get(4).map_or(Ok(1), |r| r.parse())?;
    let t0 = Instant::now();
    let sim = Simulation::<f32, _>::builder(Cosmology::planck18())
        .box_size(2.0 * n as f64)
        .particles(n)
        .mesh(n)
        .steps(TimeSteps::LinearA {
            a_start: 0.1,
            a_end: 1.0,
            steps,
        })
        .seed(1)
        .build()?;
    let noise = sim.white_noise()?;
    let t_setup = t0.elapsed().as_secs_f64();
    for _ in 0..repeat.max(1) {
        let t1 = Instant::now();
        match mode.as_str() {
            "forward" => {
                let state = sim.run(&mut [])?;
                let l: f64 = state
                    .disp
                    .iter()
                    .flatten()
                    .map(|v| v.as_f64().powi(2))
                    .sum();
                println!("forward: |disp|^2 / 2 = {:.6e}", 0.5 * l);
            }
            "gradient" => {
                let g = pm_adjoint::value_and_gradient(&SerialComm, &sim, &noise, &Quadratic)?;
                let gn: f64 = g.noise.as_slice().iter().map(|v| v.as_f64().powi(2)).sum();
                println!(
                    "gradient: L = {:.6e}, |dL/dnoise| = {:.6e}",
                    g.value,
                    gn.sqrt()
                );
            }
            _ => return Err(usage.into()),
        }
        println!(
            "{mode} n={n}^3 steps={steps}: setup {t_setup:.3} s, {mode} {:.3} s",
            t1.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
