//! Time to build a 10-step lightcone and a full-sky HEALPix map at nside 256 from a 128^3 run
//! (issue 8's benchmark; numbers in `docs/BENCHMARKS.md`).
//!
//! ```text
//! cargo bench -p pm-lensing --bench lightcone
//! ```
//!
//! The run (128^3 particles, 128^3 mesh, 512 Mpc/h, FastPM 10 steps from a = 0.1, 2LPT, f32)
//! is made once; its 11 states are kept, and the benchmark is the Born projection of the 10
//! steps onto the map (sources at z = 0.5, observer at the box centre): every crossing of
//! every periodic replica the cone reaches. The simulation's own time is printed once beside
//! it, for scale.

use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use pm_cosmo::Cosmology;
use pm_integrate::{Simulation, State, StepInfo, StepperKind, TimeSteps};
use pm_lensing::{BornKernel, BornProjection, FullSky, Lightcone, SkyMap, Sources};
use pm_mesh::Positions;

fn bench(c: &mut Criterion) {
    let (n, box_size) = (128, 512.0);
    let sim = Simulation::<f32, _>::builder(Cosmology::planck18())
        .box_size(box_size)
        .particles(n)
        .mesh(n)
        .stepper(StepperKind::FastPm)
        .steps(TimeSteps::LinearA {
            a_start: 0.1,
            a_end: 1.0,
            steps: 10,
        })
        .seed(1)
        .build()
        .unwrap();
    let mut states: Vec<(f64, Vec<[f32; 3]>)> = Vec::new();
    let mut keep = |info: &StepInfo, s: &State<f32>| {
        states.push((info.a, s.disp.clone()));
        Ok(())
    };
    let t = Instant::now();
    sim.run(&mut [&mut keep]).unwrap();
    println!(
        "simulation (with copies of the 11 states): {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let lattice = pm_mesh::Lattice::cubic(n, box_size).unwrap();
    let kernel = BornKernel::new(&Cosmology::planck18(), &Sources::Plane { z: 0.5 }).unwrap();
    let cone = Lightcone::new([0.5 * box_size; 3], [box_size; 3], kernel.source_distance());
    let born = BornProjection::new(kernel, cone, FullSky::new(256).unwrap());
    let project = || {
        let mut kappa = vec![0.0; born.map().npix()];
        let mut crossings = 0;
        for w in states.windows(2) {
            let x0 = Positions::Displaced {
                lattice,
                disp: &w[0].1,
            };
            let x1 = Positions::Displaced {
                lattice,
                disp: &w[1].1,
            };
            crossings += born
                .add_step(&step(w[0].0, w[1].0, &x0, &x1), &mut kappa)
                .unwrap()
                .crossings;
        }
        (kappa, crossings)
    };
    let (_, crossings) = project();
    println!(
        "crossings: {crossings} ({:.1} per particle)",
        crossings as f64 / (n * n * n) as f64
    );
    let mut group = c.benchmark_group("lightcone");
    group.sample_size(10);
    group.bench_function("fullsky_nside256_128cubed_10_steps_zs0.5", |b| {
        b.iter(project)
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

/// The step from `x0` at `a0` to `x1` at `a1`, as a run hands it to its observers.
fn step<'a, T: pm_fft::Real>(
    a0: f64,
    a1: f64,
    x0: &pm_mesh::Positions<'a, T>,
    x1: &pm_mesh::Positions<'a, T>,
) -> pm_integrate::StepPositions<'a, T> {
    pm_integrate::StepPositions {
        step: 0,
        a0,
        a1,
        x0: *x0,
        x1: *x1,
    }
}
