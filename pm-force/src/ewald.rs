//! The exact periodic force of a point mass (Ewald summation), the reference for PM forces.

use std::f64::consts::PI;

/// Complementary error function, `erfc(x) = 1 - erf(x)`, with fractional error below
/// 1.2e-7 everywhere (Chebyshev fit of Press et al., *Numerical Recipes*, 2nd ed., sec. 6.2,
/// `erfcc`). Enough for a reference at the 1e-6 level.
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.26551223
        + t * (1.00002368
            + t * (0.37409196
                + t * (0.09678418
                    + t * (-0.18628806
                        + t * (0.27886807
                            + t * (-1.13520398
                                + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Force on a unit test mass at separation `r` (Mpc/h) from a unit point mass in a periodic
/// box of sides `box_size`, with the mean density subtracted: `F = -nabla phi`,
/// `nabla^2 phi = 4 pi (delta_D(r) - 1/V)` (G = 1). Near the mass `F -> -r / |r|^3`.
///
/// Ewald's split (Hernquist, Bouchet & Suto 1991, eqs. 2.14-2.15), with
/// `r_n = r - n L`:
///
/// ```text
/// F(r) = - sum_n r_n / |r_n|^3 [erfc(alpha |r_n|) + 2 alpha |r_n| / sqrt(pi) exp(-alpha^2 |r_n|^2)]
///        - 4 pi / V sum_{k != 0} k / k^2 exp(-k^2 / (4 alpha^2)) sin(k . r),
/// ```
///
/// with `alpha = 2 / min(L)`, real-space images `|n_a| <= 3` and `|k_a| <= 8 (2 pi / L_a)`:
/// both truncations are below 1e-10 of the force at `r = L/2`, so the accuracy is set by
/// [`erfc`] (about 1e-7).
///
/// ```
/// use pm_force::ewald::ewald_force;
/// // Close to the mass the periodic images do not matter.
/// let f = ewald_force([0.01, 0.0, 0.0], [1.0; 3]);
/// assert!((f[0] * 0.01 * 0.01 + 1.0).abs() < 1e-5);
/// ```
pub fn ewald_force(r: [f64; 3], box_size: [f64; 3]) -> [f64; 3] {
    let l_min = box_size.iter().cloned().fold(f64::INFINITY, f64::min);
    ewald_force_alpha(r, box_size, 2.0 / l_min)
}

/// [`ewald_force`] with an explicit split parameter `alpha` (1/(Mpc/h)); the result does not
/// depend on it, which the tests use as a check.
pub fn ewald_force_alpha(r: [f64; 3], box_size: [f64; 3], alpha: f64) -> [f64; 3] {
    let mut f = [0.0f64; 3];
    let images = 3i32;
    for nx in -images..=images {
        for ny in -images..=images {
            for nz in -images..=images {
                let n = [nx, ny, nz];
                let rn: [f64; 3] = std::array::from_fn(|a| r[a] - n[a] as f64 * box_size[a]);
                let d2: f64 = rn.iter().map(|v| v * v).sum();
                if d2 == 0.0 {
                    continue;
                }
                let d = d2.sqrt();
                let s = (erfc(alpha * d)
                    + 2.0 * alpha * d / PI.sqrt() * (-alpha * alpha * d2).exp())
                    / (d2 * d);
                for a in 0..3 {
                    f[a] -= rn[a] * s;
                }
            }
        }
    }
    let volume: f64 = box_size.iter().product();
    let kmax = 8i32;
    for nx in -kmax..=kmax {
        for ny in -kmax..=kmax {
            for nz in -kmax..=kmax {
                if nx == 0 && ny == 0 && nz == 0 {
                    continue;
                }
                let n = [nx, ny, nz];
                let k: [f64; 3] = std::array::from_fn(|a| 2.0 * PI * n[a] as f64 / box_size[a]);
                let k2: f64 = k.iter().map(|v| v * v).sum();
                let kr: f64 = (0..3).map(|a| k[a] * r[a]).sum();
                let s = 4.0 * PI / volume * (-k2 / (4.0 * alpha * alpha)).exp() / k2 * kr.sin();
                for a in 0..3 {
                    f[a] -= k[a] * s;
                }
            }
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_matches_known_values() {
        // erfc(0) = 1, erfc(0.5) = 0.4795001221869535, erfc(2) = 0.004677734981047266
        // (Abramowitz & Stegun table 7.1).
        for (x, want) in [
            (0.0, 1.0),
            (0.5, 0.4795001221869535),
            (2.0, 0.004677734981047266),
            (-1.0, 1.8427007929497148),
        ] {
            assert!(((erfc(x) - want) / want).abs() < 2e-7, "erfc({x})");
        }
    }

    #[test]
    fn independent_of_the_split_and_symmetric() {
        let l = [1.0, 1.0, 1.0];
        for r in [[0.1, 0.2, -0.05], [0.4, 0.1, 0.3], [0.5, 0.0, 0.0]] {
            let a = ewald_force_alpha(r, l, 2.0);
            let b = ewald_force_alpha(r, l, 3.0);
            let m = ewald_force([-r[0], -r[1], -r[2]], l);
            let scale = a.iter().map(|v| v.abs()).fold(1e-3, f64::max);
            for i in 0..3 {
                assert!((a[i] - b[i]).abs() < 1e-6 * scale, "{r:?}: {a:?} vs {b:?}");
                assert!((a[i] + m[i]).abs() < 1e-9 * scale);
            }
        }
        // Half a box away along an axis the images balance: no force.
        let f = ewald_force([0.5, 0.0, 0.0], l);
        assert!(f.iter().all(|v| v.abs() < 1e-7), "{f:?}");
    }
}
