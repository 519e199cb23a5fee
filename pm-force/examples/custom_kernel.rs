//! A force kernel of your own: screened gravity.
//!
//! `cargo run -p pm-force --example custom_kernel`
//!
//! A Yukawa-screened potential, `nabla^2 psi - psi / lambda^2 = c delta`, is Newton's below
//! the screening length `lambda` and dies off exponentially beyond it: the force of a point
//! mass is the Newtonian one times `(1 + r / lambda) exp(-r / lambda)`. In Fourier space it
//! is Newton's kernel times the filter `s(k) = k^2 / (k^2 + 1 / lambda^2)`, so the kernel
//! below keeps FastPM's gradient and Laplacian and adds that filter, with `lambda` as a
//! parameter that gradients reach (`params` and `filter_param_grad`).
//!
//! The example puts two particles at distances `r` on a 64^3 mesh, compares the screened
//! force with the Newtonian force of the same mesh and with the Yukawa law, and checks the
//! gravity VJP's `dF/d lambda` against a central finite difference. It exits with status 1
//! when the force ratio is off the Yukawa law by more than 5% or the derivative by more than
//! 1e-6. The same kernel runs in a whole simulation through pm-integrate's
//! `SimulationBuilder::kernel`.

use pm_decomp::SerialComm;
use pm_force::{FastPmKernel, ForceKernel, Gravity};
use pm_mesh::{Mesh, Positions};

/// FastPM's finite-difference gradient and Laplacian, screened on the scale `lambda`.
#[derive(Debug, Clone, Copy)]
struct Screened {
    /// Screening length, Mpc/h.
    lambda: f64,
}

impl ForceKernel for Screened {
    fn name(&self) -> String {
        format!("screened FastPM, lambda = {} Mpc/h", self.lambda)
    }

    fn gradient_1d(&self, k: f64, dx: f64) -> f64 {
        FastPmKernel.gradient_1d(k, dx)
    }

    fn laplacian_1d(&self, k: f64, dx: f64) -> f64 {
        FastPmKernel.laplacian_1d(k, dx)
    }

    /// `s(k) = k^2 lambda^2 / (k^2 lambda^2 + 1)`, the same for the three components.
    fn filter(&self, k: [f64; 3], _dx: [f64; 3], _axis: usize) -> f64 {
        let u = (k[0] * k[0] + k[1] * k[1] + k[2] * k[2]) * self.lambda * self.lambda;
        u / (u + 1.0)
    }

    fn params(&self) -> Vec<f64> {
        vec![self.lambda]
    }

    /// `ds/d lambda = 2 k^2 lambda / (k^2 lambda^2 + 1)^2`.
    fn filter_param_grad(&self, k: [f64; 3], _dx: [f64; 3], _axis: usize, grad: &mut [f64]) {
        let k2 = k[0] * k[0] + k[1] * k[1] + k[2] * k[2];
        let u = k2 * self.lambda * self.lambda;
        grad[0] = 2.0 * k2 * self.lambda / ((u + 1.0) * (u + 1.0));
    }
}

/// Box side, Mpc/h, and mesh cells per side (cells of 1 Mpc/h).
const BOX: f64 = 64.0;
const MESH: usize = 64;

/// Two particles on grid points, `r` Mpc/h apart along x, around the box centre.
fn pair(r: f64) -> [[f64; 3]; 2] {
    let c = 0.5 * BOX;
    [[c - r / 2.0, c, c], [c + r / 2.0, c, c]]
}

/// The x-acceleration of the second particle, pulled towards the first (so negative).
fn force<K: ForceKernel>(gravity: &Gravity<f64, K>, r: f64) -> Result<f64, pm_force::ForceError> {
    let mut acc = [[0.0; 3]; 2];
    gravity.accelerations(&SerialComm, &Positions::Absolute(&pair(r)), 1.0, &mut acc)?;
    Ok(acc[1][0])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mesh = Mesh::cubic(MESH, BOX)?;
    let lambda = 4.0;
    let kernel = Screened { lambda };
    let newton = Gravity::<f64, _>::cpu(mesh, FastPmKernel)?;
    let screened = Gravity::<f64, _>::cpu(mesh, kernel)?;
    println!("kernel: {}", kernel.name());
    println!("  r [Mpc/h]   F_screened / F_newton   Yukawa (1 + r/lambda) e^(-r/lambda)");
    let mut ok = true;
    for r in [4.0, 6.0, 8.0, 10.0] {
        let ratio = force(&screened, r)? / force(&newton, r)?;
        let yukawa = (1.0 + r / lambda) * (-r / lambda).exp();
        println!("{r:10.1} {ratio:18.4} {yukawa:22.4}");
        ok &= (ratio / yukawa - 1.0).abs() < 0.05;
    }

    // dF/d lambda at r = 6 Mpc/h: the VJP with the cotangent 1 on the second particle's
    // x-acceleration, against (F(lambda + h) - F(lambda - h)) / 2h.
    let r = 6.0;
    let x = pair(r);
    let mut grad_pos = [[0.0; 3]; 2];
    let cotangent = [[0.0; 3], [1.0, 0.0, 0.0]];
    let vjp = screened.accelerations_vjp(
        &SerialComm,
        &Positions::Absolute(&x),
        1.0,
        &cotangent,
        &mut grad_pos,
    )?;
    let h = 1e-4 * lambda;
    let at = |l: f64| force(&Gravity::<f64, _>::cpu(mesh, Screened { lambda: l })?, r);
    let fd = (at(lambda + h)? - at(lambda - h)?) / (2.0 * h);
    let rel = (vjp.params[0] - fd).abs() / fd.abs();
    println!(
        "dF/d lambda at r = {r} Mpc/h: VJP {:.9e}, finite difference {fd:.9e} (relative difference {rel:.1e})",
        vjp.params[0]
    );
    ok &= rel < 1e-6;
    if !ok {
        eprintln!("FAILED: the screened force is off the Yukawa law or its gradient is wrong");
        std::process::exit(1);
    }
    Ok(())
}
