//! Objectives: exact values on hand-computable cases, and gradients against central finite
//! differences along random directions (f64).
//!
//! Tolerances. A central difference `(L(x + h v) - L(x - h v)) / 2h` differs from `<g, v>`
//! by a truncation error `h^2 |L'''| / 6` and a rounding error about `eps |L| / h`
//! (`eps = 2.2e-16`):
//! * the Gaussian likelihood and the prior are quadratic (no truncation error): with
//!   `h = 1e-3` the rounding error is about `1e-13 |L|`, so a relative tolerance of `1e-8`
//!   leaves five orders of margin;
//! * the power spectrum loss is quartic (ratio form) or smooth (log form) in the field, and
//!   its third derivative is large next to the directional derivative along a random
//!   direction (which cancels between modes): measured, `h = 1e-4` of the field's scale gives
//!   1.3e-6 and `h = 1e-5` gives 1.4e-9 to 1.4e-8 (the `h^2` law), so `h = 1e-5` and `1e-6`;
//! * the painted objectives are piecewise quadratic in the displacements (CIC, TSC weights
//!   are piecewise linear / quadratic): `h = 1e-6` Mpc/h (a million times smaller than a
//!   cell) makes crossing a cell edge improbable (and the seeds are fixed), the rounding error
//!   is about `1e-16 |L| / h`, i.e. `1e-8` relative, hence `1e-6`.

use pm_adjoint::{
    Adam, AdamOptions, FieldObjective, GaussianLikelihood, Objective, ObjectiveInput, OnNoise,
    Painted, PowerLossForm, PowerSpectrumLoss, Sigma, Sum, WhiteNoisePrior, painted_density,
};
use pm_decomp::SerialComm;
use pm_fft::CpuFft3d;
use pm_integrate::State;
use pm_mesh::{
    Binning, Lattice, Mesh, PowerOptions, RealField, Scheme, power_spectrum, power_spectrum_real,
};
use pm_testkit::{SplitMix64, dot, dot3};

/// A field uniform in `[-scale, scale)` per cell.
fn random_field(rng: &mut SplitMix64, mesh: Mesh, scale: f64) -> RealField<f64> {
    let mut f = RealField::zeros(mesh);
    for v in f.as_slice_mut() {
        *v = scale * rng.signed();
    }
    f
}

/// `n` vectors uniform in `[-scale, scale)` per component.
fn scaled_vec3(rng: &mut SplitMix64, n: usize, scale: f64) -> Vec<[f64; 3]> {
    rng.vec3(n)
        .into_iter()
        .map(|v| v.map(|x| scale * x))
        .collect()
}

fn axpy(x: &RealField<f64>, h: f64, v: &RealField<f64>) -> RealField<f64> {
    let mut y = x.clone();
    for (y, v) in y.as_slice_mut().iter_mut().zip(v.as_slice()) {
        *y += h * v;
    }
    y
}

/// Checks `dL/d delta` of a field objective against central differences along `dirs`
/// random directions; returns the worst relative error.
fn check_field_gradient<F: FieldObjective<f64>>(
    obj: &F,
    delta: &RealField<f64>,
    h: f64,
    tol: f64,
    rng: &mut SplitMix64,
) -> f64 {
    let out = obj.evaluate_field(delta).unwrap();
    let mut worst = 0.0f64;
    for _ in 0..4 {
        let v = random_field(rng, *delta.mesh(), 1.0);
        let plus = obj.evaluate_field(&axpy(delta, h, &v)).unwrap().value;
        let minus = obj.evaluate_field(&axpy(delta, -h, &v)).unwrap().value;
        let fd = (plus - minus) / (2.0 * h);
        let an = dot(out.gradient.as_slice(), v.as_slice());
        let rel = (fd - an).abs() / an.abs().max(1e-300);
        assert!(
            rel < tol,
            "{}: finite difference {fd} vs gradient {an} (rel {rel:e})",
            obj.name()
        );
        worst = worst.max(rel);
    }
    worst
}

