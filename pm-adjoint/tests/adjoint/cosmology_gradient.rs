//! Gradients with respect to the cosmological parameters (pm-adjoint's `cosmology` module)
//! against finite differences of the full forward run.
//!
//! The objective is `L = <w, disp_N> + <v, mom_N>` with fixed random `w`, `v`, on 8^3
//! particles, a 16^3 mesh, 3 steps from a = 0.1 to 1, and fixed white noise (seed 7). Each
//! parameter is moved with `Cosmology::shifted` and the `Simulation` rebuilt (growth table,
//! power spectrum, stepper, force prefactor), and the derivative taken by the fourth-order
//! central difference `[L(-2h) - 8 L(-h) + 8 L(h) - L(2h)] / 12h`.

use pm_adjoint::{
    AdjointError, CosmologyCotangents, Integration, ModeCotangent, Objective, ObjectiveInput,
    ObjectiveOutput, StateCotangent, cosmology_gradient, modes_gradient, reverse,
    run_cosmology_gradient, simulation_power, steps_gradient, value_and_gradient,
};
use pm_cosmo::{Cosmology, LinearPower, N_PARAMS, Param, derivative, value};
use pm_decomp::SerialComm;
use pm_force::FastPmKernel;
use pm_integrate::{Lpt, Simulation, State, StepperKind, TimeSteps};
use pm_mesh::{Complex, FourierField, Mesh, Scheme};
use pm_testkit::{SplitMix64, dot3};

const A_START: f64 = 0.1;

/// A cosmology off the special points (w0 = -1, wa = 0).
fn cosmology() -> Cosmology {
    let mut c = Cosmology::planck18();
    c.w0 = -0.95;
    c.wa = 0.05;
    c
}

fn simulation(
    cosmology: Cosmology,
    stepper: StepperKind,
    scheme: Scheme,
) -> Simulation<f64, FastPmKernel> {
    Simulation::<f64, _>::builder(cosmology)
        .box_size(64.0)
        .particles(8)
        .mesh(16)
        .stepper(stepper)
        .scheme(scheme)
        .steps(TimeSteps::LinearA {
            a_start: A_START,
            a_end: 1.0,
            steps: 3,
        })
        .seed(7)
        .build()
        .unwrap()
}

/// `L = <w, disp> + <v, mom>` of the final state.
struct Linear {
    w: Vec<[f64; 3]>,
    v: Vec<[f64; 3]>,
}

impl Linear {
    fn new(n: usize) -> Self {
        let mut rng = SplitMix64::new(99);
        Self {
            w: rng.vec3(n),
            v: rng.vec3(n),
        }
    }
    fn value(&self, s: &State<f64>) -> f64 {
        dot3(&self.w, &s.disp) + dot3(&self.v, &s.mom)
    }
}

impl Objective<f64> for Linear {
    fn name(&self) -> String {
        "linear".into()
    }
    fn evaluate(
        &self,
        _: &dyn pm_decomp::Comm,
        input: ObjectiveInput<'_, f64>,
    ) -> Result<ObjectiveOutput<f64>, AdjointError> {
        Ok(ObjectiveOutput {
            value: self.value(input.state),
            noise: None,
            state: Some(StateCotangent::new(self.w.clone(), self.v.clone())),
        })
    }
}

/// Finite-difference step of each parameter: `rel` times its size.
///
/// The PM force with CIC assignment is only piecewise smooth in the particle positions (its
/// derivative jumps where a particle crosses a cell edge), so the step must be small enough
/// that no particle crosses an edge between the five evaluations, and large enough to keep
/// rounding small. Measured on these runs (worst over the 21 parameter-stepper pairs of the
/// full chain): rel = 1e-6: 1.3e-7 (rounding); 3e-6: 8e-8; 1e-5: 3.9e-4 (one crossing,
/// FastPM, amplitude); 3e-5 and 1e-4: 1e-4 to 3e-2 (crossings). `PM_FD_REL` overrides.
fn step(p: Param, rel: f64) -> f64 {
    let scale = match p {
        Param::OmegaM => 0.3,
        Param::OmegaB => 0.05,
        Param::H => 0.7,
        Param::Ns => 1.0,
        Param::Amplitude => 0.8,
        Param::W0 => 1.0,
        Param::Wa => 1.0,
    };
    let rel = std::env::var("PM_FD_REL")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(rel);
    scale * rel
}

/// `[f(-2h) - 8 f(-h) + 8 f(h) - f(2h)] / 12h`.
fn central(f: impl Fn(f64) -> f64, h: f64) -> f64 {
    (f(-2.0 * h) - 8.0 * f(-h) + 8.0 * f(h) - f(2.0 * h)) / (12.0 * h)
}

const STEPPERS: [StepperKind; 3] = [
    StepperKind::FastPm,
    StepperKind::Leapfrog,
    StepperKind::Cola,
];

