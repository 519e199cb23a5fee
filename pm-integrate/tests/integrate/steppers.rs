//! The steppers against exact solutions, with forces that make the LPT trajectories exact.

use std::sync::Arc;

use pm_cosmo::{Cosmology, GrowthTable};
use pm_decomp::{Comm, SerialComm};
use pm_integrate::{
    Cola, FastPm, Forces, IntegrateError, Leapfrog, Lpt, State, Stepper, TimeSteps, kdk_step,
};
use pm_mesh::{Lattice, MeshBlock, Positions};
use pm_testkit::max_rel_diff3;

/// `F = 3/2 Omega_m disp`: the force of linear theory on a particle displaced by `D1 s`
/// (`F = gf1 s`, `gf1 = 3/2 Omega_m D1`), so the Zel'dovich trajectory is an exact solution.
struct LinearForce(f64);

impl Forces<f64> for LinearForce {
    fn accelerations(
        &self,
        _: &dyn Comm,
        positions: &Positions<'_, f64>,
        out: &mut [[f64; 3]],
    ) -> Result<(), IntegrateError> {
        let Positions::Displaced { disp, .. } = positions else {
            unreachable!("one rank: the whole lattice in order")
        };
        for (o, d) in out.iter_mut().zip(*disp) {
            *o = d.map(|v| self.0 * v);
        }
        Ok(())
    }
}

fn zeldovich_state(
    growth: &GrowthTable<f64>,
    a: f64,
    s: &[[f64; 3]],
    lattice: Lattice,
) -> State<f64> {
    let g = growth.at(a).unwrap();
    State::new(
        lattice,
        a,
        s.iter().map(|v| v.map(|x| g.d1 * x)).collect(),
        s.iter().map(|v| v.map(|x| g.gp1 * x)).collect(),
    )
    .unwrap()
}

fn run(
    stepper: &dyn Stepper,
    mut state: State<f64>,
    a: &[f64],
    forces: &dyn Forces<f64>,
) -> State<f64> {
    for &a1 in &a[1..] {
        kdk_step(&SerialComm, stepper, forces, &mut state, a1, None).unwrap();
    }
    state
}

#[test]
fn fastpm_follows_zeldovich_exactly_for_any_step_size_and_leapfrog_converges() {
    let cosmology = Cosmology::planck18();
    let growth = Arc::new(GrowthTable::new(&cosmology).unwrap());
    let forces = LinearForce(1.5 * cosmology.omega_m());
    let lattice = Lattice::cubic(2, 10.0).unwrap();
    let s: Vec<[f64; 3]> = (0..lattice.len())
        .map(|i| [0.3 * i as f64 - 1.0, 0.1, -0.2 * i as f64])
        .collect();
    let fastpm = FastPm::new(growth.clone());
    let leapfrog = Leapfrog::new(growth.clone());
    let end = zeldovich_state(&growth, 1.0, &s, lattice);
    let mut previous = f64::INFINITY;
    for steps in [1, 2, 5, 10, 40] {
        let a = TimeSteps::LinearA {
            a_start: 0.1,
            a_end: 1.0,
            steps,
        }
        .scale_factors()
        .unwrap();
        let start = zeldovich_state(&growth, 0.1, &s, lattice);
        let f = run(&fastpm, start.clone(), &a, &forces);
        let (ex, ep) = (
            max_rel_diff3(&f.disp, &end.disp),
            max_rel_diff3(&f.mom, &end.mom),
        );
        let l = run(&leapfrog, start, &a, &forces);
        let (lx, lp) = (
            max_rel_diff3(&l.disp, &end.disp),
            max_rel_diff3(&l.mom, &end.mom),
        );
        println!(
            "{steps:3} steps: fastpm error x {ex:.1e} p {ep:.1e}; leapfrog error x {lx:.2e} p {lp:.2e}"
        );
        // FastPM: exact up to the growth table's interpolation (~1e-9) and rounding.
        assert!(ex < 1e-8 && ep < 1e-8, "fastpm {steps} steps: {ex} {ep}");
        // Leapfrog: second order, so the error falls as the steps grow.
        assert!(lx < previous);
        previous = lx;
    }
    // With 40 steps leapfrog is within a percent, with 1-2 it is far off.
    assert!(previous < 0.01);
}

