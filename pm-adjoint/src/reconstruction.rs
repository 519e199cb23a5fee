//! Reconstruction of the initial white noise from a final density field by gradient descent
//! through the forward model (FlowPM's toy problem, Modi, Lanusse & Seljak 2021, sec. 5).
//!
//! The posterior of the white noise `w` given a noise-free (or noisy) final density `d` is
//! maximised with [`Adam`] on
//!
//! ```text
//! L(w) = sum_c (S(delta[w] - d)[c])^2 / (2 sigma^2) + lambda sum_c w_c^2 / 2
//! ```
//!
//! (`delta[w]` the CIC-painted final density of the simulation run from `w`, `S` an optional
//! Gaussian smoothing of the residual), through a schedule of [`Stage`]s that anneal
//! `sigma`, the smoothing radius and the learning rate.

use std::ops::ControlFlow;

use pm_decomp::SerialComm;
use pm_fft::Real;
use pm_force::ForceKernel;
use pm_integrate::Simulation;
use pm_mesh::{CrossPowerSpectrum, PowerOptions, RealField, Scheme, cross_power_spectrum};
use rayon::prelude::*;

use crate::objectives::invalid;
use crate::{
    Adam, AdamOptions, AdjointError, GaussianLikelihood, Painted, Sigma, Sum, WhiteNoisePrior,
    value_and_gradient,
};

/// One stage of a reconstruction schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// Adam steps in this stage.
    pub iterations: usize,
    /// Noise level of the likelihood (in units of the density contrast per cell).
    pub sigma: f64,
    /// Gaussian smoothing radius of the residual, Mpc/h (0: none).
    pub smoothing: f64,
    /// Adam's learning rate in this stage.
    pub learning_rate: f64,
}

/// Settings of [`reconstruct`] besides the schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReconstructionOptions {
    /// Mass assignment of the model's final density (must match the data's).
    pub scheme: Scheme,
    /// Weight `lambda` of the white-noise prior.
    pub prior_weight: f64,
    /// Forget Adam's moments at the start of every stage.
    pub reset_each_stage: bool,
    /// Adam's `beta1`, `beta2`, `epsilon` (its learning rate comes from the stages).
    pub adam: AdamOptions,
}

impl Default for ReconstructionOptions {
    fn default() -> Self {
        Self {
            scheme: Scheme::Cic,
            prior_weight: 1.0,
            reset_each_stage: false,
            adam: AdamOptions::default(),
        }
    }
}

/// What happened at one iteration (the loss is at the noise before the step).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Iteration {
    /// 0-based iteration over the whole schedule.
    pub index: usize,
    /// 0-based stage.
    pub stage: usize,
    /// `L` (likelihood + prior).
    pub loss: f64,
    /// The prior term `lambda sum w^2 / 2`.
    pub prior: f64,
    /// Root mean square of `dL/dw` over the cells.
    pub gradient_rms: f64,
}

/// Runs the schedule from `noise` (updated in place; e.g. zero to start from the mean
/// field), against the final density contrast `data` (on the mesh it was painted on), calling
/// `log` at every iteration with its record and the noise the loss was evaluated at (before
/// the step). Returns every iteration's record.
///
/// Each iteration is one [`value_and_gradient`] (a forward run and its reverse-time adjoint)
/// and one Adam step.
///
/// Errors: an empty schedule or invalid stage, and the errors of the objectives, the
/// simulation and the adjoint.
pub fn reconstruct<T: Real, K: ForceKernel>(
    sim: &Simulation<T, K>,
    data: &RealField<T>,
    noise: &mut RealField<T>,
    stages: &[Stage],
    options: &ReconstructionOptions,
    log: &mut dyn FnMut(&Iteration, &RealField<T>),
) -> Result<Vec<Iteration>, AdjointError> {
    reconstruct_while(sim, data, noise, stages, options, &mut |it, noise| {
        log(it, noise);
        ControlFlow::Continue(())
    })
}

/// [`reconstruct`] that can be stopped between iterations: `log` returns
/// [`ControlFlow::Break`] to end the schedule there, before that iteration's step (so
/// `noise` is where the last recorded loss was evaluated); the records so far are returned
/// (fewer than the schedule's iterations when stopped). E.g. a command line's signal flag.
///
/// Errors: as [`reconstruct`].
pub fn reconstruct_while<T: Real, K: ForceKernel>(
    sim: &Simulation<T, K>,
    data: &RealField<T>,
    noise: &mut RealField<T>,
    stages: &[Stage],
    options: &ReconstructionOptions,
    log: &mut dyn FnMut(&Iteration, &RealField<T>) -> ControlFlow<()>,
) -> Result<Vec<Iteration>, AdjointError> {
    if stages.is_empty() {
        return Err(invalid("schedule", "at least one stage is needed".into()));
    }
    let first = stages[0];
    let mut likelihood = GaussianLikelihood::new(data.clone(), Sigma::Scalar(first.sigma))?
        .with_smoothing(first.smoothing)?;
    let prior = WhiteNoisePrior::with_weight(options.prior_weight)?;
    let mut adam = Adam::new(
        noise.as_slice().len(),
        AdamOptions {
            learning_rate: first.learning_rate,
            ..options.adam
        },
    )?;
    let mut history = Vec::new();
    for (s, stage) in stages.iter().enumerate() {
        likelihood.set_sigma(Sigma::Scalar(stage.sigma))?;
        likelihood.set_smoothing(stage.smoothing)?;
        adam.set_learning_rate(stage.learning_rate)?;
        if options.reset_each_stage {
            adam.reset();
        }
        for _ in 0..stage.iterations {
            let objective = Sum::new()
                .with(Painted::new(&likelihood).with_scheme(options.scheme))
                .with(prior);
            let g = value_and_gradient(&SerialComm, sim, noise, &objective)?;
            let (sum2, g2) = noise
                .as_slice()
                .par_iter()
                .zip(g.noise.as_slice().par_iter())
                .map(|(w, g)| (w.as_f64().powi(2), g.as_f64().powi(2)))
                .reduce(|| (0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
            let record = Iteration {
                index: history.len(),
                stage: s,
                loss: g.value,
                prior: 0.5 * options.prior_weight * sum2,
                gradient_rms: (g2 / noise.as_slice().len() as f64).sqrt(),
            };
            let flow = log(&record, noise);
            history.push(record);
            if flow.is_break() {
                return Ok(history);
            }
            adam.step(noise.as_slice_mut(), g.noise.as_slice())?;
        }
    }
    Ok(history)
}

/// The cross spectrum of the linear density (a = 1 modes on the particle grid) of `truth`
/// (the reference) and `reconstruction`, both white noise of `sim`: its
/// [`CrossPowerSpectrum::r`] and [`CrossPowerSpectrum::transfer`] are the usual measures of a
/// reconstruction, `r = P_tr / sqrt(P_tt P_rr)` and `T = sqrt(P_rr / P_tt)`.
pub fn compare_linear<T: Real, K: ForceKernel>(
    sim: &Simulation<T, K>,
    truth: &RealField<T>,
    reconstruction: &RealField<T>,
    options: &PowerOptions,
) -> Result<CrossPowerSpectrum, AdjointError> {
    let a = sim.linear_modes_from(&SerialComm, truth)?;
    let b = sim.linear_modes_from(&SerialComm, reconstruction)?;
    cross_power_spectrum(&a, &b, options).map_err(crate::objectives::mesh_error)
}
