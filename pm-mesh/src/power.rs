//! Power spectrum estimator: auto and cross spectra binned in |k|.
//!
//! Estimator (see `docs/ARCHITECTURE.md`): for a field with unnormalised forward transform `delta_k`
//! on a mesh of `N` cells and volume `V` (Mpc/h)^3,
//!
//! ```text
//! P(k_bin) = (V / N^2) * sum_{modes in bin} |delta_k|^2 / n_modes
//! ```
//!
//! where the sum runs over the modes of the **full** spectrum. The half-complex array holds
//! each mode with `0 < jz < nz/2` once and stands for its Hermitian partner too (weight 2);
//! modes on the `jz = 0` and `jz = nz/2` planes appear explicitly with both `k` and `-k`
//! (weight 1), see [`Mesh::hermitian_weight`]. The `k = 0` mode is always excluded.
//! Sums are accumulated in f64, in parallel over x planes with per-plane partial sums
//! reduced in plane order, so results are bitwise independent of the thread count.

use pm_decomp::{Comm, CommExt, SerialComm};
use pm_fft::{Complex, Fft3d, Real};
use rayon::prelude::*;

use crate::{FourierField, Mesh, MeshError, RealField, Scheme};

/// How modes are binned in |k| (h/Mpc).
///
/// A mode of wavenumber `k = |k|` falls in bin `i = floor(t)` when `0 <= t < n_bins`, with
/// `t = (k - k_min) / dk`, `dk = (k_max - k_min) / n_bins` for [`Binning::Linear`] and
/// `t = ln(k / k_min) / dlnk`, `dlnk = ln(k_max / k_min) / n_bins` for [`Binning::Log`]:
/// bins are half open, `[lower, upper)`. For linear bins `t` is evaluated in units of `dk`
/// with the per-axis ratios `k_f / dk` snapped to integers when they are integers to
/// rounding (e.g. bins of width `k_f`), so a mode lying exactly on an edge (an axis mode
/// `k = j k_f`, or `|m| = 5` for `m = (3, 4, 0)`) lands in the bin above it, deterministically.
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

impl Binning {
    /// The default binning used when [`PowerOptions::binning`] is `None`: linear bins of
    /// width `k_f = min_a 2 pi / L_a` from 0 to `n_bins k_f`, with
    /// `n_bins = max(1, floor(k_Ny / k_f))` and `k_Ny = min_a pi n_a / L_a`. For a cubic mesh
    /// of `n^3` cells this is `n/2` bins and the last edge is exactly the Nyquist frequency
    /// (modes at or beyond it, e.g. the axis Nyquist modes, are dropped).
    pub fn default_for(mesh: &Mesh) -> Self {
        let kf = mesh.fundamental().into_iter().fold(f64::INFINITY, f64::min);
        let kny = mesh.nyquist().into_iter().fold(f64::INFINITY, f64::min);
        // The tiny relative slack makes `n k_f / k_f` robust to rounding (cubic: exactly n/2).
        let n_bins = ((kny / kf) * (1.0 + 1e-12)).floor().max(1.0) as usize;
        Binning::Linear {
            k_min: 0.0,
            k_max: n_bins as f64 * kf,
            n_bins,
        }
    }

    /// Number of bins.
    pub fn n_bins(&self) -> usize {
        match *self {
            Binning::Linear { n_bins, .. } | Binning::Log { n_bins, .. } => n_bins,
        }
    }

    /// The `n_bins + 1` bin edges in h/Mpc: `k_min + i dk` (linear) or
    /// `k_min exp(i dlnk)` (log), the last one exactly `k_max`.
    pub fn edges(&self) -> Vec<f64> {
        let n = self.n_bins();
        match *self {
            Binning::Linear { k_min, k_max, .. } => {
                let dk = (k_max - k_min) / n as f64;
                (0..=n)
                    .map(|i| if i == n { k_max } else { k_min + i as f64 * dk })
                    .collect()
            }
            Binning::Log { k_min, k_max, .. } => {
                let dln = (k_max / k_min).ln() / n as f64;
                (0..=n)
                    .map(|i| {
                        if i == n {
                            k_max
                        } else {
                            k_min * (i as f64 * dln).exp()
                        }
                    })
                    .collect()
            }
        }
    }

