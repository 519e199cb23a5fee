#![doc = include_str!("../README.md")]
//!
//! ## The pieces
//!
//! [`reverse`] integrates the kick-drift-kick steps backwards from the final state,
//! undoing each kick and drift exactly (up to rounding) and recomputing the forces, while it
//! carries the adjoint variables `(x_bar, p_bar)` (Li et al. 2022, pmwd, sec. 3 and
//! algorithm 1). Only the current state is held: memory does not grow with the number of
//! steps.
//!
//! [`objectives`] holds the stock [`Objective`]s (a Gaussian likelihood and a power spectrum
//! loss of the painted final density, a white-noise prior, sums of them), [`Adam`] optimises
//! the white noise with their gradients, and [`reconstruct`] puts the two together to recover
//! initial conditions from a final density field.

mod checkpoint;
mod cosmology;
mod error;
mod gradient;
mod objective;
pub mod objectives;
mod optimise;
mod reconstruction;
mod reverse;
#[cfg(test)]
mod trajectory;

pub use checkpoint::{Checkpoints, forward_checkpointed, reverse_checkpointed};
pub use cosmology::{
    CosmologyCotangents, CosmologyGradient, ModeCotangent, cosmology_gradient, lpt_growth_gradient,
    modes_gradient, prefactor_gradient, run_cosmology_gradient, simulation_power, steps_gradient,
};
pub use error::AdjointError;
pub use gradient::{Gradient, value_and_gradient, value_and_gradient_along, vjp};
pub use objective::{Objective, ObjectiveInput, ObjectiveOutput, on_whole_run};
pub use objectives::{
    FieldObjective, FieldOutput, GaussianLikelihood, OnNoise, Painted, PowerLossForm,
    PowerSpectrumLoss, Sigma, Sum, WhiteNoisePrior, painted_density,
};
pub use optimise::{Adam, AdamOptions};
pub use pm_integrate::{StateCotangent, StepObservable, StepPositions};
pub use reconstruction::{
    Iteration, ReconstructionOptions, Stage, compare_linear, reconstruct, reconstruct_while,
};
pub use reverse::{Integration, ReverseResult, StepCoefficientGradients, reverse, reverse_with};
