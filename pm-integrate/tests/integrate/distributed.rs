//! The forward run on 1-4 thread ranks (uneven splits; `Simulation::build_on` and
//! `Simulation::run_on`) against the one-rank run (`Simulation::run` on `SerialComm`): white
//! noise, LPT fields and final particles, f64, and particles crossing several domains in one
//! drift.
//!
//! Agreement is `max |distributed - serial| / max |serial|` over all particles and
//! components, after gathering every rank's particles by their lattice index.

use std::time::Instant;

use pm_cosmo::Cosmology;
use pm_decomp::{Comm, CommExt, Decomposition, SerialComm, SlabDecomposition, ThreadComm};
use pm_fft::Real;
use pm_force::FastPmKernel;
use pm_integrate::{
    LptOrder, Simulation, SimulationBuilder, State, StepperKind, TimeSteps, white_noise,
    white_noise_block,
};
use pm_testkit::max_rel_diff;

/// `max |a - b| / max |b|`.
fn rel_diff<T: Real>(a: &[[T; 3]], b: &[[T; 3]]) -> f64 {
    assert_eq!(a.len(), b.len());
    max_rel_diff(
        a.iter().flatten().map(|v| v.as_f64()),
        b.iter().flatten().map(|v| v.as_f64()),
    )
}

/// The settings of a test run (seed 7, 2LPT or 1LPT from a = 0.1 to 1).
#[derive(Debug, Clone, Copy)]
struct Setup {
    particles: usize,
    mesh: usize,
    box_size: f64,
    steps: usize,
    stepper: StepperKind,
    lpt: LptOrder,
}

impl Setup {
    fn builder<T: Real>(&self) -> SimulationBuilder<T, FastPmKernel> {
        Simulation::<T, _>::builder(Cosmology::planck18())
            .box_size(self.box_size)
            .particles(self.particles)
            .mesh(self.mesh)
            .stepper(self.stepper)
            .lpt(self.lpt)
            .steps(TimeSteps::LinearA {
                a_start: 0.1,
                a_end: 1.0,
                steps: self.steps,
            })
            .seed(7)
    }

    /// The one-rank run.
    fn serial<T: Real>(&self) -> Simulation<T, FastPmKernel> {
        self.builder().build().unwrap()
    }

    /// The calling rank's share of the run over `comm`.
    fn on<T: Real>(&self, comm: &dyn Comm) -> Simulation<T, FastPmKernel> {
        self.builder().build_on(comm).unwrap()
    }
}

fn setup(
    particles: usize,
    mesh: usize,
    box_size: f64,
    steps: usize,
    stepper: StepperKind,
    lpt: LptOrder,
) -> Setup {
    Setup {
        particles,
        mesh,
        box_size,
        steps,
        stepper,
        lpt,
    }
}

/// Runs `body` on `ranks` thread ranks (`0`: on `SerialComm`) and returns every rank's result.
fn on_ranks<R: Send>(ranks: usize, body: impl Fn(&dyn Comm) -> R + Sync) -> Vec<R> {
    if ranks == 0 {
        vec![body(&SerialComm)]
    } else {
        ThreadComm::run(ranks, |comm| body(comm)).unwrap()
    }
}

/// Checks that the ranks' ids are exactly `0..n` once each, and that every rank gathered the
/// same state.
fn check_ids_and_gather<T: Real>(locals: &[(Vec<u64>, State<T>)], n: usize) -> State<T> {
    let mut ids: Vec<u64> = locals.iter().flat_map(|(ids, _)| ids.clone()).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (0..n as u64).collect::<Vec<_>>(),
        "particles lost or duplicated"
    );
    for (_, s) in &locals[1..] {
        assert_eq!(s, &locals[0].1, "ranks gathered different states");
    }
    locals[0].1.clone()
}

#[test]
fn white_noise_blocks_gather_to_the_serial_field_on_any_rank_count() {
    for shape in [[10, 6, 8], [16, 16, 16]] {
        let full = white_noise::<f64>(shape, 3);
        for ranks in 1..=4 {
            let blocks = on_ranks(ranks, |comm| {
                let d = SlabDecomposition::for_comm(shape, comm).unwrap();
                let xr = d.x_range(d.rank());
                let b = white_noise_block::<f64>(
                    shape,
                    [xr.start, 0, 0],
                    [xr.len(), shape[1], shape[2]],
                    3,
                );
                let flat: Vec<f64> = b.iter().copied().collect();
                comm.all_gather(&flat).unwrap().concat()
            });
            let want: Vec<f64> = full.iter().copied().collect();
            for got in blocks {
                assert_eq!(got, want, "{ranks} ranks, {shape:?}");
            }
        }
    }
}

