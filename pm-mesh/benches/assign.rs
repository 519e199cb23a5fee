//! CIC paint and readout of 128^3 particles (a lattice displaced by up to one cell of the
//! lattice in every direction) on 128^3 and 256^3 meshes over the same 256 Mpc/h box, f32 and
//! f64, on the default rayon pool and on a one-thread pool (for throughput per core).
//!
//! Paint accumulates into the same field every iteration (the zeroing of the grid is not
//! timed); readout overwrites a preallocated buffer.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pm_mesh::{Lattice, Mesh, Positions, Real, RealField, Scheme, paint, readout};
use pm_testkit::SplitMix64;

const N_SIDE: usize = 128;
const BOX: f64 = 256.0;

fn bench_one<T: Real>(c: &mut Criterion, n_mesh: usize, threads: Option<usize>) {
    let lattice = Lattice::cubic(N_SIDE, BOX).expect("lattice");
    let spacing = BOX / N_SIDE as f64;
    let mut rng = SplitMix64::new(42);
    let disp: Vec<[T; 3]> = (0..lattice.len())
        .map(|_| std::array::from_fn(|_| T::lit(spacing * rng.signed())))
        .collect();
    let positions = Positions::Displaced {
        lattice,
        disp: &disp,
    };
    let mesh = Mesh::cubic(n_mesh, BOX).expect("mesh");
    let mut field = RealField::<T>::zeros(mesh);
    let mut out = vec![T::zero(); lattice.len()];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .expect("pool");
    let label = threads.map_or("all threads".to_string(), |t| format!("{t} thread"));
    let mut group = c.benchmark_group(format!(
        "cic_{N_SIDE}^3_particles_{n_mesh}^3_mesh_{}_{label}",
        T::NAME
    ));
    group.sample_size(10);
    group.throughput(Throughput::Elements(lattice.len() as u64));
    group.bench_function("paint", |b| {
        b.iter(|| pool.install(|| paint(black_box(&mut field), &positions, None, Scheme::Cic)))
    });
    group.bench_function("readout", |b| {
        b.iter(|| pool.install(|| readout(black_box(&field), &positions, Scheme::Cic, &mut out)))
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    for n_mesh in [128, 256] {
        bench_one::<f32>(c, n_mesh, None);
        bench_one::<f64>(c, n_mesh, None);
    }
    bench_one::<f32>(c, 128, Some(1));
    bench_one::<f64>(c, 256, Some(1));
}

criterion_group!(assign, benches);
criterion_main!(assign);
