//! Linear density modes from white noise.
//!
//! # Normalisation
//!
//! With `W_k` the unnormalised forward FFT of unit-variance white noise on a mesh of `N` cells
//! and volume `V` (Mpc/h)^3 (so `<|W_k|^2> = N`), the linear density contrast at a = 1 is
//!
//! ```text
//! delta_L(k) = W_k sqrt(P(|k|) N / V)
//! ```
//!
//! with `P` in (Mpc/h)^3 and `|k|` in h/Mpc, so that the workspace's estimator
//! `P_est = V |delta_k|^2 / N^2` (pm-mesh's [`pm_mesh::power_spectrum`]) has expectation
//! `P(k)`, and the real field `delta_L(x)` (inverse FFT, with its `1/N`) is dimensionless with
//! variance `(1/V) sum_k P(k)`. The `k = 0` mode is zero (the mean density is fixed).
//!
//! This is JaxPM's `linear_field` (`rfftn(normal(seed, mesh_shape)) * sqrt(P N / V)`)
//! exactly, and pmwd's `linear_modes` up to its FFT normalisation: pmwd transforms the same
//! unit-variance-per-cell noise with `norm='ortho'` and multiplies by `sqrt(P V)`, which is our
//! `delta_L(k)` times the cell volume `V / N`; both give the same real-space `delta_L(x)` from
//! the same white noise (read it with [`crate::read_white_noise_npy`]).

use pm_cosmo::LinearPower;
use pm_decomp::Comm;
use pm_fft::{Complex, Real};
use pm_mesh::{FourierField, Mesh, MeshBlock, RealField};
use rayon::prelude::*;

use crate::IntegrateError;
use crate::lpt::forward_vjp;
use crate::spectral::Spectral;

/// Options of the linear modes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModeOptions {
    /// Set every mode's amplitude to its expectation (keep the phase): "fixed" initial
    /// conditions (Angulo & Pontzen 2016).
    pub fixed_amplitude: bool,
    /// Flip the sign of every mode: the "paired" partner.
    pub phase_flip: bool,
}

/// Largest `|k|^2` table (in units of the smallest fundamental squared) built to evaluate
/// P(k) once per distinct `|k|`; beyond it, P is evaluated per mode.
const MAX_TABLE: u64 = 1 << 26;

/// How P(|k|) is looked up for a mode.
enum Lookup {
    /// `|k|^2 = g^2 m2` with the integer `m2 = r_x f_x^2 + r_y f_y^2 + r_z f_z^2` (`f` the
    /// integer frequencies, `r_a = (k_f,a / g)^2` integers, `g` the smallest fundamental):
    /// `table[m2 - m2_min]` is `sqrt(P(g sqrt(m2)) N / V)`. Every cubic box is this case.
    Table {
        /// Per axis and Fourier index, `r_a f^2`.
        m2: [Vec<u64>; 3],
        m2_min: u64,
        table: Vec<f64>,
    },
    /// `|k| = sqrt(k_x^2 + k_y^2 + k_z^2)` per mode.
    Direct {
        /// Per axis and Fourier index, `k_a^2` in (h/Mpc)^2.
        k2: [Vec<f64>; 3],
    },
}

/// Signed integer frequency of every Fourier index along `axis` (non-negative along z).
fn frequencies(mesh: &Mesh, axis: usize) -> Vec<i64> {
    let n = mesh.shape()[axis];
    if axis == 2 {
        (0..=n / 2).map(|j| j as i64).collect()
    } else {
        (0..n).map(|j| Mesh::frequency(n, j)).collect()
    }
}

