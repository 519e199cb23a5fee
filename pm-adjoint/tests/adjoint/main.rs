//! Integration tests of pm-adjoint, in one binary (one link instead of one per file).

mod checkpoint;
mod cosmology_gradient;
mod custom_force;
mod distributed;
mod noise_gradient;
mod objectives;
mod reconstruction;
mod reverse;