#[test]
fn gaussian_likelihood_value_on_hand_computable_cases() {
    let mesh = Mesh::cubic(4, 10.0).unwrap();
    let mut data = RealField::<f64>::zeros(mesh);
    data.as_slice_mut()[5] = 3.0;
    let mut delta = RealField::zeros(mesh);
    delta.as_slice_mut().fill(1.0);
    // Residual 1 in 63 cells and -2 in one: L = (63 + 4) / (2 * 2^2).
    let like = GaussianLikelihood::new(data.clone(), Sigma::Scalar(2.0)).unwrap();
    let out = like.evaluate_field(&delta).unwrap();
    assert_eq!(out.value, 67.0 / 8.0);
    assert_eq!(out.gradient.as_slice()[0], 0.25);
    assert_eq!(out.gradient.as_slice()[5], -0.5);
    // Per-cell sigma: 1 everywhere but 0.5 in cell 5: L = 63 / 2 + 4 / (2 / 4).
    let mut sigma = RealField::zeros(mesh);
    sigma.as_slice_mut().fill(1.0);
    sigma.as_slice_mut()[5] = 0.5;
    let like = GaussianLikelihood::new(data, Sigma::PerCell(sigma)).unwrap();
    let out = like.evaluate_field(&delta).unwrap();
    assert_eq!(out.value, 31.5 + 8.0);
    assert_eq!(out.gradient.as_slice()[5], -8.0);
    // A uniform residual is untouched by smoothing (only k = 0): L is the same.
    let zero = RealField::<f64>::zeros(mesh);
    let like = GaussianLikelihood::new(zero, Sigma::Scalar(1.0))
        .unwrap()
        .with_smoothing(3.0)
        .unwrap();
    let out = like.evaluate_field(&delta).unwrap();
    assert!((out.value - 32.0).abs() < 1e-12);
    // Bad settings are errors.
    assert!(GaussianLikelihood::new(RealField::<f64>::zeros(mesh), Sigma::Scalar(0.0)).is_err());
    let other = Mesh::cubic(8, 10.0).unwrap();
    assert!(
        GaussianLikelihood::new(
            RealField::<f64>::zeros(mesh),
            Sigma::PerCell(RealField::zeros(other))
        )
        .is_err()
    );
    assert!(like.evaluate_field(&RealField::zeros(other)).is_err());
}

#[test]
fn gaussian_likelihood_gradient_matches_finite_differences() {
    let mut rng = SplitMix64::new(1);
    let mesh = Mesh::new([8, 6, 10], [40.0, 30.0, 50.0]).unwrap();
    let data = random_field(&mut rng, mesh, 1.0);
    let delta = random_field(&mut rng, mesh, 2.0);
    let mut sigma = random_field(&mut rng, mesh, 0.5);
    sigma.as_slice_mut().iter_mut().for_each(|s| *s += 1.0);
    for like in [
        GaussianLikelihood::new(data.clone(), Sigma::Scalar(0.7)).unwrap(),
        GaussianLikelihood::new(data.clone(), Sigma::PerCell(sigma.clone())).unwrap(),
        GaussianLikelihood::new(data.clone(), Sigma::PerCell(sigma))
            .unwrap()
            .with_smoothing(6.0)
            .unwrap(),
    ] {
        let worst = check_field_gradient(&like, &delta, 1e-3, 1e-8, &mut rng);
        println!("{}: worst relative error {worst:e}", like.name());
    }
}