impl Lookup {
    /// Checks the spectrum's range against the mesh's nonzero |k| and builds the lookup.
    /// `scale = N / V`.
    fn new(mesh: &Mesh, power: &LinearPower<f64>, scale: f64) -> Result<Self, IntegrateError> {
        let freqs: [Vec<i64>; 3] = std::array::from_fn(|a| frequencies(mesh, a));
        let max_f2: [u64; 3] = std::array::from_fn(|a| {
            freqs[a]
                .iter()
                .map(|f| f.unsigned_abs().pow(2))
                .max()
                .unwrap()
        });
        // Axes that have a nonzero frequency (every axis with more than one cell).
        let moving: Vec<usize> = (0..3).filter(|&a| max_f2[a] > 0).collect();
        let kf = mesh.fundamental();
        let g = kf.iter().copied().fold(f64::INFINITY, f64::min);
        let ratios: [f64; 3] = std::array::from_fn(|a| (kf[a] / g).powi(2));
        let integer = ratios
            .iter()
            .all(|&r| (r - r.round()).abs() <= 1e-12 * r && r.round() <= u32::MAX as f64);
        if integer {
            let r: [u64; 3] = std::array::from_fn(|a| ratios[a].round() as u64);
            let m2_max: u64 = (0..3).map(|a| r[a] * max_f2[a]).sum();
            let m2_min = moving.iter().map(|&a| r[a]).min().unwrap_or(0);
            if m2_max <= MAX_TABLE {
                let k_of = |m2: u64| g * (m2 as f64).sqrt();
                let lookup = if m2_max == 0 {
                    Vec::new()
                } else {
                    power.check_range(k_of(m2_min), k_of(m2_max))?;
                    let values: Vec<pm_cosmo::Result<f64>> = (m2_min..=m2_max)
                        .into_par_iter()
                        .map(|m2| Ok((power.power(k_of(m2))? * scale).sqrt()))
                        .collect();
                    values.into_iter().collect::<pm_cosmo::Result<Vec<f64>>>()?
                };
                return Ok(Lookup::Table {
                    m2: std::array::from_fn(|a| {
                        freqs[a]
                            .iter()
                            .map(|f| r[a] * f.unsigned_abs().pow(2))
                            .collect()
                    }),
                    m2_min,
                    table: lookup,
                });
            }
        }
        let k2: [Vec<f64>; 3] =
            std::array::from_fn(|a| mesh.wavenumbers(a).iter().map(|k| k * k).collect());
        let k2max: [f64; 3] = std::array::from_fn(|a| k2[a].iter().copied().fold(0.0, f64::max));
        if !moving.is_empty() {
            // Rounded sums of non-negative terms are monotone in each term, so these are the
            // exact extremes of the per-mode |k| below.
            let k_min = moving
                .iter()
                .map(|&a| {
                    let mut t = [0.0; 3];
                    t[a] = kf[a] * kf[a];
                    (t[0] + t[1] + t[2]).sqrt()
                })
                .fold(f64::INFINITY, f64::min);
            let k_max = (k2max[0] + k2max[1] + k2max[2]).sqrt();
            power.check_range(k_min, k_max)?;
        }
        Ok(Lookup::Direct { k2 })
    }

    /// `sqrt(P(|k|) N / V)` of the mode `(jx, jy, jz)`, 0 for `k = 0`.
    #[inline]
    fn amplitude(
        &self,
        power: &LinearPower<f64>,
        scale: f64,
        jx: usize,
        jy: usize,
        jz: usize,
    ) -> Result<f64, IntegrateError> {
        match self {
            Lookup::Table { m2, m2_min, table } => {
                let q = m2[0][jx] + m2[1][jy] + m2[2][jz];
                Ok(if q == 0 {
                    0.0
                } else {
                    table[(q - m2_min) as usize]
                })
            }
            Lookup::Direct { k2 } => {
                let q = k2[0][jx] + k2[1][jy] + k2[2][jz];
                Ok(if q == 0.0 {
                    0.0
                } else {
                    (power.power(q.sqrt())? * scale).sqrt()
                })
            }
        }
    }
}

