//! Tabulation machinery shared by the growth and distance tables: a uniform grid in ln a,
//! a fixed-step fourth-order Runge-Kutta integrator and cubic Hermite interpolation.
//!
//! The step is fixed (not adaptive) so that a table is a smooth function of the cosmological
//! parameters: dual numbers then give the exact derivative of the tabulated result, and finite
//! differences agree with them to their own truncation error.

use crate::scalar::Scalar;

/// Nodes x_i = ln a_i = x0 + i h, i = 0..n, with a = 1 exactly on node `i_one`.
#[derive(Clone, Debug)]
pub(crate) struct LogGrid {
    pub x0: f64,
    pub h: f64,
    pub n: usize,
    pub i_one: usize,
}

impl LogGrid {
    /// A grid from `a_min` (< 1) to at least `a_max` (>= 1) with spacing at most `h_max` in ln a.
    pub fn new(a_min: f64, a_max: f64, h_max: f64) -> Self {
        let below = (-a_min.ln() / h_max).ceil() as usize;
        let h = -a_min.ln() / below as f64;
        let above = (a_max.ln() / h).ceil() as usize;
        LogGrid {
            x0: a_min.ln(),
            h,
            n: below + above + 1,
            i_one: below,
        }
    }

    pub fn x(&self, i: usize) -> f64 {
        if i == self.i_one {
            0.0
        } else {
            self.x0 + i as f64 * self.h
        }
    }

    pub fn a(&self, i: usize) -> f64 {
        self.x(i).exp()
    }

    pub fn a_min(&self) -> f64 {
        self.a(0)
    }

    pub fn a_max(&self) -> f64 {
        self.a(self.n - 1)
    }

    /// Cell index i and fractional position t in [0, 1] of ln a between nodes i and i + 1,
    /// or `None` outside the grid.
    pub fn locate(&self, a: f64) -> Option<(usize, f64)> {
        if a.is_nan() || a <= 0.0 {
            return None;
        }
        let u = (a.ln() - self.x0) / self.h;
        let last = (self.n - 1) as f64;
        // Allow rounding at the ends.
        if !(-1e-9..=last + 1e-9).contains(&u) {
            return None;
        }
        let u = u.clamp(0.0, last);
        let i = (u.floor() as usize).min(self.n - 2);
        Some((i, u - i as f64))
    }
}

/// Cubic Hermite interpolation on a cell of width `h` (in x), from values `y0, y1` and slopes
/// `m0, m1` (dy/dx) at its ends, at fraction `t`. Returns (y, dy/dx). The error is
/// h^4 max|y''''| / 384 for y, one power of h less for the slope.
#[inline]
pub(crate) fn hermite<S: Scalar>(y0: S, y1: S, m0: S, m1: S, t: f64, h: f64) -> (S, S) {
    let t2 = t * t;
    let t3 = t2 * t;
    let h00 = 2.0 * t3 - 3.0 * t2 + 1.0;
    let h10 = t3 - 2.0 * t2 + t;
    let h01 = -2.0 * t3 + 3.0 * t2;
    let h11 = t3 - t2;
    let y = y0 * h00 + m0 * (h10 * h) + y1 * h01 + m1 * (h11 * h);
    let d00 = (6.0 * t2 - 6.0 * t) / h;
    let d10 = 3.0 * t2 - 4.0 * t + 1.0;
    let d01 = (-6.0 * t2 + 6.0 * t) / h;
    let d11 = 3.0 * t2 - 2.0 * t;
    let dy = y0 * d00 + m0 * d10 + y1 * d01 + m1 * d11;
    (y, dy)
}

/// One classical Runge-Kutta step of dy/dx = f(x, y) from x to x + h.
#[inline]
pub(crate) fn rk4_step<S: Scalar, const N: usize>(
    f: &impl Fn(f64, &[S; N]) -> [S; N],
    x: f64,
    y: &[S; N],
    h: f64,
) -> [S; N] {
    let add =
        |y: &[S; N], k: &[S; N], c: f64| -> [S; N] { std::array::from_fn(|j| y[j] + k[j] * c) };
    let k1 = f(x, y);
    let k2 = f(x + 0.5 * h, &add(y, &k1, 0.5 * h));
    let k3 = f(x + 0.5 * h, &add(y, &k2, 0.5 * h));
    let k4 = f(x + h, &add(y, &k3, h));
    std::array::from_fn(|j| y[j] + (k1[j] + k2[j] * 2.0 + k3[j] * 2.0 + k4[j]) * (h / 6.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_has_a_equal_one_on_a_node() {
        let g = LogGrid::new(1e-5, 4.0, 0.01);
        assert_eq!(g.a(g.i_one), 1.0);
        assert!(g.a_max() >= 4.0 - 1e-12);
        assert!((g.a_min() - 1e-5).abs() < 1e-17);
        let (i, t) = g.locate(1.0).unwrap();
        assert!(i == g.i_one && t.abs() < 1e-9 || i + 1 == g.i_one && (t - 1.0).abs() < 1e-9);
        assert!(g.locate(1e-6).is_none() && g.locate(5.0).is_none() && g.locate(-1.0).is_none());
    }

    #[test]
    fn hermite_is_exact_for_cubics() {
        let p = |x: f64| 1.0 + 2.0 * x - 0.5 * x * x + 0.25 * x * x * x;
        let dp = |x: f64| 2.0 - x + 0.75 * x * x;
        let (x0, h) = (0.3, 0.7);
        for &t in &[0.0, 0.2, 0.5, 0.9, 1.0] {
            let (y, dy) = hermite(p(x0), p(x0 + h), dp(x0), dp(x0 + h), t, h);
            assert!((y - p(x0 + t * h)).abs() < 1e-14);
            assert!((dy - dp(x0 + t * h)).abs() < 1e-13);
        }
    }

    #[test]
    fn rk4_is_fourth_order() {
        // dy/dx = y, y(0) = 1: error at x = 1 must fall by ~16 when h halves.
        let f = |_x: f64, y: &[f64; 1]| [y[0]];
        let err = |n: usize| {
            let h = 1.0 / n as f64;
            let mut y = [1.0];
            for i in 0..n {
                y = rk4_step(&f, i as f64 * h, &y, h);
            }
            (y[0] - 1f64.exp()).abs()
        };
        let ratio = err(10) / err(20);
        assert!((ratio - 16.0).abs() < 1.0, "{ratio}");
    }
}