#[test]
fn white_noise_prior_value_and_gradient() {
    let mesh = Mesh::cubic(4, 10.0).unwrap();
    let mut noise = RealField::<f64>::zeros(mesh);
    noise.as_slice_mut()[0] = 1.0;
    noise.as_slice_mut()[1] = -2.0;
    noise.as_slice_mut()[63] = 0.5;
    let state = particles_at_rest(4, 10.0);
    let input = ObjectiveInput {
        noise: &noise,
        state: &state,
    };
    let out = WhiteNoisePrior::new().evaluate(&SerialComm, input).unwrap();
    assert_eq!(out.value, (1.0 + 4.0 + 0.25) / 2.0);
    assert!(out.state.is_none());
    assert_eq!(out.noise.as_ref().unwrap().as_slice(), noise.as_slice());
    let out = WhiteNoisePrior::with_weight(3.0)
        .unwrap()
        .evaluate(&SerialComm, input)
        .unwrap();
    assert_eq!(out.value, 3.0 * 5.25 / 2.0);
    assert_eq!(out.noise.unwrap().as_slice()[1], -6.0);
    assert!(WhiteNoisePrior::with_weight(-1.0).is_err());

    // Finite differences (the prior is quadratic).
    let mut rng = SplitMix64::new(2);
    let noise = random_field(&mut rng, mesh, 1.5);
    let prior = WhiteNoisePrior::with_weight(0.3).unwrap();
    let value = |n: &RealField<f64>| {
        Objective::<f64>::evaluate(
            &prior,
            &SerialComm,
            ObjectiveInput {
                noise: n,
                state: &state,
            },
        )
        .unwrap()
        .value
    };
    let g = Objective::<f64>::evaluate(
        &prior,
        &SerialComm,
        ObjectiveInput {
            noise: &noise,
            state: &state,
        },
    )
    .unwrap()
    .noise
    .unwrap();
    for _ in 0..4 {
        let v = random_field(&mut rng, mesh, 1.0);
        let h = 1e-3;
        let fd = (value(&axpy(&noise, h, &v)) - value(&axpy(&noise, -h, &v))) / (2.0 * h);
        let an = dot(g.as_slice(), v.as_slice());
        assert!((fd - an).abs() < 1e-8 * an.abs(), "{fd} vs {an}");
    }
}

