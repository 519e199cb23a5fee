//! Paint a set of particles on a mesh and measure their power spectrum.
//!
//! `cargo run -p pm-mesh --example paint_power`
//!
//! The particles here are a Poisson sample: `N` positions drawn uniformly in a box of volume
//! `V`. Their density has no structure, only the discreteness of the particles, so its power
//! spectrum is the shot noise `P(k) = V / N` at every `k`. The example paints them with CIC,
//! deconvolves the CIC window, bins `P(k)` and checks that the mode-weighted mean of
//! `P / (V / N)` below half the Nyquist frequency is 1 within 5% (exit status 1 otherwise);
//! above that the aliased images of the shot noise make it drift, as the table shows.
//!
//! Particles of your own (a simulation's snapshot, a galaxy catalogue) go in the same way:
//! positions in Mpc/h, `[f64; 3]` or `[f32; 3]`, in `Positions::Absolute`.

use pm_fft::CpuFft3d;
use pm_mesh::{Mesh, Positions, PowerOptions, Scheme, density_contrast, power_spectrum};

/// Box side, Mpc/h.
const BOX: f64 = 200.0;
/// Mesh cells per side.
const MESH: usize = 64;
/// Number of particles.
const PARTICLES: usize = 100_000;

/// A uniform number in `[0, 1)` for each `i` (the splitmix64 hash, so the example needs no
/// random-number crate and prints the same numbers on every run).
fn uniform(i: u64) -> f64 {
    let mut z = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let x: Vec<[f64; 3]> = (0..PARTICLES as u64)
        .map(|i| [0, 1, 2].map(|a| BOX * uniform(3 * i + a)))
        .collect();

    // delta = rho / rho_mean - 1 on the mesh, CIC (cloud in cell) mass assignment.
    let mesh = Mesh::cubic(MESH, BOX)?;
    let delta = density_contrast(&Positions::Absolute(&x), mesh, Scheme::Cic)?;
    // Its Fourier transform and P(k) = V |delta_k|^2 / N_cells^2, the CIC window divided out,
    // in the default bins (width k_f = 2 pi / BOX from 0 to the Nyquist frequency).
    let delta_k = delta.forward(&CpuFft3d::new(mesh.shape())?)?;
    let options = PowerOptions {
        compensate: Some(Scheme::Cic),
        ..Default::default()
    };
    let pk = power_spectrum(&delta_k, &options)?;

    let shot = BOX.powi(3) / PARTICLES as f64;
    let k_half_nyquist = 0.5 * mesh.nyquist()[0];
    println!(
        "{PARTICLES} particles in ({BOX} Mpc/h)^3 on {MESH}^3 cells: shot noise V/N = {shot:.2} (Mpc/h)^3"
    );
    println!("   k [h/Mpc]   P(k) [(Mpc/h)^3]   P / (V/N)    modes");
    let (mut sum, mut modes) = (0.0, 0);
    for b in 1..pk.k.len() {
        if pk.n_modes[b] == 0 {
            continue;
        }
        if b % 4 == 1 {
            println!(
                "{:11.4} {:16.3} {:13.3} {:8}",
                pk.k[b],
                pk.power[b],
                pk.power[b] / shot,
                pk.n_modes[b]
            );
        }
        if pk.k[b] < k_half_nyquist {
            sum += pk.power[b] / shot * pk.n_modes[b] as f64;
            modes += pk.n_modes[b];
        }
    }
    let mean = sum / modes as f64;
    println!("mean P / (V/N) below k = {k_half_nyquist:.3} h/Mpc ({modes} modes): {mean:.4}");
    if (mean - 1.0).abs() > 0.05 {
        eprintln!("FAILED: a Poisson sample's P(k) should be its shot noise V/N");
        std::process::exit(1);
    }
    Ok(())
}
