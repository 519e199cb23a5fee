//! FastPM with 10 steps under different time-step schedules, against 100 leapfrog steps
//! (the setup of the `fastpm_and_cola` forward test: 128 Mpc/h, 64^3 particles, 128^3 mesh,
//! 2LPT at a = 0.1, seed 2026). The schedules are uniform in `a^p` (`p = 0`: uniform in
//! `ln a`; `p = 1`: uniform in `a`); larger `p` puts more steps at late times.
//!
//! `cargo run --release -p pm-integrate --features tools --example schedule_scan`
//!
//! Prints P_FastPM(k) / P_leapfrog(k) per bin up to k_Ny / 2 (results in docs/VALIDATION.md).

use pm_cosmo::Cosmology;
use pm_fft::CpuFft3d;
use pm_integrate::{Simulation, StepperKind, TimeSteps};
use pm_mesh::{
    Binning, Mesh, PowerOptions, PowerSpectrum, Scheme, density_contrast, power_spectrum,
};

const BOX: f64 = 128.0;
const PARTICLES: usize = 64;
const MESH: usize = 128;

/// `steps` steps from a = 0.1 to 1, uniform in `a^p` (uniform in `ln a` for `p = 0`).
fn power_law_schedule(p: f64, steps: usize) -> TimeSteps {
    let a0: f64 = 0.1;
    let a = (0..=steps)
        .map(|i| {
            let t = i as f64 / steps as f64;
            if i == steps {
                1.0
            } else if p == 0.0 {
                a0 * (-a0.ln() * t).exp()
            } else {
                (a0.powf(p) + (1.0 - a0.powf(p)) * t).powf(1.0 / p)
            }
        })
        .collect();
    TimeSteps::Explicit(a)
}

/// The final CIC-deconvolved P(k) of a run with `stepper` on `steps`.
fn final_power(
    stepper: StepperKind,
    steps: TimeSteps,
) -> Result<PowerSpectrum, Box<dyn std::error::Error>> {
    let state = Simulation::<f32, _>::builder(Cosmology::planck18())
        .box_size(BOX)
        .particles(PARTICLES)
        .mesh(MESH)
        .stepper(stepper)
        .steps(steps)
        .seed(2026)
        .build()?
        .run(&mut [])?;
    let mesh = Mesh::cubic(MESH, BOX)?;
    let rho = density_contrast(&state.positions(), mesh, Scheme::Cic)?;
    let k_ny = std::f64::consts::PI * PARTICLES as f64 / BOX;
    let kf = 2.0 * std::f64::consts::PI / BOX;
    let options = PowerOptions {
        binning: Some(Binning::Linear {
            k_min: 0.5 * kf,
            k_max: 0.5 * k_ny,
            n_bins: 16,
        }),
        shot_noise: None,
        compensate: Some(Scheme::Cic),
    };
    Ok(power_spectrum(
        &rho.forward(&CpuFft3d::new(mesh.shape())?)?,
        &options,
    )?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let k_ny = std::f64::consts::PI * PARTICLES as f64 / BOX;
    let reference = final_power(
        StepperKind::Leapfrog,
        TimeSteps::LinearA {
            a_start: 0.1,
            a_end: 1.0,
            steps: 100,
        },
    )?;
    let ks: Vec<String> = reference
        .k
        .iter()
        .map(|k| format!("{:.3}", k / k_ny))
        .collect();
    println!("k / k_Ny   {}", ks.join(" "));
    for p in [0.0, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0] {
        let power = final_power(StepperKind::FastPm, power_law_schedule(p, 10))?;
        let ratios: Vec<String> = (0..power.k.len())
            .map(|b| format!("{:.3}", power.power[b] / reference.power[b]))
            .collect();
        println!("p = {p:<5}  {}", ratios.join(" "));
    }
    Ok(())
}
