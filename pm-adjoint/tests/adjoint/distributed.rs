//! `value_and_gradient` on 1-4 thread ranks (uneven slab splits; a simulation built with
//! `build_on`) against the one-rank gradient on `SerialComm`: the value and the gradients with
//! respect to the white noise, the linear modes, the LPT growth, the force prefactor and the
//! step coefficients, for FastPM with 2LPT and COLA with 1LPT, f64.
//!
//! Tolerance 1e-10 relative (`max |distributed - serial| / max |serial|`): both compute the
//! same arithmetic per particle and per mode; only the order of the sums in the FFTs, the
//! paint (halo additions) and the reductions over ranks differs, so the results agree to
//! rounding amplified by the steps (about 1e-14 here).

use pm_adjoint::{
    GaussianLikelihood, Gradient, Painted, Sigma, StepCoefficientGradients, Sum, WhiteNoisePrior,
    value_and_gradient,
};
use pm_cosmo::Cosmology;
use pm_decomp::{Comm, CommExt, SerialComm, ThreadComm};
use pm_fft::Real;
use pm_force::FastPmKernel;
use pm_integrate::{LptOrder, ModeOptions, Simulation, SimulationBuilder, StepperKind, TimeSteps};
use pm_mesh::{Mesh, RealField};
use pm_testkit::max_rel_diff;

const TOLERANCE: f64 = 1e-10;

/// The settings of a test run (seed 11, from a = 0.1 to 1).
#[derive(Debug, Clone, Copy)]
struct Setup {
    particles: usize,
    mesh: usize,
    box_size: f64,
    steps: usize,
    stepper: StepperKind,
    lpt: LptOrder,
    modes: ModeOptions,
}

impl Setup {
    /// The small run of the CI tests: 12^3 particles, 24^3 mesh, 64 Mpc/h, 4 steps.
    fn small(stepper: StepperKind, lpt: LptOrder, modes: ModeOptions) -> Self {
        Self {
            particles: 12,
            mesh: 24,
            box_size: 64.0,
            steps: 4,
            stepper,
            lpt,
            modes,
        }
    }

    fn builder<T: Real>(&self) -> SimulationBuilder<T, FastPmKernel> {
        Simulation::<T, _>::builder(Cosmology::planck18())
            .box_size(self.box_size)
            .particles(self.particles)
            .mesh(self.mesh)
            .stepper(self.stepper)
            .lpt(self.lpt)
            .modes(self.modes)
            .steps(TimeSteps::LinearA {
                a_start: 0.1,
                a_end: 1.0,
                steps: self.steps,
            })
            .seed(11)
    }

    /// The one-rank gradient.
    fn serial<T: Real>(&self) -> Gradient<T> {
        let sim = self.builder::<T>().build().unwrap();
        let noise = sim.white_noise().unwrap();
        value_and_gradient(&SerialComm, &sim, &noise, &objective(*sim.particle_mesh())).unwrap()
    }
}

/// A Gaussian likelihood of the painted final density against a smooth made-up field, plus
/// the white-noise prior: depends on the final positions nonlinearly and on the noise
/// explicitly.
fn objective<T: Real>(mesh: Mesh) -> Sum<'static, T> {
    let [n0, n1, n2] = mesh.shape();
    let data = ndarray::Array3::from_shape_fn((n0, n1, n2), |(i, j, k)| {
        let t = std::f64::consts::TAU;
        T::lit(
            0.3 * (t * i as f64 / n0 as f64).sin() * (t * j as f64 / n1 as f64).cos()
                + 0.1 * (2.0 * t * k as f64 / n2 as f64).sin(),
        )
    });
    let data = RealField::from_array(mesh, data).unwrap();
    let likelihood = GaussianLikelihood::new(data, Sigma::Scalar(0.5)).unwrap();
    Sum::new()
        .with(Painted::new(likelihood))
        .with(WhiteNoisePrior::new())
}

/// Every gradient of a run as flat f64 vectors, serial and distributed alike.
struct Flat {
    value: f64,
    noise: Vec<f64>,
    modes: Vec<f64>,
    lpt_growth: [f64; 4],
    prefactor: f64,
    steps: Vec<f64>,
}

fn flat_steps(s: &[StepCoefficientGradients]) -> Vec<f64> {
    s.iter()
        .flat_map(|g| [g.kick1, g.drift, g.kick2].into_iter().chain(g.psi))
        .collect()
}

impl Flat {
    fn serial<T: Real>(g: &Gradient<T>) -> Self {
        Self {
            value: g.value,
            noise: g.noise.as_slice().iter().map(|v| v.as_f64()).collect(),
            modes: g
                .modes
                .as_slice()
                .iter()
                .flat_map(|c| [c.re.as_f64(), c.im.as_f64()])
                .collect(),
            lpt_growth: g.lpt_growth,
            prefactor: g.prefactor,
            steps: flat_steps(&g.steps),
        }
    }

