//! Cost of building the growth and distance tables (plain and with all seven parameter
//! derivatives) and of evaluating them.

use criterion::{Criterion, criterion_group, criterion_main};
use pm_cosmo::{Cosmology, DistanceTable, GrowthTable, LinearPower};
use std::hint::black_box;

fn build(c: &mut Criterion) {
    let cosmo = Cosmology::planck18();
    let dual = cosmo.with_gradients();
    let mut g = c.benchmark_group("build");
    g.bench_function("growth_f64", |b| {
        b.iter(|| GrowthTable::new(black_box(&cosmo)).unwrap())
    });
    g.bench_function("distance_f64", |b| {
        b.iter(|| DistanceTable::new(black_box(&cosmo)).unwrap())
    });
    g.bench_function("growth_dual7", |b| {
        b.iter(|| GrowthTable::new(black_box(&dual)).unwrap())
    });
    g.bench_function("distance_dual7", |b| {
        b.iter(|| DistanceTable::new(black_box(&dual)).unwrap())
    });
    g.bench_function("eisenstein_hu_f64", |b| {
        b.iter(|| LinearPower::eisenstein_hu(black_box(&cosmo)).unwrap())
    });
    g.bench_function("eisenstein_hu_dual7", |b| {
        b.iter(|| LinearPower::eisenstein_hu(black_box(&dual)).unwrap())
    });
    g.finish();
}

fn evaluate(c: &mut Criterion) {
    let cosmo = Cosmology::planck18();
    let growth = GrowthTable::new(&cosmo).unwrap();
    let dist = DistanceTable::new(&cosmo).unwrap();
    let a: Vec<f64> = (0..1000).map(|i| 0.01 + 0.99 * i as f64 / 999.0).collect();
    let chi: Vec<f64> = a.iter().map(|&a| dist.chi(a).unwrap()).collect();
    let mut g = c.benchmark_group("evaluate_1000");
    g.bench_function("growth_at", |b| {
        b.iter(|| {
            a.iter()
                .map(|&a| growth.at(black_box(a)).unwrap().d1)
                .sum::<f64>()
        })
    });
    g.bench_function("chi", |b| {
        b.iter(|| {
            a.iter()
                .map(|&a| dist.chi(black_box(a)).unwrap())
                .sum::<f64>()
        })
    });
    g.bench_function("a_of_chi", |b| {
        b.iter(|| {
            chi.iter()
                .map(|&c| dist.a_of_chi(black_box(c)).unwrap())
                .sum::<f64>()
        })
    });
    let power = LinearPower::eisenstein_hu(&cosmo).unwrap();
    let k: Vec<f64> = (0..1000)
        .map(|i| 10f64.powf(-3.0 + 4.0 * i as f64 / 999.0))
        .collect();
    g.bench_function("eisenstein_hu_power", |b| {
        b.iter(|| {
            k.iter()
                .map(|&k| power.power(black_box(k)).unwrap())
                .sum::<f64>()
        })
    });
    g.finish();
}

criterion_group!(benches, build, evaluate);
criterion_main!(benches);