/// The map from the Fourier transform of white noise `W_k` to the linear modes
/// `delta_L(k)` (see [`linear_modes`]), mode by mode, on any block of ky-rows: the serial
/// grid (`ky0 = 0`) or a slab FFT's y-slab `[nx][ny_l][nz/2+1]` of rows `ky0..ky0 + ny_l`.
pub(crate) struct ModeAmplitudes {
    mesh: Mesh,
    lookup: Lookup,
    /// `N / V`.
    scale: f64,
    options: ModeOptions,
}

impl ModeAmplitudes {
    /// Checks `power` over the mesh's nonzero |k| and tabulates it.
    pub(crate) fn new(
        mesh: &Mesh,
        power: &LinearPower<f64>,
        options: ModeOptions,
    ) -> Result<Self, IntegrateError> {
        let scale = mesh.n_cells() as f64 / mesh.volume();
        Ok(Self {
            mesh: *mesh,
            lookup: Lookup::new(mesh, power, scale)?,
            scale,
            options,
        })
    }

    /// Replaces every mode `v` of a block `[nx][ny_l][nz/2+1]` of the half-complex grid
    /// holding the ky-rows `ky0..ky0 + ny_l` (`ny_l` from the length) by
    /// `f(s A_k, i, (v.re, v.im))`, with `s A_k` the signed amplitude (`s = -1` for
    /// `phase_flip`) and `i` the mode's index in the block; parallel over x planes, each
    /// mode computed independently in f64 and rounded once to `T`.
    fn map_block<T: Real>(
        &self,
        power: &LinearPower<f64>,
        block: &mut [Complex<T>],
        ky0: usize,
        f: impl Fn(f64, usize, (f64, f64)) -> (f64, f64) + Sync,
    ) -> Result<(), IntegrateError> {
        let [nx, _, nzc] = self.mesh.complex_shape();
        let plane_len = block.len() / nx.max(1);
        if plane_len == 0 {
            return Ok(());
        }
        let ny_l = plane_len / nzc;
        let sign = if self.options.phase_flip { -1.0 } else { 1.0 };
        let (lookup, scale) = (&self.lookup, self.scale);
        let planes: Vec<Result<(), IntegrateError>> = block
            .par_chunks_mut(plane_len)
            .enumerate()
            .map(|(jx, plane)| {
                for ly in 0..ny_l {
                    for jz in 0..nzc {
                        let i = ly * nzc + jz;
                        let amp = sign * lookup.amplitude(power, scale, jx, ky0 + ly, jz)?;
                        let v = &mut plane[i];
                        let (re, im) = f(amp, jx * plane_len + i, (v.re.as_f64(), v.im.as_f64()));
                        *v = Complex::new(T::lit(re), T::lit(im));
                    }
                }
                Ok(())
            })
            .collect();
        planes.into_iter().collect()
    }

    /// Turns `W_k` into `delta_L(k)` in place on a block `[nx][ny_l][nz/2+1]` of the
    /// half-complex grid holding the ky-rows `ky0..ky0 + ny_l` (`ny_l` from the length),
    /// parallel over x planes; each mode computed independently in f64.
    pub(crate) fn apply<T: Real>(
        &self,
        power: &LinearPower<f64>,
        block: &mut [Complex<T>],
        ky0: usize,
    ) -> Result<(), IntegrateError> {
        let sqrt_n = (self.mesh.n_cells() as f64).sqrt();
        let fixed = self.options.fixed_amplitude;
        self.map_block(power, block, ky0, |f, _, (mut re, mut im)| {
            if fixed {
                let m = re.hypot(im);
                if m > 0.0 {
                    re *= sqrt_n / m;
                    im *= sqrt_n / m;
                }
            }
            (re * f, im * f)
        })
    }

