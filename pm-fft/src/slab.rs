//! [`SlabFft`]: the distributed 3D real FFT on a [`SlabDecomposition`] of pm-decomp, over
//! any of its communicators.
//!
//! Layouts (global conventions of `docs/ARCHITECTURE.md`: C order, r2c along z, forward unnormalised
//! with `e^{-ikx}`, inverse with `1/N`):
//!
//! * real input/output on rank `r`: the x-slab `[nx_l][ny][nz]`, x-planes
//!   `x_range(r)` of the serial real array;
//! * Fourier output/input on rank `r`: the y-slab `[nx][ny_l][nz/2+1]`, ky-rows
//!   `ky_range(r)` of the serial Fourier array (element `(kx, j, kz)` is serial mode
//!   `(kx, ky_range(r).start + j, kz)`). Gathering every rank's block along ky gives the
//!   serial [`crate::CpuFft3d`] result.
//!
//! Forward, on each rank:
//! 1. per local x-plane (in parallel with rayon): r2c along z of each row (`realfft`),
//!    then the FFTs along y (`rustfft`) -> `[nx_l][ny][nzc]`;
//! 2. [`SlabTranspose::x_to_y`]: all-to-all to the y-slab `[nx][ny_l][nzc]`;
//! 3. FFTs along x, in parallel over blocks of columns.
//!
//! The inverse runs the steps backwards (x, transpose back, y, c2r with the `1/N`).
//!
//! Adjoints, with the real inner product `<a, b> = sum Re(conj(a) b)` summed over all
//! ranks and the half-complex array as stored:
//! * `F^T y = N * inverse(W y)`, with `W = 1/2` on the interior planes `0 < kz < nz/2` and
//!   `1` on `kz = 0, nz/2` ([`SlabFft::forward_adjoint`]);
//! * `(F^{-1})^T x = W^{-1} F x / N` ([`SlabFft::inverse_adjoint`]).
//!
//! # Memory per rank
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

use std::sync::Arc;

use num_complex::Complex;
use rayon::prelude::*;
use realfft::RealFftPlanner;
use rustfft::{Fft, FftNum, FftPlanner};

use crate::axes::AxisPlans;
use pm_decomp::{
    BlockSplit, Comm, CommData, DecompError, Decomposition, PhaseTimes, SlabDecomposition,
    SlabTranspose, Stopwatch,
};

/// Checks a local buffer's length.
fn check_len(what: &'static str, got: usize, expected: usize) -> Result<(), DecompError> {
    if got == expected {
        Ok(())
    } else {
        Err(DecompError::BufferSize {
            what,
            expected,
            got,
        })
    }
}

/// Bytes of each row gathered per block in the x pass.
const X_BLOCK_BYTES: usize = 512;

/// Bytes of each row gathered per block in the y pass.
const Y_BLOCK_BYTES: usize = 256;

/// Padding after each gathered y line (one cache line), so that lines of power-of-two
/// length do not map onto the same L1 sets.
const PAD_BYTES: usize = 64;

/// Columns per y block and the padded line stride, for `ny` rows of `nzc` columns.
fn y_block<T>(ny: usize, nzc: usize) -> (usize, usize) {
    let c = std::mem::size_of::<Complex<T>>().max(1);
    (
        (Y_BLOCK_BYTES / c).clamp(1, nzc),
        ny + (PAD_BYTES / c).max(1),
    )
}

/// A planned distributed 3D real FFT of one shape on one [`SlabDecomposition`].
///
/// Every transform is collective over the communicator the decomposition was made for
/// (same size and rank, [`DecompError::CommMismatch`] otherwise). **Input buffers are used
/// as scratch**, as in `pm_fft::Fft3d`: `forward` overwrites `real`, `inverse` overwrites
/// `complex`.
///
/// The result on every rank count equals the serial `pm_fft::CpuFft3d` transform's
/// corresponding block to rounding (the same 1D transforms in the same order; tested to
/// `1e-12` relative in f64).
pub struct SlabFft<T: FftNum> {
    transpose: SlabTranspose,
    plans: AxisPlans<T>,
    /// Wall time in `forward` and `inverse`, transposes included.
    total_time: Stopwatch,
    /// Wall time in the transposes of `forward` and `inverse`.
    transpose_time: Stopwatch,
}

impl<T: FftNum> std::fmt::Debug for SlabFft<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlabFft")
            .field("decomposition", self.transpose.decomposition())
            .finish()
    }
}