    /// Checks `n_bins >= 1`, finite `0 <= k_min < k_max` and, for log bins, `k_min > 0`.
    fn validate(&self) -> Result<(), MeshError> {
        let (k_min, k_max, n_bins, log) = match *self {
            Binning::Linear {
                k_min,
                k_max,
                n_bins,
            } => (k_min, k_max, n_bins, false),
            Binning::Log {
                k_min,
                k_max,
                n_bins,
            } => (k_min, k_max, n_bins, true),
        };
        let err = |what, reason: String| Err(MeshError::Option { what, reason });
        if n_bins == 0 {
            return err("binning.n_bins", "at least one bin is needed".into());
        }
        if !(k_min.is_finite() && k_max.is_finite()) {
            return err(
                "binning",
                format!("k_min = {k_min} and k_max = {k_max} must be finite"),
            );
        }
        if k_min < 0.0 {
            return err("binning.k_min", format!("k_min = {k_min} must be >= 0"));
        }
        if k_min >= k_max {
            return err(
                "binning",
                format!("k_min = {k_min} must be below k_max = {k_max}"),
            );
        }
        if log && k_min <= 0.0 {
            return err(
                "binning.k_min",
                format!("logarithmic bins need k_min > 0, got {k_min}"),
            );
        }
        Ok(())
    }
}

/// Options of the estimator.
///
/// ```
/// use pm_mesh::{Binning, PowerOptions, Scheme};
/// let opts = PowerOptions {
///     binning: Some(Binning::Log { k_min: 0.01, k_max: 1.0, n_bins: 20 }),
///     shot_noise: Some(125.0),
///     compensate: Some(Scheme::Cic),
/// };
/// assert_eq!(PowerOptions::default().binning, None);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PowerOptions {
    /// Bins; `None` means linear bins of width `k_f` from 0 to the Nyquist frequency
    /// ([`Binning::default_for`]). Modes outside `[k_min, k_max)` are dropped.
    pub binning: Option<Binning>,
    /// Shot noise `s` (Mpc/h)^3 subtracted from auto spectra (`P - s`), not from cross
    /// spectra. Must be finite and `>= 0`.
    pub shot_noise: Option<f64>,
    /// Deconvolve this scheme's window from each field before squaring: every mode is
    /// divided by `prod_a W(k_a, cell_a)`, `W = sinc(k dx / 2)^p` ([`Scheme::fourier_window`]).
    pub compensate: Option<Scheme>,
}

impl PowerOptions {
    fn validate(&self, mesh: &Mesh) -> Result<Binning, MeshError> {
        if let Some(s) = self.shot_noise
            && !(s.is_finite() && s >= 0.0)
        {
            return Err(MeshError::Option {
                what: "shot_noise",
                reason: format!("must be finite and >= 0, got {s}"),
            });
        }
        let binning = self.binning.unwrap_or_else(|| Binning::default_for(mesh));
        binning.validate()?;
        Ok(binning)
    }
}

/// A binned auto power spectrum, `P = (V / N^2) <|delta_k|^2>_bin - shot_noise`.
///
/// Empty bins (no mode in them) are kept: their `n_modes` is 0, their `k` the bin centre
/// (arithmetic for linear bins, geometric `sqrt(lower upper)` for log bins) and their
/// `power` NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerSpectrum {
    /// Mode-weighted mean |k| per bin, `sum_modes |k| / n_modes`, h/Mpc.
    pub k: Vec<f64>,
    /// P(k) in (Mpc/h)^3.
    pub power: Vec<f64>,
    /// Number of modes per bin (Hermitian pairs counted twice).
    pub n_modes: Vec<u64>,
}

/// A binned cross spectrum of two fields `a`, `b` with both autos:
/// `p11 = (V/N^2) <|a_k|^2>`, `p22 = (V/N^2) <|b_k|^2>` (shot noise subtracted from both),
/// `p12 = (V/N^2) <Re(a_k conj(b_k))>`.
///
/// `a` is the reference (e.g. the truth) and `b` the model or reconstruction: see
/// [`CrossPowerSpectrum::r`] and [`CrossPowerSpectrum::transfer`]. Empty bins are kept as in
/// [`PowerSpectrum`] (NaN spectra, `n_modes` 0, `k` the bin centre).
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

