//! Reversibility table in the layout of pmwd's (Li et al. 2022; seed 000): run forward,
//! integrate back with the reverse adjoint, and compare with the initial state.
//!
//! `cargo run --release -p pm-adjoint --features tools --example reversibility [particles per side]`
//!
//! Planck 2018, 2LPT at a = 1/64, FastPM steps linear in a to a = 1, seed 0. Particle mass
//! m (10^10 Msun/h) sets the spacing `(m / rho_m)^(1/3)` with `rho_m = Omega_m 27.75`
//! (10^10 Msun/h)/(Mpc/h)^3; "cell/ptcl" is 1 (mesh = particle grid) or 8 (mesh twice as
//! fine per side). Relative differences are `|disp_back - disp_0| / |disp_0|` and the same
//! for the momenta.

use pm_adjoint::{Integration, StateCotangent, reverse};
use pm_cosmo::Cosmology;
use pm_decomp::SerialComm;
use pm_fft::Real;
use pm_integrate::{Simulation, TimeSteps};

fn relative<T: Real>(a: &[[T; 3]], b: &[[T; 3]]) -> f64 {
    let num: f64 = a
        .iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x.as_f64() - y.as_f64()).powi(2))
        .sum();
    let den: f64 = b.iter().flatten().map(|y| y.as_f64().powi(2)).sum();
    (num / den).sqrt()
}

fn row<T: Real>(
    n: usize,
    cells_per_particle: usize,
    mass: f64,
    steps: usize,
) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let cosmology = Cosmology::planck18();
    let rho_m = cosmology.omega_m() * 27.754;
    let spacing = (mass / rho_m).cbrt();
    let mesh = if cells_per_particle == 8 { 2 * n } else { n };
    let sim = Simulation::<T, _>::builder(cosmology)
        .box_size(spacing * n as f64)
        .particles(n)
        .mesh(mesh)
        .steps(TimeSteps::LinearA {
            a_start: 1.0 / 64.0,
            a_end: 1.0,
            steps,
        })
        .seed(0)
        .build()?;
    let start = sim.initial_state(&SerialComm)?;
    let end = sim.evolve(start.clone(), &mut [])?;
    let back = reverse(
        &SerialComm,
        Integration::of(&sim),
        end,
        StateCotangent::zeros(start.len()),
    )?;
    Ok((
        relative(&back.initial.disp, &start.disp),
        relative(&back.initial.mom, &start.mom),
    ))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = match std::env::args().nth(1) {
        Some(s) => s.parse()?,
        None => 64,
    };
    println!("{n}^3 particles");
    println!(
        "| precision | cell/ptcl | ptcl mass [1e10 Msun/h] | time steps | disp rel diff | vel rel diff |"
    );
    println!("|---|---|---|---|---|---|");
    for precision in ["single", "double"] {
        for cells in [8, 1] {
            for mass in [1.0, 8.0] {
                for steps in [63, 126] {
                    let (dx, dp) = if precision == "single" {
                        row::<f32>(n, cells, mass, steps)?
                    } else {
                        row::<f64>(n, cells, mass, steps)?
                    };
                    println!("| {precision} | {cells} | {mass} | {steps} | {dx:.1e} | {dp:.1e} |");
                }
            }
        }
    }
    Ok(())
}
