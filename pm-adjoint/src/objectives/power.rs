//! A loss on the binned power spectrum of a field, differentiated through the estimator.

use std::sync::Arc;

use pm_fft::{Complex, CpuFft3d, Fft3d, Real};
use pm_mesh::{FourierField, Mesh, MeshError, ModeBins, PowerOptions, RealField};
use rayon::prelude::*;

use super::{FieldObjective, FieldOutput, check_mesh, invalid, mesh_error};
use crate::AdjointError;

/// How a [`PowerSpectrumLoss`] compares the spectrum with its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PowerLossForm {
    /// `(P_b / P_target_b - 1)^2`: the relative error (the default).
    #[default]
    Ratio,
    /// `(ln P_b - ln P_target_b)^2`: symmetric in over- and under-shooting; needs `P_b > 0`.
    Log,
}

/// A weighted least-squares loss on the binned auto power spectrum of a field:
///
/// ```text
/// L = sum_b w_b (P_b / T_b - 1)^2          (PowerLossForm::Ratio)
/// L = sum_b w_b (ln P_b - ln T_b)^2        (PowerLossForm::Log)
/// ```
///
/// with `P_b` pm-mesh's estimator ([`pm_mesh::power_spectrum`], same bins, shot noise and window
/// compensation, taken from a [`PowerOptions`]):
///
/// ```text
/// P_b = (V / N^2) (1 / n_b) sum_{k in b} |delta_k|^2 / W_k^2 - s
/// ```
///
/// the sum running over the full spectrum (`n_b` modes, Hermitian pairs counted twice). As
/// `|delta_k|^2 = delta_k delta_{-k}` with `delta_k = sum_x delta_x e^{-ikx}` and the bins
/// are symmetric under `k -> -k`,
///
/// ```text
/// dP_b/d delta_x = (V / N^2) (2 / n_b) sum_{k in b} delta_k e^{ikx} / W_k^2
///                = (2 V / (N n_b)) IFFT[1_b delta_k / W_k^2](x)
/// ```
///
/// (IFFT with its `1/N`, docs/ARCHITECTURE.md). So `dL/d delta = IFFT[G_k]` with
/// `G_k = (2 V / N) (dL/dP_b / n_b) delta_k / W_k^2` for the bin `b` of `k` (0 outside every
/// bin), one forward and one inverse FFT per evaluation. The half-complex array holds each
/// pair `(k, -k)` with `0 < k_z < k_Ny` once, and the inverse real FFT stands for both, so
/// multiplying each stored mode by the real, even `G_k / delta_k` is the whole story (no
/// extra Hermitian weight in the gradient; the weights enter through `n_b` only).
///
/// By default `w_b = 1` for every bin with modes and 0 for empty bins; every bin with a
/// nonzero weight needs a finite, positive target.
#[derive(Clone)]
pub struct PowerSpectrumLoss<T: Real> {
    mesh: Mesh,
    options: PowerOptions,
    target: Vec<f64>,
    weights: Vec<f64>,
    form: PowerLossForm,
    bins: ModeBins,
    plan: Arc<dyn Fft3d<T>>,
}

impl<T: Real> std::fmt::Debug for PowerSpectrumLoss<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PowerSpectrumLoss")
            .field("mesh", &self.mesh)
            .field("options", &self.options)
            .field("target", &self.target)
            .field("weights", &self.weights)
            .field("form", &self.form)
            .finish()
    }
}

impl<T: Real> PowerSpectrumLoss<T> {
    /// The loss of fields on `mesh` against `target` (one value per bin of
    /// `options.binning`, or of [`pm_mesh::Binning::default_for`] the mesh), with weight 1 on every
    /// bin that has modes.
    ///
    /// Errors: invalid options (as [`pm_mesh::power_spectrum`]), a target of the wrong length, a
    /// non-finite or non-positive target in a weighted bin.
    pub fn new(
        mesh: Mesh,
        options: PowerOptions,
        target: Vec<f64>,
        form: PowerLossForm,
    ) -> Result<Self, AdjointError> {
        let bins = ModeBins::new(&mesh, &options).map_err(mesh_error)?;
        if target.len() != bins.n_modes().len() {
            return Err(AdjointError::Length {
                what: "power spectrum target",
                expected: bins.n_modes().len(),
                got: target.len(),
            });
        }
        let weights = bins
            .n_modes()
            .iter()
            .map(|&c| if c > 0 { 1.0 } else { 0.0 })
            .collect();
        let plan: Arc<dyn Fft3d<T>> =
            Arc::new(CpuFft3d::new(mesh.shape()).map_err(|e| mesh_error(MeshError::Fft(e)))?);
        let loss = Self {
            mesh,
            options,
            target,
            weights,
            form,
            bins,
            plan,
        };
        loss.check()?;
        Ok(loss)
    }

    /// Replaces the per-bin weights (finite, >= 0; zero on empty bins).
    pub fn with_weights(mut self, weights: Vec<f64>) -> Result<Self, AdjointError> {
        if weights.len() != self.target.len() {
            return Err(AdjointError::Length {
                what: "power spectrum weights",
                expected: self.target.len(),
                got: weights.len(),
            });
        }
        self.weights = weights;
        self.check()?;
        Ok(self)
    }