impl CrossPowerSpectrum {
    /// Cross-correlation coefficient per bin, `r = p12 / sqrt(p11 p22)`, in `[-1, 1]`
    /// without shot noise (Cauchy-Schwarz). NaN for empty bins, or where a
    /// shot-noise-subtracted auto spectrum is negative.
    pub fn r(&self) -> Vec<f64> {
        self.p12
            .iter()
            .zip(self.p11.iter().zip(&self.p22))
            .map(|(&p12, (&p11, &p22))| p12 / (p11 * p22).sqrt())
            .collect()
    }

    /// Transfer function of `b` relative to the reference `a`, `T = sqrt(p22 / p11)`
    /// (`a` is the truth, `b` the model or reconstruction). NaN for empty bins.
    pub fn transfer(&self) -> Vec<f64> {
        self.p22
            .iter()
            .zip(&self.p11)
            .map(|(&p22, &p11)| (p22 / p11).sqrt())
            .collect()
    }
}

/// Auto power spectrum of a Fourier field (the unnormalised forward FFT `delta_k` of a
/// real field): `P(k_bin) = (V / N^2) sum_{k in bin} |delta_k / W_k|^2 / n_modes - s`, with
/// `W_k = prod_a W(k_a)` the window of `options.compensate` (1 without) and `s` the shot
/// noise (0 without). Modes outside the bins and `k = 0` are dropped.
///
/// Errors: [`MeshError::Option`] for invalid bins (`n_bins == 0`, non-finite or
/// `k_min >= k_max`, `k_min < 0`, log bins with `k_min == 0`) or a negative / non-finite
/// shot noise.
///
/// ```
/// use pm_fft::CpuFft3d;
/// use pm_mesh::{Mesh, PowerOptions, RealField, power_spectrum};
///
/// // A plane wave delta(x) = A cos(k0 . x) with k0 = 3 k_f along x: its two modes +-k0
/// // have |delta_k| = A N / 2, hence P = V A^2 / 4 in the bin of |k0|.
/// let (n, l, amp) = (16, 100.0, 0.5);
/// let mesh = Mesh::cubic(n, l).unwrap();
/// let mut field = RealField::<f64>::zeros(mesh);
/// for ((i, _, _), v) in field.data_mut().indexed_iter_mut() {
///     *v = amp * (2.0 * std::f64::consts::PI * 3.0 * i as f64 / n as f64).cos();
/// }
/// let plan = CpuFft3d::<f64>::new([n; 3]).unwrap();
/// let pk = power_spectrum(&field.forward(&plan).unwrap(), &PowerOptions::default()).unwrap();
/// // Default bins have width k_f from 0, so |k0| = 3 k_f is in bin 3 and carries all the
/// // power: the bin average over its n_modes modes is (2 / n_modes) V A^2 / 4.
/// let expected = 2.0 * l.powi(3) * amp * amp / 4.0 / pk.n_modes[3] as f64;
/// assert!((pk.power[3] - expected).abs() < 1e-12 * expected);
/// assert!(pk.power[5].abs() < 1e-12 * expected);
/// // Bin 0 holds only k = 0, which is excluded: it is empty.
/// assert_eq!(pk.n_modes[0], 0);
/// assert!(pk.power[0].is_nan());
/// ```
pub fn power_spectrum<T: Real>(
    field: &FourierField<T>,
    options: &PowerOptions,
) -> Result<PowerSpectrum, MeshError> {
    check_whole(field)?;
    power_spectrum_on(&SerialComm, field, options)
}

/// [`power_spectrum`] of a field distributed over the ranks of `comm`, each holding its
/// block of ky-rows (the blocks of a [`crate::MeshBlock`]; the whole grid on one rank): every
/// rank bins its own modes and the per-bin sums are added in rank order, so every rank gets
/// the spectrum of the whole field, equal to the one-rank one to rounding. Collective.
pub fn power_spectrum_on<T: Real>(
    comm: &dyn Comm,
    field: &FourierField<T>,
    options: &PowerOptions,
) -> Result<PowerSpectrum, MeshError> {
    let mesh = field.mesh();
    let binning = options.validate(mesh)?;
    let spec = BinSpec::new(mesh, &binning);
    let mut sums = accumulate::<T, false>(field, field, &spec, options.compensate);
    if comm.size() > 1 {
        comm.all_reduce_sum(&mut sums.count)?;
        comm.all_reduce_sum(&mut sums.k)?;
        comm.all_reduce_sum(&mut sums.p11)?;
    }
    let norm = mesh.volume() / (mesh.n_cells() as f64).powi(2);
    let shot = options.shot_noise.unwrap_or(0.0);
    let n = spec.n;
    let mut out = PowerSpectrum {
        k: Vec::with_capacity(n),
        power: Vec::with_capacity(n),
        n_modes: sums.count.clone(),
    };
    for i in 0..n {
        let c = sums.count[i];
        if c == 0 {
            out.k.push(spec.centre(i));
            out.power.push(f64::NAN);
        } else {
            let c = c as f64;
            out.k.push(sums.k[i] / c);
            out.power.push(norm * (sums.p11[i] / c) - shot);
        }
    }
    Ok(out)
}

