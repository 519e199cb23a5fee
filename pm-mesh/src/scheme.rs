//! Mass-assignment schemes: NGP, CIC and TSC windows in real and Fourier space.

/// A mass-assignment (and interpolation) scheme, the B-spline of order 1, 2 or 3
/// (Hockney & Eastwood 1988, sec. 5-3). Grid point `j` sits at `x = j` cells.
///
/// | scheme | cells touched per axis | 1D window `W(s)` (s in cells) | Fourier window |
/// |---|---|---|---|
/// | NGP | 1 | `1` for `|s| < 1/2` | `sinc(k dx / 2)` |
/// | CIC | 2 | `1 - |s|` for `|s| < 1` | `sinc(k dx / 2)^2` |
/// | TSC | 3 | `3/4 - s^2`, `(3/2 - |s|)^2 / 2` | `sinc(k dx / 2)^3` |
///
/// ```
/// use pm_mesh::Scheme;
/// let (first, w, _) = Scheme::Cic.weights(3.25);
/// assert_eq!(first, 3);
/// assert_eq!(&w[..2], &[0.75, 0.25]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Nearest grid point.
    Ngp,
    /// Cloud in cell (linear).
    Cic,
    /// Triangular-shaped cloud (quadratic).
    Tsc,
}

impl Scheme {
    /// All schemes, for tests and loops.
    pub const ALL: [Scheme; 3] = [Scheme::Ngp, Scheme::Cic, Scheme::Tsc];

    /// Number of cells touched along each axis (the B-spline order `p`).
    pub const fn support(self) -> usize {
        match self {
            Scheme::Ngp => 1,
            Scheme::Cic => 2,
            Scheme::Tsc => 3,
        }
    }

    /// Order `p` of the Fourier window `sinc(k dx/2)^p`.
    pub const fn order(self) -> i32 {
        self.support() as i32
    }

    /// Weights of a particle at `x` (in cells, grid points at integers) on the grid points
    /// `first, first+1, ..., first+support-1` (not wrapped), and their derivatives with
    /// respect to `x`. Entries beyond `support` are zero. The weights sum to 1.
    /// NGP's derivative is zero almost everywhere (its jumps are not differentiated).
    #[inline]
    pub fn weights(self, x: f64) -> (i64, [f64; 3], [f64; 3]) {
        match self {
            Scheme::Ngp => {
                let j = (x + 0.5).floor();
                (j as i64, [1.0, 0.0, 0.0], [0.0; 3])
            }
            Scheme::Cic => {
                let j = x.floor();
                let t = x - j;
                (j as i64, [1.0 - t, t, 0.0], [-1.0, 1.0, 0.0])
            }
            Scheme::Tsc => {
                let j = (x + 0.5).floor();
                let d = x - j;
                let (l, r) = (0.5 - d, 0.5 + d);
                (
                    j as i64 - 1,
                    [0.5 * l * l, 0.75 - d * d, 0.5 * r * r],
                    [-l, -2.0 * d, r],
                )
            }
        }
    }

    /// Fourier transform of the 1D window at wavenumber `k` (h/Mpc) for cell size `dx`
    /// (Mpc/h): `sinc(k dx / 2)^p` with `sinc(u) = sin(u)/u`.
    #[inline]
    pub fn fourier_window(self, k: f64, dx: f64) -> f64 {
        let u = 0.5 * k * dx;
        let s = if u.abs() < 1e-8 {
            1.0 - u * u / 6.0
        } else {
            u.sin() / u
        };
        s.powi(self.order())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_and_derivatives_match_finite_differences() {
        for scheme in Scheme::ALL {
            for i in 0..200 {
                let x = -3.0 + 0.0371 * i as f64;
                let (j, w, dw) = scheme.weights(x);
                assert!(
                    (w.iter().sum::<f64>() - 1.0).abs() < 1e-14,
                    "{scheme:?} {x}"
                );
                assert!(dw.iter().sum::<f64>().abs() < 1e-14);
                // Finite difference, away from the kinks.
                let h = 1e-6;
                let (jp, wp, _) = scheme.weights(x + h);
                let (jm, wm, _) = scheme.weights(x - h);
                if jp == j && jm == j && scheme != Scheme::Ngp {
                    for a in 0..3 {
                        let fd = (wp[a] - wm[a]) / (2.0 * h);
                        assert!((fd - dw[a]).abs() < 1e-6, "{scheme:?} x={x} a={a}");
                    }
                }
                // The particle lies within the support.
                let centre = j as f64 + 0.5 * (scheme.support() as f64 - 1.0);
                assert!((x - centre).abs() <= 0.5 + 1e-12, "{scheme:?} x={x} j={j}");
            }
        }
    }
}