    fn check(&self) -> Result<(), AdjointError> {
        for (b, (&w, &t)) in self.weights.iter().zip(&self.target).enumerate() {
            if !(w.is_finite() && w >= 0.0) {
                return Err(invalid(
                    "power spectrum weights",
                    format!("bin {b}: weight {w} must be finite and >= 0"),
                ));
            }
            if w > 0.0 && self.bins.n_modes()[b] == 0 {
                return Err(invalid(
                    "power spectrum weights",
                    format!("bin {b} has no modes, its weight must be 0, got {w}"),
                ));
            }
            if w > 0.0 && !(t.is_finite() && t > 0.0) {
                return Err(invalid(
                    "power spectrum target",
                    format!("bin {b}: target {t} must be finite and positive"),
                ));
            }
        }
        Ok(())
    }

    /// The per-bin weights.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The target spectrum.
    pub fn target(&self) -> &[f64] {
        &self.target
    }

    /// Number of modes of the full spectrum in each bin (as [`pm_mesh::power_spectrum`] counts them).
    pub fn n_modes(&self) -> &[u64] {
        self.bins.n_modes()
    }

    /// The binned spectrum `P_b` of `delta` (NaN for empty bins), as the loss sees it.
    pub fn spectrum(&self, delta: &RealField<T>) -> Result<Vec<f64>, AdjointError> {
        check_mesh("the field", delta, &self.mesh)?;
        let dk = delta.forward(self.plan.as_ref()).map_err(mesh_error)?;
        Ok(self.binned(&dk))
    }

    /// `P_b` from the modes.
    fn binned(&self, dk: &FourierField<T>) -> Vec<f64> {
        let n = self.target.len();
        let [_, ny, nzc] = self.mesh.complex_shape();
        let plane = ny * nzc;
        let herm: Vec<f64> = (0..nzc).map(|j| self.mesh.hermitian_weight(j)).collect();
        let partials: Vec<Vec<f64>> = dk
            .as_slice()
            .par_chunks(plane)
            .enumerate()
            .map(|(jx, modes)| {
                let mut s = vec![0.0; n];
                for (j, v) in modes.iter().enumerate() {
                    let i = jx * plane + j;
                    if let Some(b) = self.bins.bin(i) {
                        let (re, im) = (v.re.as_f64(), v.im.as_f64());
                        s[b] += herm[j % nzc]
                            * self.bins.inverse_window_squared(i)
                            * (re * re + im * im);
                    }
                }
                s
            })
            .collect();
        let mut sums = vec![0.0; n];
        for p in &partials {
            for (a, b) in sums.iter_mut().zip(p) {
                *a += b;
            }
        }
        let norm = self.mesh.volume() / (self.mesh.n_cells() as f64).powi(2);
        let shot = self.options.shot_noise.unwrap_or(0.0);
        sums.iter()
            .zip(self.bins.n_modes())
            .map(|(&s, &c)| {
                if c == 0 {
                    f64::NAN
                } else {
                    norm * s / c as f64 - shot
                }
            })
            .collect()
    }
}

impl<T: Real> FieldObjective<T> for PowerSpectrumLoss<T> {
    fn name(&self) -> String {
        format!("power spectrum loss ({:?})", self.form)
    }

    fn mesh(&self) -> &Mesh {
        &self.mesh
    }

    fn evaluate_field(&self, delta: &RealField<T>) -> Result<FieldOutput<T>, AdjointError> {
        check_mesh("the field", delta, &self.mesh)?;
        let mut dk = delta.forward(self.plan.as_ref()).map_err(mesh_error)?;
        let p = self.binned(&dk);
        let mut value = 0.0;
        // dL/dP_b, then the per-bin factor (2 V / N) dL/dP_b / n_b of G_k.
        let mut factor = vec![0.0; p.len()];
        let two_v_over_n = 2.0 * self.mesh.volume() / self.mesh.n_cells() as f64;
        for b in 0..p.len() {
            let (w, t, pb) = (self.weights[b], self.target[b], p[b]);
            if w == 0.0 {
                continue;
            }
            let dldp = match self.form {
                PowerLossForm::Ratio => {
                    let e = pb / t - 1.0;
                    value += w * e * e;
                    2.0 * w * e / t
                }
                PowerLossForm::Log => {
                    if pb.is_nan() || pb <= 0.0 {
                        return Err(invalid(
                            "field",
                            format!("bin {b} has P = {pb}, the log loss needs P > 0"),
                        ));
                    }
                    let e = pb.ln() - t.ln();
                    value += w * e * e;
                    2.0 * w * e / pb
                }
            };
            factor[b] = two_v_over_n * dldp / self.bins.n_modes()[b] as f64;
        }
        let bins = &self.bins;
        let plane = self.mesh.complex_shape()[1] * self.mesh.complex_shape()[2];
        dk.as_slice_mut()
            .par_chunks_mut(plane)
            .enumerate()
            .for_each(|(jx, modes)| {
                for (j, v) in modes.iter_mut().enumerate() {
                    let i = jx * plane + j;
                    let g = match bins.bin(i) {
                        Some(b) => factor[b] * bins.inverse_window_squared(i),
                        None => 0.0,
                    };
                    *v = Complex::new(T::lit(v.re.as_f64() * g), T::lit(v.im.as_f64() * g));
                }
            });
        let gradient = dk
            .inverse_in_place(self.plan.as_ref())
            .map_err(mesh_error)?;
        Ok(FieldOutput { value, gradient })
    }
}