#[test]
fn distributed_lpt_equals_the_serial_lpt() {
    for (n, order) in [
        (10, LptOrder::Second),
        (16, LptOrder::Second),
        (10, LptOrder::First),
    ] {
        let set = setup(n, n, 50.0, 2, StepperKind::FastPm, order);
        let sim = set.serial::<f64>();
        let lpt = sim.lpt(&SerialComm).unwrap();
        let a0 = sim.scale_factors()[0];
        let serial = lpt.state(a0, sim.growth()).unwrap();
        for ranks in 0..=4 {
            let parts = on_ranks(ranks, |comm| {
                let sim = set.on::<f64>(comm);
                let l = sim.lpt(comm).unwrap();
                let s = l.state(a0, sim.growth()).unwrap();
                (
                    l.ids(),
                    l.psi1().to_vec(),
                    l.psi2().map(<[_]>::to_vec),
                    s.disp,
                    s.mom,
                )
            });
            let mut worst = [0.0f64; 4];
            for (ids, psi1, psi2, disp, mom) in parts {
                let r = ids.start as usize..ids.end as usize;
                worst[0] = worst[0].max(rel_diff(&psi1, &lpt.psi1()[r.clone()]));
                if let (Some(p2), Some(s2)) = (&psi2, lpt.psi2()) {
                    worst[1] = worst[1].max(rel_diff(p2, &s2[r.clone()]));
                }
                assert_eq!(psi2.is_some(), lpt.psi2().is_some());
                worst[2] = worst[2].max(rel_diff(&disp, &serial.disp[r.clone()]));
                worst[3] = worst[3].max(rel_diff(&mom, &serial.mom[r]));
            }
            println!(
                "LPT {n}^3 {order:?}, {ranks} ranks (0 = SerialComm): psi1 {:.1e}, psi2 {:.1e}, \
                 disp {:.1e}, mom {:.1e}",
                worst[0], worst[1], worst[2], worst[3]
            );
            assert!(worst.iter().all(|&w| w < 1e-12), "{ranks} ranks: {worst:?}");
        }
    }
}

/// Runs `set` on `ranks` ranks (optionally adding `boost(id)` to the initial momenta) and
/// returns the gathered state, after checking every particle is on exactly one rank.
fn distributed_run<T: Real>(
    set: &Setup,
    ranks: usize,
    boost: Option<&(dyn Fn(u64) -> [f64; 3] + Sync)>,
) -> State<T> {
    let n = set.particles.pow(3);
    let locals = on_ranks(ranks, |comm| {
        let sim = set.on::<T>(comm);
        let mut state = sim.initial_state(comm).unwrap();
        if let Some(boost) = boost {
            for i in 0..state.len() {
                let b = boost(state.id(i));
                let p = &mut state.mom[i];
                for a in 0..3 {
                    p[a] = T::lit(p[a].as_f64() + b[a]);
                }
            }
        }
        let state = sim.evolve_on(comm, state, &mut []).unwrap();
        assert_eq!(state.global_len(comm).unwrap(), n as u64);
        let ids = (0..state.len()).map(|i| state.id(i)).collect();
        (ids, state.gather(comm).unwrap())
    });
    check_ids_and_gather(&locals, n)
}

#[test]
fn distributed_run_equals_the_serial_run() {
    for (stepper, lpt) in [
        (StepperKind::FastPm, LptOrder::Second),
        (StepperKind::Cola, LptOrder::Second),
        (StepperKind::Leapfrog, LptOrder::First),
    ] {
        let set = setup(16, 32, 64.0, 4, stepper, lpt);
        let serial = set.serial::<f64>().run(&mut []).unwrap();
        for ranks in 0..=4 {
            let got = distributed_run::<f64>(&set, ranks, None);
            let (d, p) = (
                rel_diff(&got.disp, &serial.disp),
                rel_diff(&got.mom, &serial.mom),
            );
            println!(
                "{stepper:?} {lpt:?} 16^3 particles, 32^3 mesh, 4 steps, {ranks} ranks \
                 (0 = SerialComm): disp {d:.1e}, mom {p:.1e}"
            );
            assert_eq!(got.a, serial.a);
            assert!(
                d < 1e-10 && p < 1e-10,
                "{ranks} ranks: disp {d:e}, mom {p:e}"
            );
        }
    }
}

