//! One PM gravity solve (paint, FFT, kernel, 3 inverse FFTs, readout) of 128^3 particles on a
//! 128^3 mesh, and its VJP, in f32 and f64.

use pm_decomp::SerialComm;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use pm_fft::Real;
use pm_force::{FastPmKernel, Gravity};
use pm_mesh::{Lattice, Mesh, Positions};

fn bench_one<T: Real>(c: &mut Criterion, n: usize) {
    let box_size = 256.0;
    let mesh = Mesh::cubic(n, box_size).unwrap();
    let lattice = Lattice::cubic(n, box_size).unwrap();
    // A displaced lattice: displacements of about a cell, deterministic.
    let cell = box_size / n as f64;
    let disp: Vec<[T; 3]> = (0..lattice.len())
        .map(|i| {
            let h = (i as u64).wrapping_mul(0x9E3779B97F4A7C15);
            std::array::from_fn(|a| {
                let bits = (h >> (20 * a)) & 0xFFFFF;
                T::lit((bits as f64 / 1048576.0 - 0.5) * 2.0 * cell)
            })
        })
        .collect();
    let positions = Positions::Displaced {
        lattice,
        disp: &disp,
    };
    let gravity = Gravity::<T, _>::cpu(mesh, FastPmKernel).unwrap();
    let mut acc = vec![[T::zero(); 3]; lattice.len()];
    let cot = vec![[T::one(); 3]; lattice.len()];
    let mut grad = vec![[T::zero(); 3]; lattice.len()];
    let mut group = c.benchmark_group(format!("gravity_{n}^3_{}", T::NAME));
    group.sample_size(10);
    group.bench_function("accelerations", |b| {
        b.iter(|| {
            gravity
                .accelerations(&SerialComm, black_box(&positions), 0.45, &mut acc)
                .unwrap()
        })
    });
    group.bench_function("accelerations_vjp", |b| {
        b.iter(|| {
            gravity
                .accelerations_vjp(&SerialComm, black_box(&positions), 0.45, &cot, &mut grad)
                .unwrap()
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_one::<f32>(c, 128);
    bench_one::<f64>(c, 128);
}

criterion_group!(gravity, benches);
criterion_main!(gravity);
