//! Writes the two pictures of the plot module for synthetic data, for a person to look at:
//! `/tmp/pm_plot_demo_slice.png` (a lognormal 128 x 128 density slice) and
//! `/tmp/pm_plot_demo_pk.png` (a BBKS-like power spectrum, a noisy "measurement" of it and a
//! dashed shot-noise level).
//!
//! Run with `cargo run -p pm-cli --example plot_demo`.

use pm_cli::plot::{Curve, density_slice_png, power_spectrum_png};
use pm_testkit::keyed_u64;

/// A deterministic pseudo-random number in [0, 1] from an index (splitmix64 of `index + gamma`,
/// all 64 bits over 2^64).
fn uniform(index: u64) -> f64 {
    keyed_u64(index, 1) as f64 / 2f64.powi(64)
}

/// 1 + delta on an `n` x `n` periodic grid: a lognormal field, exp(g - 1/2) for a Gaussian
/// field g of unit variance made of random plane waves with a red spectrum; cells below 0.05
/// are emptied, as voids in a particle mesh are.
fn synthetic_slice(n: usize) -> Vec<f64> {
    let waves: Vec<[f64; 4]> = (0..300u64)
        .map(|j| {
            let [a, b, c] = [0, 1, 2].map(|i| uniform(3 * j + i));
            let (kx, ky) = ((a * 24.0).floor() - 12.0, (b * 24.0).floor() - 12.0);
            let k = (kx * kx + ky * ky).sqrt().max(1.0);
            [kx, ky, c * std::f64::consts::TAU, k.powf(-1.1)]
        })
        .collect();
    let norm = (waves.iter().map(|w| w[3] * w[3] / 2.0).sum::<f64>()).sqrt();
    let sigma = 1.8;
    (0..n * n)
        .map(|index| {
            let (x, y) = ((index % n) as f64 / n as f64, (index / n) as f64 / n as f64);
            let g: f64 = waves
                .iter()
                .map(|&[kx, ky, phase, amplitude]| {
                    amplitude * (std::f64::consts::TAU * (kx * x + ky * y) + phase).cos()
                })
                .sum::<f64>()
                / norm;
            let value = (sigma * g - sigma * sigma / 2.0).exp();
            if value < 0.05 { 0.0 } else { value }
        })
        .collect()
}

/// A BBKS-shaped linear power spectrum in (Mpc/h)^3 at k in h/Mpc.
fn bbks(k: f64) -> f64 {
    let q = k / 0.21;
    let t = (1.0 + 2.34 * q).ln() / (2.34 * q)
        * (1.0 + 3.89 * q + (16.1 * q).powi(2) + (5.46 * q).powi(3) + (6.71 * q).powi(4))
            .powf(-0.25);
    2.0e6 * k * t * t
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = 128;
    let slice = density_slice_png(
        &synthetic_slice(n),
        [n, n],
        3,
        "1+\u{3b4}, z = 0, slab 2 Mpc/h",
    )?;
    std::fs::write("/tmp/pm_plot_demo_slice.png", slice)?;

    let k: Vec<f64> = (0..80)
        .map(|i| 10f64.powf(-2.5 + 3.0 * f64::from(i) / 79.0))
        .collect();
    let linear: Vec<f64> = k.iter().map(|&k| bbks(k)).collect();
    let mut measured: Vec<f64> = k
        .iter()
        .zip(&linear)
        .enumerate()
        .map(|(i, (&k, &p))| {
            p * (1.0 + (k / 0.3).powi(2)) * (1.0 + 0.3 * (uniform(i as u64) - 0.5)) + 300.0
        })
        .collect();
    measured[5] = f64::NAN;
    let shot = vec![300.0; k.len()];
    let curves = [
        Curve {
            label: "measured",
            k: &k,
            p: &measured,
            dashed: false,
        },
        Curve {
            label: "linear theory",
            k: &k,
            p: &linear,
            dashed: false,
        },
        Curve {
            label: "shot noise",
            k: &k,
            p: &shot,
            dashed: true,
        },
    ];
    let pk = power_spectrum_png(&curves, "Matter power spectrum, z = 0", 800, 600)?;
    std::fs::write("/tmp/pm_plot_demo_pk.png", pk)?;
    println!("wrote /tmp/pm_plot_demo_slice.png and /tmp/pm_plot_demo_pk.png");
    Ok(())
}
