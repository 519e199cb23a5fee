//! Angular power spectra: the flat-sky estimate from a map, and Limber's prediction from the
//! linear matter power spectrum.

use pm_cosmo::{GrowthTable, LinearPower};
use rustfft::FftPlanner;
use rustfft::num_complex::Complex;

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
    let mut data: Vec<Complex<f64>> = map.iter().map(|&k| Complex::new(k - mean, 0.0)).collect();
    let fft = FftPlanner::new().plan_fft_forward(n);
    for row in data.chunks_exact_mut(n) {
        fft.process(row);
    }
    let mut column = vec![Complex::new(0.0, 0.0); n];
    for i in 0..n {
        for j in 0..n {
            column[j] = data[j * n + i];
        }
        fft.process(&mut column);
        for j in 0..n {
            data[j * n + i] = column[j];
        }
    }
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
    for j in 0..n {
        for i in 0..n {
            let ell = fundamental * (freq(i).powi(2) + freq(j).powi(2)).sqrt();
            let b = ell_edges.partition_point(|&e| e <= ell);
            if b == 0 || b > bins {
                continue;
            }
            let c = (d * d) * (d * d) * data[j * n + i].norm_sqr() / (theta * theta);
            sum_ell[b - 1] += ell;
            sum_cl[b - 1] += c;
            modes[b - 1] += 1;
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