    /// Vector-Jacobian product of [`ModeAmplitudes::apply`] in place on a block (as there):
    /// turns the cotangent of `delta_L(k)` into that of `W_k` (equations on
    /// [`linear_modes_vjp`]). `w` is the block of `W_k` itself, needed (and required) only
    /// for fixed amplitudes.
    pub(crate) fn vjp<T: Real>(
        &self,
        power: &LinearPower<f64>,
        block: &mut [Complex<T>],
        w: Option<&[Complex<T>]>,
        ky0: usize,
    ) -> Result<(), IntegrateError> {
        let w = match (self.options.fixed_amplitude, w) {
            (false, _) => None,
            (true, Some(w)) if w.len() == block.len() => Some(w),
            (true, w) => {
                return Err(IntegrateError::Length {
                    what: "W_k for the fixed-amplitude Jacobian",
                    expected: block.len(),
                    got: w.map_or(0, <[_]>::len),
                });
            }
        };
        let sqrt_n = (self.mesh.n_cells() as f64).sqrt();
        self.map_block(power, block, ky0, |f, i, (br, bi)| match w {
            None => (f * br, f * bi),
            Some(w) => {
                let (zr, zi) = (w[i].re.as_f64(), w[i].im.as_f64());
                let m = zr.hypot(zi);
                if m > 0.0 {
                    let c = f * sqrt_n / m;
                    let proj = (zr * br + zi * bi) / (m * m);
                    (c * (br - zr * proj), c * (bi - zi * proj))
                } else {
                    (0.0, 0.0)
                }
            }
        })
    }
}

/// Linear density modes `delta_L(k)` at a = 1 from unit-variance white noise: the
/// half-complex Fourier field `delta_L(k) = W_k sqrt(P(|k|) N / V)`, with `W_k` the
/// unnormalised forward FFT of `noise` (`<|W_k|^2> = N`), `N` the number of cells, `V` the box
/// volume in (Mpc/h)^3 and `P` = `power` in (Mpc/h)^3 (see the module documentation: the
/// pm-mesh estimator `V |delta_k|^2 / N^2` then has expectation `P(k)`; JaxPM's and pmwd's
/// normalisation). The caller scales by the growth factor D1(a). The `k = 0` mode is zero.
///
/// Options:
/// * `fixed_amplitude`: `W_k` is replaced by `W_k sqrt(N) / |W_k|` (its expected modulus, same
///   phase; a mode with `W_k = 0` stays 0), so `V |delta_k|^2 / N^2 = P(|k|)` exactly;
/// * `phase_flip`: every mode is multiplied by -1 (the paired simulation).
///
/// P(|k|) is evaluated once per distinct `|k|^2` when the box sides are integer multiples in
/// squared fundamental (every cubic box), per mode otherwise; arithmetic in f64, rounded once
/// to `T`; parallel over x planes with rayon, each mode computed independently, so the result
/// is bitwise independent of the thread count.
///
/// `noise` is this rank's block of the white noise on `block`, the particle grid's block
/// (the whole grid on one rank); the result is this rank's Fourier block. Collective.
///
/// Errors: [`IntegrateError::Mesh`] if `noise` is not the block's,
/// [`IntegrateError::Cosmo`] if `power` is not defined over the mesh's nonzero |k| (e.g. a
/// table that does not reach the corner of the Fourier grid, `sqrt(3)` times the Nyquist
/// frequency for a cube), [`IntegrateError::Fft`] from the transform.
///
/// ```
/// use pm_cosmo::{Cosmology, LinearPower};
/// use pm_decomp::SerialComm;
/// use pm_integrate::{ModeOptions, linear_modes, white_noise};
/// use pm_mesh::{Mesh, MeshBlock, RealField};
///
/// let mesh = Mesh::cubic(16, 200.0).unwrap();
/// let block = MeshBlock::<f64>::whole(mesh).unwrap();
/// let noise = RealField::from_array(mesh, white_noise::<f64>([16; 3], 1)).unwrap();
/// let power = LinearPower::eisenstein_hu(&Cosmology::planck18()).unwrap();
/// let fixed = ModeOptions { fixed_amplitude: true, ..Default::default() };
/// let modes = linear_modes(&SerialComm, &block, &noise, &power, fixed).unwrap();
/// // Mode (1, 0, 0): |k| = 2 pi / 200 h/Mpc, and V |delta|^2 / N^2 = P(|k|) exactly.
/// let (n, v) = (16f64.powi(3), 200f64.powi(3));
/// let p = power.power(2.0 * std::f64::consts::PI / 200.0).unwrap();
/// let d = modes.data()[[1, 0, 0]];
/// assert!((v * d.norm_sqr() / (n * n) - p).abs() < 1e-12 * p);
/// assert_eq!(modes.data()[[0, 0, 0]].norm(), 0.0);
/// ```
pub fn linear_modes<T: Real>(
    comm: &dyn Comm,
    block: &MeshBlock<T>,
    noise: &RealField<T>,
    power: &LinearPower<f64>,
    options: ModeOptions,
) -> Result<FourierField<T>, IntegrateError> {
    let amplitudes = ModeAmplitudes::new(block.mesh(), power, options)?;
    let mut modes = block.forward_field(comm, &mut noise.clone())?;
    amplitudes.apply(power, modes.as_slice_mut(), block.ky_rows().start)?;
    Ok(modes)
}