/// Per-task scratch of the plane passes.
struct PlaneWork<T> {
    /// A block of padded y lines.
    lines: Vec<Complex<T>>,
    fft: Vec<Complex<T>>,
    rfft: Vec<Complex<T>>,
}

fn zero<T: FftNum>() -> Complex<T> {
    Complex::new(T::zero(), T::zero())
}

/// Copies the columns `c0..c0 + w` of `rows` into lines: column `c0 + b` of row `j` goes
/// to `lines[b * stride + j]` (line `b` holds one column, contiguous).
#[inline]
fn gather<'a, T: Copy + 'a>(
    rows: impl Iterator<Item = &'a [T]>,
    c0: usize,
    w: usize,
    lines: &mut [T],
    stride: usize,
) {
    for (j, row) in rows.enumerate() {
        for (b, v) in row[c0..c0 + w].iter().enumerate() {
            lines[b * stride + j] = *v;
        }
    }
}

/// The inverse of [`gather`]: writes the lines back into the columns `c0..c0 + w` of `rows`.
#[inline]
fn scatter<'a, T: Copy + 'a>(
    rows: impl Iterator<Item = &'a mut [T]>,
    c0: usize,
    w: usize,
    lines: &[T],
    stride: usize,
) {
    for (j, row) in rows.enumerate() {
        for (b, v) in row[c0..c0 + w].iter_mut().enumerate() {
            *v = lines[b * stride + j];
        }
    }
}

fn fft_error(e: impl std::fmt::Display) -> DecompError {
    DecompError::Fft(e.to_string())
}

impl<T: FftNum + CommData> SlabFft<T> {
    /// Plans the transform for `decomp` (shape checks are the decomposition's: every
    /// dimension `>= 1`, `nz` even).
    pub fn new(decomp: SlabDecomposition) -> Result<Self, DecompError> {
        let plans = AxisPlans::new(
            decomp.shape(),
            &mut FftPlanner::new(),
            &mut RealFftPlanner::new(),
        );
        let nzc = decomp.nzc();
        Ok(Self {
            transpose: SlabTranspose::new(decomp, nzc)?,
            plans,
            total_time: Stopwatch::new(),
            transpose_time: Stopwatch::new(),
        })
    }

    /// Wall time this rank spent in [`SlabFft::forward`] and [`SlabFft::inverse`] (and the
    /// adjoints, which call them) since the plan was made or [`SlabFft::reset_times`]:
    /// `fft` the local 1D passes (and copies), `transpose` the all-to-all transposes
    /// (waiting for the other ranks included); the other phases are zero.
    pub fn times(&self) -> PhaseTimes {
        let transpose = self.transpose_time.seconds();
        PhaseTimes {
            fft: (self.total_time.seconds() - transpose).max(0.0),
            transpose,
            ..PhaseTimes::default()
        }
    }

    /// Sets the accumulated [`SlabFft::times`] back to zero.
    pub fn reset_times(&self) {
        self.total_time.reset();
        self.transpose_time.reset();
    }

    /// The decomposition.
    pub fn decomposition(&self) -> &SlabDecomposition {
        self.transpose.decomposition()
    }

    /// The transpose between the x-slab and y-slab Fourier layouts (`w = nz/2+1`).
    pub fn transpose(&self) -> &SlabTranspose {
        &self.transpose
    }

    /// Global real shape `[nx, ny, nz]`.
    pub fn shape(&self) -> [usize; 3] {
        self.decomposition().shape()
    }

    /// Elements of this rank's real x-slab, `nx_l * ny * nz`.
    pub fn real_len(&self) -> usize {
        self.decomposition().real_local_len()
    }

    /// Elements of this rank's Fourier y-slab, `nx * ny_l * (nz/2+1)`.
    pub fn complex_len(&self) -> usize {
        self.decomposition().fourier_local_len()
    }

    /// The number of cells `N = nx * ny * nz` as a `T`.
    fn n_cells(&self) -> Result<T, DecompError> {
        T::from_usize(self.shape().iter().product())
            .ok_or_else(|| fft_error("mesh size not representable"))
    }

    fn plane_work(&self) -> PlaneWork<T> {
        let [_, ny, _] = self.shape();
        let nzc = self.decomposition().nzc();
        let fft = self.plans.y_scratch();
        let rfft = self.plans.z_scratch();
        let (block, ls) = y_block::<T>(ny, nzc);
        PlaneWork {
            lines: vec![zero(); block * ls],
            fft: vec![zero(); fft],
            rfft: vec![zero(); rfft],
        }
    }

