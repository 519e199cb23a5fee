//! The flat-sky convergence spectrum of a simulated lightcone against Limber's linear
//! prediction (issue 8's acceptance; the numbers are in `docs/VALIDATION.md`).
//!
//! ```text
//! cargo run --release -p pm-lensing --features tools --example limber_check [PARTICLES] [BOX] [STEPS] [FIELDS]
//! ```
//!
//! Defaults: 128^3 particles, 128^3 mesh, 500 Mpc/h, FastPM 10 steps from a = 0.1 (2LPT),
//! fixed-amplitude initial conditions (Angulo & Pontzen 2016: every 3D mode at its expected
//! amplitude, so the map's scatter comes from the projection only), Planck 2018, sources at
//! z = 1. Six (or, with FIELDS = 12, twelve: the six and their opposites) 20-degree fields
//! (256^2 pixels) along oblique lines of sight (so that the box's periodic copies do not line
//! up along a line of sight) give as many map spectra; the table prints their mean and the
//! standard error of the mean per ell bin next to Limber, and the ratio.
//!
//! Shot noise: the Poisson level `C_shot = ∫ dr W(r)^2 V/N` is subtracted (it is below 2% of
//! the signal in the bins compared).

use std::time::Instant;

use pm_cosmo::Cosmology;
use pm_integrate::{ModeOptions, Simulation, StepperKind, TimeSteps};
use pm_lensing::{
    BornKernel, BornProjection, ConvergenceObserver, FlatSky, Lightcone, Sources,
    flat_power_spectrum, limber_convergence,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let particles: usize = args.first().map_or(Ok(128), |s| s.parse())?;
    let box_size: f64 = args.get(1).map_or(Ok(500.0), |s| s.parse())?;
    let steps: usize = args.get(2).map_or(Ok(10), |s| s.parse())?;
    let fields: usize = args.get(3).map_or(Ok(6), |s| s.parse())?;
    if fields != 6 && fields != 12 {
        return Err(format!("FIELDS must be 6 or 12, got {fields}").into());
    }
    let cosmo = Cosmology::planck18();
    let sim = Simulation::<f32, _>::builder(cosmo)
        .box_size(box_size)
        .particles(particles)
        .mesh(particles)
        .stepper(StepperKind::FastPm)
        .steps(TimeSteps::LinearA {
            a_start: 0.1,
            a_end: 1.0,
            steps,
        })
        .modes(ModeOptions {
            fixed_amplitude: true,
            phase_flip: false,
        })
        .seed(2026)
        .build()?;
    let kernel = BornKernel::new(&cosmo, &Sources::Plane { z: 1.0 })?;
    let origin = [0.5 * box_size; 3];
    let cone = Lightcone::new(origin, [box_size; 3], kernel.source_distance());
    // Oblique, irrational-looking directions, one per octant pair.
    let six = [
        [1.0, 0.37, 0.21],
        [-0.29, 1.0, 0.43],
        [0.31, -0.23, 1.0],
        [-1.0, -0.41, 0.17],
        [0.19, -1.0, -0.33],
        [-0.27, 0.39, -1.0],
    ];
    let directions: Vec<[f64; 3]> = six
        .iter()
        .copied()
        .chain(six.iter().map(|d: &[f64; 3]| d.map(|x| -x)))
        .take(fields)
        .collect();
    let (fov, npix) = (20.0, 256);
    let projections: Vec<_> = directions
        .iter()
        .map(|d| {
            Ok::<_, pm_lensing::LensingError>(BornProjection::new(
                kernel.clone(),
                cone,
                FlatSky::new(*d, fov, npix)?,
            ))
        })
        .collect::<Result<_, _>>()?;
    let t = Instant::now();
    let mut observers: Vec<_> = projections.iter().map(ConvergenceObserver::new).collect();
    {
        let mut refs: Vec<&mut dyn pm_integrate::Observer<f32>> = observers
            .iter_mut()
            .map(|o| o as &mut dyn pm_integrate::Observer<f32>)
            .collect();
        sim.run(&mut refs)?;
    }
    println!(
        "# {particles}^3 particles, {box_size} Mpc/h, {steps} steps, {fields} fields of {fov} deg, {npix}^2 px: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let maps: Vec<Vec<f64>> = observers
        .into_iter()
        .map(|o| o.finish(&pm_decomp::SerialComm))
        .collect::<Result<_, _>>()?;
    let edges = [30.0, 60.0, 90.0, 120.0, 160.0, 200.0, 300.0, 400.0, 600.0];
    let spectra: Vec<_> = maps
        .iter()
        .zip(&projections)
        .map(|(m, p)| flat_power_spectrum(p.map(), m, &edges))
        .collect::<Result<_, _>>()?;
    let r_hi = kernel.distance(0.1)?;
    let vp = box_size.powi(3) / (particles as f64).powi(3);
    let shot = {
        let n = 4096;
        let r_s = kernel.source_distance();
        (0..n)
            .map(|i| {
                let r = (i as f64 + 0.5) * r_s / n as f64;
                kernel.weight(r).0.powi(2) * vp
            })
            .sum::<f64>()
            * r_s
            / n as f64
    };
    println!("# shot noise C_shot = {shot:.3e} (subtracted)");
    println!("# ell_lo ell_hi   ell_mean  modes/field  C_sim_mean   scatter    C_limber   ratio");
    for b in 0..edges.len() - 1 {
        let vals: Vec<f64> = spectra.iter().map(|s| s.cl[b] - shot).collect();
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        let sd =
            (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (vals.len() - 1) as f64).sqrt();
        let ell = spectra[0].ell[b];
        let limber = limber_convergence(&kernel, sim.power(), sim.growth(), 0.0, r_hi, ell)?;
        println!(
            "{:6.0} {:6.0} {:10.1} {:10} {:12.4e} {:10.3e} {:11.4e} {:7.3}",
            edges[b],
            edges[b + 1],
            ell,
            spectra[0].modes[b],
            mean,
            sd / (vals.len() as f64).sqrt(),
            limber,
            mean / limber
        );
    }
    Ok(())
}