    /// The gradient of `set` on `ranks` thread ranks (0: `SerialComm`), gathered; checks
    /// that every rank reports the same reduced quantities.
    fn distributed<T: Real>(set: &Setup, ranks: usize) -> Self {
        let body = |comm: &dyn Comm| {
            let sim = set.builder::<T>().build_on(comm).unwrap();
            let mesh = *sim.particle_mesh();
            let noise = sim.noise_block().unwrap();
            let g = value_and_gradient(comm, &sim, &noise, &objective(mesh)).unwrap();
            let noise = g.gather_noise(comm).unwrap();
            let modes: Vec<_> = comm.all_gather(g.modes.as_slice()).unwrap();
            (g, noise, modes, mesh)
        };
        let results = if ranks == 0 {
            vec![body(&SerialComm)]
        } else {
            ThreadComm::run(ranks, |comm| body(comm)).unwrap()
        };
        let (g, noise, _, mesh) = &results[0];
        let modes = &results[0].2;
        for (other, _, _, _) in &results[1..] {
            assert_eq!(other.value.to_bits(), g.value.to_bits());
            assert_eq!(other.prefactor.to_bits(), g.prefactor.to_bits());
            assert_eq!(other.steps, g.steps);
        }
        // The mode blocks are y-slabs: reassemble [nx][ny][nzc] from [rank][nx][rows][nzc].
        let [nx, ny, nzc] = mesh.complex_shape();
        let mut whole = vec![0.0; 2 * nx * ny * nzc];
        for (r, block) in results.iter().map(|(g, _, _, _)| g).zip(modes) {
            let rows = r.modes.rows();
            for (i, v) in block.iter().enumerate() {
                let (x, rest) = (i / (rows.len() * nzc), i % (rows.len() * nzc));
                let (y, z) = (rows.start + rest / nzc, rest % nzc);
                let at = 2 * ((x * ny + y) * nzc + z);
                whole[at] = v.re.as_f64();
                whole[at + 1] = v.im.as_f64();
            }
        }
        Self {
            value: g.value,
            noise: noise.as_slice().iter().map(|v| v.as_f64()).collect(),
            modes: whole,
            lpt_growth: g.lpt_growth,
            prefactor: g.prefactor,
            steps: flat_steps(&g.steps),
        }
    }

    /// The largest relative difference from `reference` over all the gradients, printed
    /// per gradient after `label`.
    fn diff(&self, reference: &Flat, label: &str) -> f64 {
        let r = reference;
        let value = ((self.value - r.value) / r.value).abs();
        let noise = max_rel_diff(self.noise.iter().copied(), r.noise.iter().copied());
        let modes = max_rel_diff(self.modes.iter().copied(), r.modes.iter().copied());
        let growth = max_rel_diff(self.lpt_growth, r.lpt_growth);
        let prefactor = ((self.prefactor - r.prefactor) / r.prefactor).abs();
        let steps = max_rel_diff(self.steps.iter().copied(), r.steps.iter().copied());
        println!(
            "{label}: value {value:.1e}, noise {noise:.1e}, modes {modes:.1e}, lpt growth \
             {growth:.1e}, prefactor {prefactor:.1e}, steps {steps:.1e}"
        );
        [value, noise, modes, growth, prefactor, steps]
            .into_iter()
            .fold(0.0, f64::max)
    }
}

fn check(stepper: StepperKind, lpt: LptOrder, modes: ModeOptions, ranks: &[usize]) {
    let set = Setup::small(stepper, lpt, modes);
    let serial = set.serial::<f64>();
    assert!(serial.noise.as_slice().iter().any(|g| *g != 0.0));
    let serial = Flat::serial(&serial);
    for &r in ranks {
        let worst = Flat::distributed::<f64>(&set, r).diff(&serial, &format!("{r} ranks"));
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

/// The acceptance run of issue 7 for the gradient: 64^3 particles, 128^3 mesh, 10 FastPM
/// steps, on 1-4 thread ranks against the serial gradient; f64 to 1e-10, and f32 to its
/// rounding: the distributed f32 gradient is within twice the serial f32 gradient's own
/// distance from the f64 one (both measured against the serial f64 gradient; the rounding
/// differs because the FFT and paint sums run in another order, and ten steps amplify it,
/// most where a particle sits near a cell edge). Slow in debug: `cargo test --release -p
/// pm-adjoint --test adjoint -- --ignored --nocapture acceptance`.
#[test]
#[ignore]
fn acceptance_64_cubed_ten_step_gradient_on_one_to_four_ranks() {
    let (p, m, b, n) = (64, 128, 256.0, 10);
    let (s, l, modes) = (
        StepperKind::FastPm,
        LptOrder::Second,
        ModeOptions::default(),
    );
    let set = Setup {
        particles: p,
        mesh: m,
        box_size: b,
        steps: n,
        stepper: s,
        lpt: l,
        modes,
    };
    let t = std::time::Instant::now();
    let serial64 = set.serial::<f64>();
    println!("serial f64 gradient: {:.1} s", t.elapsed().as_secs_f64());
    let serial64 = Flat::serial(&serial64);
    for ranks in 1..=4 {
        let t = std::time::Instant::now();
        let worst =
            Flat::distributed::<f64>(&set, ranks).diff(&serial64, &format!("f64 {ranks} ranks"));
        println!("  ({:.1} s)", t.elapsed().as_secs_f64());
        assert!(worst <= TOLERANCE, "f64 {ranks} ranks: {worst:.2e}");
    }
    let serial32 = Flat::serial(&set.serial::<f32>());
    let rounding = serial32.diff(&serial64, "serial f32 against serial f64");
    for ranks in [2, 4] {
        let got = Flat::distributed::<f32>(&set, ranks);
        got.diff(&serial32, &format!("f32 {ranks} ranks against serial f32"));
        let worst = got.diff(&serial64, &format!("f32 {ranks} ranks against serial f64"));
        assert!(
            worst <= 2.0 * rounding,
            "f32 {ranks} ranks: {worst:.2e} > 2 x {rounding:.2e}"
        );
    }
}
