//! `value_and_gradient_distributed` against the serial `value_and_gradient`: the value and
//! the gradients with respect to the white noise, the linear modes, the LPT growth, the
//! force prefactor and the step coefficients, on `SerialComm` and 1-4 thread ranks (uneven
//! slab splits), for FastPM with 2LPT and COLA with 1LPT, f64.
//!
//! Tolerance 1e-10 relative (`max |distributed - serial| / max |serial|`): both compute the
//! same arithmetic per particle and per mode; only the order of the sums in the FFTs, the
//! paint (halo additions) and the reductions over ranks differs, so the results agree to
//! rounding amplified by the steps (about 1e-14 here).

use pm_adjoint::{
    Gathered, GaussianLikelihood, Gradient, Painted, Sigma, Sum, WhiteNoisePrior,
    value_and_gradient, value_and_gradient_distributed,
};
use pm_cosmo::Cosmology;
use pm_decomp::{Comm, CommExt, SerialComm, ThreadComm};
use pm_force::FastPmKernel;
use pm_integrate::{DistributedRun, LptOrder, ModeOptions, Simulation, StepperKind, TimeSteps};
use pm_mesh::{Mesh, RealField};

const TOLERANCE: f64 = 1e-10;

fn simulation(
    stepper: StepperKind,
    lpt: LptOrder,
    modes: ModeOptions,
) -> Simulation<f64, FastPmKernel> {
    Simulation::<f64, _>::builder(Cosmology::planck18())
        .box_size(64.0)
        .particles(12)
        .mesh(24)
        .stepper(stepper)
        .lpt(lpt)
        .modes(modes)
        .steps(TimeSteps::LinearA {
            a_start: 0.1,
            a_end: 1.0,
            steps: 4,
        })
        .seed(11)
        .build()
        .unwrap()
}

/// A Gaussian likelihood of the painted final density against a smooth made-up field, plus
/// the white-noise prior: depends on the final positions nonlinearly and on the noise
/// explicitly.
fn objective(mesh: Mesh) -> Sum<'static, f64> {
    let [n0, n1, n2] = mesh.shape();
    let data = ndarray::Array3::from_shape_fn((n0, n1, n2), |(i, j, k)| {
        let t = std::f64::consts::TAU;
        0.3 * (t * i as f64 / n0 as f64).sin() * (t * j as f64 / n1 as f64).cos()
            + 0.1 * (2.0 * t * k as f64 / n2 as f64).sin()
    });
    let data = RealField::from_array(mesh, data).unwrap();
    let likelihood = GaussianLikelihood::new(data, Sigma::Scalar(0.5)).unwrap();
    Sum::new()
        .with(Painted::new(likelihood))
        .with(WhiteNoisePrior::new())
}

/// `max |a - b| / max |b|`.
fn rel(a: impl IntoIterator<Item = f64>, b: impl IntoIterator<Item = f64>) -> f64 {
    let (mut d, mut m) = (0.0f64, 0.0f64);
    for (x, y) in a.into_iter().zip(b) {
        d = d.max((x - y).abs());
        m = m.max(y.abs());
    }
    d / m
}

/// The distributed gradient on `ranks` thread ranks (0: `SerialComm`), gathered, compared
/// with `serial`; returns the largest relative difference over all the gradients.
fn compare(sim: &Simulation<f64, FastPmKernel>, serial: &Gradient<f64>, ranks: usize) -> f64 {
    let mesh = *sim.particle_mesh();
    let body = |comm: &dyn Comm| {
        let objective = Gathered(objective(mesh));
        let run = DistributedRun::new(sim, comm).unwrap();
        let g = value_and_gradient_distributed(&run, comm, &objective).unwrap();
        let noise = g.gather_noise(comm, mesh).unwrap();
        let modes: Vec<_> = comm.all_gather(&g.modes).unwrap();
        (g, noise, modes)
    };
    let results = if ranks == 0 {
        vec![body(&SerialComm)]
    } else {
        ThreadComm::run(ranks, |comm| body(comm)).unwrap()
    };
    let (g, noise, modes) = &results[0];
    // Every rank reports the same reduced quantities.
    for (other, _, _) in &results[1..] {
        assert_eq!(other.value.to_bits(), g.value.to_bits());
        assert_eq!(other.prefactor.to_bits(), g.prefactor.to_bits());
        assert_eq!(other.steps, g.steps);
    }
    let noise_rel = rel(
        noise.as_slice().iter().copied(),
        serial.noise.as_slice().iter().copied(),
    );
    // The mode blocks are y-slabs: reassemble [nx][ny][nzc] from [rank][nx][rows][nzc].
    let [nx, ny, nzc] = mesh.complex_shape();
    let mut whole = vec![pm_fft::Complex::new(0.0, 0.0); nx * ny * nzc];
    for (rank, (r, block)) in results.iter().map(|(g, _, _)| g).zip(modes).enumerate() {
        let _ = rank;
        let rows = r.mode_rows.len();
        for (i, v) in block.iter().enumerate() {
            let (x, rest) = (i / (rows * nzc), i % (rows * nzc));
            let (y, z) = (r.mode_rows.start + rest / nzc, rest % nzc);
            whole[(x * ny + y) * nzc + z] = *v;
        }
    }
    let modes_rel = rel(
        whole.iter().flat_map(|c| [c.re, c.im]),
        serial.modes.as_slice().iter().flat_map(|c| [c.re, c.im]),
    );
    let value_rel = ((g.value - serial.value) / serial.value).abs();
    let growth_rel = rel(g.lpt_growth, serial.lpt_growth);
    let prefactor_rel = ((g.prefactor - serial.prefactor) / serial.prefactor).abs();
    let flat = |s: &[pm_adjoint::StepCoefficientGradients]| -> Vec<f64> {
        s.iter()
            .flat_map(|g| [g.kick1, g.drift, g.kick2].into_iter().chain(g.psi))
            .collect()
    };
    let steps_rel = rel(flat(&g.steps), flat(&serial.steps));
    println!(
        "{ranks} ranks: value {value_rel:.1e}, noise {noise_rel:.1e}, modes {modes_rel:.1e}, \
         lpt growth {growth_rel:.1e}, prefactor {prefactor_rel:.1e}, steps {steps_rel:.1e}"
    );
    [
        value_rel,
        noise_rel,
        modes_rel,
        growth_rel,
        prefactor_rel,
        steps_rel,
    ]
    .into_iter()
    .fold(0.0, f64::max)
}

fn check(stepper: StepperKind, lpt: LptOrder, modes: ModeOptions, ranks: &[usize]) {
    let sim = simulation(stepper, lpt, modes);
    let noise = sim.white_noise().unwrap();
    let serial = value_and_gradient(&sim, &noise, &objective(*sim.particle_mesh())).unwrap();
    assert!(serial.noise.as_slice().iter().any(|g| *g != 0.0));
    for &r in ranks {
        let worst = compare(&sim, &serial, r);
        assert!(
            worst <= TOLERANCE,
            "{stepper:?} on {r} ranks: {worst:.2e} > {TOLERANCE:.0e}"
        );
    }
}

#[test]
fn fastpm_2lpt_gradient_equals_the_serial_one_on_1_to_4_ranks() {
    check(
        StepperKind::FastPm,
        LptOrder::Second,
        ModeOptions::default(),
        &[0, 1, 2, 3, 4],
    );
}

#[test]
fn cola_gradient_with_fixed_amplitudes_equals_the_serial_one() {
    let fixed = ModeOptions {
        fixed_amplitude: true,
        ..Default::default()
    };
    check(StepperKind::Cola, LptOrder::First, fixed, &[2, 3]);
}
