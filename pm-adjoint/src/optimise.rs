//! First-order optimisers over the white noise (or any flat parameter array).

use pm_fft::Real;
use rayon::prelude::*;

use crate::AdjointError;

/// Settings of [`Adam`] (Kingma & Ba 2015). The defaults are the paper's, with a learning
/// rate of 0.01 (a step of about 0.01 per cell in white-noise units at the start).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamOptions {
    /// Step size `eta` (the largest change per parameter per step, roughly).
    pub learning_rate: f64,
    /// Decay of the first moment, `beta1`, in `[0, 1)`.
    pub beta1: f64,
    /// Decay of the second moment, `beta2`, in `[0, 1)`.
    pub beta2: f64,
    /// `epsilon` added to `sqrt(v_hat)`, > 0.
    pub epsilon: f64,
}

impl Default for AdamOptions {
    fn default() -> Self {
        Self {
            learning_rate: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }
}

/// The Adam optimiser: per parameter, with gradient `g` at step `t = 1, 2, ...`,
///
/// ```text
/// m <- beta1 m + (1 - beta1) g,        v <- beta2 v + (1 - beta2) g^2
/// m_hat = m / (1 - beta1^t),           v_hat = v / (1 - beta2^t)
/// x <- x - eta m_hat / (sqrt(v_hat) + epsilon)
/// ```
///
/// The moments are kept in f64 whatever `T` (16 bytes per parameter), the update is rounded
/// once to `T`. Elementwise and parallel (rayon), so the result does not depend on the thread
/// count. A small hand-written optimiser rather than a crate: the state is two arrays, and
/// argmin's Adam-free API would cost an ndarray or nalgebra conversion of the whole field
/// per step.
///
/// ```
/// use pm_adjoint::{Adam, AdamOptions};
/// // Minimise (x - 3)^2 / 2 from 0.
/// let mut x = [0.0f64];
/// let mut adam = Adam::new(1, AdamOptions { learning_rate: 0.1, ..Default::default() }).unwrap();
/// for _ in 0..500 {
///     let g = [x[0] - 3.0];
///     adam.step(&mut x, &g).unwrap();
/// }
/// assert!((x[0] - 3.0).abs() < 1e-2);
/// ```
#[derive(Debug, Clone)]
pub struct Adam {
    options: AdamOptions,
    m: Vec<f64>,
    v: Vec<f64>,
    t: u64,
}

impl Adam {
    /// An optimiser for `n` parameters (moments zero, step 0).
    ///
    /// Errors: a learning rate or epsilon that is not finite and positive, betas outside
    /// `[0, 1)`.
    pub fn new(n: usize, options: AdamOptions) -> Result<Self, AdjointError> {
        check(&options)?;
        Ok(Self {
            options,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        })
    }

    /// The settings.
    pub fn options(&self) -> &AdamOptions {
        &self.options
    }

    /// Number of steps taken.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// Changes the learning rate (e.g. for a schedule); the moments are kept.
    pub fn set_learning_rate(&mut self, learning_rate: f64) -> Result<(), AdjointError> {
        let options = AdamOptions {
            learning_rate,
            ..self.options
        };
        check(&options)?;
        self.options = options;
        Ok(())
    }

    /// Forgets the moments and the step count (e.g. after the objective changed a lot).
    pub fn reset(&mut self) {
        self.m.iter_mut().for_each(|m| *m = 0.0);
        self.v.iter_mut().for_each(|v| *v = 0.0);
        self.t = 0;
    }

    /// One step: updates `params` in place from `gradient` (both of the length given to
    /// [`Adam::new`]).
    pub fn step<T: Real>(&mut self, params: &mut [T], gradient: &[T]) -> Result<(), AdjointError> {
        let n = self.m.len();
        for (what, got) in [("params", params.len()), ("gradient", gradient.len())] {
            if got != n {
                return Err(AdjointError::Length {
                    what,
                    expected: n,
                    got,
                });
            }
        }
        self.t += 1;
        let AdamOptions {
            learning_rate: eta,
            beta1: b1,
            beta2: b2,
            epsilon: eps,
        } = self.options;
        let t = self.t as i32;
        let c1 = 1.0 / (1.0 - b1.powi(t));
        let c2 = 1.0 / (1.0 - b2.powi(t));
        params
            .par_iter_mut()
            .zip(gradient.par_iter())
            .zip(self.m.par_iter_mut().zip(self.v.par_iter_mut()))
            .for_each(|((x, g), (m, v))| {
                let g = g.as_f64();
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                let step = eta * (*m * c1) / ((*v * c2).sqrt() + eps);
                *x = T::lit(x.as_f64() - step);
            });
        Ok(())
    }
}

fn check(o: &AdamOptions) -> Result<(), AdjointError> {
    let bad = |what: &'static str, reason: String| Err(crate::objectives::invalid(what, reason));
    if !(o.learning_rate.is_finite() && o.learning_rate > 0.0) {
        return bad(
            "learning rate",
            format!("{} must be finite and positive", o.learning_rate),
        );
    }
    for (what, b) in [("beta1", o.beta1), ("beta2", o.beta2)] {
        if !(0.0..1.0).contains(&b) {
            return bad(what, format!("{b} must be in [0, 1)"));
        }
    }
    if !(o.epsilon.is_finite() && o.epsilon > 0.0) {
        return bad(
            "epsilon",
            format!("{} must be finite and positive", o.epsilon),
        );
    }
    Ok(())
}
