//! Angular power spectra: the flat-sky estimate from a map, and Limber's prediction from the
//! linear matter power spectrum.

use pm_cosmo::{GrowthTable, LinearPower};
use pm_fft::{Complex, CpuFft3d, Fft3d};

use crate::error::config;
use crate::kernel::simpson;
use crate::{BornKernel, FlatSky, LensingError};

/// A binned angular power spectrum.
#[derive(Debug, Clone, PartialEq)]
pub struct AngularSpectrum {
    /// Mode-weighted mean multipole of each bin.
    pub ell: Vec<f64>,
    /// `C_ell`, sr.
    pub cl: Vec<f64>,
    /// Fourier modes in each bin (0 for an empty bin, whose `ell` and `cl` are NaN).
    pub modes: Vec<usize>,
}

/// The flat-sky angular power spectrum of a [`FlatSky`] map, binned by `ell_edges`
/// (increasing; bin `b` holds `ell_edges[b] <= ell < ell_edges[b+1]`).
///
/// The map (its mean removed) is treated as a flat field of side `Theta = npix d` (`d` the
/// pixel size in tangent-plane units, radians at the centre):
/// `kappa(ell) = d^2 sum_x kappa(x) e^{-i ell x}` on the grid `ell = 2 pi m / Theta`, and
/// `C_ell = |kappa(ell)|^2 / Theta^2`, averaged over the modes of a bin. The bilinear
/// deposit's pixel window is not deconvolved: keep to `ell` well below `pi / d`.
///
/// The modes of a bin are those of the full `npix x npix` spectrum; the transform is
/// half-complex (the map is real), each stored mode off the `ell_x = 0` and Nyquist columns
/// counting also for its Hermitian partner (as pm-mesh's `Mesh::hermitian_weight`).
///
/// ```
/// use pm_lensing::{FlatSky, flat_power_spectrum};
/// let sky = FlatSky::new([0.0, 0.0, 1.0], 10.0, 32).unwrap();
/// let cl = flat_power_spectrum(&sky, &vec![0.0; 32 * 32], &[50.0, 200.0, 600.0]).unwrap();
/// assert_eq!(cl.cl, vec![0.0, 0.0]);
/// ```
pub fn flat_power_spectrum(
    sky: &FlatSky,
    map: &[f64],
    ell_edges: &[f64],
) -> Result<AngularSpectrum, LensingError> {
    let n = sky.side();
    if map.len() != n * n {
        return Err(LensingError::Length {
            what: "flat map",
            expected: n * n,
            got: map.len(),
        });
    }
    if ell_edges.len() < 2 || ell_edges.windows(2).any(|w| !(w[1] > w[0])) {
        return Err(config("ell bins", "need at least two increasing edges"));
    }
    let mean = map.iter().sum::<f64>() / map.len() as f64;
    let kappa = half_complex_dft(map.iter().map(|&k| k - mean).collect(), n)?;
    let d = sky.pixel_size();
    let theta = n as f64 * d;
    let fundamental = 2.0 * std::f64::consts::PI / theta;
    let bins = ell_edges.len() - 1;
    let (mut sum_ell, mut sum_cl, mut modes) = (vec![0.0; bins], vec![0.0; bins], vec![0; bins]);
    let freq = |j: usize| {
        if j <= n / 2 {
            j as f64
        } else {
            j as f64 - n as f64
        }
    };
    let nc = n / 2 + 1;
    for j in 0..n {
        for i in 0..nc {
            let ell = fundamental * (freq(i).powi(2) + freq(j).powi(2)).sqrt();
            let b = ell_edges.partition_point(|&e| e <= ell);
            if b == 0 || b > bins {
                continue;
            }
            // Columns 0 < i < n/2 also stand for their Hermitian partners (same ell, same
            // |kappa|^2), the columns n/2 < i < n of the full spectrum.
            let weight = if i == 0 || 2 * i == n { 1 } else { 2 };
            let c = (d * d) * (d * d) * kappa[j * nc + i].norm_sqr() / (theta * theta);
            sum_ell[b - 1] += weight as f64 * ell;
            sum_cl[b - 1] += weight as f64 * c;
            modes[b - 1] += weight;
        }
    }
    let ell = (0..bins)
        .map(|b| sum_ell[b] / modes[b] as f64)
        .collect::<Vec<_>>();
    let cl = (0..bins).map(|b| sum_cl[b] / modes[b] as f64).collect();
    Ok(AngularSpectrum {
        ell: ell
            .iter()
            .zip(&modes)
            .map(|(e, &m)| if m > 0 { *e } else { f64::NAN })
            .collect(),
        cl,
        modes,
    })
}