/// Cross power spectrum of `a` (the reference, e.g. the truth) and `b` (e.g. a model or
/// reconstruction), both unnormalised forward FFTs on the same mesh, binned like
/// [`power_spectrum`]: `p12 = (V/N^2) sum_{k in bin} Re(a_k conj(b_k)) / |W_k|^2 / n_modes`,
/// and the autos `p11`, `p22` (shot noise subtracted from those two only).
///
/// Errors: [`MeshError::MeshMismatch`] if the fields live on different meshes, and the
/// option errors of [`power_spectrum`].
pub fn cross_power_spectrum<T: Real>(
    a: &FourierField<T>,
    b: &FourierField<T>,
    options: &PowerOptions,
) -> Result<CrossPowerSpectrum, MeshError> {
    check_whole(a)?;
    check_whole(b)?;
    if a.mesh() != b.mesh() {
        return Err(MeshError::MeshMismatch {
            what: format!(
                "cross spectrum of a field on {:?} and one on {:?}",
                a.mesh(),
                b.mesh()
            ),
        });
    }
    let mesh = a.mesh();
    let binning = options.validate(mesh)?;
    let spec = BinSpec::new(mesh, &binning);
    let sums = accumulate::<T, true>(a, b, &spec, options.compensate);
    let norm = mesh.volume() / (mesh.n_cells() as f64).powi(2);
    let shot = options.shot_noise.unwrap_or(0.0);
    let n = spec.n;
    let mut out = CrossPowerSpectrum {
        k: Vec::with_capacity(n),
        p11: Vec::with_capacity(n),
        p22: Vec::with_capacity(n),
        p12: Vec::with_capacity(n),
        n_modes: sums.count.clone(),
    };
    for i in 0..n {
        let c = sums.count[i];
        if c == 0 {
            out.k.push(spec.centre(i));
            out.p11.push(f64::NAN);
            out.p22.push(f64::NAN);
            out.p12.push(f64::NAN);
        } else {
            let c = c as f64;
            out.k.push(sums.k[i] / c);
            out.p11.push(norm * (sums.p11[i] / c) - shot);
            out.p22.push(norm * (sums.p22[i] / c) - shot);
            out.p12.push(norm * (sums.p12[i] / c));
        }
    }
    Ok(out)
}

/// Auto power spectrum of a real field: forward FFT with `plan` (which must have the mesh's
/// shape), then [`power_spectrum`]; `P(k_bin) = (V/N^2) <|FFT(field)_k|^2>_bin - s`.
/// The field is not modified (the transform works on a copy).
///
/// Errors: [`MeshError::MeshMismatch`] for a plan of another shape, [`MeshError::Fft`], and
/// the option errors of [`power_spectrum`].
pub fn power_spectrum_real<T: Real>(
    field: &RealField<T>,
    plan: &dyn Fft3d<T>,
    options: &PowerOptions,
) -> Result<PowerSpectrum, MeshError> {
    // Validate first so that bad options fail before the (expensive) FFT.
    options.validate(field.mesh())?;
    power_spectrum(&field.forward(plan)?, options)
}

/// Spectra are estimated from the whole grid (gather a distributed field first).
fn check_whole<T: Real>(field: &FourierField<T>) -> Result<(), MeshError> {
    if field.is_whole() {
        Ok(())
    } else {
        Err(MeshError::MeshMismatch {
            what: format!(
                "a power spectrum needs the whole Fourier grid, not the ky-rows {:?}",
                field.rows()
            ),
        })
    }
}