/// `F = gf1 psi1 + gf2 psi2`: the force along the 2LPT trajectory, so COLA's residual stays
/// zero. It needs the scale factor, which a `Forces` does not get; the test keeps it in a cell.
struct LptForce<'a> {
    lpt: &'a Lpt<f64>,
    growth: &'a GrowthTable<f64>,
    a: std::sync::Mutex<f64>,
}

impl Forces<f64> for LptForce<'_> {
    fn accelerations(
        &self,
        _: &dyn Comm,
        _: &Positions<'_, f64>,
        out: &mut [[f64; 3]],
    ) -> Result<(), IntegrateError> {
        let g = self.growth.at(*self.a.lock().unwrap())?;
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.lpt.combine(i, g.gf1, g.gf2);
        }
        Ok(())
    }
}

#[test]
fn cola_keeps_particles_on_their_lpt_trajectory() {
    use pm_fft::CpuFft3d;
    use pm_mesh::{Mesh, RealField};
    let cosmology = Cosmology::planck18();
    let growth = Arc::new(GrowthTable::new(&cosmology).unwrap());
    let mesh = Mesh::cubic(8, 64.0).unwrap();
    let mut delta = RealField::<f64>::zeros(mesh);
    for ((i, j, k), v) in delta.data_mut().indexed_iter_mut() {
        *v = 0.3 * ((i as f64 * 0.7).sin() + (j as f64 * 1.3 + k as f64).cos());
    }
    let plan = CpuFft3d::<f64>::new(mesh.shape()).unwrap();
    let block = MeshBlock::<f64>::whole(mesh).unwrap();
    let lpt = Lpt::new(
        &SerialComm,
        &block,
        &delta.forward(&plan).unwrap(),
        pm_integrate::LptOrder::Second,
    )
    .unwrap();
    let forces = LptForce {
        lpt: &lpt,
        growth: &growth,
        a: std::sync::Mutex::new(0.1),
    };
    let cola = Cola::new(growth.clone());
    let a = TimeSteps::LinearA {
        a_start: 0.1,
        a_end: 1.0,
        steps: 3,
    }
    .scale_factors()
    .unwrap();
    // COLA moves the LPT frame: the state carries the LPT fields.
    let mut state = lpt.clone().into_state(a[0], &growth, true).unwrap();
    for &a1 in &a[1..] {
        // The driver evaluates F at the start (cached) and at the end of each step.
        *forces.a.lock().unwrap() = state.a;
        pm_integrate::ensure_accelerations(&SerialComm, &mut state, &forces).unwrap();
        *forces.a.lock().unwrap() = a1;
        kdk_step(&SerialComm, &cola, &forces, &mut state, a1, None).unwrap();
    }
    let end = lpt.state(1.0, &growth).unwrap();
    let (ex, ep) = (
        max_rel_diff3(&state.disp, &end.disp),
        max_rel_diff3(&state.mom, &end.mom),
    );
    println!("COLA, 3 steps along the 2LPT trajectory: error x {ex:.1e}, p {ep:.1e}");
    assert!(ex < 1e-9 && ep < 1e-9);
    // Without the LPT fields COLA refuses to run.
    let mut s = lpt.state(0.1, &growth).unwrap();
    assert!(kdk_step(&SerialComm, &cola, &forces, &mut s, 0.2, None).is_err());
}

#[test]
fn bad_schedules_are_rejected() {
    for steps in [
        TimeSteps::LinearA {
            a_start: 0.1,
            a_end: 1.0,
            steps: 0,
        },
        TimeSteps::LogA {
            a_start: 0.0,
            a_end: 1.0,
            steps: 3,
        },
        TimeSteps::LinearA {
            a_start: 1.0,
            a_end: 0.5,
            steps: 3,
        },
        TimeSteps::Explicit(vec![0.1, 0.5, 0.5]),
        TimeSteps::Explicit(vec![0.1]),
        TimeSteps::Explicit(vec![0.1, f64::NAN]),
    ] {
        let err = steps.scale_factors().unwrap_err();
        assert!(matches!(err, IntegrateError::Schedule(_)), "{steps:?}");
        println!("{steps:?}: {err}");
    }
    let a = TimeSteps::LogA {
        a_start: 0.01,
        a_end: 1.0,
        steps: 2,
    }
    .scale_factors()
    .unwrap();
    assert!((a[1] - 0.1).abs() < 1e-15 && a[2] == 1.0);
}