/// `max |a - b| / max |b|` with `b` in f64.
fn rel_to_f64<T: Real>(a: &[[T; 3]], b: &[[f64; 3]]) -> f64 {
    let b: Vec<[f64; 3]> = b.to_vec();
    let a: Vec<[f64; 3]> = a.iter().map(|v| v.map(|x| x.as_f64())).collect();
    rel_diff(&a, &b)
}

/// In f32 the distributed run equals the serial one "to rounding": its final particles are
/// no further from the serial f64 run than twice the serial f32 run's own distance from it
/// (the sums in the FFTs and the paint run in another order, so the f32 roundings differ).
#[test]
fn distributed_run_in_f32_is_as_accurate_as_the_serial_f32_run() {
    let (p, m, b, n) = (16, 32, 64.0, 4);
    let (s, l) = (StepperKind::FastPm, LptOrder::Second);
    let set = setup(p, m, b, n, s, l);
    let reference = set.serial::<f64>().run(&mut []).unwrap();
    let serial = set.serial::<f32>().run(&mut []).unwrap();
    let rounding =
        rel_to_f64(&serial.disp, &reference.disp).max(rel_to_f64(&serial.mom, &reference.mom));
    for ranks in [2, 3] {
        let got = distributed_run::<f32>(&set, ranks, None);
        let (d, q) = (
            rel_to_f64(&got.disp, &reference.disp),
            rel_to_f64(&got.mom, &reference.mom),
        );
        println!(
            "f32 {ranks} ranks against f64: disp {d:.1e}, mom {q:.1e}; serial f32 {rounding:.1e}; \
             against serial f32: disp {:.1e}, mom {:.1e}",
            rel_diff(&got.disp, &serial.disp),
            rel_diff(&got.mom, &serial.mom)
        );
        assert!(
            d.max(q) <= 2.0 * rounding,
            "{ranks} ranks: {:.2e} > 2 x {rounding:.2e}",
            d.max(q)
        );
    }
}

#[test]
fn particles_crossing_several_domains_in_one_drift_are_neither_lost_nor_duplicated() {
    // 16^3 particles, 32^3 mesh: with 4 ranks each domain is 8 cells = 16 Mpc/h wide.
    let set = setup(16, 32, 64.0, 3, StepperKind::FastPm, LptOrder::Second);
    let sim = set.serial::<f64>();
    let l = 64.0;
    let a = sim.scale_factors();
    let drift = sim
        .stepper()
        .drift(a[0], a[1], 0.5 * (a[0] + a[1]))
        .unwrap()
        .scale;
    // Velocities that carry particles up to 1.3 boxes (five domain widths) per drift, in
    // both directions, different per particle.
    let boost = |id: u64| -> [f64; 3] {
        let s = ((id % 11) as f64 - 5.0) / 5.0;
        [1.3 * l * s / drift, -0.4 * l * s / drift, 0.2 * l / drift]
    };
    let mut state = sim.initial_state(&SerialComm).unwrap();
    for (i, p) in state.mom.iter_mut().enumerate() {
        let b = boost(i as u64);
        for k in 0..3 {
            p[k] += b[k];
        }
    }
    let serial = sim.evolve(state, &mut []).unwrap();
    let max_disp = serial
        .disp
        .iter()
        .map(|d| d[0].abs())
        .fold(0.0f64, f64::max);
    assert!(max_disp > l, "displacements of {max_disp} Mpc/h");
    for ranks in 0..=4 {
        let got = distributed_run::<f64>(&set, ranks, Some(&boost));
        let (d, p) = (
            rel_diff(&got.disp, &serial.disp),
            rel_diff(&got.mom, &serial.mom),
        );
        println!(
            "large drifts (max |disp_x| {max_disp:.0} Mpc/h, domain 16 Mpc/h), {ranks} ranks: \
             no particle lost or duplicated; disp {d:.1e}, mom {p:.1e}"
        );
        assert!(
            d < 1e-10 && p < 1e-10,
            "{ranks} ranks: disp {d:e}, mom {p:e}"
        );
    }
}

