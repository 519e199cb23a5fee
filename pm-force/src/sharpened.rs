//! A parametrised "sharpened" kernel, as in pmwd's spatial optimisation.

use crate::{FastPmKernel, ForceKernel};

/// A base kernel times a smooth, parametrised filter, after the "spatial optimisation"
/// of pmwd (Li et al. 2022; seed 000: `i k_i / k^2 -> i k_i / k^2 f(k_i; theta) g(k; theta)`):
///
/// ```text
/// f(k_a) = 1 + theta_0 u_a^2,                 u_a = k_a dx_a / pi,
/// g(k)   = 1 + theta_1 u^2 + theta_2 u^4,    u^2 = sum_a u_a^2 / 3,
/// s_a(k) = f(k_a) g(k).
/// ```
///
/// `theta = 0` is the base kernel, FastPM's finite differences by default (pmwd sharpens
/// the naive kernel, whose jump at the Nyquist frequency rings in real space; a smooth
/// base avoids that, see the Ewald test); positive values boost (sharpen) the force near the
/// mesh scale, compensating the smoothing of mass assignment. The parameters are fitted by
/// gradient descent on the force or power-spectrum error against a reference, with
/// gradients from [`Gravity::accelerations_vjp`](crate::Gravity::accelerations_vjp).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SharpenedKernel<K = FastPmKernel> {
    /// The kernel whose gradient and Laplacian are sharpened.
    pub base: K,
    /// `[theta_0, theta_1, theta_2]`.
    pub theta: [f64; 3],
}

impl SharpenedKernel {
    /// FastPM's kernel sharpened with parameters `theta`.
    pub fn new(theta: [f64; 3]) -> Self {
        Self {
            base: FastPmKernel,
            theta,
        }
    }
}

impl<K: ForceKernel> SharpenedKernel<K> {
    /// `base` sharpened with parameters `theta`.
    pub fn with_base(base: K, theta: [f64; 3]) -> Self {
        Self { base, theta }
    }

    #[inline]
    fn u2(k: [f64; 3], dx: [f64; 3]) -> [f64; 3] {
        std::array::from_fn(|a| {
            let u = k[a] * dx[a] / std::f64::consts::PI;
            u * u
        })
    }
}

impl<K: ForceKernel> ForceKernel for SharpenedKernel<K> {
    fn name(&self) -> String {
        format!("sharpened {} (theta = {:?})", self.base.name(), self.theta)
    }

    fn gradient_1d(&self, k: f64, dx: f64) -> f64 {
        self.base.gradient_1d(k, dx)
    }

    fn laplacian_1d(&self, k: f64, dx: f64) -> f64 {
        self.base.laplacian_1d(k, dx)
    }

    #[inline]
    fn filter(&self, k: [f64; 3], dx: [f64; 3], axis: usize) -> f64 {
        let u2 = Self::u2(k, dx);
        let s = (u2[0] + u2[1] + u2[2]) / 3.0;
        let [t0, t1, t2] = self.theta;
        (1.0 + t0 * u2[axis]) * (1.0 + t1 * s + t2 * s * s)
    }

    fn params(&self) -> Vec<f64> {
        self.theta.to_vec()
    }

    #[inline]
    fn filter_param_grad(&self, k: [f64; 3], dx: [f64; 3], axis: usize, grad: &mut [f64]) {
        let u2 = Self::u2(k, dx);
        let s = (u2[0] + u2[1] + u2[2]) / 3.0;
        let [t0, t1, t2] = self.theta;
        let f = 1.0 + t0 * u2[axis];
        let g = 1.0 + t1 * s + t2 * s * s;
        grad[0] = u2[axis] * g;
        grad[1] = f * s;
        grad[2] = f * s * s;
    }
}
