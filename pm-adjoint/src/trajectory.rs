//! The gradient of a trajectory term (a `pm_integrate::StepObservable`: a lightcone, a time
//! series of fields) through the whole run, checked against central differences: the
//! observable is fed by the forward run and differentiated inside the reverse run
//! ([`crate::value_and_gradient_along`]), so the trajectory is never stored.
//!
//! A step `i` takes the particles from the positions `x_i` at `a_i` to `x_{i+1}` at
//! `a_{i+1}`. An observable sees each step's pair `(x_i, x_{i+1})` in the forward run and
//! adds its value `L_obs` to the objective's. In the reverse run, when step `i` is undone
//! (both `x_{i+1}` and the recovered `x_i` at hand), it adds `dL_obs/dx_{i+1}` to the
//! cotangent of the displacements at `a_{i+1}` before the drift's adjoint and `dL_obs/dx_i`
//! after it: the positions enter the step's updates only through the drift and the forces,
//! so a term of the positions alone needs nothing else (see [`crate::reverse_with`]).

#[cfg(test)]
mod tests {
    //! The gradient of a smooth trajectory term, through every stepper, against central
    //! differences in f64 (1e-6 relative, as the other gradient checks: see
    //! `tests/adjoint/noise_gradient.rs` for why the step is 1e-6).

    use pm_cosmo::Cosmology;
    use pm_decomp::{Comm, SerialComm};
    use pm_integrate::{
        IntegrateError, Simulation, StepObservable, StepPositions, StepperKind, TimeSteps,
    };
    use pm_mesh::RealField;

    use crate::{WhiteNoisePrior, value_and_gradient_along};

    /// `L = sum_steps (a1 - a0) sum_p sin(k x1_p) cos(k y0_p)`, `k = 2 pi / L_box`: smooth,
    /// periodic, and it couples both ends of every step.
    struct Wave {
        k: f64,
        value: f64,
    }

    impl StepObservable<f64> for Wave {
        fn observe_step(&mut self, step: &StepPositions<'_, f64>) -> Result<(), IntegrateError> {
            let StepPositions { a0, a1, x0, x1, .. } = *step;
            for p in 0..x0.len() {
                let (u, v) = (x1.position(p)[0], x0.position(p)[1]);
                self.value += (a1 - a0) * (self.k * u).sin() * (self.k * v).cos();
            }
            Ok(())
        }

        fn finish(&mut self, _: &dyn Comm) -> Result<f64, IntegrateError> {
            Ok(self.value)
        }

        fn step_vjp(
            &self,
            step: &StepPositions<'_, f64>,
            x0_bar: &mut [[f64; 3]],
            x1_bar: &mut [[f64; 3]],
        ) -> Result<(), IntegrateError> {
            let StepPositions { a0, a1, x0, x1, .. } = *step;
            for p in 0..x0.len() {
                let (u, v) = (x1.position(p)[0], x0.position(p)[1]);
                let w = (a1 - a0) * self.k;
                x1_bar[p][0] += w * (self.k * u).cos() * (self.k * v).cos();
                x0_bar[p][1] -= w * (self.k * u).sin() * (self.k * v).sin();
            }
            Ok(())
        }
    }

    #[test]
    fn a_trajectory_term_has_the_finite_difference_gradient_for_every_stepper() {
        for stepper in [
            StepperKind::FastPm,
            StepperKind::Leapfrog,
            StepperKind::Cola,
        ] {
            let sim = Simulation::<f64, _>::builder(Cosmology::planck18())
                .box_size(32.0)
                .particles(8)
                .mesh(16)
                .stepper(stepper)
                .steps(TimeSteps::LinearA {
                    a_start: 0.1,
                    a_end: 1.0,
                    steps: 3,
                })
                .seed(11)
                .build()
                .unwrap();
            let mesh = *sim.particle_mesh();
            let noise = sim.white_noise().unwrap();
            let k = 2.0 * std::f64::consts::PI / 32.0;
            let loss = |w: &RealField<f64>| {
                let mut obs = Wave { k, value: 0.0 };
                value_and_gradient_along(&SerialComm, &sim, w, &WhiteNoisePrior::new(), &mut obs)
                    .unwrap()
                    .value
            };
            let mut obs = Wave { k, value: 0.0 };
            let prior = WhiteNoisePrior::new();
            let g = value_and_gradient_along(&SerialComm, &sim, &noise, &prior, &mut obs).unwrap();
            let direction =
                RealField::from_array(mesh, pm_integrate::white_noise::<f64>(mesh.shape(), 99))
                    .unwrap();
            let adjoint: f64 = g
                .noise
                .as_slice()
                .iter()
                .zip(direction.as_slice())
                .map(|(a, b)| a * b)
                .sum();
            let h = 1e-6;
            let moved = |s: f64| {
                let mut w = noise.clone();
                w.as_slice_mut()
                    .iter_mut()
                    .zip(direction.as_slice())
                    .for_each(|(x, d)| *x += s * h * d);
                loss(&w)
            };
            let fd = (moved(1.0) - moved(-1.0)) / (2.0 * h);
            // Without the trajectory term the gradient is the prior's alone: make sure the
            // term matters at the level tested.
            let prior_only: f64 = noise
                .as_slice()
                .iter()
                .zip(direction.as_slice())
                .map(|(a, b)| a * b)
                .sum();
            let rel = (adjoint - fd).abs() / fd.abs();
            println!(
                "{stepper:?}: adjoint {adjoint:.12e} fd {fd:.12e} rel {rel:.2e} (prior alone {prior_only:.4e})"
            );
            assert!((fd - prior_only).abs() > 1e-3 * fd.abs());
            assert!(rel < 1e-6, "{stepper:?}: {rel}");
        }
    }
}