/// Resolved bins: everything the inner loop needs.
#[derive(Debug, Clone)]
struct BinSpec {
    n: usize,
    log: bool,
    /// `dk` for linear bins (|k| is handled in units of it), 1 for log bins.
    scale: f64,
    /// `k_min / dk` (linear, snapped to an integer when it is one to rounding) or
    /// `ln k_min` (log).
    t0: f64,
    /// `dlnk` (log), unused for linear.
    dln: f64,
    k_min: f64,
    /// Per axis, `k_f / scale` (snapped to an integer for linear bins when it is one).
    ratio: [f64; 3],
}

/// `x` rounded to the nearest integer if it is one to a few ulps.
fn snap(x: f64) -> f64 {
    let r = x.round();
    if (x - r).abs() <= 1e-12 * r.abs().max(1.0) {
        r
    } else {
        x
    }
}

impl BinSpec {
    fn new(mesh: &Mesh, binning: &Binning) -> Self {
        let kf = mesh.fundamental();
        match *binning {
            Binning::Linear {
                k_min,
                k_max,
                n_bins,
            } => {
                let dk = (k_max - k_min) / n_bins as f64;
                Self {
                    n: n_bins,
                    log: false,
                    scale: dk,
                    t0: snap(k_min / dk),
                    dln: 0.0,
                    k_min,
                    ratio: std::array::from_fn(|a| snap(kf[a] / dk)),
                }
            }
            Binning::Log {
                k_min,
                k_max,
                n_bins,
            } => Self {
                n: n_bins,
                log: true,
                scale: 1.0,
                t0: k_min.ln(),
                dln: (k_max / k_min).ln() / n_bins as f64,
                k_min,
                ratio: kf,
            },
        }
    }

    /// Bin of a mode with `q = |k| / scale > 0`, if any.
    #[inline]
    fn bin(&self, q: f64) -> Option<usize> {
        let t = if self.log {
            (q.ln() - self.t0) / self.dln
        } else {
            q - self.t0
        };
        if t >= 0.0 && t < self.n as f64 {
            Some((t as usize).min(self.n - 1))
        } else {
            None
        }
    }

    /// Centre of bin `i` (geometric for log bins), reported for empty bins.
    fn centre(&self, i: usize) -> f64 {
        let t = i as f64 + 0.5;
        if self.log {
            (self.t0 + t * self.dln).exp()
        } else {
            self.k_min + t * self.scale
        }
    }
}

/// Per-bin sums: mode counts, `sum |k|`, and `sum |a|^2`, `sum |b|^2`, `sum Re(a conj b)`
/// (the last two only for cross spectra), all divided by the window squared.
#[derive(Debug, Clone)]
struct Sums {
    count: Vec<u64>,
    k: Vec<f64>,
    p11: Vec<f64>,
    p22: Vec<f64>,
    p12: Vec<f64>,
}

impl Sums {
    fn zeros(n: usize, cross: bool) -> Self {
        let m = if cross { n } else { 0 };
        Self {
            count: vec![0; n],
            k: vec![0.0; n],
            p11: vec![0.0; n],
            p22: vec![0.0; m],
            p12: vec![0.0; m],
        }
    }

    fn add(&mut self, other: &Sums) {
        for (a, b) in self.count.iter_mut().zip(&other.count) {
            *a += b;
        }
        for (dst, src) in [
            (&mut self.k, &other.k),
            (&mut self.p11, &other.p11),
            (&mut self.p22, &other.p22),
            (&mut self.p12, &other.p12),
        ] {
            for (a, b) in dst.iter_mut().zip(src) {
                *a += b;
            }
        }
    }
}

/// The bin of every stored mode of a mesh's half-complex spectrum, exactly as
/// [`power_spectrum`] bins it, with the inverse squared window of each mode: for code that
/// needs per-mode access (a loss on P(k) and its gradient) and must agree with the estimator.
#[derive(Debug, Clone, PartialEq)]
pub struct ModeBins {
    bin: Vec<u32>,
    inv_w2: Vec<f64>,
    n_modes: Vec<u64>,
}

