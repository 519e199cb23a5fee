//! The default forward simulation: Planck 2018, 256 Mpc/h, 64^3 particles, 128^3 mesh, 2LPT
//! at a = 0.1, 10 FastPM steps to a = 1, f32. Prints the final power spectrum next to linear
//! theory. `cargo run --release -p pm-integrate --example simulate [seed]`

use std::time::Instant;

use pm_cosmo::Cosmology;
use pm_fft::CpuFft3d;
use pm_integrate::{Simulation, State, StepInfo, TimeSteps};
use pm_mesh::{Mesh, PowerOptions, Scheme, density_contrast, power_spectrum};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed = match std::env::args().nth(1) {
        Some(s) => s.parse().map_err(|e| format!("seed {s:?}: {e}"))?,
        None => 42,
    };
    let start = Instant::now();
    let sim = Simulation::<f32, _>::builder(Cosmology::planck18())
        .box_size(256.0)
        .particles(64)
        .mesh(128)
        .steps(TimeSteps::LinearA {
            a_start: 0.1,
            a_end: 1.0,
            steps: 10,
        })
        .seed(seed)
        .build()?;
    let mut log = |info: &StepInfo, state: &State<f32>| {
        let rms: f64 = state
            .disp
            .iter()
            .flatten()
            .map(|v| f64::from(*v).powi(2))
            .sum::<f64>();
        println!(
            "step {:2}/{}: a = {:.3}, rms displacement {:.2} Mpc/h, {:.2} s",
            info.index,
            info.steps,
            info.a,
            (rms / (3 * state.len()) as f64).sqrt(),
            start.elapsed().as_secs_f64()
        );
        Ok(())
    };
    let state = sim.run(&mut [&mut log])?;

    // Final density on the force mesh, CIC window deconvolved.
    let mesh = Mesh::cubic(128, 256.0)?;
    let rho = density_contrast(&state.positions(), mesh, Scheme::Cic)?;
    let p = power_spectrum(
        &rho.forward(&CpuFft3d::new(mesh.shape())?)?,
        &PowerOptions {
            compensate: Some(Scheme::Cic),
            ..Default::default()
        },
    )?;
    println!("\n   k [h/Mpc]   P(k) [(Mpc/h)^3]   P_lin(k)   ratio   modes");
    // Every third bin up to the particle Nyquist frequency, pi * 64 / 256 h/Mpc.
    let k_ny = std::f64::consts::PI * 64.0 / 256.0;
    for b in (1..p.k.len()).step_by(3).filter(|&b| p.k[b] <= k_ny) {
        let lin = sim.power().power(p.k[b])?;
        println!(
            "{:10.4} {:16.1} {:12.1} {:8.3} {:7}",
            p.k[b],
            p.power[b],
            lin,
            p.power[b] / lin,
            p.n_modes[b]
        );
    }
    println!("\ntotal {:.2} s", start.elapsed().as_secs_f64());
    Ok(())
}