/// The loss's binned spectrum is pm-mesh's estimator, mode counts and all.
#[test]
fn power_spectrum_loss_bins_like_the_estimator() {
    let mut rng = SplitMix64::new(3);
    let cases = [
        (Mesh::cubic(16, 100.0).unwrap(), PowerOptions::default()),
        (
            Mesh::new([8, 12, 10], [50.0, 60.0, 70.0]).unwrap(),
            PowerOptions {
                shot_noise: Some(0.25),
                compensate: Some(Scheme::Cic),
                ..Default::default()
            },
        ),
        (
            Mesh::cubic(16, 100.0).unwrap(),
            PowerOptions {
                binning: Some(Binning::Log {
                    k_min: 0.05,
                    k_max: 0.5,
                    n_bins: 7,
                }),
                compensate: Some(Scheme::Tsc),
                ..Default::default()
            },
        ),
        (
            Mesh::cubic(12, 100.0).unwrap(),
            PowerOptions {
                binning: Some(Binning::Linear {
                    k_min: 2.0 * std::f64::consts::PI / 100.0,
                    k_max: 0.3,
                    n_bins: 5,
                }),
                ..Default::default()
            },
        ),
    ];
    for (mesh, options) in cases {
        let field = random_field(&mut rng, mesh, 1.0);
        let plan = CpuFft3d::<f64>::new(mesh.shape()).unwrap();
        let reference = power_spectrum_real(&field, &plan, &options).unwrap();
        let nb = reference.n_modes.len();
        let loss =
            PowerSpectrumLoss::<f64>::new(mesh, options, vec![1.0; nb], PowerLossForm::Ratio)
                .unwrap();
        assert_eq!(loss.n_modes(), &reference.n_modes[..]);
        let p = loss.spectrum(&field).unwrap();
        for (a, b) in p.iter().zip(&reference.power) {
            assert!(
                (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-12 * b.abs(),
                "{a} vs {b}"
            );
        }
    }
}

#[test]
fn power_spectrum_loss_value_on_a_plane_wave() {
    // delta = A cos(3 k_f x): all the power in bin 3, P_3 = 2 V A^2 / 4 / n_3 (pm-mesh's
    // doc example); the other bins have P = 0 and contribute w (0 / T - 1)^2 = 1 each.
    let (n, l, amp) = (16, 100.0, 0.5);
    let mesh = Mesh::cubic(n, l).unwrap();
    let mut field = RealField::<f64>::zeros(mesh);
    for ((i, _, _), v) in field.data_mut().indexed_iter_mut() {
        *v = amp * (2.0 * std::f64::consts::PI * 3.0 * i as f64 / n as f64).cos();
    }
    let nb = n / 2;
    let plan = CpuFft3d::<f64>::new([n; 3]).unwrap();
    let counts = power_spectrum(&field.forward(&plan).unwrap(), &PowerOptions::default())
        .unwrap()
        .n_modes;
    let p3 = 2.0 * l * l * l * amp * amp / 4.0 / counts[3] as f64;
    let mut target = vec![1.0; nb];
    target[3] = p3 / 3.0; // (P / T - 1)^2 = 4
    let loss = PowerSpectrumLoss::new(
        mesh,
        PowerOptions::default(),
        target.clone(),
        PowerLossForm::Ratio,
    )
    .unwrap();
    // Bin 0 (k = 0 only) is empty: weight 0. Bins 1, 2, 4..7 give 1 each, bin 3 gives 4.
    assert_eq!(loss.weights()[0], 0.0);
    let out = loss.evaluate_field(&field).unwrap();
    assert!(
        (out.value - (4.0 + (nb - 2) as f64)).abs() < 1e-12,
        "{}",
        out.value
    );
    // Log form with the target equal to P in bin 3 and weight only there: L = 0, gradient 0.
    target[3] = p3;
    let mut weights = vec![0.0; nb];
    weights[3] = 2.0;
    let loss = PowerSpectrumLoss::new(mesh, PowerOptions::default(), target, PowerLossForm::Log)
        .unwrap()
        .with_weights(weights)
        .unwrap();
    let out = loss.evaluate_field(&field).unwrap();
    assert!(out.value.abs() < 1e-24);
    assert!(out.gradient.as_slice().iter().all(|g| g.abs() < 1e-12));
    // Bad settings.
    assert!(
        PowerSpectrumLoss::<f64>::new(
            mesh,
            PowerOptions::default(),
            vec![1.0; 3],
            PowerLossForm::Ratio
        )
        .is_err()
    );
    let mut bad = vec![1.0; nb];
    bad[2] = -1.0;
    assert!(
        PowerSpectrumLoss::<f64>::new(mesh, PowerOptions::default(), bad, PowerLossForm::Ratio)
            .is_err()
    );
}

#[test]
fn power_spectrum_loss_gradient_matches_finite_differences() {
    let mut rng = SplitMix64::new(4);
    let cases = [
        (Mesh::cubic(16, 100.0).unwrap(), PowerOptions::default()),
        (
            Mesh::new([8, 12, 10], [50.0, 60.0, 70.0]).unwrap(),
            PowerOptions {
                shot_noise: Some(0.01),
                compensate: Some(Scheme::Cic),
                binning: Some(Binning::Log {
                    k_min: 0.1,
                    k_max: 0.6,
                    n_bins: 6,
                }),
            },
        ),
    ];
    for (mesh, options) in cases {
        let delta = random_field(&mut rng, mesh, 1.0);
        let plan = CpuFft3d::<f64>::new(mesh.shape()).unwrap();
        let p = power_spectrum_real(&delta, &plan, &options).unwrap();
        // Targets 0.5 to 1.5 times the field's spectrum, so every term matters.
        let target: Vec<f64> = p
            .power
            .iter()
            .map(|&p| {
                if p.is_nan() {
                    1.0
                } else {
                    p * (0.5 + rng.uniform())
                }
            })
            .collect();
        for form in [PowerLossForm::Ratio, PowerLossForm::Log] {
            let loss = PowerSpectrumLoss::new(mesh, options, target.clone(), form).unwrap();
            let worst = check_field_gradient(&loss, &delta, 1e-5, 1e-6, &mut rng);
            println!(
                "{:?} {:?}: worst relative error {worst:e}",
                mesh.shape(),
                form
            );
        }
    }
}

/// `n^3` particles on the lattice of a box of side `l`, at rest at a = 1.
fn particles_at_rest(n: usize, l: f64) -> State<f64> {
    let lattice = Lattice::cubic(n, l).unwrap();
    State::new(
        lattice,
        1.0,
        vec![[0.0; 3]; lattice.len()],
        vec![[0.0; 3]; lattice.len()],
    )
    .unwrap()
}

#[test]
fn painted_objectives_on_hand_computable_cases() {
    // 4^3 particles on the grid points of an 8^3 mesh: mass m = 8, so delta = 7 in the 64
    // occupied cells and -1 in the 448 others; against zero data with sigma = 1,
    // L = (64 * 49 + 448) / 2.
    let mesh = Mesh::cubic(8, 16.0).unwrap();
    let state = particles_at_rest(4, 16.0);
    let delta = painted_density(&state, mesh, Scheme::Cic).unwrap();
    assert_eq!(delta.data()[[0, 0, 0]], 7.0);
    assert_eq!(delta.data()[[1, 0, 0]], -1.0);
    let noise = RealField::zeros(Mesh::cubic(4, 16.0).unwrap());
    let input = ObjectiveInput {
        noise: &noise,
        state: &state,
    };
    let like = GaussianLikelihood::new(RealField::zeros(mesh), Sigma::Scalar(1.0)).unwrap();
    let out = Painted::new(&like).evaluate(&SerialComm, input).unwrap();
    assert_eq!(out.value, (64.0 * 49.0 + 448.0) / 2.0);
    assert!(out.noise.is_none());
    // (On grid points CIC has a kink, so the displacement gradient is one-sided there.)
    assert!(out.state.unwrap().mom.iter().flatten().all(|g| *g == 0.0));

    // One particle per cell, shifted by half a cell: CIC gives a uniform density, delta = 0.
    let mut state = particles_at_rest(8, 16.0);
    state.disp.iter_mut().for_each(|d| d[0] = 1.0);
    let like = GaussianLikelihood::new(RealField::zeros(mesh), Sigma::Scalar(0.5)).unwrap();
    let noise = RealField::zeros(mesh);
    let out = Painted::new(&like)
        .evaluate(
            &SerialComm,
            ObjectiveInput {
                noise: &noise,
                state: &state,
            },
        )
        .unwrap();
    assert!(out.value.abs() < 1e-24);
}

#[test]
fn painted_objective_gradients_match_finite_differences() {
    let mut rng = SplitMix64::new(5);
    let (np, l) = (8, 32.0);
    let mesh = Mesh::cubic(12, l).unwrap();
    let mut state = particles_at_rest(np, l);
    state.disp = scaled_vec3(&mut rng, state.len(), 3.0);
    state.mom = scaled_vec3(&mut rng, state.len(), 1.0);
    let noise = RealField::zeros(Mesh::cubic(np, l).unwrap());
    let data = random_field(&mut rng, mesh, 1.0);
    let like = GaussianLikelihood::new(data, Sigma::Scalar(0.8))
        .unwrap()
        .with_smoothing(2.0)
        .unwrap();
    let plan = CpuFft3d::<f64>::new(mesh.shape()).unwrap();
    let delta0 = painted_density(&state, mesh, Scheme::Cic).unwrap();
    let p = power_spectrum_real(&delta0, &plan, &PowerOptions::default()).unwrap();
    let target: Vec<f64> = p
        .power
        .iter()
        .map(|p| if p.is_nan() { 1.0 } else { 0.7 * p })
        .collect();
    let power =
        PowerSpectrumLoss::new(mesh, PowerOptions::default(), target, PowerLossForm::Log).unwrap();
    let objectives: Vec<Box<dyn Objective<f64> + '_>> = vec![
        Box::new(Painted::new(&like)),
        Box::new(Painted::new(&like).with_scheme(Scheme::Tsc)),
        Box::new(Painted::new(&power)),
        Box::new(
            Sum::new()
                .with(Painted::new(&like))
                .with(Painted::new(&power).with_scheme(Scheme::Tsc))
                .with(WhiteNoisePrior::new()),
        ),
    ];
    for obj in &objectives {
        let value = |s: &State<f64>| {
            obj.evaluate(
                &SerialComm,
                ObjectiveInput {
                    noise: &noise,
                    state: s,
                },
            )
            .unwrap()
            .value
        };
        let out = obj
            .evaluate(
                &SerialComm,
                ObjectiveInput {
                    noise: &noise,
                    state: &state,
                },
            )
            .unwrap();
        let cot = out.state.unwrap();
        assert!(cot.mom.iter().flatten().all(|g| *g == 0.0));
        for _ in 0..3 {
            let v = scaled_vec3(&mut rng, state.len(), 1.0);
            let h = 1e-6;
            let shifted = |s: f64| {
                let mut st = state.clone();
                for (d, v) in st.disp.iter_mut().zip(&v) {
                    for k in 0..3 {
                        d[k] += s * v[k];
                    }
                }
                st
            };
            let fd = (value(&shifted(h)) - value(&shifted(-h))) / (2.0 * h);
            let an = dot3(&cot.disp, &v);
            let rel = (fd - an).abs() / an.abs();
            println!("{}: fd {fd:.9e} gradient {an:.9e} rel {rel:e}", obj.name());
            assert!(rel < 1e-6, "{}: {fd} vs {an}", obj.name());
        }
    }
}

