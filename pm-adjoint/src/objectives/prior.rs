//! The Gaussian prior of the white noise.

use pm_decomp::{Comm, CommExt};
use pm_fft::Real;
use pm_integrate::IntegrateError;
use rayon::prelude::*;

use super::invalid;
use crate::{AdjointError, Objective, ObjectiveInput, ObjectiveOutput};

/// The negative log-prior (up to a constant) of unit-variance white noise `w`, times a weight
/// `lambda` (1 by default):
///
/// ```text
/// L = lambda sum_c w_c^2 / 2,      dL/dw = lambda w,      dL/d(state) = 0
/// ```
///
/// In the white-noise variables every Fourier mode of the linear field has the same prior
/// curvature, which is what makes them good variables for optimisation (FlowPM, pmwd).
/// On several ranks each sums its own block; the sums are added in rank order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WhiteNoisePrior {
    weight: f64,
}

impl Default for WhiteNoisePrior {
    fn default() -> Self {
        Self::new()
    }
}

impl WhiteNoisePrior {
    /// The prior with weight 1.
    pub fn new() -> Self {
        Self { weight: 1.0 }
    }

    /// The prior times `weight`, which must be finite and non-negative.
    pub fn with_weight(weight: f64) -> Result<Self, AdjointError> {
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(invalid(
                "prior weight",
                format!("{weight} must be finite and >= 0"),
            ));
        }
        Ok(Self { weight })
    }

    /// The weight `lambda`.
    pub fn weight(&self) -> f64 {
        self.weight
    }
}

impl<T: Real> Objective<T> for WhiteNoisePrior {
    fn name(&self) -> String {
        if self.weight == 1.0 {
            "white-noise prior".into()
        } else {
            format!("white-noise prior x {}", self.weight)
        }
    }

    fn evaluate(
        &self,
        comm: &dyn Comm,
        input: ObjectiveInput<'_, T>,
    ) -> Result<ObjectiveOutput<T>, AdjointError> {
        let lambda = self.weight;
        let mut gradient = input.noise.clone();
        let sum2: f64 = gradient
            .as_slice_mut()
            .par_chunks_mut(4096)
            .map(|chunk| {
                let mut s = 0.0;
                for v in chunk {
                    let x = v.as_f64();
                    s += x * x;
                    *v = T::lit(lambda * x);
                }
                s
            })
            .collect::<Vec<f64>>()
            .iter()
            .sum();
        let sum2 = if comm.size() > 1 {
            comm.sum_f64(sum2).map_err(IntegrateError::from)?
        } else {
            sum2
        };
        Ok(ObjectiveOutput {
            value: 0.5 * lambda * sum2,
            noise: Some(gradient),
            state: None,
        })
    }
}
