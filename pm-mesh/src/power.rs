//! Power spectrum estimator: auto and cross, binned in |k| (STUB).

use pm_fft::Real;

use crate::{FourierField, MeshError, Scheme};

/// How modes are binned in |k| (h/Mpc).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Binning {
    /// `n_bins` equal-width bins from `k_min` to `k_max`.
    Linear {
        /// Lower edge of the first bin.
        k_min: f64,
        /// Upper edge of the last bin.
        k_max: f64,
        /// Number of bins.
        n_bins: usize,
    },
    /// `n_bins` bins equally spaced in log k from `k_min > 0` to `k_max`.
    Log {
        /// Lower edge of the first bin.
        k_min: f64,
        /// Upper edge of the last bin.
        k_max: f64,
        /// Number of bins.
        n_bins: usize,
    },
}

/// Options of the estimator.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PowerOptions {
    /// Bins; `None` means linear bins of width `k_f` from 0 to the Nyquist frequency.
    pub binning: Option<Binning>,
    /// Shot noise (Mpc/h)^3 subtracted from auto spectra.
    pub shot_noise: Option<f64>,
    /// Deconvolve this scheme's window from each field before squaring.
    pub compensate: Option<Scheme>,
}

/// A binned auto power spectrum.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerSpectrum {
    /// Mode-weighted mean |k| per bin, h/Mpc.
    pub k: Vec<f64>,
    /// P(k) in (Mpc/h)^3.
    pub power: Vec<f64>,
    /// Number of modes per bin (Hermitian pairs counted twice).
    pub n_modes: Vec<u64>,
}

/// A binned cross spectrum of two fields with both autos.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossPowerSpectrum {
    /// Mode-weighted mean |k| per bin, h/Mpc.
    pub k: Vec<f64>,
    /// Auto spectrum of the first field.
    pub p11: Vec<f64>,
    /// Auto spectrum of the second field.
    pub p22: Vec<f64>,
    /// Cross spectrum `V Re(a_k conj(b_k)) / N^2`.
    pub p12: Vec<f64>,
    /// Number of modes per bin.
    pub n_modes: Vec<u64>,
}

/// Auto power spectrum of a Fourier field (STUB).
pub fn power_spectrum<T: Real>(
    field: &FourierField<T>,
    options: &PowerOptions,
) -> Result<PowerSpectrum, MeshError> {
    let _ = (field, options);
    todo!("power_spectrum")
}

/// Cross power spectrum (STUB).
pub fn cross_power_spectrum<T: Real>(
    a: &FourierField<T>,
    b: &FourierField<T>,
    options: &PowerOptions,
) -> Result<CrossPowerSpectrum, MeshError> {
    let _ = (a, b, options);
    todo!("cross_power_spectrum")
}
