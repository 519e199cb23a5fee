//! A cosmological simulation in ten lines, and the first thing to check about it.
//!
//! `cargo run -p pm-integrate --example quickstart`
//!
//! Planck 2018, 32^3 particles in a 128 Mpc/h box, a 64^3 force mesh, 2LPT initial
//! conditions at a = 0.1 and 10 FastPM steps to a = 1, in f32. The initial conditions are
//! "fixed" (every Fourier mode at its expected amplitude, random phases; Angulo & Pontzen
//! 2016), so the large scales carry no cosmic variance: there the final power spectrum must
//! equal linear theory, `P(k) = D1(a)^2 P_lin(k)` with `D1(1) = 1`. The example prints the
//! ratio per k bin and exits with status 1 if its mean over `k < 0.1 h/Mpc` is off by more
//! than 10%. At larger k the ratio grows: that is nonlinear structure formation, the reason
//! to run a simulation.

use pm_cosmo::Cosmology;
use pm_fft::CpuFft3d;
use pm_integrate::{ModeOptions, Simulation, TimeSteps};
use pm_mesh::{Mesh, PowerOptions, Scheme, density_contrast, power_spectrum};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (box_size, mesh_n) = (128.0, 64);
    let sim = Simulation::<f32, _>::builder(Cosmology::planck18())
        .box_size(box_size) // Mpc/h
        .particles(32) // 32^3 particles
        .mesh(mesh_n) // 64^3 force mesh
        .steps(TimeSteps::LinearA {
            a_start: 0.1,
            a_end: 1.0,
            steps: 10,
        })
        .modes(ModeOptions {
            fixed_amplitude: true,
            phase_flip: false,
        })
        .seed(42)
        .build()?;
    let state = sim.run(&mut [])?; // the particles at a = 1

    // The final density contrast on the force mesh and its P(k), the CIC window divided out.
    let mesh = Mesh::cubic(mesh_n, box_size)?;
    let delta = density_contrast(&state.positions(), mesh, Scheme::Cic)?;
    let options = PowerOptions {
        compensate: Some(Scheme::Cic),
        ..Default::default()
    };
    let pk = power_spectrum(&delta.forward(&CpuFft3d::new(mesh.shape())?)?, &options)?;

    println!("   k [h/Mpc]   P(k) [(Mpc/h)^3]   P_lin(k)   P / P_lin");
    let (mut sum, mut modes) = (0.0, 0);
    // Up to the particles' Nyquist frequency, pi * 32 / 128 h/Mpc.
    let k_particles = std::f64::consts::PI * 32.0 / box_size;
    for b in (1..pk.k.len()).filter(|&b| pk.n_modes[b] > 0 && pk.k[b] <= k_particles) {
        let linear = sim.power().power(pk.k[b])?;
        let ratio = pk.power[b] / linear;
        println!(
            "{:11.4} {:16.1} {:12.1} {:9.3}",
            pk.k[b], pk.power[b], linear, ratio
        );
        if pk.k[b] < 0.1 {
            sum += ratio * pk.n_modes[b] as f64;
            modes += pk.n_modes[b];
        }
    }
    let mean = sum / modes as f64;
    println!("mean P / P_lin below k = 0.1 h/Mpc: {mean:.3}");
    if (mean - 1.0).abs() > 0.1 {
        eprintln!("FAILED: the large scales should follow linear theory");
        std::process::exit(1);
    }
    Ok(())
}
