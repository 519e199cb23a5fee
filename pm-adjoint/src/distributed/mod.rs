//! Gradients of runs distributed over the ranks of a [`pm_decomp::Comm`]
//! ([`pm_integrate::DistributedRun`]): the reverse-time adjoint with the slab force VJP and
//! particle migration ([`reverse_distributed`]), objectives that see one rank's particles
//! ([`DistributedObjective`], with [`Gathered`] turning any serial [`crate::Objective`] into
//! one), and the gradient with respect to each rank's block of the white noise
//! ([`value_and_gradient_distributed`]), equal to the serial gradient to rounding.

mod gradient;
mod objective;
mod reverse;

pub use gradient::{DistributedGradient, value_and_gradient_distributed};
pub use objective::{DistributedInput, DistributedObjective, DistributedOutput, Gathered};
pub use reverse::reverse_distributed;
