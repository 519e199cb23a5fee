//! `value_and_gradient`: the gradient with respect to the white noise (and the linear modes
//! and LPT growth factors) through 2LPT and three kick-drift-kick steps, against central
//! finite differences in f64, for FastPM, leapfrog and COLA.
//!
//! Tolerance 1e-6 relative. The map noise -> final state is smooth except where a particle
//! crosses a CIC cell edge (the force is piecewise smooth); with perturbations of the noise of
//! 1e-6 (displacements change by ~1e-5 Mpc/h, cells are 4 Mpc/h) such a crossing inside the
//! difference is rare, and the central differences are then good to the truncation
//! O(h^2 L''') and rounding O(1e-16 |L| / h) errors, ~1e-9 here. The adjoint itself is exact
//! to rounding (reversibility of the steps is ~1e-13 in f64).

use pm_adjoint::{
    AdjointError, Objective, ObjectiveInput, ObjectiveOutput, StateCotangent, value_and_gradient,
};
use pm_cosmo::Cosmology;
use pm_decomp::SerialComm;
use pm_fft::Complex;
use pm_force::{FastPmKernel, ForceKernel};
use pm_integrate::{LptOrder, ModeOptions, Simulation, State, StepperKind, TimeSteps};
use pm_mesh::{FourierField, RealField};
use pm_testkit::{SplitMix64, dot3};

fn simulation(
    stepper: StepperKind,
    lpt: LptOrder,
    modes: ModeOptions,
) -> Simulation<f64, FastPmKernel> {
    Simulation::<f64, _>::builder(Cosmology::planck18())
        .box_size(64.0)
        .particles(8)
        .mesh(16)
        .stepper(stepper)
        .lpt(lpt)
        .modes(modes)
        .steps(TimeSteps::LinearA {
            a_start: 0.1,
            a_end: 1.0,
            steps: 3,
        })
        .seed(3)
        .build()
        .unwrap()
}

/// `L = <w, disp_N> + <v, mom_N> + alpha/2 |noise|^2`: linear in the final state, with an
/// explicit noise term (like a prior) that `value_and_gradient` must add.
struct Weighted {
    w: Vec<[f64; 3]>,
    v: Vec<[f64; 3]>,
    alpha: f64,
}

impl Objective<f64> for Weighted {
    fn name(&self) -> String {
        "weighted sum of the final state".into()
    }

    fn evaluate(
        &self,
        _: &dyn pm_decomp::Comm,
        input: ObjectiveInput<'_, f64>,
    ) -> Result<ObjectiveOutput<f64>, AdjointError> {
        let s = input.state;
        let n2: f64 = input.noise.as_slice().iter().map(|x| x * x).sum();
        let mut g = input.noise.clone();
        g.as_slice_mut().iter_mut().for_each(|x| *x *= self.alpha);
        Ok(ObjectiveOutput {
            value: dot3(&self.w, &s.disp) + dot3(&self.v, &s.mom) + 0.5 * self.alpha * n2,
            noise: Some(g),
            state: Some(StateCotangent::new(self.w.clone(), self.v.clone())),
        })
    }
}