    /// FFTs along y of one plane `[ny][nzc]`: blocks of [`Y_BLOCK_BYTES`] of neighbouring
    /// columns are gathered into padded contiguous lines of `work.lines`, transformed and
    /// scattered back (the block stays in L1 cache).
    fn y_lines(&self, plane: &mut [Complex<T>], fft: &Arc<dyn Fft<T>>, work: &mut PlaneWork<T>) {
        let [_, ny, _] = self.shape();
        if ny == 1 {
            return;
        }
        let nzc = self.decomposition().nzc();
        let (block, ls) = y_block::<T>(ny, nzc);
        let mut c0 = 0;
        while c0 < nzc {
            let w = block.min(nzc - c0);
            gather(plane.chunks_exact(nzc), c0, w, &mut work.lines, ls);
            for line in work.lines.chunks_exact_mut(ls).take(w) {
                fft.process_with_scratch(&mut line[..ny], &mut work.fft);
            }
            scatter(plane.chunks_exact_mut(nzc), c0, w, &work.lines, ls);
            c0 += w;
        }
    }

    /// Forward steps of one x-plane: r2c along z, FFTs along y.
    fn plane_forward(
        &self,
        real: &mut [T],
        plane: &mut [Complex<T>],
        work: &mut PlaneWork<T>,
    ) -> Result<(), DecompError> {
        let nz = self.shape()[2];
        let nzc = self.decomposition().nzc();
        for (r, c) in real.chunks_exact_mut(nz).zip(plane.chunks_exact_mut(nzc)) {
            self.plans
                .r2c
                .process_with_scratch(r, c, &mut work.rfft)
                .map_err(fft_error)?;
        }
        self.y_lines(plane, &self.plans.fwd_y, work);
        Ok(())
    }

    /// Inverse steps of one x-plane: inverse FFTs along y, c2r along z, times `scale`.
    fn plane_inverse(
        &self,
        plane: &mut [Complex<T>],
        real: &mut [T],
        scale: T,
        work: &mut PlaneWork<T>,
    ) -> Result<(), DecompError> {
        let nz = self.shape()[2];
        let nzc = self.decomposition().nzc();
        self.y_lines(plane, &self.plans.inv_y, work);
        for (c, r) in plane.chunks_exact_mut(nzc).zip(real.chunks_exact_mut(nz)) {
            // A real field has real DC and Nyquist bins along z; dropping their imaginary
            // parts is the Hermitian projection (realfft rejects them otherwise).
            c[0].im = T::zero();
            c[nzc - 1].im = T::zero();
            self.plans
                .c2r
                .process_with_scratch(c, r, &mut work.rfft)
                .map_err(fft_error)?;
            for v in r.iter_mut() {
                *v = *v * scale;
            }
        }
        Ok(())
    }

    /// FFTs along x of the y-slab `[nx][m]` (`m = ny_l * nzc`), in parallel over column
    /// ranges, gathering blocks of columns into contiguous lines.
    fn x_pass(&self, data: &mut [Complex<T>], fft: &Arc<dyn Fft<T>>) -> Result<(), DecompError> {
        let nx = self.shape()[0];
        if nx == 1 || data.is_empty() {
            return Ok(());
        }
        let m = data.len() / nx;
        let tasks = (rayon::current_num_threads() * 4).clamp(1, m);
        let split = BlockSplit::new(m, tasks)?;
        let mut pieces: Vec<Vec<&mut [Complex<T>]>> =
            (0..tasks).map(|_| Vec::with_capacity(nx)).collect();
        for plane in data.chunks_exact_mut(m) {
            let mut rest = plane;
            for (t, p) in pieces.iter_mut().enumerate() {
                let (a, b) = std::mem::take(&mut rest).split_at_mut(split.len(t));
                p.push(a);
                rest = b;
            }
        }
        let block = (X_BLOCK_BYTES / std::mem::size_of::<Complex<T>>()).max(1);
        let scratch = fft.get_inplace_scratch_len();
        pieces.into_par_iter().for_each_init(
            || (vec![zero::<T>(); block * nx], vec![zero::<T>(); scratch]),
            |(lines, scr), mut rows| {
                let width = rows[0].len();
                let mut c0 = 0;
                while c0 < width {
                    let w = block.min(width - c0);
                    gather(rows.iter().map(|r| &**r), c0, w, lines, nx);
                    fft.process_with_scratch(&mut lines[..w * nx], scr);
                    scatter(rows.iter_mut().map(|r| &mut **r), c0, w, lines, nx);
                    c0 += w;
                }
            },
        );
        Ok(())
    }

