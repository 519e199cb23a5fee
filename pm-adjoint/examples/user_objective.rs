//! The gradient of an objective of your own with respect to the initial white noise.
//!
//! `cargo run -p pm-adjoint --example user_objective`
//!
//! The objective is the mean squared displacement of the particles at the end of the run,
//! `L = sum_i |disp_i|^2 / (2 N)` in (Mpc/h)^2: how far matter has moved from its initial
//! lattice. Implementing [`Objective`] means giving its value and its gradient with respect
//! to the final state (here `dL/d disp_i = disp_i / N`, `dL/d mom_i = 0`) and to the white
//! noise, if it depends on it explicitly (here not); [`value_and_gradient`] carries the
//! state part back through the whole simulation (kick-drift-kick steps, LPT, linear modes)
//! with the reverse-time adjoint.
//!
//! The run is small (16^3 particles, 32^3 mesh, 5 FastPM steps, f64). The example checks the
//! gradient along one direction `u` of the noise against the central finite difference
//! `(L(w + h u) - L(w - h u)) / 2h` and exits with status 1 if they differ by more than 1e-5
//! (relative). The step is small, `h = 1e-7`, because the map from the noise to the final
//! particles is only piecewise smooth: where a particle crosses a cell edge of the CIC force
//! mesh the force's derivative jumps, and a difference quotient straddling such a crossing
//! is off by up to ~1e-4 (with `h = 1e-6` and thousands of particles, some directions
//! straddle one). The adjoint itself is exact to rounding.

use pm_adjoint::{
    AdjointError, Objective, ObjectiveInput, ObjectiveOutput, StateCotangent, value_and_gradient,
};
use pm_cosmo::Cosmology;
use pm_decomp::{Comm, CommExt, SerialComm};
use pm_integrate::{IntegrateError, Simulation, TimeSteps, white_noise};

/// `L = sum_i |disp_i|^2 / (2 N)` over the final particles of every rank.
struct MeanSquareDisplacement;

impl Objective<f64> for MeanSquareDisplacement {
    fn name(&self) -> String {
        "mean squared displacement / 2".into()
    }

    fn evaluate(
        &self,
        comm: &dyn Comm,
        input: ObjectiveInput<'_, f64>,
    ) -> Result<ObjectiveOutput<f64>, AdjointError> {
        let state = input.state; // this rank's particles (all of them on one rank)
        let n = state.global_len(comm)? as f64;
        let local: f64 = state.disp.iter().flatten().map(|d| d * d).sum();
        // A reduction over the ranks (in rank order: the same value on every rank).
        let sum = comm.sum_f64(local).map_err(IntegrateError::from)?;
        let disp_bar = state.disp.iter().map(|d| d.map(|x| x / n)).collect();
        let mom_bar = vec![[0.0; 3]; state.len()];
        Ok(ObjectiveOutput {
            value: sum / (2.0 * n),
            noise: None, // no explicit dependence on the white noise
            state: Some(StateCotangent::new(disp_bar, mom_bar)),
        })
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulation::<f64, _>::builder(Cosmology::planck18())
        .box_size(64.0)
        .particles(16)
        .mesh(32)
        .steps(TimeSteps::LinearA {
            a_start: 0.1,
            a_end: 1.0,
            steps: 5,
        })
        .seed(7)
        .build()?;
    let objective = MeanSquareDisplacement;
    let noise = sim.white_noise()?; // w: the seed's white noise on the particle grid
    let grad = value_and_gradient(&SerialComm, &sim, &noise, &objective)?;
    println!(
        "L = {:.6} (Mpc/h)^2: rms displacement {:.3} Mpc/h",
        grad.value,
        (2.0 * grad.value).sqrt()
    );

    // One direction u in the space of white-noise fields (another seed's noise), and the
    // objective of a forward run from w + s u.
    let mesh = *sim.particle_mesh();
    let u = white_noise::<f64>(mesh.shape(), 1);
    let value_at = |s: f64| -> Result<f64, Box<dyn std::error::Error>> {
        let mut w = noise.clone();
        for (w, u) in w.as_slice_mut().iter_mut().zip(u.iter()) {
            *w += s * u;
        }
        let state = sim.evolve(sim.initial_state_from(&SerialComm, &w)?, &mut [])?;
        let input = ObjectiveInput {
            noise: &w,
            state: &state,
        };
        Ok(objective.evaluate(&SerialComm, input)?.value)
    };
    let h = 1e-7;
    let fd = (value_at(h)? - value_at(-h)?) / (2.0 * h);
    let adjoint: f64 = grad
        .noise
        .as_slice()
        .iter()
        .zip(u.iter())
        .map(|(g, u)| g * u)
        .sum();
    let rel = (adjoint - fd).abs() / fd.abs();
    println!(
        "dL/dw . u: adjoint {adjoint:.10e}, finite difference {fd:.10e}, relative difference {rel:.1e}"
    );
    if rel.is_nan() || rel > 1e-5 {
        eprintln!("FAILED: the adjoint gradient disagrees with the finite difference");
        std::process::exit(1);
    }
    Ok(())
}