/// Compares and prints; returns the relative difference. A derivative the chain rule finds
/// exactly zero (the parameter does not enter the terms tested) must have a finite
/// difference at the rounding level, below 1e-8 (the others are 1e-2 to 1e2).
fn compare(what: &str, p: Param, adjoint: f64, fd: f64) -> f64 {
    if adjoint == 0.0 {
        println!("  {what:>9} dL/d{:<9}: adjoint 0, fd {fd:+.1e}", p.name());
        assert!(
            fd.abs() < 1e-8,
            "{what} dL/d{}: fd {fd:e}, adjoint 0",
            p.name()
        );
        return 0.0;
    }
    let rel = (adjoint - fd).abs() / fd.abs();
    println!(
        "  {what:>9} dL/d{:<9}: adjoint {adjoint:+.12e}, fd {fd:+.12e}, rel {rel:.1e}",
        p.name()
    );
    rel
}

/// The parameters entering only through the time stepping and the force prefactor: the
/// initial state and LPT fields held fixed at the unshifted cosmology's. Then through the
/// LPT growth factors too: the initial state placed with the shifted cosmology's growth
/// (`D1, D2, gp1, gp2` at a_start) from the fixed LPT fields. Uses `reverse` directly.
#[test]
fn steps_prefactor_and_lpt_growth_match_finite_differences() {
    let cosmo = cosmology();
    let mut worst = [0.0f64; 2];
    for stepper in STEPPERS {
        println!("{stepper:?}");
        let sim = simulation(cosmo, stepper, Scheme::Cic);
        let lpt = sim.lpt(&SerialComm).unwrap();
        let carry = sim.stepper().needs_lpt();
        let start = lpt
            .clone()
            .into_state(A_START, sim.growth(), carry)
            .unwrap();
        let obj = Linear::new(start.len());
        let end = sim.evolve(start.clone(), &mut []).unwrap();
        let cotangent = StateCotangent::new(obj.w.clone(), obj.v.clone());
        let back = reverse(&SerialComm, Integration::of(&sim), end, cotangent).unwrap();
        let (xb, pb) = (&back.cotangent.disp, &back.cotangent.mom);
        let psi2 = lpt.psi2().unwrap();
        let lpt_growth = [
            dot3(xb, lpt.psi1()),
            dot3(xb, psi2),
            dot3(pb, lpt.psi1()),
            dot3(pb, psi2),
        ];
        let grad = |lpt_growth: [f64; 4]| {
            cosmology_gradient::<f64>(
                &SerialComm,
                &cosmo,
                sim.stepper(),
                sim.scale_factors(),
                None,
                CosmologyCotangents {
                    steps: &back.steps,
                    prefactor: back.prefactor,
                    lpt_growth,
                    modes: None,
                },
            )
            .unwrap()
        };
        let (fixed, placed) = (grad([0.0; 4]), grad(lpt_growth));
        for p in Param::ALL {
            let run = |s: f64, place: bool, lpt: &Lpt<f64>| {
                let sim = simulation(cosmo.shifted(p, s), stepper, Scheme::Cic);
                let start = if place {
                    let carry = sim.stepper().needs_lpt();
                    lpt.clone()
                        .into_state(A_START, sim.growth(), carry)
                        .unwrap()
                } else {
                    start.clone()
                };
                obj.value(&sim.evolve(start, &mut []).unwrap())
            };
            // Some of these partial derivatives are small (COLA's fixed-start dL/dw0 is 0.07,
            // dL/dh ~1e-2 since h enters only through the radiation density in E(a)), so the
            // steps are larger than in the full test to keep rounding (~5e-8 absolute at
            // rel = 3e-6) well below 1e-6 relative; no particle crosses a cell edge at these
            // steps (checked: rel 1e-5 and 1e-3 for h give 1e-7 and 6e-9 at worst).
            let h = step(p, if p == Param::H { 1e-3 } else { 1e-5 });
            let fd = central(|s| run(s, false, &lpt), h);
            worst[0] = worst[0].max(compare("fixed", p, fixed.get(p), fd));
            let fd = central(|s| run(s, true, &lpt), h);
            worst[1] = worst[1].max(compare("placed", p, placed.get(p), fd));
        }
    }
    println!(
        "worst relative difference: fixed start {:.1e}, placed start {:.1e}",
        worst[0], worst[1]
    );
    assert!(worst[0] < 1e-6 && worst[1] < 1e-6);
}