/// The 2D DFT `X[j][i] = sum_{y, x} f[y][x] e^{-2 pi i (j y + i x) / n}` (unnormalised) of a
/// real `n x n` map `f` (row-major, `x` contiguous) in half-complex form: the `[n][n/2 + 1]`
/// array of the columns `0 <= i <= n/2`. The columns `i > n/2` are not stored: they are the
/// Hermitian partners `X[(n - j) % n][n - i] = conj X[j][i]` of stored ones.
///
/// pm-fft's real FFT needs its real-to-complex (last) axis even, so
/// * even `n`: the map is the `[1, n, n]` grid, whose transform is this array;
/// * odd `n`: the map is the `z = 0` plane of an `[n, n, 2]` grid whose `z = 1` plane is zero;
///   the `kz = 0` plane of that transform is the map's full 2D DFT (rows `j` along the grid's
///   first axis, columns `i` along its second), of which the columns `i <= n/2` are kept.
fn half_complex_dft(mut map: Vec<f64>, n: usize) -> Result<Vec<Complex<f64>>, LensingError> {
    let fft_error = |e: pm_fft::FftError| config("flat map FFT", e.to_string());
    if n.is_multiple_of(2) {
        let fft = CpuFft3d::<f64>::new([1, n, n]).map_err(fft_error)?;
        let mut kappa = vec![Complex::new(0.0, 0.0); fft.complex_len()];
        fft.forward(&mut map, &mut kappa).map_err(fft_error)?;
        return Ok(kappa);
    }
    let fft = CpuFft3d::<f64>::new([n, n, 2]).map_err(fft_error)?;
    let mut grid = vec![0.0; fft.real_len()];
    for (cell, &k) in grid.chunks_exact_mut(2).zip(&map) {
        cell[0] = k;
    }
    let mut full = vec![Complex::new(0.0, 0.0); fft.complex_len()];
    fft.forward(&mut grid, &mut full).map_err(fft_error)?;
    // full[j][i][kz] at (j n + i) 2 + kz; keep kz = 0, i <= n/2.
    let nc = n / 2 + 1;
    let mut kappa = Vec::with_capacity(n * nc);
    for j in 0..n {
        kappa.extend((0..nc).map(|i| full[(j * n + i) * 2]));
    }
    Ok(kappa)
}

