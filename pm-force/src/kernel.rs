//! The `ForceKernel` trait: how the density becomes a force in Fourier space.

/// The Fourier-space operators of a PM force, mode by mode.
///
/// With `d(k)` the gradient symbol (`d/dx <-> i d(k)`, `d ~ k`) and `L(k)` the symbol of
/// minus the Laplacian (`-nabla^2 <-> L(k)`, `L ~ k^2`), Poisson's equation
/// `nabla^2 psi = c delta` and `F = -nabla psi` give, for component `a`,
///
/// ```text
/// F_a(k) = i c d(k_a) / [L(k_x) + L(k_y) + L(k_z)] * s_a(k; theta) * delta(k),
/// ```
///
/// where `c` is the prefactor (`3/2 Omega_m` in pmrs units) and `s_a` an optional filter
/// with parameters `theta` (1 by default). The Laplacian is a sum of 1D symbols and the
/// gradient is 1D, so the solver tabulates them per axis once; only `filter` is evaluated
/// per mode (inline, as the solver is generic over the kernel).
///
/// Wavenumbers `k` are in h/Mpc, cell sizes `dx` in Mpc/h. The solver sets the force of
/// the `k = 0` mode and the gradient at the Nyquist frequency of each axis to zero (an odd
/// operator has no real representation there), so every kernel gives an exactly
/// antisymmetric real operator: forces conserve momentum.
///
/// Implement it to change gravity; the parameters, if any, get gradients from
/// [`Gravity::accelerations_vjp`](crate::Gravity::accelerations_vjp).
///
/// ```
/// use pm_force::ForceKernel;
/// /// Plain PM with a Gaussian smoothing of the force on scale `r_s` Mpc/h.
/// struct Smoothed { r_s: f64 }
/// impl ForceKernel for Smoothed {
///     fn name(&self) -> String { format!("smoothed(r_s = {})", self.r_s) }
///     fn filter(&self, k: [f64; 3], _dx: [f64; 3], _axis: usize) -> f64 {
///         let k2: f64 = k.iter().map(|v| v * v).sum();
///         (-k2 * self.r_s * self.r_s).exp()
///     }
/// }
/// assert_eq!(Smoothed { r_s: 1.0 }.gradient_1d(0.5, 2.0), 0.5);
/// ```
pub trait ForceKernel: Send + Sync {
    /// A short description for logs and file headers.
    fn name(&self) -> String;

    /// Gradient symbol `d(k)` along one axis (`~ k`), h/Mpc. Default: exact, `d = k`.
    fn gradient_1d(&self, k: f64, dx: f64) -> f64 {
        let _ = dx;
        k
    }

    /// Symbol `L(k)` of `-d^2/dx^2` along one axis (`~ k^2`), (h/Mpc)^2. Default: exact,
    /// `L = k^2`.
    fn laplacian_1d(&self, k: f64, dx: f64) -> f64 {
        let _ = dx;
        k * k
    }

    /// Filter `s_a(k; theta)` applied to force component `axis`. Default 1.
    #[inline]
    fn filter(&self, k: [f64; 3], dx: [f64; 3], axis: usize) -> f64 {
        let _ = (k, dx, axis);
        1.0
    }

    /// The parameters `theta` (empty by default).
    fn params(&self) -> Vec<f64> {
        Vec::new()
    }

    /// Writes `d s_a / d theta_j` into `grad[j]` (length `params().len()`); a kernel with
    /// parameters must override this.
    #[inline]
    fn filter_param_grad(&self, k: [f64; 3], dx: [f64; 3], axis: usize, grad: &mut [f64]) {
        let _ = (k, dx, axis);
        grad.iter_mut().for_each(|g| *g = 0.0);
    }
}

/// Forwards every method to the kernel behind a pointer.
macro_rules! forward_kernel {
    ($($ptr:ty),*) => {$(
        impl<K: ForceKernel + ?Sized> ForceKernel for $ptr {
            fn name(&self) -> String {
                (**self).name()
            }
            fn gradient_1d(&self, k: f64, dx: f64) -> f64 {
                (**self).gradient_1d(k, dx)
            }
            fn laplacian_1d(&self, k: f64, dx: f64) -> f64 {
                (**self).laplacian_1d(k, dx)
            }
            #[inline]
            fn filter(&self, k: [f64; 3], dx: [f64; 3], axis: usize) -> f64 {
                (**self).filter(k, dx, axis)
            }
            fn params(&self) -> Vec<f64> {
                (**self).params()
            }
            fn filter_param_grad(&self, k: [f64; 3], dx: [f64; 3], axis: usize, grad: &mut [f64]) {
                (**self).filter_param_grad(k, dx, axis, grad)
            }
        }
    )*};
}

forward_kernel!(Box<K>, &K, std::sync::Arc<K>);
