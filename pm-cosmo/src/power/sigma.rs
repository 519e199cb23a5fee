//! The rms linear density contrast in spheres, sigma(R), and the fixed quadrature in ln k that
//! computes it.
//!
//! sigma^2(R) = int dln k  Delta^2(k) W(kR)^2,  Delta^2(k) = k^3 P(k) / (2 pi^2),
//! W(x) = 3 (sin x - x cos x) / x^3 (the Fourier transform of a top hat of radius R; e.g.
//! Peebles 1980, Mo, van den Bosch & White 2010 eq. 6.15). R in Mpc/h, k in h/Mpc, P in
//! (Mpc/h)^3.
//!
//! The integral is a composite 8-point Gauss-Legendre rule over FIXED panels in ln k: the nodes
//! never depend on the cosmological parameters, so the result is a smooth function of them and
//! dual-number derivatives equal the derivative of the discrete sum (which is what finite
//! differences see too). No adaptivity anywhere.

use crate::scalar::Scalar;

/// Number of Gauss-Legendre nodes per panel.
pub(crate) const GL_ORDER: usize = 8;

/// Smallest wavenumber of the analytic-spectrum quadrature, h/Mpc.
pub const SIGMA_K_MIN: f64 = 1e-6;
/// Largest wavenumber of the analytic-spectrum quadrature, h/Mpc.
pub const SIGMA_K_MAX: f64 = 1e4;
/// Below this wavenumber (h/Mpc) the panels are `COARSE_DLNK` wide: the integrand is a smooth
/// power law times T(k)^2 ~ 1 there.
const K_FINE: f64 = 1e-2;
/// Panel width in ln k below `K_FINE`.
const COARSE_DLNK: f64 = 0.25;
/// Panel width in ln k above `K_FINE`. It resolves one full period of the top-hat window's
/// oscillation, Delta ln k = pi / (k R), up to kR = pi / 0.02 ~ 160 for any R, and of the
/// baryon wiggles (period Delta k ~ 2 pi / s ~ 0.06 h/Mpc) up to k ~ 3 h/Mpc, beyond which
/// their amplitude is below 1e-5 of P. With 8 nodes a panel holding one period of a sinusoid
/// is integrated to ~1e-13; beyond kR ~ 160 the integrand is down by (kR)^-4 and its
/// under-resolved oscillation averages out. Measured against a fine Simpson rule
/// (`tests/cosmo/power.rs`): below 1e-10 relative in sigma for 0.5 <= R <= 100 Mpc/h, 4e-8 at
/// R = 500 Mpc/h (where sigma is small and the tail weighs more).
pub const FINE_DLNK: f64 = 0.02;

/// The top-hat window W(x) = 3 (sin x - x cos x) / x^3, by its Taylor series
/// W = sum_n (-1)^n 3 x^(2n) / ((2n + 3) (2n + 1)!) for x < 0.1 (six terms, truncation
/// below 1e-20) where the closed form cancels.
pub fn top_hat_window(x: f64) -> f64 {
    if x.abs() < 0.1 {
        let x2 = x * x;
        let mut term = 1.0; // x^(2n) / (2n + 1)!
        let mut sum = 0.0;
        for n in 0..6 {
            let m = 2.0 * n as f64;
            sum += 3.0 * term / (m + 3.0);
            term *= -x2 / ((m + 2.0) * (m + 3.0));
        }
        sum
    } else {
        3.0 * (x.sin() - x * x.cos()) / (x * x * x)
    }
}

/// Nodes and weights of the `n`-point Gauss-Legendre rule on [-1, 1], by Newton's method on
/// the Legendre polynomial P_n (three-term recurrence; Abramowitz & Stegun 25.4.29 for the
/// weights w_i = 2 / ((1 - x_i^2) P_n'(x_i)^2)). Accurate to rounding.
pub(crate) fn gauss_legendre(n: usize) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        // Tricomi's initial guess for the i-th root (descending order).
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut dp = 0.0;
        for _ in 0..100 {
            let (mut p0, mut p1) = (1.0, x);
            for j in 2..=n {
                let j = j as f64;
                let p2 = ((2.0 * j - 1.0) * x * p1 - (j - 1.0) * p0) / j;
                p0 = p1;
                p1 = p2;
            }
            // P_n'(x) = n (x P_n - P_{n-1}) / (x^2 - 1).
            dp = n as f64 * (x * p1 - p0) / (x * x - 1.0);
            let dx = p1 / dp;
            x -= dx;
            if dx.abs() < 1e-16 {
                break;
            }
        }
        out.push((x, 2.0 / ((1.0 - x * x) * dp * dp)));
    }
    out
}