/// Limber's prediction of the convergence spectrum (LoVerde & Afshordi 2008, with
/// `k = (ell + 1/2)/r`) from linear theory:
///
/// ```text
/// C_ell = ∫_{r_lo}^{r_hi} dr  W(r)^2  D1(a(r))^2 P_lin((ell + 1/2)/r)
/// ```
///
/// with `W = A g / a` the [`BornKernel`] weight (the projection kernel `r W(r)` over `r^2`),
/// over the lightcone's depth `[r_lo, r_hi]` (Mpc/h; `r_hi` is capped at the sources).
/// Simpson's rule on 1024 cells; wavenumbers beyond the power spectrum's range count 0.
pub fn limber_convergence(
    kernel: &BornKernel,
    power: &LinearPower<f64>,
    growth: &GrowthTable<f64>,
    r_lo: f64,
    r_hi: f64,
    ell: f64,
) -> Result<f64, LensingError> {
    let r_hi = r_hi.min(kernel.source_distance());
    if !(ell > 0.0) || !(r_lo >= 0.0) {
        return Err(config(
            "Limber integral",
            format!("ell = {ell} and r_lo = {r_lo} must be positive"),
        ));
    }
    if r_hi <= r_lo {
        return Ok(0.0);
    }
    let (k_min, k_max) = power.k_range();
    let lo = r_lo.max(1e-3);
    let integrand = |r: f64| -> f64 {
        let k = (ell + 0.5) / r;
        if k < k_min || k > k_max {
            return 0.0;
        }
        let (w, _) = kernel.weight(r);
        let Ok(a) = kernel.scale_factor(r) else {
            return 0.0;
        };
        let d = growth.d1(a);
        power.power(k).map_or(0.0, |p| w * w * d * d * p)
    };
    Ok(simpson(lo, r_hi, 1024, integrand))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`flat_power_spectrum`] against its definition: the direct DFT summed over all `n^2`
    /// modes (no Hermitian folding), for an even side (`[1, n, n]` transform, Nyquist column
    /// inside the bins) and an odd one (`[n, n, 2]`): the same mode counts, and `ell` and
    /// `C_ell` to rounding.
    #[test]
    fn flat_spectrum_matches_the_direct_sum_over_all_modes() {
        for n in [6usize, 7] {
            let sky = FlatSky::new([0.0, 0.0, 1.0], 10.0, n).unwrap();
            // A reproducible pseudo-random map (64-bit LCG, top 53 bits) in [-0.5, 0.5).
            let mut state = 12345u64;
            let map: Vec<f64> = (0..n * n)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
                })
                .collect();
            // Fundamental 2 pi / Theta ~ 36 (Theta ~ 0.175 rad): bins of |m| = |ell| / 36 in
            // [0.03, 1.1), [1.1, 2.2), [2.2, 3.3), [3.3, 11), the Nyquist column m_x = 3 of
            // n = 6 in the last two.
            let edges = [1.0, 40.0, 80.0, 120.0, 400.0];
            let got = flat_power_spectrum(&sky, &map, &edges).unwrap();

            let mean = map.iter().sum::<f64>() / (n * n) as f64;
            let (d, theta) = (sky.pixel_size(), n as f64 * sky.pixel_size());
            let freq = |j: usize| {
                if 2 * j <= n {
                    j as f64
                } else {
                    j as f64 - n as f64
                }
            };
            let bins = edges.len() - 1;
            let (mut sum_ell, mut sum_cl, mut modes) =
                (vec![0.0; bins], vec![0.0; bins], vec![0; bins]);
            for j in 0..n {
                for i in 0..n {
                    let mut x = Complex::new(0.0, 0.0);
                    for y in 0..n {
                        for c in 0..n {
                            let phase = -2.0 * std::f64::consts::PI * ((j * y + i * c) % n) as f64
                                / n as f64;
                            x += (map[y * n + c] - mean) * Complex::from_polar(1.0, phase);
                        }
                    }
                    let ell = 2.0 * std::f64::consts::PI / theta
                        * (freq(i).powi(2) + freq(j).powi(2)).sqrt();
                    let b = edges.partition_point(|&e| e <= ell);
                    if b == 0 || b > bins {
                        continue;
                    }
                    sum_ell[b - 1] += ell;
                    sum_cl[b - 1] += d.powi(4) * x.norm_sqr() / (theta * theta);
                    modes[b - 1] += 1;
                }
            }
            assert_eq!(got.modes, modes, "n = {n}");
            for b in 0..bins {
                let (ell, cl) = (sum_ell[b] / modes[b] as f64, sum_cl[b] / modes[b] as f64);
                assert!(
                    (got.ell[b] - ell).abs() <= 1e-12 * ell,
                    "n = {n} bin {b}: ell {} vs {ell}",
                    got.ell[b]
                );
                assert!(
                    (got.cl[b] - cl).abs() <= 1e-10 * cl,
                    "n = {n} bin {b}: C_ell {} vs {cl}",
                    got.cl[b]
                );
            }
        }
    }
}
