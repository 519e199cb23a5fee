//! The reverse-time adjoint: reversibility, and gradients against finite differences.

use pm_adjoint::{Integration, StateCotangent, reverse};
use pm_cosmo::Cosmology;
use pm_decomp::SerialComm;
use pm_force::{ForceKernel, SharpenedKernel};
use pm_integrate::{Simulation, State, StepperKind, TimeSteps};
use pm_testkit::{SplitMix64, dot3};

fn simulation<K: ForceKernel>(stepper: StepperKind, kernel: K, omega_c: f64) -> Simulation<f64, K> {
    let mut cosmology = Cosmology::planck18();
    cosmology.omega_c = omega_c;
    Simulation::<f64, _>::builder(cosmology)
        .box_size(64.0)
        .particles(8)
        .mesh(16)
        .kernel(kernel)
        .stepper(stepper)
        .steps(TimeSteps::LinearA {
            a_start: 0.1,
            a_end: 1.0,
            steps: 3,
        })
        .seed(7)
        .build()
        .unwrap()
}

/// `L = <a, disp_N> + <b, mom_N>`.
fn objective<K: ForceKernel>(
    sim: &Simulation<f64, K>,
    start: &State<f64>,
    a: &[[f64; 3]],
    b: &[[f64; 3]],
) -> f64 {
    let end = sim.evolve(start.clone(), &mut []).unwrap();
    dot3(a, &end.disp) + dot3(b, &end.mom)
}

#[test]
fn reverse_integration_recovers_the_initial_state() {
    for stepper in [
        StepperKind::FastPm,
        StepperKind::Leapfrog,
        StepperKind::Cola,
    ] {
        let sim = simulation(stepper, SharpenedKernel::new([0.0; 3]), 0.2607);
        let start = sim.initial_state(&SerialComm).unwrap();
        let end = sim.evolve(start.clone(), &mut []).unwrap();
        let n = start.len();
        let back = reverse(
            &SerialComm,
            Integration::of(&sim),
            end,
            StateCotangent::zeros(n),
        )
        .unwrap();
        let rel = |a: &[[f64; 3]], b: &[[f64; 3]]| {
            let scale = b.iter().flatten().map(|v| v * v).sum::<f64>().sqrt();
            a.iter()
                .flatten()
                .zip(b.iter().flatten())
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f64>()
                .sqrt()
                / scale
        };
        let (ex, ep) = (
            rel(&back.initial.disp, &start.disp),
            rel(&back.initial.mom, &start.mom),
        );
        println!("{stepper:?}: forward and back, relative error disp {ex:.1e}, mom {ep:.1e}");
        assert!(ex < 1e-10 && ep < 1e-10);
        assert_eq!(back.initial.a, 0.1);
    }
}

#[test]
fn gradients_match_central_differences() {
    // Objective linear in the final state; perturb the initial state along a random
    // direction. The PM force is piecewise smooth (CIC), so with steps of 1e-6 Mpc/h no
    // particle crosses a cell edge in the difference and central differences are good to
    // ~1e-9: the test asks 1e-6 relative.
    let theta = [0.2, 0.1, -0.1];
    for stepper in [
        StepperKind::FastPm,
        StepperKind::Leapfrog,
        StepperKind::Cola,
    ] {
        let sim = simulation(stepper, SharpenedKernel::new(theta), 0.2607);
        let start = sim.initial_state(&SerialComm).unwrap();
        let n = start.len();
        let mut rng = SplitMix64::new(99);
        let (a, b) = (rng.vec3(n), rng.vec3(n));
        let (u, w) = (rng.vec3(n), rng.vec3(n));
        let end = sim.evolve(start.clone(), &mut []).unwrap();
        let grad = reverse(
            &SerialComm,
            Integration::of(&sim),
            end,
            StateCotangent::new(a.clone(), b.clone()),
        )
        .unwrap();
        // Initial state.
        let h = 1e-6;
        let shifted = |s: f64| {
            let mut st = start.clone();
            for i in 0..n {
                for k in 0..3 {
                    st.disp[i][k] += s * u[i][k];
                    st.mom[i][k] += s * w[i][k];
                }
            }
            objective(&sim, &st, &a, &b)
        };
        let fd = (shifted(h) - shifted(-h)) / (2.0 * h);
        let adj = dot3(&grad.cotangent.disp, &u) + dot3(&grad.cotangent.mom, &w);
        let rel = (fd - adj).abs() / fd.abs();
        println!(
            "{stepper:?}: d L / d state0 along a random direction: adjoint {adj:.12e}, fd {fd:.12e}, rel {rel:.1e}"
        );
        assert!(rel < 1e-6);
        // Kernel parameters.
        for j in 0..3 {
            let at = |s: f64| {
                let mut t = theta;
                t[j] += s;
                let sim = simulation(stepper, SharpenedKernel::new(t), 0.2607);
                objective(&sim, &start, &a, &b)
            };
            let fd = (at(1e-5) - at(-1e-5)) / 2e-5;
            let rel = (fd - grad.kernel_params[j]).abs() / fd.abs();
            println!(
                "  dL/dtheta_{j}: adjoint {:.10e}, fd {fd:.10e}, rel {rel:.1e}",
                grad.kernel_params[j]
            );
            assert!(rel < 1e-6);
        }
        // Force prefactor: vary it alone (the cosmology fixed otherwise).
        let at = |s: f64| {
            let mut sim = simulation(stepper, SharpenedKernel::new(theta), 0.2607);
            let c = sim.forces().prefactor + s;
            sim_set_prefactor(&mut sim, c);
            objective(&sim, &start, &a, &b)
        };
        let fd = (at(1e-6) - at(-1e-6)) / 2e-6;
        let rel = (fd - grad.prefactor).abs() / fd.abs();
        println!(
            "  dL/dc: adjoint {:.10e}, fd {fd:.10e}, rel {rel:.1e}",
            grad.prefactor
        );
        assert!(rel < 1e-6);
    }
}

fn sim_set_prefactor<K: ForceKernel>(sim: &mut Simulation<f64, K>, c: f64) {
    sim.forces_mut().prefactor = c;
}