    fn check(
        &self,
        comm: &(impl Comm + ?Sized),
        real: usize,
        complex: usize,
    ) -> Result<(), DecompError> {
        self.transpose.check_comm(comm)?;
        check_len("real x-slab", real, self.real_len())?;
        check_len("complex y-slab", complex, self.complex_len())
    }

    /// Forward transform: real x-slab `[nx_l][ny][nz]` to Fourier y-slab
    /// `[nx][ny_l][nz/2+1]`, `X[k] = sum_r x[r] e^{-2 pi i k.r/n}`. Collective; `real` is
    /// overwritten.
    pub fn forward(
        &self,
        comm: &(impl Comm + ?Sized),
        real: &mut [T],
        complex: &mut [Complex<T>],
    ) -> Result<(), DecompError> {
        self.check(comm, real.len(), complex.len())?;
        self.total_time.time(|| {
            let [_, ny, nz] = self.shape();
            let nzc = self.decomposition().nzc();
            let mut stage = vec![zero::<T>(); self.transpose.x_slab_len()];
            real.par_chunks_mut(ny * nz)
                .zip(stage.par_chunks_mut(ny * nzc))
                .try_for_each_init(
                    || self.plane_work(),
                    |work, (r, c)| self.plane_forward(r, c, work),
                )?;
            self.transpose_time
                .time(|| self.transpose.x_to_y(comm, &stage, complex))?;
            drop(stage);
            self.x_pass(complex, &self.plans.fwd_x)
        })
    }

    /// Inverse transform including `1/N`: Fourier y-slab to real x-slab. Imaginary parts
    /// that a real field cannot have (the `kz = 0, nz/2` planes) are projected out as in
    /// `pm_fft::Fft3d::inverse`. Collective; `complex` is overwritten.
    pub fn inverse(
        &self,
        comm: &(impl Comm + ?Sized),
        complex: &mut [Complex<T>],
        real: &mut [T],
    ) -> Result<(), DecompError> {
        self.check(comm, real.len(), complex.len())?;
        self.total_time.time(|| {
            let [_, ny, nz] = self.shape();
            let nzc = self.decomposition().nzc();
            self.x_pass(complex, &self.plans.inv_x)?;
            let mut stage = vec![zero::<T>(); self.transpose.x_slab_len()];
            self.transpose_time
                .time(|| self.transpose.y_to_x(comm, complex, &mut stage))?;
            let scale = T::one() / self.n_cells()?;
            stage
                .par_chunks_mut(ny * nzc)
                .zip(real.par_chunks_mut(ny * nz))
                .try_for_each_init(
                    || self.plane_work(),
                    |work, (c, r)| self.plane_inverse(c, r, scale, work),
                )
        })
    }

    /// Multiplies the interior planes `0 < kz < nz/2` by `interior` and the others by
    /// `edge`.
    fn weight(&self, complex: &mut [Complex<T>], interior: T, edge: T) {
        let nzc = self.decomposition().nzc();
        complex.par_chunks_mut(nzc).for_each(|row| {
            for (k, v) in row.iter_mut().enumerate() {
                let s = if k == 0 || k == nzc - 1 {
                    edge
                } else {
                    interior
                };
                *v = *v * s;
            }
        });
    }

    /// The adjoint (transpose) of [`SlabFft::forward`]: `F^T y = N * inverse(W y)` with
    /// `W = 1/2` on `0 < kz < nz/2`, else 1 (see the module docs). This is the
    /// vector-Jacobian product of `forward`. Collective; `complex` is overwritten.
    pub fn forward_adjoint(
        &self,
        comm: &(impl Comm + ?Sized),
        complex: &mut [Complex<T>],
        real: &mut [T],
    ) -> Result<(), DecompError> {
        self.check(comm, real.len(), complex.len())?;
        let half = T::one() / (T::one() + T::one());
        self.weight(complex, half, T::one());
        self.inverse(comm, complex, real)?;
        let n = self.n_cells()?;
        real.par_iter_mut().for_each(|v| *v = *v * n);
        Ok(())
    }

    /// The adjoint of [`SlabFft::inverse`]: `(F^{-1})^T x = W^{-1} F x / N` (see the module
    /// docs); the vector-Jacobian product of `inverse`. Collective; `real` is overwritten.
    pub fn inverse_adjoint(
        &self,
        comm: &(impl Comm + ?Sized),
        real: &mut [T],
        complex: &mut [Complex<T>],
    ) -> Result<(), DecompError> {
        self.forward(comm, real, complex)?;
        let edge = T::one() / self.n_cells()?;
        self.weight(complex, edge + edge, edge);
        Ok(())
    }
}
