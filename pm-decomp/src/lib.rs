//! Communicators, domain decomposition, the distributed FFT, halo exchange and particle
//! migration of pmrs.
//!
//! # How the pieces fit
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
//! SlabFft<T>:    r2c/c2r on a slab decomposition = serial pm_fft::CpuFft3d block by block,
//!                with forward_adjoint / inverse_adjoint (the VJPs)
//! SlabHalo:      ghost x-planes [lo + nx_l + hi][ny][nz] around a slab: halo_add (paint:
//!                ghosts added into their owners, then zeroed) and halo_fill (readout:
//!                ghosts copied from their owners), each the other's adjoint; any widths,
//!                routed by global plane (widths_for_support: NGP/CIC 0/1, TSC 1/2)
//! Migration:     particles to the rank owning their x-plane (for_slab_x) or any owners
//!                (from_owners); forward moves each per-particle array, reverse (= its
//!                adjoint) sends them back; arrival order (source rank, original index)
//! Stopwatch, PhaseTimes: per-rank wall time per phase (SlabFft::times: 1D FFTs vs
//!                transposes; used by pm-force SlabGravity and pm-integrate DistributedRun)
//! ```
//!
//! A distributed algorithm takes a `&dyn Comm` (or `&impl Comm`) and a decomposition built
//! for the same communicator (`SlabDecomposition::for_comm`); plans check that the two agree
//! ([`DecompError::CommMismatch`]). The same test body runs on [`SerialComm`], on
//! [`ThreadComm::run`] with any rank count, and under `mpirun` with `MpiComm` (feature
//! `mpi`; see `examples/mpi_smoke.rs`). Errors are [`DecompError`]s; communicators turn a
//! peer that exited or panicked into an error instead of a hang.
//!
//! # Layouts
//!
//! Global arrays follow `DESIGN.md`: real `[nx][ny][nz]`, Fourier `[nx][ny][nz/2+1]`, C order.
//! Every rank stores the **C-order sub-block** of the global array given by its ranges
//! ([`Decomposition::real_range`], [`Decomposition::fourier_range`]), axes in the global
//! order. On a slab decomposition that is `[nx_l][ny][nz]` in real space (x-planes
//! `x_range(r)`, the first `nx % P` ranks holding one more) and `[nx][ny_l][nz/2+1]` in
//! Fourier space (ky-rows `ky_range(r)`), so Fourier-space code needs only the ky offset.
//!
//! # Determinism
//!
//! Reductions combine ranks in rank order on every rank (bitwise equal results on all ranks,
//! independent of timing); the FFT applies the same 1D transforms as the serial plan, so its
//! result equals the serial one to rounding (1e-12 relative in f64, tested on 1-4 ranks with
//! uneven splits).
//!
//! # Memory per rank of a slab FFT
//!
//! With `N = nx*ny*nz`, `Nc = nx*ny*(nz/2+1)`, `s` bytes per real (4 or 8) and `P` ranks
//! (uneven splits: use `ceil(nx/P)`, `ceil(ny/P)`):
//!
//! * the caller's arrays: real slab `nx/P * ny * nz * s` and Fourier slab
//!   `nx * ny/P * (nz/2+1) * 2s`;
//! * during a transform: the x-slab Fourier stage `nx/P * ny * (nz/2+1) * 2s`, the packed
//!   send bytes and the received bytes of the transpose (each `(P-1)/P` of a Fourier slab:
//!   a rank's own block is copied directly), at most two of the three alive at once, so
//!   about `2 * Nc/P * 2s` transient, freed after the call;
//! * 1D FFT scratch and gather blocks, `O(nx + ny + nz)` complex per rayon thread.
//!
//! Peak about `N/P*s + 3 * Nc/P * 2s ≈ 4 N s / P`: for `1024^3` in f64 on 64 ranks,
//! 134 MB + 3 x 135 MB ≈ 0.54 GB per rank; `512^3` f32 on 1 rank, 0.54 GB + 3 x 0.54 GB
//! ≈ 2.2 GB. The slab FFT needs `P <= min(nx, ny)`; beyond that the pencil FFT is needed.
//!
//! # Not built yet
//!
//! * the pencil FFT over [`PencilDecomposition`] (sub-communicators exist: [`Comm::split`]);
//! * the adjoint (gradient) run on a `Comm`: every distributed piece has its VJP
//!   (transposes, FFT, halo exchange, migration, slab paint/readout, `SlabGravity`), but
//!   pm-adjoint's reverse integration does not drive them yet.
//!
//! # Built on top (in the crates above)
//!
//! * pm-mesh `paint_slab` / `readout_slab` (+ VJPs) on a rank's padded x-slab;
//! * pm-force `SlabGravity`: the PM force solve over a `Comm`, equal to the serial one;
//! * pm-integrate `DistributedRun` / `Simulation::run_distributed`: white noise per rank
//!   block (the same field on any rank count), LPT on the slab FFT, kick-drift-kick steps
//!   with migration after each drift; final particles equal to the serial run's to 1e-14.

mod comm;
mod data;
mod decomposition;
mod error;
mod fft;
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
pub use fft::SlabFft;
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