impl ModeBins {
    /// The bins of `options` (default: [`Binning::default_for`] the mesh) for every mode of
    /// `mesh`, and `1 / W(k)^2` of `options.compensate` (1 without).
    ///
    /// Errors: invalid options, as [`power_spectrum`].
    pub fn new(mesh: &Mesh, options: &PowerOptions) -> Result<Self, MeshError> {
        let binning = options.validate(mesh)?;
        let spec = BinSpec::new(mesh, &binning);
        let [nx, ny, nzc] = mesh.complex_shape();
        let (qx2, wx) = axis_tables(mesh, &spec, 0, options.compensate);
        let (qy2, wy) = axis_tables(mesh, &spec, 1, options.compensate);
        let (qz2, wz) = axis_tables(mesh, &spec, 2, options.compensate);
        let mut bin = vec![u32::MAX; nx * ny * nzc];
        let mut inv_w2 = vec![0.0; nx * ny * nzc];
        let mut n_modes = vec![0u64; spec.n];
        for ix in 0..nx {
            for iy in 0..ny {
                let row = (ix * ny + iy) * nzc;
                for iz in 0..nzc {
                    let q2 = qx2[ix] + qy2[iy] + qz2[iz];
                    inv_w2[row + iz] = wx[ix] * wy[iy] * wz[iz];
                    if q2 == 0.0 {
                        continue;
                    }
                    if let Some(b) = spec.bin(q2.sqrt()) {
                        bin[row + iz] = b as u32;
                        n_modes[b] += mesh.hermitian_weight(iz) as u64;
                    }
                }
            }
        }
        Ok(Self {
            bin,
            inv_w2,
            n_modes,
        })
    }

    /// The bin of stored mode `i` (C order over `[nx][ny][nz/2+1]`), if it is in one.
    #[inline]
    pub fn bin(&self, i: usize) -> Option<usize> {
        let b = self.bin[i];
        (b != u32::MAX).then_some(b as usize)
    }

    /// `1 / W(k)^2` of stored mode `i`.
    #[inline]
    pub fn inverse_window_squared(&self, i: usize) -> f64 {
        self.inv_w2[i]
    }

    /// Modes of the full spectrum per bin (Hermitian pairs counted twice), as
    /// [`PowerSpectrum::n_modes`].
    pub fn n_modes(&self) -> &[u64] {
        &self.n_modes
    }
}

/// One axis's hoisted arrays: squared scaled wavenumbers `(k_a / scale)^2` and the inverse
/// squared window `1 / W(k_a)^2` (1 without compensation).
fn axis_tables(
    mesh: &Mesh,
    spec: &BinSpec,
    axis: usize,
    compensate: Option<Scheme>,
) -> (Vec<f64>, Vec<f64>) {
    let n = mesh.shape()[axis];
    let len = if axis == 2 { n / 2 + 1 } else { n };
    let dx = mesh.cell_size()[axis];
    let k = mesh.wavenumbers(axis);
    let q2 = (0..len)
        .map(|j| {
            let f = if axis == 2 {
                j as f64
            } else {
                Mesh::frequency(n, j) as f64
            };
            let s = f * spec.ratio[axis];
            s * s
        })
        .collect();
    let inv_w2 = k
        .iter()
        .map(|&ka| match compensate {
            Some(scheme) => {
                let w = scheme.fourier_window(ka, dx);
                1.0 / (w * w)
            }
            None => 1.0,
        })
        .collect();
    (q2, inv_w2)
}

