//! Initial conditions, LPT and the FastPM, leapfrog and COLA time steppers, with observers.
//!
//! The pieces, in the order a run uses them:
//! * [`white_noise`] (Philox, keyed by seed and cell) or [`read_white_noise_npy`];
//! * [`linear_modes`]: `delta_L(k)` at a = 1 on the particle grid;
//! * [`Lpt`]: 1LPT and 2LPT displacements and momenta on the lattice;
//! * [`Stepper`] ([`FastPm`], [`Leapfrog`], [`Cola`]) and [`kdk_step`], with the force from
//!   [`Forces`] ([`PmForces`]: the PM solve of pm-force);
//! * [`Observer`]s, called at every step;
//! * [`Simulation`]: all of it wired for the common case;
//! * [`DistributedRun`] ([`Simulation::run_distributed`]): the same run on any
//!   [`pm_decomp::Comm`], each rank holding the particles of its slab ([`LocalState`]).
//!
//! Units (DESIGN.md): Mpc/h, the scale factor `a` as time, momentum `p = a^3 E dx/da`,
//! `dp/da = F / (a^2 E)` with `nabla^2 psi = 3/2 Omega_m delta`, `F = -nabla psi`.

mod distributed;
mod error;
mod forces;
mod lpt;
mod modes;
mod noise;
mod observer;
mod schedule;
mod simulation;
mod spectral;
mod state;
mod stepper;
mod steppers;

pub use distributed::{DistributedLpt, DistributedRun, LocalState, NoiseCotangent};
pub use error::IntegrateError;
pub use forces::{Forces, PmForces};
pub use lpt::{Lpt, LptCotangent, LptOrder};
pub use modes::{ModeOptions, linear_modes, linear_modes_vjp};
pub use noise::{philox4x32_10, read_white_noise_npy, white_noise, white_noise_block};
pub use observer::{Observer, StepInfo};
pub use schedule::TimeSteps;
pub use simulation::{NoiseSource, Simulation, SimulationBuilder, StepperKind};
pub use state::State;
pub use stepper::{Coefficients, Stepper, drift, ensure_accelerations, kdk_step, kick};
pub use steppers::{Cola, FastPm, Leapfrog};