/// The acceptance run of issue 7: 64^3 particles, 128^3 mesh (the builder's default
/// 2x), 10 FastPM steps, f64, on 1-4 thread ranks against the serial run. Slow in debug:
/// `cargo test --release -p pm-integrate --test integrate -- --ignored --nocapture acceptance`.
#[test]
#[ignore]
fn acceptance_64_cubed_ten_steps_on_one_to_four_ranks() {
    let particles = 64;
    let mesh = std::env::var("PM_ACCEPT_MESH")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(128);
    let set = setup(
        particles,
        mesh,
        256.0,
        10,
        StepperKind::FastPm,
        LptOrder::Second,
    );
    let t = Instant::now();
    let serial = set.serial::<f64>().run(&mut []).unwrap();
    println!(
        "64^3 particles, {mesh}^3 mesh, 10 steps, f64: serial Simulation::run {:.2} s",
        t.elapsed().as_secs_f64()
    );
    for ranks in 1..=4 {
        let t = Instant::now();
        let got = distributed_run::<f64>(&set, ranks, None);
        let secs = t.elapsed().as_secs_f64();
        let (d, p) = (
            rel_diff(&got.disp, &serial.disp),
            rel_diff(&got.mom, &serial.mom),
        );
        println!("{ranks} thread ranks: {secs:.2} s (incl. gather), disp {d:.1e}, mom {p:.1e}");
        assert!(
            d < 1e-10 && p < 1e-10,
            "{ranks} ranks: disp {d:e}, mom {p:e}"
        );
    }
    // f32, to rounding (as `distributed_run_in_f32_is_as_accurate_as_the_serial_f32_run`).
    let serial32 = set.serial::<f32>().run(&mut []).unwrap();
    let rounding =
        rel_to_f64(&serial32.disp, &serial.disp).max(rel_to_f64(&serial32.mom, &serial.mom));
    for ranks in [2, 4] {
        let got = distributed_run::<f32>(&set, ranks, None);
        let worst = rel_to_f64(&got.disp, &serial.disp).max(rel_to_f64(&got.mom, &serial.mom));
        println!("f32 {ranks} thread ranks against f64: {worst:.1e} (serial f32: {rounding:.1e})");
        assert!(
            worst <= 2.0 * rounding,
            "f32 {ranks} ranks: {worst:.2e} > 2 x {rounding:.2e}"
        );
    }
}

#[test]
fn more_ranks_than_particle_planes_is_an_error() {
    let set = setup(4, 8, 64.0, 2, StepperKind::FastPm, LptOrder::Second);
    let errors = on_ranks(5, |comm| {
        matches!(
            set.builder::<f64>().build_on(comm),
            Err(pm_integrate::IntegrateError::Mesh(
                pm_mesh::MeshError::Decomp(_)
            ))
        )
    });
    assert!(errors.iter().all(|&e| e), "{errors:?}");
}

#[test]
fn phase_times_cover_the_run_and_reset() {
    let set = setup(8, 16, 64.0, 2, StepperKind::FastPm, LptOrder::Second);
    let rows = on_ranks(2, |comm| {
        let sim = set.on::<f64>(comm);
        assert_eq!(sim.times(), pm_decomp::PhaseTimes::default());
        let t = Instant::now();
        let state = sim.run_on(comm, &mut []).unwrap();
        let wall = t.elapsed().as_secs_f64();
        drop(state);
        let times = sim.times();
        sim.reset_times();
        (times, wall, sim.times())
    });
    for (times, wall, reset) in rows {
        for (name, t) in times.named() {
            assert!(t.is_finite() && t >= 0.0, "{name}: {t}");
        }
        assert!(times.fft > 0.0 && times.transpose > 0.0, "{times:?}");
        assert!(times.paint > 0.0 && times.readout > 0.0, "{times:?}");
        assert!(times.migration > 0.0 && times.halo > 0.0, "{times:?}");
        // The phases partition the timed calls, which are inside the wall time.
        assert!(times.total() <= wall * 1.01 + 1e-3, "{times:?} vs {wall}");
        assert_eq!(reset, pm_decomp::PhaseTimes::default());
    }
}
