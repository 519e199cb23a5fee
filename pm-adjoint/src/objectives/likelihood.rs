//! Gaussian likelihood of a field given data.

use std::sync::Arc;

use pm_fft::{CpuFft3d, Fft3d, Real};
use pm_mesh::{Mesh, RealField};
use rayon::prelude::*;

use super::{FieldObjective, FieldOutput, check_mesh, invalid, mesh_error};
use crate::AdjointError;

/// The noise level of a [`GaussianLikelihood`].
#[derive(Debug, Clone, PartialEq)]
pub enum Sigma<T: Real> {
    /// The same standard deviation in every cell.
    Scalar(f64),
    /// One standard deviation per cell (on the data's mesh).
    PerCell(RealField<T>),
}

/// The negative log-likelihood (up to a constant) of a field `delta` given data `d` with
/// independent Gaussian noise per cell:
///
/// ```text
/// L = sum_c (S(delta - d)[c])^2 / (2 sigma_c^2),      dL/d delta = S^T[(S(delta - d)) / sigma^2]
/// ```
///
/// where `S` is the identity, or with [`GaussianLikelihood::with_smoothing`] the Gaussian
/// smoothing `S r = IFFT(exp(-k^2 R^2 / 2) FFT(r))` of the residual (symmetric, so
/// `S^T = S`), which makes the small scales count less (FlowPM's annealing of the residual's
/// smoothing scale, Modi et al. 2021). The sum is accumulated in f64.
///
/// ```
/// use pm_adjoint::{FieldObjective, GaussianLikelihood, Sigma};
/// use pm_mesh::{Mesh, RealField};
/// let mesh = Mesh::cubic(4, 10.0).unwrap();
/// let data = RealField::<f64>::zeros(mesh);
/// let like = GaussianLikelihood::new(data, Sigma::Scalar(2.0)).unwrap();
/// let mut delta = RealField::zeros(mesh);
/// delta.as_slice_mut().fill(1.0);
/// let out = like.evaluate_field(&delta).unwrap();
/// assert_eq!(out.value, 64.0 / 8.0); // 64 cells of 1^2 / (2 * 2^2)
/// assert_eq!(out.gradient.as_slice()[0], 0.25);
/// ```
#[derive(Clone)]
pub struct GaussianLikelihood<T: Real> {
    data: RealField<T>,
    sigma: Sigma<T>,
    smoothing: Option<(f64, Arc<dyn Fft3d<T>>)>,
}

impl<T: Real> std::fmt::Debug for GaussianLikelihood<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GaussianLikelihood")
            .field("mesh", self.data.mesh())
            .field("sigma", &self.sigma_description())
            .field("smoothing", &self.smoothing.as_ref().map(|s| s.0))
            .finish()
    }
}

fn check_sigma<T: Real>(sigma: &Sigma<T>, mesh: &Mesh) -> Result<(), AdjointError> {
    match sigma {
        Sigma::Scalar(s) => {
            if !(s.is_finite() && *s > 0.0) {
                return Err(invalid("sigma", format!("{s} must be finite and positive")));
            }
        }
        Sigma::PerCell(f) => {
            check_mesh("the per-cell sigma", f, mesh)?;
            if let Some(s) = f
                .as_slice()
                .iter()
                .find(|s| !(s.as_f64().is_finite() && s.as_f64() > 0.0))
            {
                return Err(invalid(
                    "sigma",
                    format!("every cell's sigma must be finite and positive, got {s}"),
                ));
            }
        }
    }
    Ok(())
}

impl<T: Real> GaussianLikelihood<T> {
    /// The likelihood of `data` with noise `sigma` (positive and finite; a per-cell sigma
    /// must live on the data's mesh).
    pub fn new(data: RealField<T>, sigma: Sigma<T>) -> Result<Self, AdjointError> {
        check_sigma(&sigma, data.mesh())?;
        Ok(Self {
            data,
            sigma,
            smoothing: None,
        })
    }

    /// Smooths the residual with a Gaussian of `radius` Mpc/h (0 turns smoothing off).
    pub fn with_smoothing(mut self, radius: f64) -> Result<Self, AdjointError> {
        self.set_smoothing(radius)?;
        Ok(self)
    }

    /// Sets the residual's smoothing radius in Mpc/h (0: none), e.g. to anneal it.
    pub fn set_smoothing(&mut self, radius: f64) -> Result<(), AdjointError> {
        if !(radius.is_finite() && radius >= 0.0) {
            return Err(invalid(
                "smoothing",
                format!("radius {radius} Mpc/h must be finite and >= 0"),
            ));
        }
        if radius == 0.0 {
            self.smoothing = None;
            return Ok(());
        }
        let plan: Arc<dyn Fft3d<T>> = match self.smoothing.take() {
            Some((_, plan)) => plan,
            None => Arc::new(
                CpuFft3d::new(self.data.mesh().shape())
                    .map_err(|e| mesh_error(pm_mesh::MeshError::Fft(e)))?,
            ),
        };
        self.smoothing = Some((radius, plan));
        Ok(())
    }

