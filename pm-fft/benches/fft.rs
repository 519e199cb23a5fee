//! Forward and inverse 3D real FFT on the CPU at 128^3 and 256^3, f32 and f64.
//!
//! Runs on rayon's global pool: `RAYON_NUM_THREADS=1 cargo bench -p pm-fft` for one thread.
//! Each iteration refills the input buffer (both transforms use their input as scratch)
//! outside the timed region, so only the transform is measured. For the comparison with
//! FFTW see `benchmarks/fftw-compare` (not part of the workspace).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use pm_fft::{Complex, CpuFft3d, Fft3d, Real};

fn bench_one<T: Real>(c: &mut Criterion, n: usize) {
    let plan = CpuFft3d::<T>::new([n, n, n]).expect("plan");
    let input: Vec<T> = (0..plan.real_len())
        .map(|i| T::lit(((i * 7919) % 1000) as f64 / 1000.0 - 0.5))
        .collect();
    let mut real = input.clone();
    let mut complex = vec![Complex::<T>::default(); plan.complex_len()];
    let mut group = c.benchmark_group(format!("fft_{n}^3_{}", T::NAME));
    group.sample_size(10);
    group.bench_function("forward", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                real.copy_from_slice(&input);
                let t = Instant::now();
                plan.forward(black_box(&mut real), &mut complex).unwrap();
                total += t.elapsed();
            }
            total
        })
    });
    real.copy_from_slice(&input);
    plan.forward(&mut real, &mut complex).unwrap();
    let spectrum = complex.clone();
    group.bench_function("inverse", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                complex.copy_from_slice(&spectrum);
                let t = Instant::now();
                plan.inverse(black_box(&mut complex), &mut real).unwrap();
                total += t.elapsed();
            }
            total
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    for n in [128, 256] {
        bench_one::<f32>(c, n);
        bench_one::<f64>(c, n);
    }
}

criterion_group!(fft, benches);
criterion_main!(fft);