/// Vector-Jacobian product of [`linear_modes`] with respect to the white noise: for the
/// cotangent `modes_bar` of `delta_L(k)` returns `noise_bar(x)` with
/// `dL = sum_x noise_bar(x) d noise(x)`.
///
/// The complex cotangent follows [`crate::Lpt::vjp`]'s convention: the half-complex array is
/// the real vector of its stored `(re, im)` parts, each stored element counted once,
/// `dL = sum_stored Re(conj(modes_bar_k) d delta_k)`. With `A_k = sqrt(P(|k|) N / V)`,
/// `s = -1` for `phase_flip` (else 1) and `W = FFT(noise)`:
///
/// ```text
/// default:          W_bar_k = s A_k modes_bar_k,
/// fixed amplitude:  delta_k = s A_k sqrt(N) W_k / |W_k|,
///                   W_bar_k = s A_k sqrt(N) [modes_bar_k / |W_k|
///                             - W_k Re(conj(W_k) modes_bar_k) / |W_k|^3]   (0 where W_k = 0),
/// noise_bar = FFT^T(W_bar) = N IFFT(W_bar_k / w_k),
/// ```
///
/// `w_k` the Hermitian weight ([`Mesh::hermitian_weight`]). The default map is linear (the
/// gradient does not depend on `noise`, which is used only for its mesh); the fixed-amplitude
/// one is not (it is differentiable wherever no `W_k` vanishes).
///
/// Errors: as [`linear_modes`], and [`IntegrateError::Mesh`] if `modes_bar` is not on the
/// noise's mesh.
pub fn linear_modes_vjp<T: Real>(
    comm: &dyn Comm,
    block: &MeshBlock<T>,
    noise: &RealField<T>,
    power: &LinearPower<f64>,
    options: ModeOptions,
    modes_bar: &FourierField<T>,
) -> Result<RealField<T>, IntegrateError> {
    block.check_real(noise)?;
    block.check_modes(modes_bar)?;
    let amplitudes = ModeAmplitudes::new(block.mesh(), power, options)?;
    // W_k, needed only by the fixed-amplitude Jacobian.
    let w_k = if options.fixed_amplitude {
        Some(block.forward_field(comm, &mut noise.clone())?)
    } else {
        None
    };
    let mut w_bar = modes_bar.as_slice().to_vec();
    let ky0 = block.ky_rows().start;
    amplitudes.vjp(power, &mut w_bar, w_k.as_ref().map(|w| w.as_slice()), ky0)?;
    drop(w_k);
    let sp = Spectral { block, comm };
    let bar = forward_vjp(&sp, &w_bar)?;
    Ok(RealField::from_block(*block.mesh(), block.x_planes(), bar)?)
}