#[test]
fn on_noise_and_sum_add_up() {
    let mut rng = SplitMix64::new(6);
    let mesh = Mesh::cubic(8, 50.0).unwrap();
    let noise = random_field(&mut rng, mesh, 1.0);
    let state = particles_at_rest(8, 50.0);
    let input = ObjectiveInput {
        noise: &noise,
        state: &state,
    };
    let like =
        GaussianLikelihood::new(random_field(&mut rng, mesh, 1.0), Sigma::Scalar(2.0)).unwrap();
    let prior = WhiteNoisePrior::with_weight(0.5).unwrap();
    let a = OnNoise(&like).evaluate(&SerialComm, input).unwrap();
    let b = prior.evaluate(&SerialComm, input).unwrap();
    let c = Painted::new(&like).evaluate(&SerialComm, input).unwrap();
    let sum = Sum::new()
        .with(OnNoise(&like))
        .with(prior)
        .with(Painted::new(&like));
    let (values, total) = sum.evaluate_terms(&SerialComm, input).unwrap();
    assert_eq!(values, vec![a.value, b.value, c.value]);
    assert_eq!(total.value, a.value + b.value + c.value);
    let g = total.noise.unwrap();
    for ((g, x), y) in g
        .as_slice()
        .iter()
        .zip(a.noise.unwrap().as_slice())
        .zip(b.noise.unwrap().as_slice())
    {
        assert_eq!(*g, x + y);
    }
    assert_eq!(total.state.unwrap(), c.state.unwrap());
    assert!(sum.name().contains("white-noise prior"));
    let empty = Sum::<f64>::new().evaluate(&SerialComm, input).unwrap();
    assert_eq!(empty.value, 0.0);
    assert!(empty.noise.is_none() && empty.state.is_none());
}

