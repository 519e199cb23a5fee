//! The forward simulation on any [`pm_decomp::Comm`]: initial conditions on each rank's
//! slab of the particle lattice, and kick-drift-kick steps with the distributed force
//! ([`pm_force::SlabGravity`]) and particle migration after every drift.
//!
//! * [`DistributedLpt`] (initial.rs): white noise, linear modes and LPT fields of the rank's
//!   x-slab of the particle lattice, with the slab FFT;
//! * [`LocalState`] (local.rs): the rank's particles with their global lattice indices;
//! * [`DistributedRun`] (run.rs): the time steps.
//!
//! Results equal the serial [`crate::Simulation::run`] to rounding on any number of ranks
//! (the LPT fields bitwise in the tests; final particles to ~1e-14 relative in f64).
//!
//! # Memory per rank
//!
//! With `n = N_p / P` particles and `m = N_mesh / P` force-mesh cells on a rank (uneven
//! splits: round up by one plane), `s` bytes per real (4 or 8):
//!
//! * particles, kept: lattice index (8 B), displacement, momentum and cached acceleration
//!   (`3s` each): `n (8 + 9s)` (f32: 44 B, f64: 80 B per particle; COLA adds `6s` for the
//!   carried LPT fields). The serial run keeps `9s` (no index);
//! * particles, during a step: in a migration one array in flight at a time (its packed
//!   send and received bytes, `2 x 3s` at most; the positions are not copied for the force,
//!   which reads `q(id) + disp`);
//! * force mesh ([`pm_force::SlabGravity`]): three padded force slabs and one padded density
//!   slab, the Fourier y-slab of the density and a scratch (`~ m s` each), and the slab FFT's
//!   transients (`~ 2 m s`): about `8 m s`, plus the halo planes (1 to 3 per slab face);
//! * initial conditions (particle grid, before the steps, freed after): about `10 n s` at
//!   the 2LPT peak (noise/modes, `phi1`, a scratch, `psi1`, three Hessian diagonals and the
//!   source), less than the step peak when the mesh has 8 times the particles' cells.
//!
//! Measured peak resident memory (`examples/distributed_memory.rs`, thread ranks in one
//! process, total / P), 128^3 particles, 128^3 mesh, 10 steps:
//!
//! | precision | serial | 1 rank | 2 ranks | 4 ranks |
//! |---|---|---|---|---|
//! | f32 | 173 MiB | 167 MiB | 127 MiB | 61 MiB |
//! | f64 | 332 MiB | 312 MiB | 241 MiB | 112 MiB |
//!
//! and 128^3 particles on a 256^3 mesh in f32: serial 452 MiB, 4 ranks 169 MiB per rank.

mod initial;
mod local;
mod run;

pub use initial::{DistributedLpt, NoiseCotangent};
pub use local::LocalState;
pub use run::DistributedRun;
