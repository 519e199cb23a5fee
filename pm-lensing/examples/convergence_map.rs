//! Weak-lensing convergence maps from a small simulation.
//!
//! `cargo run -p pm-lensing --example convergence_map`
//!
//! A run of 32^3 particles in a 128 Mpc/h box (64^3 mesh, 2LPT at a = 0.1, 10 FastPM
//! steps) with an observer near the centre of the box and sources at z = 0.1 (about
//! 290 Mpc/h: the light cone reaches through periodic replicas of the box). Two
//! [`ConvergenceObserver`]s build the Born convergence `kappa` while the simulation runs,
//! from the particles that cross the observer's past light cone in each step: a flat-sky map
//! of 10 x 10 degrees (32^2 pixels), printed as a picture, and a HEALPix full-sky map
//! (nside 16).
//!
//! The check: `kappa` is a projection of `delta = rho / rho_mean - 1`, and the matter in a
//! shell around the observer is, over the whole sky, the mean density times its volume; so
//! the full-sky mean of `kappa` vanishes, up to the small monopole of `delta` on shells
//! hundreds of Mpc/h across, well below the pixel-to-pixel scatter. The example exits with
//! status 1 if the mean exceeds a tenth of the rms. (The angular power spectrum of a map
//! against Limber's prediction, which needs a larger run: `examples/limber_check.rs`.)

use pm_cosmo::Cosmology;
use pm_decomp::SerialComm;
use pm_integrate::{Observer, Simulation, TimeSteps};
use pm_lensing::{
    BornKernel, BornProjection, ConvergenceObserver, FlatSky, FullSky, Lightcone, Sources,
};

/// Mean and rms about the mean.
fn mean_rms(kappa: &[f64]) -> (f64, f64) {
    let n = kappa.len() as f64;
    let mean = kappa.iter().sum::<f64>() / n;
    let var = kappa.iter().map(|k| (k - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Prints a `side x side` map stored row by row (rows along the field's second axis, the
/// first row at the bottom) with one character per pixel and per two rows, darker where
/// `kappa` is larger.
fn picture(kappa: &[f64], side: usize) {
    let shades = [' ', '.', ':', '-', '=', '+', '*', '#', '%', '@'];
    let mut sorted = kappa.to_vec();
    sorted.sort_by(f64::total_cmp);
    // Shade by rank, so the picture shows structure whatever the range of values.
    let level = |v: f64| sorted.partition_point(|&s| s < v) * shades.len() / sorted.len();
    for row in (0..side / 2).rev() {
        let line: String = (0..side)
            .map(|i| {
                let v = 0.5 * (kappa[2 * row * side + i] + kappa[(2 * row + 1) * side + i]);
                shades[level(v).min(shades.len() - 1)]
            })
            .collect();
        println!("|{line}|");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cosmo = Cosmology::planck18();
    let box_size = 128.0; // Mpc/h
    let sim = Simulation::<f32, _>::builder(cosmo)
        .box_size(box_size)
        .particles(32)
        .mesh(64)
        .steps(TimeSteps::LinearA {
            a_start: 0.1,
            a_end: 1.0,
            steps: 10,
        })
        .seed(42)
        .build()?;

    // The lensing weight of one source plane, and the observer's light cone (off the
    // particle lattice, so that no particle sits at distance 0).
    let kernel = BornKernel::new(&cosmo, &Sources::Plane { z: 0.1 })?;
    let observer = [64.3, 63.1, 64.7];
    let cone = Lightcone::new(observer, [box_size; 3], kernel.source_distance());
    let (fov_deg, side) = (10.0, 32);
    let flat = BornProjection::new(
        kernel.clone(),
        cone,
        FlatSky::new([1.0, 0.37, 0.21], fov_deg, side)?,
    );
    let full = BornProjection::new(kernel.clone(), cone, FullSky::new(16)?);

    let mut flat_map = ConvergenceObserver::new(&flat);
    let mut full_map = ConvergenceObserver::new(&full);
    let mut observers: [&mut dyn Observer<f32>; 2] = [&mut flat_map, &mut full_map];
    sim.run(&mut observers)?;
    let crossings: usize = full_map.steps().iter().map(|s| s.crossings).sum();
    let kappa_flat = flat_map.finish(&SerialComm)?;
    let kappa_full = full_map.finish(&SerialComm)?;

    println!(
        "sources at z = 0.1, {:.1} Mpc/h away; {crossings} particle crossings of the light cone",
        kernel.source_distance()
    );
    let (mean, rms) = mean_rms(&kappa_flat);
    let max = kappa_flat.iter().copied().fold(f64::MIN, f64::max);
    println!(
        "flat sky, {fov_deg} x {fov_deg} degrees, {side}^2 pixels: mean {mean:.2e}, rms {rms:.2e}, max {max:.2e}"
    );
    picture(&kappa_flat, side);
    let (mean, rms) = mean_rms(&kappa_full);
    println!(
        "full sky, {} HEALPix pixels: mean {mean:.2e}, rms {rms:.2e}, |mean| / rms = {:.3}",
        kappa_full.len(),
        mean.abs() / rms
    );
    if !(rms > 0.0 && mean.abs() < 0.1 * rms) {
        eprintln!("FAILED: the full-sky mean of kappa should vanish next to its scatter");
        std::process::exit(1);
    }
    Ok(())
}