#[test]
fn adam_first_step_and_convergence() {
    // First step: m_hat = g, v_hat = g^2, so every parameter moves by eta g / (|g| + eps).
    let opts = AdamOptions {
        learning_rate: 0.1,
        ..Default::default()
    };
    let mut adam = Adam::new(3, opts).unwrap();
    let mut x = [1.0f64, 2.0, 3.0];
    adam.step(&mut x, &[5.0, -1e-3, 0.0]).unwrap();
    assert!((x[0] - (1.0 - 0.1 * 5.0 / (5.0 + 1e-8))).abs() < 1e-15);
    assert!((x[1] - (2.0 + 0.1 * 1e-3 / (1e-3 + 1e-8))).abs() < 1e-12);
    assert_eq!(x[2], 3.0);
    assert_eq!(adam.steps(), 1);
    // Second step with the same gradient: m_hat = g, v_hat = g^2 again (bias correction).
    adam.step(&mut x, &[5.0, -1e-3, 0.0]).unwrap();
    assert!((x[0] - (1.0 - 0.2 * 5.0 / (5.0 + 1e-8))).abs() < 1e-15);
    // f32 parameters, an ill-conditioned quadratic sum_i c_i (x_i - i)^2 / 2.
    let mut adam = Adam::new(4, opts).unwrap();
    let c = [1e-2, 1.0, 1e2, 1e4];
    let mut x = [0.0f32; 4];
    for _ in 0..2000 {
        let g: Vec<f32> = (0..4)
            .map(|i| (c[i] * (x[i] as f64 - i as f64)) as f32)
            .collect();
        adam.step(&mut x, &g).unwrap();
    }
    for (i, x) in x.iter().enumerate() {
        assert!((*x as f64 - i as f64).abs() < 2e-2, "x[{i}] = {x}");
    }
    adam.reset();
    assert_eq!(adam.steps(), 0);
    assert!(adam.step(&mut x, &[0.0; 3]).is_err());
    assert!(Adam::new(1, AdamOptions { beta1: 1.0, ..opts }).is_err());
    assert!(
        Adam::new(
            1,
            AdamOptions {
                learning_rate: 0.0,
                ..opts
            }
        )
        .is_err()
    );
    assert!(adam.set_learning_rate(f64::NAN).is_err());
}

