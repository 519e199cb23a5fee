#![doc = include_str!("../README.md")]
//!
//! ## The pieces, in the order a run uses them
//!
//! * [`white_noise`] (Philox, keyed by seed and cell) or [`read_white_noise_npy`];
//! * [`linear_modes`]: `delta_L(k)` at a = 1 on the particle grid;
//! * [`Lpt`]: 1LPT and 2LPT displacements and momenta on the lattice;
//! * [`Stepper`] ([`FastPm`], [`Leapfrog`], [`Cola`]) and [`kdk_step`], with the force from
//!   [`Forces`] ([`PmForces`]: the PM solve of pm-force);
//! * [`Observer`]s, called at every step;
//! * [`Simulation`]: all of it wired for the common case.
//!
//! One engine: every piece is written once over one rank's `pm_mesh::MeshBlock` and a
//! [`pm_decomp::Comm`]. The serial run is the one-rank case (`SerialComm`); on several ranks
//! (threads or MPI processes) each rank holds the particles of its slab of the force mesh
//! ([`State`] with their lattice indices), they migrate after each drift ([`migrate`]), and
//! the results equal the one-rank run's to rounding. Each update sits beside its VJP
//! ([`kick`] / [`kick_vjp`], [`drift`] / [`drift_vjp`], [`Lpt::state`] / [`Lpt::state_vjp`],
//! [`Forces`] / [`ForcesVjp`]); pm-adjoint runs them backwards.
//!
//! Units: Mpc/h, the scale factor `a` as time, momentum `p = a^3 E dx/da`,
//! `dp/da = F / (a^2 E)` with `nabla^2 psi = 3/2 Omega_m delta`, `F = -nabla psi`.

mod error;
mod forces;
mod lpt;
mod modes;
mod noise;
mod npy_header;
mod observer;
mod schedule;
mod simulation;
mod spectral;
mod state;
mod stepper;
mod steppers;

pub use error::IntegrateError;
pub use forces::{ForceParamsVjp, Forces, ForcesVjp, PmForces};
pub use lpt::{Lpt, LptCotangent, LptOrder};
pub use modes::{ModeOptions, linear_modes, linear_modes_vjp};
pub use noise::{philox4x32_10, read_white_noise_npy, white_noise, white_noise_block};
pub use npy_header::npy_shape;
pub use observer::{Observer, StepInfo, StepObservable, StepPositions};
pub use schedule::TimeSteps;
pub use simulation::{NoiseSource, Simulation, SimulationBuilder, StepperKind};
pub use state::{State, StateCotangent};
pub use stepper::{
    Coefficients, DriftWatch, Stepper, drift, drift_vjp, ensure_accelerations, kdk_step, kick,
    kick_vjp, migrate,
};
pub use steppers::{Cola, FastPm, Leapfrog};