/// A fixed quadrature rule in ln k: nodes k_i (h/Mpc) and weights w_i (for dln k), so that
/// int f(k) dln k ~ sum_i w_i f(k_i).
#[derive(Clone, Debug)]
pub(crate) struct LnKQuadrature {
    pub nodes: Vec<(f64, f64)>,
}

impl LnKQuadrature {
    /// Composite Gauss-Legendre over the panels between consecutive `breaks` (in ln k,
    /// increasing), each split into equal sub-panels no wider than `max_width`.
    pub fn from_breaks(breaks: &[f64], max_width: f64) -> Self {
        let gl = gauss_legendre(GL_ORDER);
        let mut nodes = Vec::new();
        for w in breaks.windows(2) {
            let (lo, hi) = (w[0], w[1]);
            let m = ((hi - lo) / max_width).ceil().max(1.0) as usize;
            let h = (hi - lo) / m as f64;
            for j in 0..m {
                let mid = lo + (j as f64 + 0.5) * h;
                for &(x, wt) in &gl {
                    nodes.push(((mid + 0.5 * h * x).exp(), 0.5 * h * wt));
                }
            }
        }
        LnKQuadrature { nodes }
    }

    /// The rule for analytic spectra: [`SIGMA_K_MIN`, `K_FINE`] in panels of `COARSE_DLNK`,
    /// [`K_FINE`, `SIGMA_K_MAX`] in panels of [`FINE_DLNK`] (5,824 nodes).
    pub fn analytic() -> &'static Self {
        static RULE: std::sync::OnceLock<LnKQuadrature> = std::sync::OnceLock::new();
        RULE.get_or_init(|| {
            let mut q = Self::from_breaks(&[SIGMA_K_MIN.ln(), K_FINE.ln()], COARSE_DLNK);
            let fine = Self::from_breaks(&[K_FINE.ln(), SIGMA_K_MAX.ln()], FINE_DLNK);
            q.nodes.extend(fine.nodes);
            q
        })
    }

    /// sigma^2(R) = sum_i w_i k_i^3 P(k_i) / (2 pi^2) W(k_i R)^2 for the spectrum `p`.
    pub fn sigma2<S: Scalar>(&self, r: f64, p: impl Fn(f64) -> S) -> S {
        let c = 0.5 / (std::f64::consts::PI * std::f64::consts::PI);
        let mut sum = S::from(0.0);
        for &(k, w) in &self.nodes {
            let win = top_hat_window(k * r);
            sum += p(k) * (w * c * k * k * k * win * win);
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_legendre_integrates_degree_15_exactly() {
        let gl = gauss_legendre(GL_ORDER);
        assert_eq!(gl.len(), 8);
        for d in 0..16 {
            let got: f64 = gl.iter().map(|&(x, w)| w * x.powi(d)).sum();
            let exact = if d % 2 == 1 {
                0.0
            } else {
                2.0 / (d as f64 + 1.0)
            };
            assert!((got - exact).abs() < 1e-14, "degree {d}: {got} vs {exact}");
        }
    }

    #[test]
    fn window_series_joins_closed_form() {
        for x in [0.0999999f64, 0.1, 0.1000001] {
            let closed = 3.0 * (x.sin() - x * x.cos()) / (x * x * x);
            assert!((top_hat_window(x) - closed).abs() < 1e-12);
        }
        assert_eq!(top_hat_window(0.0), 1.0);
        assert!((top_hat_window(1e-3) - (1.0 - 1e-7 + 1e-12 / 280.0)).abs() < 1e-16);
    }

    #[test]
    fn sigma2_of_a_gaussian_spectrum() {
        // Delta^2(k) = exp(-(ln k)^2) at R -> 0 (W = 1): integral is sqrt(pi).
        let q = LnKQuadrature::analytic();
        let two_pi2 = 2.0 * std::f64::consts::PI * std::f64::consts::PI;
        let s2: f64 = q.sigma2(1e-12, |k: f64| {
            (-(k.ln().powi(2))).exp() * two_pi2 / k.powi(3)
        });
        assert!(
            (s2 / std::f64::consts::PI.sqrt() - 1.0).abs() < 1e-13,
            "{s2}"
        );
    }
}