fn small_simulation<T: pm_fft::Real>() -> pm_integrate::Simulation<T, pm_force::FastPmKernel> {
    pm_integrate::Simulation::<T, _>::builder(pm_cosmo::Cosmology::planck18())
        .box_size(64.0)
        .particles(8)
        .mesh(16)
        .steps(pm_integrate::TimeSteps::LinearA {
            a_start: 0.1,
            a_end: 1.0,
            steps: 3,
        })
        .seed(11)
        .build()
        .unwrap()
}

/// The reconstruction's loss (painted likelihood + prior) through the whole simulation, with
/// `value_and_gradient`: central differences in f64 along random white-noise directions
/// (`h = 1e-5` in noise units moves the particles by about `1e-5` Mpc/h, far from the CIC
/// kinks: tolerance `1e-6` as for the painted objectives), and the f32 gradient against the
/// f64 one (cosine > 0.9999, measured 1 - 1e-9: f32 is good enough for the optimiser).
#[test]
fn loss_through_the_simulation_matches_finite_differences() {
    let sim = small_simulation::<f64>();
    let truth = sim.white_noise().unwrap();
    let mesh = Mesh::cubic(16, 64.0).unwrap();
    let data = painted_density(&sim.run(&mut []).unwrap(), mesh, Scheme::Cic).unwrap();
    let like = GaussianLikelihood::new(data.clone(), Sigma::Scalar(0.5))
        .unwrap()
        .with_smoothing(4.0)
        .unwrap();
    let loss = Sum::new()
        .with(Painted::new(&like))
        .with(WhiteNoisePrior::new());
    let mut rng = SplitMix64::new(7);
    let mut noise = random_field(&mut rng, *truth.mesh(), 1.0);
    for (w, t) in noise.as_slice_mut().iter_mut().zip(truth.as_slice()) {
        *w = 0.5 * *w + 0.8 * t;
    }
    let g = pm_adjoint::value_and_gradient(&SerialComm, &sim, &noise, &loss).unwrap();
    let value = |w: &RealField<f64>| {
        pm_adjoint::value_and_gradient(&SerialComm, &sim, w, &loss)
            .unwrap()
            .value
    };
    for _ in 0..3 {
        let v = random_field(&mut rng, *noise.mesh(), 1.0);
        let h = 1e-5;
        let fd = (value(&axpy(&noise, h, &v)) - value(&axpy(&noise, -h, &v))) / (2.0 * h);
        let an = dot(g.noise.as_slice(), v.as_slice());
        let rel = (fd - an).abs() / an.abs();
        println!("through the simulation: fd {fd:.9e} gradient {an:.9e} rel {rel:e}");
        assert!(rel < 1e-6, "{fd} vs {an}");
    }

    // The same in f32.
    let sim32 = small_simulation::<f32>();
    let cast = |f: &RealField<f64>| {
        let mut out = RealField::<f32>::zeros(*f.mesh());
        for (o, x) in out.as_slice_mut().iter_mut().zip(f.as_slice()) {
            *o = *x as f32;
        }
        out
    };
    let like32 = GaussianLikelihood::new(cast(&data), Sigma::Scalar(0.5))
        .unwrap()
        .with_smoothing(4.0)
        .unwrap();
    let loss32 = Sum::new()
        .with(Painted::new(&like32))
        .with(WhiteNoisePrior::new());
    let g32 = pm_adjoint::value_and_gradient(&SerialComm, &sim32, &cast(&noise), &loss32).unwrap();
    let a = g.noise.as_slice();
    let b: Vec<f64> = g32.noise.as_slice().iter().map(|&x| x as f64).collect();
    let cosine = dot(a, &b) / (dot(a, a).sqrt() * dot(&b, &b).sqrt());
    println!(
        "f32 vs f64: value {:.9e} vs {:.9e}, gradient cosine {cosine:.9}",
        g32.value, g.value
    );
    assert!((g32.value - g.value).abs() < 1e-4 * g.value);
    assert!(cosine > 0.9999, "cosine {cosine}");
}