    /// Replaces the noise level (e.g. to anneal it).
    pub fn set_sigma(&mut self, sigma: Sigma<T>) -> Result<(), AdjointError> {
        check_sigma(&sigma, self.data.mesh())?;
        self.sigma = sigma;
        Ok(())
    }

    /// The data.
    pub fn data(&self) -> &RealField<T> {
        &self.data
    }

    /// The noise level.
    pub fn sigma(&self) -> &Sigma<T> {
        &self.sigma
    }

    /// The residual's smoothing radius in Mpc/h (0: none).
    pub fn smoothing(&self) -> f64 {
        self.smoothing.as_ref().map_or(0.0, |s| s.0)
    }

    fn sigma_description(&self) -> String {
        match &self.sigma {
            Sigma::Scalar(s) => format!("{s}"),
            Sigma::PerCell(_) => "per cell".into(),
        }
    }

    /// `S r` for the Gaussian smoothing `exp(-k^2 R^2 / 2)` (in place).
    fn smooth(&self, r: &mut RealField<T>) -> Result<(), AdjointError> {
        let Some((radius, plan)) = &self.smoothing else {
            return Ok(());
        };
        let mesh = *r.mesh();
        let mut rk = r.forward_in_place(plan.as_ref()).map_err(mesh_error)?;
        gaussian_filter(&mut rk, &mesh, *radius);
        *r = rk.inverse_in_place(plan.as_ref()).map_err(mesh_error)?;
        Ok(())
    }
}

/// Multiplies every mode by `exp(-|k|^2 R^2 / 2)` (`|k|` in h/Mpc, `R` in Mpc/h).
pub(crate) fn gaussian_filter<T: Real>(
    field: &mut pm_mesh::FourierField<T>,
    mesh: &Mesh,
    radius: f64,
) {
    let k: [Vec<f64>; 3] = std::array::from_fn(|a| mesh.wavenumbers(a));
    let [_, ny, nzc] = mesh.complex_shape();
    let r2 = radius * radius;
    field
        .as_slice_mut()
        .par_chunks_mut(ny * nzc)
        .enumerate()
        .for_each(|(jx, plane)| {
            for jy in 0..ny {
                let kxy2 = k[0][jx] * k[0][jx] + k[1][jy] * k[1][jy];
                for jz in 0..nzc {
                    let w = (-0.5 * (kxy2 + k[2][jz] * k[2][jz]) * r2).exp();
                    let v = &mut plane[jy * nzc + jz];
                    *v = pm_fft::Complex::new(T::lit(v.re.as_f64() * w), T::lit(v.im.as_f64() * w));
                }
            }
        });
}

impl<T: Real> FieldObjective<T> for GaussianLikelihood<T> {
    fn name(&self) -> String {
        let mut s = format!("gaussian likelihood (sigma {}", self.sigma_description());
        if let Some((r, _)) = &self.smoothing {
            s += &format!(", residual smoothed on {r} Mpc/h");
        }
        s + ")"
    }

    fn mesh(&self) -> &Mesh {
        self.data.mesh()
    }

    fn evaluate_field(&self, delta: &RealField<T>) -> Result<FieldOutput<T>, AdjointError> {
        let mesh = *self.data.mesh();
        check_mesh("the field", delta, &mesh)?;
        // r = S(delta - d)
        let mut r = delta.clone();
        r.as_slice_mut()
            .par_iter_mut()
            .zip(self.data.as_slice().par_iter())
            .for_each(|(x, d)| *x = T::lit(x.as_f64() - d.as_f64()));
        self.smooth(&mut r)?;
        // L = sum r^2 / (2 sigma^2), g = r / sigma^2 (then S^T g)
        let inv_var = |c: usize| -> f64 {
            match &self.sigma {
                Sigma::Scalar(s) => 1.0 / (s * s),
                Sigma::PerCell(f) => {
                    let s = f.as_slice()[c].as_f64();
                    1.0 / (s * s)
                }
            }
        };
        let nz = mesh.shape()[2];
        let value: f64 = r
            .as_slice_mut()
            .par_chunks_mut(nz)
            .enumerate()
            .map(|(row, vals)| {
                let mut sum = 0.0;
                for (j, v) in vals.iter_mut().enumerate() {
                    let x = v.as_f64();
                    let iv = inv_var(row * nz + j);
                    sum += 0.5 * x * x * iv;
                    *v = T::lit(x * iv);
                }
                sum
            })
            .collect::<Vec<f64>>()
            .iter()
            .sum();
        self.smooth(&mut r)?;
        Ok(FieldOutput { value, gradient: r })
    }
}
