//! The checkpointing baseline against the reverse-time adjoint: the same gradients to
//! 1e-10 relative in f64 (both are exact to rounding; they differ only in whether the states
//! are recovered by integrating backwards, reversible to ~1e-13, or recomputed forward).

use pm_adjoint::{
    Integration, StateCotangent, forward_checkpointed, reverse, reverse_checkpointed,
};
use pm_cosmo::Cosmology;
use pm_decomp::SerialComm;
use pm_force::SharpenedKernel;
use pm_integrate::{Simulation, StepperKind, TimeSteps};
use pm_testkit::{SplitMix64, max_rel_diff3};

fn rel_scalar(a: f64, b: f64) -> f64 {
    if a == b { 0.0 } else { (a - b).abs() / b.abs() }
}

#[test]
fn checkpointed_gradient_equals_the_reverse_adjoint() {
    for stepper in [
        StepperKind::FastPm,
        StepperKind::Leapfrog,
        StepperKind::Cola,
    ] {
        let sim = Simulation::<f64, _>::builder(Cosmology::planck18())
            .box_size(64.0)
            .particles(8)
            .mesh(16)
            .kernel(SharpenedKernel::new([0.2, 0.1, -0.1]))
            .stepper(stepper)
            .steps(TimeSteps::LinearA {
                a_start: 0.1,
                a_end: 1.0,
                steps: 5,
            })
            .seed(9)
            .build()
            .unwrap();
        let start = sim.initial_state(&SerialComm).unwrap();
        let n = start.len();
        let mut rng = SplitMix64::new(1);
        let cotangent = StateCotangent::new(rng.vec3(n), rng.vec3(n));
        let end = sim.evolve(start.clone(), &mut []).unwrap();
        let want = reverse(
            &SerialComm,
            Integration::of(&sim),
            end.clone(),
            cotangent.clone(),
        )
        .unwrap();
        for every in [1, 2, 3, 5, 7] {
            let (last, checkpoints) =
                forward_checkpointed(Integration::of(&sim), start.clone(), every).unwrap();
            assert_eq!(last.disp, end.disp);
            assert_eq!(last.mom, end.mom);
            assert_eq!(checkpoints.states.len(), 5usize.div_ceil(every));
            let got = reverse_checkpointed(Integration::of(&sim), &checkpoints, cotangent.clone())
                .unwrap();
            let mut worst: f64 = 0.0;
            worst = worst.max(max_rel_diff3(&got.cotangent.disp, &want.cotangent.disp));
            worst = worst.max(max_rel_diff3(&got.cotangent.mom, &want.cotangent.mom));
            worst = worst.max(rel_scalar(got.prefactor, want.prefactor));
            for (g, w) in got.kernel_params.iter().zip(&want.kernel_params) {
                worst = worst.max(rel_scalar(*g, *w));
            }
            for (g, w) in got.steps.iter().zip(&want.steps) {
                for (x, y) in [(g.kick1, w.kick1), (g.drift, w.drift), (g.kick2, w.kick2)]
                    .into_iter()
                    .chain(g.psi.into_iter().zip(w.psi))
                {
                    worst = worst.max(rel_scalar(x, y));
                }
            }
            match (&got.cotangent.lpt, &want.cotangent.lpt) {
                (None, None) => assert_ne!(stepper, StepperKind::Cola),
                (Some(g), Some(w)) => {
                    assert_eq!(stepper, StepperKind::Cola);
                    worst = worst.max(max_rel_diff3(&g.psi1, &w.psi1));
                    worst = worst.max(max_rel_diff3(
                        g.psi2.as_ref().unwrap(),
                        w.psi2.as_ref().unwrap(),
                    ));
                }
                _ => panic!("one has LPT cotangents and the other not"),
            }
            println!(
                "{stepper:?}, checkpoint every {every}: largest relative difference {worst:.1e}"
            );
            assert!(worst < 1e-10, "{worst}");
            assert_eq!(got.initial.disp, start.disp);
        }
    }
}

#[test]
fn checkpoints_that_do_not_fit_are_errors() {
    let sim = Simulation::<f64, _>::builder(Cosmology::planck18())
        .box_size(64.0)
        .particles(4)
        .mesh(8)
        .steps(TimeSteps::LinearA {
            a_start: 0.1,
            a_end: 1.0,
            steps: 3,
        })
        .build()
        .unwrap();
    let start = sim.initial_state(&SerialComm).unwrap();
    let run = |every| forward_checkpointed(Integration::of(&sim), start.clone(), every);
    assert!(run(0).is_err());
    let (_, mut checkpoints) = run(2).unwrap();
    checkpoints.every = 1;
    let err = reverse_checkpointed(
        Integration::of(&sim),
        &checkpoints,
        StateCotangent::zeros(start.len()),
    )
    .unwrap_err();
    println!("{err}");
}
