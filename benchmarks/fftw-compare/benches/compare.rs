//! Criterion bench, pm-fft against FFTW: groups `{n}^3_{prec}_{threads}t`, functions
//! `pmrs_forward`, `fftw_forward`, `pmrs_inverse`, `fftw_inverse`. Each iteration refills the
//! input buffer untimed (`iter_custom`), so only the transforms are measured.
//!
//! Environment: `FFT_SIZES` (default `128,256`), `FFT_THREADS` (default `1,2`).

use criterion::{Criterion, criterion_group, criterion_main};
use fftw_compare::{Case, FftwReal, Rigor};

fn list(var: &str, default: &str) -> Vec<usize> {
    std::env::var(var)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|v| v.trim().parse().expect(var))
        .collect()
}

fn bench_case<T: FftwReal>(c: &mut Criterion, n: usize, threads: usize) {
    let mut case = Case::<T>::new(n, threads, Rigor::Measure);
    let mut group = c.benchmark_group(format!("{n}^3_{}_{threads}t", T::NAME));
    group.sample_size(10);
    group.bench_function("pmrs_forward", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| case.time_ours_forward()).sum())
    });
    group.bench_function("fftw_forward", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| case.time_fftw_forward()).sum())
    });
    group.bench_function("pmrs_inverse", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| case.time_ours_inverse()).sum())
    });
    group.bench_function("fftw_inverse", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| case.time_fftw_inverse()).sum())
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    for n in list("FFT_SIZES", "128,256") {
        for threads in list("FFT_THREADS", "1,2") {
            bench_case::<f32>(c, n, threads);
            bench_case::<f64>(c, n, threads);
        }
    }
}

criterion_group!(compare, benches);
criterion_main!(compare);
