//! The FastPM finite-difference kernel.

use crate::ForceKernel;

/// FastPM's default force kernel ("3_4"): the Green's function of the 3-point
/// finite-difference Laplacian and the 4-point (fourth-order) finite-difference gradient,
/// with `w = k dx`:
///
/// ```text
/// L(k) = (2 sin(w/2) / dx)^2,
/// d(k) = (8 sin w - sin 2w) / (6 dx).
/// ```
///
/// Source: Feng, Chu, Seljak & McDonald 2016 (FastPM, MNRAS 463, 2273), and the FastPM code
/// (`FastPMMeshKK3Point` and `FastPMMeshK4Point`, which zeroes the gradient at the Nyquist
/// frequency as the solver here does for every kernel). The same gradient is FlowPM's
/// (Modi, Lanusse & Seljak 2021, eq. 4) and Gadget-2's mesh force (Hamming's order-1
/// "super Lanczos" differentiator, `c1 = 2/3`, `c2 = 1/12`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FastPmKernel;

impl ForceKernel for FastPmKernel {
    fn name(&self) -> String {
        "fastpm(3-point laplacian, 4-point gradient)".into()
    }

    fn gradient_1d(&self, k: f64, dx: f64) -> f64 {
        let w = k * dx;
        (8.0 * w.sin() - (2.0 * w).sin()) / (6.0 * dx)
    }

    fn laplacian_1d(&self, k: f64, dx: f64) -> f64 {
        let s = 2.0 * (0.5 * k * dx).sin() / dx;
        s * s
    }
}
