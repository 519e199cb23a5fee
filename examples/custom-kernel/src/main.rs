//! A user-defined force kernel in the stock pipeline: the long-range part of a TreePM force
//! split, FastPM's finite differences times a Gaussian filter `exp(-k^2 r_s^2)` (the PM half
//! of Bagla 2002's split, the short-range half being left out), compared with FastPM's kernel.
//!
//! `cargo run --release -p custom-kernel [r_s in Mpc/h]`
//!
//! Any type implementing [`ForceKernel`] goes where the stock kernels go
//! ([`pm_integrate::SimulationBuilder::kernel`]); the adjoint needs nothing more, since the
//! gravity VJP uses the same symbols. A kernel with tunable parameters also implements
//! `params` and `filter_param_grad` so gradients reach them.

use pm_cosmo::Cosmology;
use pm_fft::CpuFft3d;
use pm_force::{FastPmKernel, ForceKernel};
use pm_integrate::{Simulation, TimeSteps};
use pm_mesh::{Mesh, PowerOptions, PowerSpectrum, Scheme, density_contrast, power_spectrum};

/// FastPM's gradient and Laplacian with the Gaussian long-range filter `exp(-k^2 r_s^2)`.
#[derive(Debug, Clone, Copy)]
struct LongRange {
    /// Split scale r_s, Mpc/h.
    r_s: f64,
}

impl ForceKernel for LongRange {
    fn name(&self) -> String {
        format!("FastPM x exp(-k^2 r_s^2), r_s = {} Mpc/h", self.r_s)
    }
    fn gradient_1d(&self, k: f64, dx: f64) -> f64 {
        FastPmKernel.gradient_1d(k, dx)
    }
    fn laplacian_1d(&self, k: f64, dx: f64) -> f64 {
        FastPmKernel.laplacian_1d(k, dx)
    }
    fn filter(&self, k: [f64; 3], _dx: [f64; 3], _axis: usize) -> f64 {
        let k2 = k[0] * k[0] + k[1] * k[1] + k[2] * k[2];
        (-k2 * self.r_s * self.r_s).exp()
    }
}

/// Final P(k) of a 64^3-particle run with `kernel`.
fn final_power<K: ForceKernel>(kernel: K) -> Result<PowerSpectrum, Box<dyn std::error::Error>> {
    let (box_size, mesh_n) = (128.0, 128);
    let state = Simulation::<f32, _>::builder(Cosmology::planck18())
        .box_size(box_size)
        .particles(64)
        .mesh(mesh_n)
        .kernel(kernel)
        .steps(TimeSteps::LinearA {
            a_start: 0.1,
            a_end: 1.0,
            steps: 10,
        })
        .seed(42)
        .build()?
        .run(&mut [])?;
    let mesh = Mesh::cubic(mesh_n, box_size)?;
    let rho = density_contrast(&state.positions(), mesh, Scheme::Cic)?;
    let options = PowerOptions {
        compensate: Some(Scheme::Cic),
        ..Default::default()
    };
    Ok(power_spectrum(
        &rho.forward(&CpuFft3d::new(mesh.shape())?)?,
        &options,
    )?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let r_s: f64 = match std::env::args().nth(1) {
        Some(s) => s.parse().map_err(|e| format!("r_s {s:?}: {e}"))?,
        None => 1.0,
    };
    let custom = LongRange { r_s };
    println!("custom kernel: {}", custom.name());
    let reference = final_power(FastPmKernel)?;
    let smoothed = final_power(custom)?;
    println!("   k [h/Mpc]   P_custom / P_fastpm   (the filter suppresses growth above 1 / r_s)");
    for b in (1..reference.k.len()).step_by(4) {
        if reference.n_modes[b] > 0 {
            println!(
                "{:10.3} {:14.4}",
                reference.k[b],
                smoothed.power[b] / reference.power[b]
            );
        }
    }
    Ok(())
}
