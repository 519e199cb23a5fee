#![doc = include_str!("../README.md")]
//!
//! ## How the pieces fit
//!
//! ```text
//! Comm (trait, bytes, object safe)        CommData: f32/f64/u64/[T;N]/Complex<T>/(A,B) <-> LE bytes
//!  ├─ SerialComm    one rank              CommExt: typed all_gather / all_to_all(_v) /
//!  ├─ ThreadComm    N threads, 1 process           all_reduce_{sum,max,min,with} / broadcast /
//!  └─ MpiComm       N processes (`mpi`)            send_recv, on any Comm (dyn included)
//!
//! Decomposition (trait: ranges, owners)   BlockSplit: n items in P blocks, first n % P get +1
//!  ├─ SlabDecomposition    real x-slabs, Fourier y-slabs
//!  └─ PencilDecomposition  real z-pencils, Fourier x-pencils (ranges only, no FFT yet)
//!
//! SlabTranspose: [nx][ny][w] x-slabs <-> y-slabs (all-to-all-v); its adjoint is its inverse
//! SlabHalo:      ghost x-planes [lo + nx_l + hi][ny][nz] around a slab: halo_add (paint:
//!                ghosts added into their owners, then zeroed) and halo_fill (readout:
//!                ghosts copied from their owners), each the other's adjoint; any widths,
//!                routed by global plane (widths_for_support: NGP/CIC 0/1, TSC 1/2)
//! Migration:     particles to the rank owning their x-plane (for_slab_x) or any owners
//!                (from_owners); forward moves each per-particle array, reverse (= its
//!                adjoint) sends them back; arrival order (source rank, original index)
//! Stopwatch, PhaseTimes: per-rank wall time per phase (used by pm-fft SlabFft, pm-mesh
//!                MeshBlock, pm-force Gravity and pm-integrate Simulation)
//! ```
//!
//! A distributed algorithm takes a `&dyn Comm` (or `&impl Comm`) and a decomposition built
//! for the same communicator (`SlabDecomposition::for_comm`); plans check that the two agree
//! ([`DecompError::CommMismatch`]). The same test body runs on [`SerialComm`], on
//! [`ThreadComm::run`] with any rank count, and under `mpirun` with `MpiComm` (feature
//! `mpi`; see `examples/mpi_smoke.rs`). Errors are [`DecompError`]s; communicators turn a
//! peer that exited or panicked into an error instead of a hang.
//!
//! ## Layouts
//!
//! Global arrays follow `docs/ARCHITECTURE.md`: real `[nx][ny][nz]`, Fourier `[nx][ny][nz/2+1]`, C order.
//! Every rank stores the **C-order sub-block** of the global array given by its ranges
//! ([`Decomposition::real_range`], [`Decomposition::fourier_range`]), axes in the global
//! order. On a slab decomposition that is `[nx_l][ny][nz]` in real space (x-planes
//! `x_range(r)`, the first `nx % P` ranks holding one more) and `[nx][ny_l][nz/2+1]` in
//! Fourier space (ky-rows `ky_range(r)`), so Fourier-space code needs only the ky offset.
//!
//! ## Determinism
//!
//! Reductions combine ranks in rank order on every rank (bitwise equal results on all ranks,
//! independent of timing).
//!
//! ## Not built yet
//!
//! * the pencil FFT over [`PencilDecomposition`] (sub-communicators exist: [`Comm::split`]).
//!
//! ## Built on top (in the crates above)
//!
//! * pm-fft `SlabFft`: r2c/c2r on a slab decomposition (1D FFTs and [`SlabTranspose`]),
//!   equal to the serial `CpuFft3d` block by block, with its adjoints;
//! * pm-mesh `MeshBlock`: a rank's padded x-slab and Fourier y-slab of a mesh with the FFT
//!   between them, and paint / readout (+ VJPs) on it (the whole mesh on one rank);
//! * pm-force `Gravity`: the PM force solve over a `Comm`, equal on any rank count;
//! * pm-integrate `Simulation::build_on` / `run_on`: white noise per rank block (the same
//!   field on any rank count), LPT on the block FFT, kick-drift-kick steps with migration
//!   after each drift; final particles equal to the one-rank run's to 1e-14;
//! * pm-adjoint `reverse` / `value_and_gradient`: the reverse-time adjoint on a `Comm`, the
//!   gradient equal to the one-rank one to 3e-14.

mod comm;
mod data;
mod decomposition;
mod error;
mod halo;
mod migrate;
mod pencil;
mod slab;
mod timing;
mod transpose;

#[cfg(feature = "mpi")]
pub use comm::MpiComm;
pub use comm::{Comm, CommExt, Parts, SerialComm, ThreadComm};
pub use data::{CommData, decode, decode_into, encode, encode_into};
pub use decomposition::{BlockSplit, Decomposition};
pub use error::DecompError;
pub use halo::{SlabHalo, widths_for_support};
pub use migrate::Migration;
pub use num_complex::Complex;
pub use pencil::PencilDecomposition;
pub use slab::SlabDecomposition;
pub use timing::{PhaseTimes, Stopwatch};
pub use transpose::SlabTranspose;

/// The `mpi` crate this crate was built with (to initialise MPI: `mpi::initialize()`).
#[cfg(feature = "mpi")]
pub use ::mpi;