/// The objective of a forward run from `start` (no gradient).
fn forward_value<K: ForceKernel>(
    sim: &Simulation<f64, K>,
    noise: &RealField<f64>,
    start: State<f64>,
    objective: &Weighted,
) -> f64 {
    let end = sim.evolve(start, &mut []).unwrap();
    objective
        .evaluate(&SerialComm, ObjectiveInput { noise, state: &end })
        .unwrap()
        .value
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

fn check(stepper: StepperKind, order: LptOrder, modes: ModeOptions) {
    let sim = simulation(stepper, order, modes);
    let noise = sim.white_noise().unwrap();
    let mesh = *sim.particle_mesh();
    let n = mesh.n_cells();
    let mut rng = SplitMix64::new(42);
    let objective = Weighted {
        w: rng.vec3(n),
        v: rng.vec3(n),
        alpha: 0.3,
    };
    let grad = value_and_gradient(&SerialComm, &sim, &noise, &objective).unwrap();
    let a_start = sim.scale_factors()[0];
    // COLA's states carry the LPT fields.
    let carry = sim.stepper().needs_lpt();

    // White noise, along two random directions.
    for _ in 0..2 {
        let u: Vec<f64> = (0..n).map(|_| rng.signed()).collect();
        let h = 1e-6;
        let at = |s: f64| {
            let mut x = noise.clone();
            for (x, u) in x.as_slice_mut().iter_mut().zip(&u) {
                *x += s * u;
            }
            let lpt = sim.lpt_from(&SerialComm, &x).unwrap();
            let start = lpt.into_state(a_start, sim.growth(), carry).unwrap();
            forward_value(&sim, &x, start, &objective)
        };
        let fd = (at(h) - at(-h)) / (2.0 * h);
        let adj: f64 = grad
            .noise
            .as_slice()
            .iter()
            .zip(&u)
            .map(|(g, u)| g * u)
            .sum();
        let r = rel(adj, fd);
        println!(
            "{stepper:?} {order:?} {modes:?}: dL/dnoise . u: adjoint {adj:.12e}, fd {fd:.12e}, rel {r:.1e}"
        );
        assert!(r < 1e-6, "{r}");
    }
    let lpt = sim.lpt_from(&SerialComm, &noise).unwrap();
    let start = lpt
        .clone()
        .into_state(a_start, sim.growth(), carry)
        .unwrap();
    assert_eq!(
        grad.value,
        forward_value(&sim, &noise, start.clone(), &objective)
    );

    // Linear modes, along a random (not Hermitian) direction of the stored elements; the
    // objective's explicit noise term does not depend on them.
    let modes0 = sim.linear_modes_from(&SerialComm, &noise).unwrap();
    let scale = modes0
        .as_slice()
        .iter()
        .map(|c| c.norm())
        .fold(0.0, f64::max);
    let mut dir = FourierField::zeros(mesh);
    for c in dir.as_slice_mut() {
        *c = Complex::new(rng.signed(), rng.signed());
    }
    let h = 1e-6 * scale;
    let at = |s: f64| {
        let mut m = modes0.clone();
        for (m, d) in m.as_slice_mut().iter_mut().zip(dir.as_slice()) {
            *m += d * s;
        }
        let lpt = sim.lpt_from_modes(&SerialComm, &m).unwrap();
        let start = lpt.into_state(a_start, sim.growth(), carry).unwrap();
        forward_value(&sim, &noise, start, &objective)
    };
    let fd = (at(h) - at(-h)) / (2.0 * h);
    let adj: f64 = grad
        .modes
        .as_slice()
        .iter()
        .zip(dir.as_slice())
        .map(|(g, d)| g.re * d.re + g.im * d.im)
        .sum();
    let r = rel(adj, fd);
    println!("  dL/dmodes . d: adjoint {adj:.12e}, fd {fd:.12e}, rel {r:.1e}");
    assert!(r < 1e-6, "{r}");

    // The four growth factors of the initial placement.
    let g = sim.growth().at(a_start).unwrap();
    let base = [g.d1, g.d2, g.gp1, g.gp2];
    let entries = if order == LptOrder::Second { 4 } else { 2 };
    for j in (0..4).filter(|j| entries == 4 || j % 2 == 0) {
        let h = 1e-5 * base[j].abs();
        let at = |s: f64| {
            let mut c = base;
            c[j] += s;
            let mut st = start.clone();
            for (i, (x, p)) in st.disp.iter_mut().zip(st.mom.iter_mut()).enumerate() {
                let s1 = lpt.psi1()[i];
                let s2 = lpt.psi2().map_or([0.0; 3], |p| p[i]);
                for a in 0..3 {
                    x[a] = c[0] * s1[a] + c[1] * s2[a];
                    p[a] = c[2] * s1[a] + c[3] * s2[a];
                }
            }
            forward_value(&sim, &noise, st, &objective)
        };
        let fd = (at(h) - at(-h)) / (2.0 * h);
        let r = rel(grad.lpt_growth[j], fd);
        println!(
            "  dL/d(D1, D2, gp1, gp2)[{j}]: adjoint {:.12e}, fd {fd:.12e}, rel {r:.1e}",
            grad.lpt_growth[j]
        );
        assert!(r < 1e-6, "{r}");
    }
    if order == LptOrder::First {
        assert_eq!((grad.lpt_growth[1], grad.lpt_growth[3]), (0.0, 0.0));
    }
    assert_eq!(grad.steps.len(), 3);
}

#[test]
fn noise_gradient_fastpm_2lpt() {
    check(
        StepperKind::FastPm,
        LptOrder::Second,
        ModeOptions::default(),
    );
}

#[test]
fn noise_gradient_leapfrog_2lpt() {
    check(
        StepperKind::Leapfrog,
        LptOrder::Second,
        ModeOptions::default(),
    );
}

#[test]
fn noise_gradient_cola_2lpt() {
    check(StepperKind::Cola, LptOrder::Second, ModeOptions::default());
}

#[test]
fn noise_gradient_cola_1lpt_fixed_paired() {
    let options = ModeOptions {
        fixed_amplitude: true,
        phase_flip: true,
    };
    check(StepperKind::Cola, LptOrder::First, options);
}

/// An objective of the noise alone: no reverse run, the gradient is the explicit term.
struct NoiseOnly;
impl Objective<f64> for NoiseOnly {
    fn name(&self) -> String {
        "sum of the noise".into()
    }
    fn evaluate(
        &self,
        _: &dyn pm_decomp::Comm,
        input: ObjectiveInput<'_, f64>,
    ) -> Result<ObjectiveOutput<f64>, AdjointError> {
        let mut g = input.noise.clone();
        g.as_slice_mut().iter_mut().for_each(|x| *x = 1.0);
        Ok(ObjectiveOutput {
            value: input.noise.sum(),
            noise: Some(g),
            state: None,
        })
    }
}

#[test]
fn objective_without_state_gives_the_explicit_gradient() {
    let sim = simulation(
        StepperKind::FastPm,
        LptOrder::Second,
        ModeOptions::default(),
    );
    let noise = sim.white_noise().unwrap();
    let grad = value_and_gradient(&SerialComm, &sim, &noise, &NoiseOnly).unwrap();
    assert_eq!(grad.value, noise.sum());
    assert!(grad.noise.as_slice().iter().all(|&g| g == 1.0));
    assert!(grad.modes.as_slice().iter().all(|c| c.norm() == 0.0));
    assert_eq!(grad.steps.len(), 3);
}

#[test]
fn noise_on_another_mesh_is_an_error() {
    let sim = simulation(
        StepperKind::FastPm,
        LptOrder::Second,
        ModeOptions::default(),
    );
    let other = pm_mesh::Mesh::cubic(4, 64.0).unwrap();
    let err =
        value_and_gradient(&SerialComm, &sim, &RealField::zeros(other), &NoiseOnly).unwrap_err();
    println!("{err}");
    assert!(matches!(err, AdjointError::Integrate(_)));
}

/// `L = <w, disp_N> + <v, mom_N>` in f32.
struct Weighted32 {
    w: Vec<[f32; 3]>,
    v: Vec<[f32; 3]>,
}

impl Objective<f32> for Weighted32 {
    fn name(&self) -> String {
        "weighted sum of the final state (f32)".into()
    }
    fn evaluate(
        &self,
        _: &dyn pm_decomp::Comm,
        input: ObjectiveInput<'_, f32>,
    ) -> Result<ObjectiveOutput<f32>, AdjointError> {
        let s = input.state;
        let d = |a: &[[f32; 3]], b: &[[f32; 3]]| -> f64 {
            a.iter()
                .flatten()
                .zip(b.iter().flatten())
                .map(|(x, y)| *x as f64 * *y as f64)
                .sum()
        };
        Ok(ObjectiveOutput {
            value: d(&self.w, &s.disp) + d(&self.v, &s.mom),
            noise: None,
            state: Some(StateCotangent::new(self.w.clone(), self.v.clone())),
        })
    }
}

#[test]
fn single_precision_gradient_matches_double() {
    // Same run in f32 and f64: the f32 noise gradient agrees with the f64 one to the
    // single-precision reversibility and rounding of a 3-step run (~5e-7 here; 1e-4 asked).
    for stepper in [StepperKind::FastPm, StepperKind::Cola] {
        let sim64 = simulation(stepper, LptOrder::Second, ModeOptions::default());
        let sim32 = Simulation::<f32, _>::builder(Cosmology::planck18())
            .box_size(64.0)
            .particles(8)
            .mesh(16)
            .stepper(stepper)
            .steps(TimeSteps::LinearA {
                a_start: 0.1,
                a_end: 1.0,
                steps: 3,
            })
            .seed(3)
            .build()
            .unwrap();
        let n = sim64.particle_mesh().n_cells();
        let mut rng = SplitMix64::new(42);
        let objective = Weighted {
            w: rng.vec3(n),
            v: rng.vec3(n),
            alpha: 0.0,
        };
        let to32 =
            |v: &[[f64; 3]]| -> Vec<[f32; 3]> { v.iter().map(|x| x.map(|c| c as f32)).collect() };
        let objective32 = Weighted32 {
            w: to32(&objective.w),
            v: to32(&objective.v),
        };
        let g64 = value_and_gradient(
            &SerialComm,
            &sim64,
            &sim64.white_noise().unwrap(),
            &objective,
        )
        .unwrap();
        let g32 = value_and_gradient(
            &SerialComm,
            &sim32,
            &sim32.white_noise().unwrap(),
            &objective32,
        )
        .unwrap();
        let (mut num, mut den) = (0.0, 0.0);
        for (a, b) in g32.noise.as_slice().iter().zip(g64.noise.as_slice()) {
            num += (*a as f64 - b).powi(2);
            den += b * b;
        }
        let r = (num / den).sqrt();
        let rv = rel(g32.value, g64.value);
        println!(
            "{stepper:?}: f32 vs f64 noise gradient, relative L2 difference {r:.1e}; value {rv:.1e}"
        );
        assert!(r < 1e-4 && rv < 1e-4, "{r} {rv}");
    }
}

/// `vjp` from the final displacements and momenta alone (a state rebuilt in lattice order,
/// without the LPT fields COLA carries, as a caller outside Rust holds it) gives the same
/// gradients as `value_and_gradient` of the objective linear in the final state, to
/// rounding: the backward half of the gradient needs no second forward run.
fn vjp_matches_value_and_gradient(stepper: StepperKind) {
    let sim = simulation(stepper, LptOrder::Second, ModeOptions::default());
    let noise = sim.white_noise().unwrap();
    let n = sim.particle_mesh().n_cells();
    let mut rng = SplitMix64::new(11);
    let mut rows = || -> Vec<[f64; 3]> {
        (0..n)
            .map(|_| std::array::from_fn(|_| rng.uniform() - 0.5))
            .collect()
    };
    let (w, v) = (rows(), rows());
    let objective = Weighted {
        w: w.clone(),
        v: v.clone(),
        alpha: 0.0,
    };
    let full = value_and_gradient(&SerialComm, &sim, &noise, &objective).unwrap();
    let end = sim
        .evolve(
            sim.initial_state_from(&SerialComm, &noise).unwrap(),
            &mut [],
        )
        .unwrap();
    let rebuilt = State::new(end.lattice, end.a, end.disp.clone(), end.mom.clone()).unwrap();
    let back = pm_adjoint::vjp(
        &SerialComm,
        &sim,
        &noise,
        rebuilt,
        StateCotangent::new(w, v),
    )
    .unwrap();
    let scale = full
        .noise
        .as_slice()
        .iter()
        .fold(0.0f64, |m, g| m.max(g.abs()));
    assert!(scale > 0.0);
    for (a, b) in full.noise.as_slice().iter().zip(back.noise.as_slice()) {
        assert!((a - b).abs() <= 1e-12 * scale, "{stepper:?}: {a} vs {b}");
    }
    for (a, b) in full.lpt_growth.iter().zip(&back.lpt_growth) {
        assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "{a} vs {b}");
    }
    assert!((full.prefactor - back.prefactor).abs() <= 1e-12 * full.prefactor.abs().max(1.0));
    // A cotangent of the wrong length is refused, naming it.
    let end = sim
        .evolve(
            sim.initial_state_from(&SerialComm, &noise).unwrap(),
            &mut [],
        )
        .unwrap();
    let err = pm_adjoint::vjp(&SerialComm, &sim, &noise, end, StateCotangent::zeros(n - 1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cotangent"), "{err}");
}

#[test]
fn vjp_from_final_state_fastpm() {
    vjp_matches_value_and_gradient(StepperKind::FastPm);
}

#[test]
fn vjp_from_final_state_cola() {
    vjp_matches_value_and_gradient(StepperKind::Cola);
}