/// The whole chain: white noise -> P(k) -> linear modes -> LPT -> steps, every parameter
/// entering everywhere it does in a run (`value_and_gradient` then `run_cosmology_gradient`),
/// with CIC (the default; small steps, see [`step`]) and with TSC, whose force is
/// continuously differentiable in the positions, so that larger steps are safe (measured
/// worst: rel 1e-5: 3.9e-8, 1e-4: 8.1e-9).
#[test]
fn full_run_gradient_matches_finite_differences() {
    let cosmo = cosmology();
    let mut worst = 0.0f64;
    for (scheme, rel) in [(Scheme::Cic, 3e-6), (Scheme::Tsc, 1e-4)] {
        for stepper in STEPPERS {
            println!("{scheme:?} {stepper:?}");
            let sim = simulation(cosmo, stepper, scheme);
            let noise = sim.white_noise().unwrap();
            let obj = Linear::new(sim.particle_mesh().n_cells());
            let grad = value_and_gradient(&SerialComm, &sim, &noise, &obj).unwrap();
            let cg = run_cosmology_gradient(&SerialComm, &sim, &noise, &grad, None).unwrap();
            println!("  {cg}");
            // The parts add up.
            for i in 0..N_PARAMS {
                let sum = cg.steps[i] + cg.prefactor[i] + cg.lpt_growth[i] + cg.modes[i];
                assert!((sum - cg.total[i]).abs() <= 1e-12 * cg.total[i].abs());
            }
            for p in Param::ALL {
                let run = |s: f64| {
                    let sim = simulation(cosmo.shifted(p, s), stepper, scheme);
                    obj.value(&sim.run(&mut []).unwrap())
                };
                let fd = central(run, step(p, rel));
                worst = worst.max(compare("full", p, cg.get(p), fd));
            }
        }
    }
    println!("worst relative difference: {worst:.1e}");
    assert!(worst < 1e-6);
}

/// `modes_gradient` (one `dln P/dtheta` per distinct `|k|^2`, or per mode for a box whose
/// sides are not integer multiples in squared fundamental) against the sum written out mode
/// by mode with `P(|k|)` in dual numbers; and the amplitude entry against `2 / sigma8`.
#[test]
fn modes_gradient_matches_the_per_mode_sum() {
    let cosmo = cosmology();
    let power = LinearPower::eisenstein_hu(&cosmo.with_gradients()).unwrap();
    // Cubic (the table) and 64 x 64 x 80 Mpc/h (per mode: (80/64)^2 is not an integer).
    for mesh in [
        Mesh::cubic(8, 64.0).unwrap(),
        Mesh::new([8, 6, 10], [64.0, 64.0, 80.0]).unwrap(),
    ] {
        let mut rng = SplitMix64::new(5);
        let mut modes = FourierField::<f64>::zeros(mesh);
        let mut bar = FourierField::<f64>::zeros(mesh);
        for v in modes.as_slice_mut().iter_mut().chain(bar.as_slice_mut()) {
            *v = Complex::new(rng.signed(), rng.signed());
        }
        let got = modes_gradient(
            &SerialComm,
            ModeCotangent {
                modes: &modes,
                bar: &bar,
            },
            &power,
        )
        .unwrap();
        let k: [Vec<f64>; 3] = std::array::from_fn(|a| mesh.wavenumbers(a));
        let [nx, ny, nzc] = mesh.complex_shape();
        let mut want = [0.0; N_PARAMS];
        let mut re_sum = 0.0;
        for jx in 0..nx {
            for jy in 0..ny {
                for jz in 0..nzc {
                    let kk = (k[0][jx].powi(2) + k[1][jy].powi(2) + k[2][jz].powi(2)).sqrt();
                    if kk == 0.0 {
                        continue;
                    }
                    let pk = power.power(kk).unwrap();
                    let (d, b) = (modes.data()[[jx, jy, jz]], bar.data()[[jx, jy, jz]]);
                    let t = b.re * d.re + b.im * d.im;
                    re_sum += t;
                    for p in Param::ALL {
                        want[p.index()] += t * 0.5 * derivative(&pk, p) / value(pk);
                    }
                }
            }
        }
        for p in Param::ALL {
            let (g, w) = (got[p.index()], want[p.index()]);
            println!(
                "{:?} dL/d{}: {g:+.15e} per mode {w:+.15e}",
                mesh.shape(),
                p.name()
            );
            assert!((g - w).abs() <= 1e-12 * w.abs().max(1e-3), "{g} vs {w}");
        }
        // P grows as sigma8^2.
        let s8 = 0.8102;
        let amp = got[Param::Amplitude.index()];
        assert!((amp - re_sum / s8).abs() <= 1e-12 * amp.abs());
    }
}

/// Errors: a schedule that does not match the step gradients, a stepper without
/// derivatives, and a run whose spectrum is not the one `simulation_power` rebuilds.
#[test]
fn mismatches_are_errors() {
    let sim = simulation(cosmology(), StepperKind::FastPm, Scheme::Cic);
    let steps = vec![Default::default(); 2];
    assert!(steps_gradient(sim.stepper(), sim.scale_factors(), &steps).is_err());
    let no_derivatives = pm_integrate::FastPm::new(sim.growth().clone());
    let steps = vec![Default::default(); 3];
    assert!(steps_gradient(&no_derivatives, sim.scale_factors(), &steps).is_err());
    assert!(steps_gradient(sim.stepper(), sim.scale_factors(), &steps).is_ok());
    let other = Simulation::<f64, _>::builder(cosmology())
        .box_size(64.0)
        .particles(8)
        .mesh(16)
        .power(LinearPower::eisenstein_hu_no_wiggle(&cosmology()).unwrap())
        .build()
        .unwrap();
    assert!(simulation_power(&other).is_err());
    assert!(simulation_power(&sim).is_ok());
}
