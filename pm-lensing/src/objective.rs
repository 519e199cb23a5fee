//! A differentiable objective of a convergence map built along the run: the Gaussian
//! log-likelihood of an observed map, for field-level inference from lensing.

use pm_decomp::{Comm, CommExt};
use pm_fft::Real;
use pm_integrate::{IntegrateError, StepObservable, StepPositions};

use crate::{BornProjection, LensingError, SkyMap};

/// `L = sum_p (kappa_p - kappa_obs,p)^2 / (2 sigma^2)`, with `kappa` the Born map of the
/// run's lightcone (mean term included), as a [`StepObservable`] for
/// `pm_adjoint::value_and_gradient_along`: the map is built step by step in the forward run,
/// `dL/dkappa = (kappa - kappa_obs)/sigma^2` is fixed at the end, and each step's
/// [`BornProjection::step_vjp`] adds its share in the reverse run. On several ranks each
/// rank projects its own particles and [`StepObservable::finish`] adds the ranks' maps in
/// rank order.
pub struct ConvergenceLoss<'a, M: SkyMap> {
    projection: &'a BornProjection<M>,
    observed: Vec<f64>,
    sigma: f64,
    kappa: Vec<f64>,
    a_range: Option<(f64, f64)>,
    kappa_bar: Option<Vec<f64>>,
}

impl<'a, M: SkyMap> ConvergenceLoss<'a, M> {
    /// The loss of `observed` (one value per pixel) with per-pixel noise `sigma > 0`.
    pub fn new(
        projection: &'a BornProjection<M>,
        observed: Vec<f64>,
        sigma: f64,
    ) -> Result<Self, LensingError> {
        if observed.len() != projection.map().npix() {
            return Err(LensingError::Length {
                what: "observed map",
                expected: projection.map().npix(),
                got: observed.len(),
            });
        }
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(crate::error::config(
                "map noise",
                format!("sigma = {sigma} must be > 0"),
            ));
        }
        Ok(Self {
            projection,
            kappa: vec![0.0; observed.len()],
            observed,
            sigma,
            a_range: None,
            kappa_bar: None,
        })
    }

    /// The model map after the forward run (mean term included), if finished.
    pub fn kappa(&self) -> Option<&[f64]> {
        self.kappa_bar.as_ref().map(|_| self.kappa.as_slice())
    }
}

impl<M: SkyMap, T: Real> StepObservable<T> for ConvergenceLoss<'_, M> {
    fn observe_step(&mut self, step: &StepPositions<'_, T>) -> Result<(), IntegrateError> {
        self.projection.add_step(step, &mut self.kappa)?;
        let first = self.a_range.map_or(step.a0, |(f, _)| f);
        self.a_range = Some((first, step.a1));
        Ok(())
    }

    fn finish(&mut self, comm: &dyn Comm) -> Result<f64, IntegrateError> {
        let Some((a_first, a_last)) = self.a_range else {
            return Err(IntegrateError::Observer(
                "convergence loss: no step was observed".into(),
            ));
        };
        if comm.size() > 1 {
            comm.all_reduce_sum(&mut self.kappa)?;
        }
        let mean = self.projection.mean_convergence(a_first, a_last)?;
        let s2 = self.sigma * self.sigma;
        let mut value = 0.0;
        let mut bar = Vec::with_capacity(self.kappa.len());
        for (k, o) in self.kappa.iter_mut().zip(&self.observed) {
            *k -= mean;
            let r = *k - o;
            value += 0.5 * r * r / s2;
            bar.push(r / s2);
        }
        self.kappa_bar = Some(bar);
        Ok(value)
    }

    fn step_vjp(
        &self,
        step: &StepPositions<'_, T>,
        x0_bar: &mut [[T; 3]],
        x1_bar: &mut [[T; 3]],
    ) -> Result<(), IntegrateError> {
        let bar = self.kappa_bar.as_ref().ok_or_else(|| {
            IntegrateError::Observer("convergence loss: step_vjp before finish".into())
        })?;
        self.projection.step_vjp(step, bar, x0_bar, x1_bar)?;
        Ok(())
    }
}