/// The binned sums over all modes of `a` (and `b` when `CROSS`), parallel over x planes with
/// per-plane partial sums added in plane order (bitwise independent of the thread count).
fn accumulate<T: Real, const CROSS: bool>(
    a: &FourierField<T>,
    b: &FourierField<T>,
    spec: &BinSpec,
    compensate: Option<Scheme>,
) -> Sums {
    let mesh = a.mesh();
    let [nx, _, nzc] = mesh.complex_shape();
    // The ky-rows the fields hold (all of them for the whole grid).
    let rows = a.rows();
    let ny_l = rows.len();
    let (qx2, wx) = axis_tables(mesh, spec, 0, compensate);
    let (qy2, wy) = axis_tables(mesh, spec, 1, compensate);
    let (qz2, wz) = axis_tables(mesh, spec, 2, compensate);
    let herm: Vec<u64> = (0..nzc)
        .map(|jz| mesh.hermitian_weight(jz) as u64)
        .collect();
    let a_data = a.as_slice();
    let b_data = b.as_slice();
    let n = spec.n;

    let plane = |ix: usize| -> Sums {
        let mut s = Sums::zeros(n, CROSS);
        for (ly, iy) in rows.clone().enumerate() {
            let qxy2 = qx2[ix] + qy2[iy];
            let wxy = wx[ix] * wy[iy];
            let row = (ix * ny_l + ly) * nzc;
            for iz in 0..nzc {
                let q2 = qxy2 + qz2[iz];
                if q2 == 0.0 {
                    continue; // k = 0
                }
                let q = q2.sqrt();
                let Some(bin) = spec.bin(q) else { continue };
                let w = herm[iz];
                let wf = w as f64;
                let inv_w2 = wxy * wz[iz];
                let va: Complex<T> = a_data[row + iz];
                let (ar, ai) = (va.re.as_f64(), va.im.as_f64());
                s.count[bin] += w;
                s.k[bin] += wf * (q * spec.scale);
                s.p11[bin] += wf * inv_w2 * (ar * ar + ai * ai);
                if CROSS {
                    let vb: Complex<T> = b_data[row + iz];
                    let (br, bi) = (vb.re.as_f64(), vb.im.as_f64());
                    s.p22[bin] += wf * inv_w2 * (br * br + bi * bi);
                    s.p12[bin] += wf * inv_w2 * (ar * br + ai * bi);
                }
            }
        }
        s
    };

    // Planes are processed in batches so that at most `batch` partials are alive at once;
    // the fold adds them in plane order whatever the batch size or thread count.
    let batch = (4 * rayon::current_num_threads()).max(16);
    let mut total = Sums::zeros(n, CROSS);
    let mut start = 0;
    while start < nx {
        let end = (start + batch).min(nx);
        let partials: Vec<Sums> = (start..end).into_par_iter().map(plane).collect();
        for p in &partials {
            total.add(p);
        }
        start = end;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use pm_fft::CpuFft3d;

    fn field(mesh: Mesh) -> RealField<f64> {
        let mut f = RealField::<f64>::zeros(mesh);
        let mut state = 12345u64;
        for v in f.as_slice_mut() {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *v = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        }
        f
    }

    #[test]
    fn power_spectrum_real_equals_forward_then_estimate() {
        let mesh = Mesh::new([8, 12, 10], [50.0, 60.0, 70.0]).unwrap();
        let f = field(mesh);
        let plan = CpuFft3d::<f64>::new(mesh.shape()).unwrap();
        let opts = PowerOptions {
            shot_noise: Some(0.25),
            ..Default::default()
        };
        let direct = power_spectrum_real(&f, &plan, &opts).unwrap();
        let two_step = power_spectrum(&f.forward(&plan).unwrap(), &opts).unwrap();
        assert_eq!(direct.n_modes, two_step.n_modes);
        for (x, y) in direct.power.iter().zip(&two_step.power) {
            assert_eq!(x.to_bits(), y.to_bits());
        }
        // The input field is left untouched.
        assert_eq!(f, field(mesh));
    }

    #[test]
    fn power_spectrum_real_rejects_a_plan_of_another_shape_and_bad_options() {
        let mesh = Mesh::cubic(8, 50.0).unwrap();
        let f = field(mesh);
        let plan = CpuFft3d::<f64>::new([8, 8, 10]).unwrap();
        assert!(matches!(
            power_spectrum_real(&f, &plan, &PowerOptions::default()),
            Err(MeshError::MeshMismatch { .. })
        ));
        let plan = CpuFft3d::<f64>::new([8, 8, 8]).unwrap();
        let bad = PowerOptions {
            shot_noise: Some(-1.0),
            ..Default::default()
        };
        assert!(matches!(
            power_spectrum_real(&f, &plan, &bad),
            Err(MeshError::Option {
                what: "shot_noise",
                ..
            })
        ));
    }

    #[test]
    fn default_binning_of_a_cubic_mesh_ends_at_the_nyquist_frequency() {
        for n in [8, 48, 64, 100, 256] {
            let mesh = Mesh::cubic(n, 317.3).unwrap();
            let b = Binning::default_for(&mesh);
            assert_eq!(b.n_bins(), n / 2);
            let spec = BinSpec::new(&mesh, &b);
            assert_eq!(spec.ratio, [1.0; 3]);
            assert_eq!(spec.t0, 0.0);
            let edges = b.edges();
            assert!((edges[n / 2] - mesh.nyquist()[0]).abs() < 1e-12 * mesh.nyquist()[0]);
        }
    }
}
