//! Reverse-time adjoint gradients of objectives with respect to initial conditions and
//! parameters.
//!
//! [`reverse`] integrates the kick-drift-kick steps backwards from the final state,
//! undoing each kick and drift exactly (up to rounding) and recomputing the forces, while it
//! carries the adjoint variables `(x_bar, p_bar)` (Li et al. 2022, pmwd, sec. 3 and
//! algorithm 1; seed 000). Only the current state is held: memory does not grow with the
//! number of steps.

mod error;
mod objective;
mod reverse;

pub use error::AdjointError;
pub use objective::{Objective, ObjectiveInput, ObjectiveOutput};
pub use reverse::{ReverseResult, StateCotangent, StepCoefficientGradients, reverse};
