//! The CPU plan: realfft along z, rustfft along y and x, parallel with rayon.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use num_complex::Complex;
use rayon::prelude::*;
use realfft::RealFftPlanner;
use rustfft::{Fft, FftPlanner};

use crate::axes::AxisPlans;
use crate::{Fft3d, FftError, Real, check_buffers, check_shape};

/// Bytes of each row gathered per block in the y pass (16 `Complex<f64>`, 32 `Complex<f32>`).
///
/// Measured on a 2-core AMD EPYC (Zen 3) at 128^3 and 256^3: 8 complex per row was slower,
/// 32 or 64 complex f64 no better; for f32, 32 per row beat 16 by a few percent.
const Y_BLOCK_BYTES: usize = 256;

/// Bytes of each row gathered per block in the x pass (64 `Complex<f64>`, 128 `Complex<f32>`).
///
/// The x pass reads one piece of every x-plane per block, planes being `ny*(nz/2+1)`
/// elements apart: longer contiguous pieces let the hardware prefetchers stream them.
/// Measured: 16 complex per row (the first version) made the whole transform about 7% (f64)
/// to 15% (f32) slower at 256^3.
const X_BLOCK_BYTES: usize = 1024;

/// Padding between the gathered lines of a block (one cache line).
///
/// Without it, lines of power-of-two length are a multiple of 4 KiB apart and the gather
/// and scatter map them onto the same L1 sets; measured about 20% slower at 256^3 f64.
const PAD_BYTES: usize = 64;

/// Complex elements of `T` in `bytes` (at least 1).
fn elems<T>(bytes: usize) -> usize {
    (bytes / std::mem::size_of::<Complex<T>>()).max(1)
}

/// A 3D real FFT planned once for one shape, run on the current rayon pool.
///
/// Forward, in two parallel sweeps over the data:
/// 1. one task per x-plane `[ny][nz]`: real-to-complex along z of each row (`realfft`), then
///    the y FFTs of the plane while it is still in cache: blocks of neighbouring columns
///    (256 bytes of each row) are gathered into contiguous, padded lines, transformed by
///    `rustfft` and scattered back;
/// 2. the x FFTs: blocks of 1 KiB contiguous pieces, one from each x-plane, gathered,
///    transformed and scattered the same way; rayon splits the plane into column ranges.
///
/// The inverse runs the same steps in reverse order (x pass, then per plane the y pass and
/// complex-to-real along z with the `1/N` scaling). Every line is transformed by the same code
/// on the same values whatever the thread count or the way rayon splits the work, so results
/// are bitwise independent of the number of threads. `rustfft`'s planner picks its AVX+FMA
/// kernels at run time where the CPU has them (SSE otherwise).
///
/// Memory: no grid-sized temporaries. Each worker needs one block buffer and the 1D FFT
/// scratch (`O((nx + ny) * 1 KiB)`); these are kept in the plan and reused by later calls, so
/// after the first call on a given number of threads a transform allocates only `nx` slice
/// pointers per parallel split of the x pass.
pub struct CpuFft3d<T: Real> {
    shape: [usize; 3],
    plans: AxisPlans<T>,
    plane_pool: Pool<T>,
    x_pool: Pool<T>,
}

impl<T: Real> std::fmt::Debug for CpuFft3d<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuFft3d")
            .field("shape", &self.shape)
            .field("type", &T::NAME)
            .finish()
    }
}

impl<T: Real> CpuFft3d<T> {
    /// Plans a transform of real shape `[nx, ny, nz]` (each `>= 1`, `nz` even).
    pub fn new(shape: [usize; 3]) -> Result<Self, FftError> {
        Self::with_planners(shape, &mut FftPlanner::new(), &mut RealFftPlanner::new())
    }

    fn with_planners(
        shape: [usize; 3],
        fft: &mut FftPlanner<T>,
        rfft: &mut RealFftPlanner<T>,
    ) -> Result<Self, FftError> {
        check_shape(shape)?;
        let [nx, ny, nz] = shape;
        let plans = AxisPlans::new(shape, fft, rfft);
        let pad = elems::<T>(PAD_BYTES);
        let yb = elems::<T>(Y_BLOCK_BYTES).min(nz / 2 + 1);
        let xb = elems::<T>(X_BLOCK_BYTES).min(ny * (nz / 2 + 1));
        let plane_pool = Pool::new(WorkSize {
            lines: yb,
            len: ny,
            pad,
            fft: plans.y_scratch(),
            rfft: plans.z_scratch(),
        });
        let x_pool = Pool::new(WorkSize {
            lines: xb,
            len: nx,
            pad,
            fft: plans.x_scratch(),
            rfft: 0,
        });
        Ok(Self {
            shape,
            plans,
            plane_pool,
            x_pool,
        })
    }
}

/// Sizes of a worker's scratch.
#[derive(Clone, Copy, Debug)]
struct WorkSize {
    /// Lines per block.
    lines: usize,
    /// Length of each line (the FFT length).
    len: usize,
    /// Padding after each line.
    pad: usize,
    /// rustfft in-place scratch.
    fft: usize,
    /// realfft scratch (plane workers only).
    rfft: usize,
}

/// Scratch of one worker: a block of padded lines and the 1D FFT scratch.
struct Work<T> {
    size: WorkSize,
    block: Vec<Complex<T>>,
    fft: Vec<Complex<T>>,
    rfft: Vec<Complex<T>>,
}

impl<T: Real> Work<T> {
    fn new(size: WorkSize) -> Self {
        Self {
            size,
            block: vec![Complex::default(); size.lines * (size.len + size.pad)],
            fft: vec![Complex::default(); size.fft],
            rfft: vec![Complex::default(); size.rfft],
        }
    }
}

/// Worker scratch kept between calls: taken at the start of a rayon job, returned at its end.
/// Holds at most as many entries as jobs ever ran at once (the thread count).
struct Pool<T> {
    size: WorkSize,
    free: Mutex<Vec<Work<T>>>,
}

impl<T: Real> Pool<T> {
    fn new(size: WorkSize) -> Self {
        Self {
            size,
            free: Mutex::new(Vec::new()),
        }
    }

    fn take(&self) -> Lease<'_, T> {
        let work = self.free.lock().ok().and_then(|mut f| f.pop());
        Lease {
            pool: self,
            work: Some(work.unwrap_or_else(|| Work::new(self.size))),
        }
    }
}

/// A [`Work`] on loan from a [`Pool`], given back on drop.
struct Lease<'a, T> {
    pool: &'a Pool<T>,
    work: Option<Work<T>>,
}

impl<T> Lease<'_, T> {
    fn get(&mut self) -> &mut Work<T> {
        self.work
            .as_mut()
            .expect("leased work is present until drop")
    }
}

impl<T> Drop for Lease<'_, T> {
    fn drop(&mut self) {
        if let (Some(w), Ok(mut free)) = (self.work.take(), self.pool.free.lock()) {
            free.push(w);
        }
    }
}

/// Rows of a strided pass: `n` rows, each `w` contiguous elements at the same offset.
trait Rows<C> {
    fn row(&self, i: usize) -> &[C];
    fn row_mut(&mut self, i: usize) -> &mut [C];
}

/// Rows `data[i*stride + off ..][..w]` of one contiguous slice (the y pass of a plane).
struct Strided<'a, C> {
    data: &'a mut [C],
    stride: usize,
    off: usize,
    w: usize,
}

impl<C> Rows<C> for Strided<'_, C> {
    #[inline(always)]
    fn row(&self, i: usize) -> &[C] {
        let s = i * self.stride + self.off;
        &self.data[s..s + self.w]
    }
    #[inline(always)]
    fn row_mut(&mut self, i: usize) -> &mut [C] {
        let s = i * self.stride + self.off;
        &mut self.data[s..s + self.w]
    }
}

/// Rows `pieces[i][off..][..w]`, one piece per x-plane (the x pass).
struct Pieces<'a, 'b, C> {
    pieces: &'a mut [&'b mut [C]],
    off: usize,
    w: usize,
}

impl<C> Rows<C> for Pieces<'_, '_, C> {
    #[inline(always)]
    fn row(&self, i: usize) -> &[C] {
        &self.pieces[i][self.off..self.off + self.w]
    }
    #[inline(always)]
    fn row_mut(&mut self, i: usize) -> &mut [C] {
        &mut self.pieces[i][self.off..self.off + self.w]
    }
}

/// Transforms the `w` columns of `n` rows: gathers them into padded lines of `work.block`,
/// runs `fft` on each line and scatters the result back.
#[inline(always)]
fn columns<T: Real, R: Rows<Complex<T>>>(
    rows: &mut R,
    n: usize,
    w: usize,
    fft: &Arc<dyn Fft<T>>,
    work: &mut Work<T>,
) {
    let ls = n + work.size.pad;
    let block = &mut work.block[..w * ls];
    // Gather block[b*ls + i] = row(i)[b], four rows at a time so that every line receives
    // a run of four consecutive elements (measured faster than row by row, mostly in f32).
    let mut i0 = 0;
    while i0 + 4 <= n {
        let (r0, r1, r2, r3) = (
            rows.row(i0),
            rows.row(i0 + 1),
            rows.row(i0 + 2),
            rows.row(i0 + 3),
        );
        for b in 0..w {
            let d = &mut block[b * ls + i0..b * ls + i0 + 4];
            d[0] = r0[b];
            d[1] = r1[b];
            d[2] = r2[b];
            d[3] = r3[b];
        }
        i0 += 4;
    }
    for i in i0..n {
        for (b, v) in rows.row(i).iter().enumerate() {
            block[b * ls + i] = *v;
        }
    }
    for line in block.chunks_exact_mut(ls) {
        fft.process_with_scratch(&mut line[..n], &mut work.fft);
    }
    for i in 0..n {
        for (b, v) in rows.row_mut(i).iter_mut().enumerate() {
            *v = block[b * ls + i];
        }
    }
}

/// The y pass of one x-plane `[ny][nzc]`, in blocks of `work.size.lines` columns.
fn y_plane<T: Real>(
    plane: &mut [Complex<T>],
    ny: usize,
    nzc: usize,
    fft: &Arc<dyn Fft<T>>,
    work: &mut Work<T>,
) {
    if ny == 1 {
        // A length-1 DFT is the identity.
        return;
    }
    let mut c0 = 0;
    while c0 < nzc {
        let w = work.size.lines.min(nzc - c0);
        let mut rows = Strided {
            data: &mut *plane,
            stride: nzc,
            off: c0,
            w,
        };
        columns(&mut rows, ny, w, fft, work);
        c0 += w;
    }
}

/// A part of the x pass: the same column range of every x-plane.
struct XPart<'a, C> {
    pieces: Vec<&'a mut [C]>,
    block: usize,
}

/// Splits an [`XPart`] in two at a block boundary, for `rayon::iter::split`.
fn split_xpart<C>(mut part: XPart<'_, C>) -> (XPart<'_, C>, Option<XPart<'_, C>>) {
    let blocks = part.pieces[0].len().div_ceil(part.block);
    if blocks < 2 {
        return (part, None);
    }
    let mid = (blocks / 2) * part.block;
    let mut right = Vec::with_capacity(part.pieces.len());
    for piece in part.pieces.iter_mut() {
        let (l, r) = std::mem::take(piece).split_at_mut(mid);
        *piece = l;
        right.push(r);
    }
    let block = part.block;
    (
        part,
        Some(XPart {
            pieces: right,
            block,
        }),
    )
}

/// The x pass over `data = [nx][plane]`, in blocks of `pool.size.lines` columns of the
/// flattened plane, in parallel over column ranges.
fn x_pass<T: Real>(
    data: &mut [Complex<T>],
    nx: usize,
    plane: usize,
    fft: &Arc<dyn Fft<T>>,
    pool: &Pool<T>,
) {
    if nx == 1 {
        // A length-1 DFT is the identity.
        return;
    }
    let part = XPart {
        pieces: data.chunks_mut(plane).collect(),
        block: pool.size.lines,
    };
    rayon::iter::split(part, split_xpart).for_each_init(
        || pool.take(),
        |lease, mut part| {
            let work = lease.get();
            let m = part.pieces[0].len();
            let mut c0 = 0;
            while c0 < m {
                let w = part.block.min(m - c0);
                let mut rows = Pieces {
                    pieces: &mut part.pieces,
                    off: c0,
                    w,
                };
                columns(&mut rows, nx, w, fft, work);
                c0 += w;
            }
        },
    );
}

impl<T: Real> Fft3d<T> for CpuFft3d<T> {
    fn shape(&self) -> [usize; 3] {
        self.shape
    }

    fn forward(&self, real: &mut [T], complex: &mut [Complex<T>]) -> Result<(), FftError> {
        check_buffers(self, real.len(), complex.len())?;
        let [nx, ny, nz] = self.shape;
        let nzc = nz / 2 + 1;
        let (r2c, fft_y) = (&self.plans.r2c, &self.plans.fwd_y);
        real.par_chunks_mut(ny * nz)
            .zip(complex.par_chunks_mut(ny * nzc))
            .for_each_init(
                || self.plane_pool.take(),
                |lease, (rp, cp)| {
                    let work = lease.get();
                    for (r, c) in rp.chunks_exact_mut(nz).zip(cp.chunks_exact_mut(nzc)) {
                        r2c.process_with_scratch(r, c, &mut work.rfft)
                            .expect("realfft r2c: buffer lengths checked by the plan");
                    }
                    y_plane(cp, ny, nzc, fft_y, work);
                },
            );
        x_pass(complex, nx, ny * nzc, &self.plans.fwd_x, &self.x_pool);
        Ok(())
    }

    fn inverse(&self, complex: &mut [Complex<T>], real: &mut [T]) -> Result<(), FftError> {
        check_buffers(self, real.len(), complex.len())?;
        let [nx, ny, nz] = self.shape;
        let nzc = nz / 2 + 1;
        x_pass(complex, nx, ny * nzc, &self.plans.inv_x, &self.x_pool);
        let scale = T::one() / T::lit((nx * ny * nz) as f64);
        let (c2r, fft_y) = (&self.plans.c2r, &self.plans.inv_y);
        complex
            .par_chunks_mut(ny * nzc)
            .zip(real.par_chunks_mut(ny * nz))
            .for_each_init(
                || self.plane_pool.take(),
                |lease, (cp, rp)| {
                    let work = lease.get();
                    y_plane(cp, ny, nzc, fft_y, work);
                    for (c, r) in cp.chunks_exact_mut(nzc).zip(rp.chunks_exact_mut(nz)) {
                        // A real field has real DC and Nyquist bins along z; dropping their
                        // imaginary parts is the Hermitian projection (realfft rejects them).
                        c[0].im = T::zero();
                        c[nzc - 1].im = T::zero();
                        c2r.process_with_scratch(c, r, &mut work.rfft)
                            .expect("realfft c2r: buffer lengths checked, DC/Nyquist made real");
                        for v in r.iter_mut() {
                            *v = *v * scale;
                        }
                    }
                },
            );
        Ok(())
    }
}

/// Plans [`CpuFft3d`]s, caching them by shape and sharing the 1D plans between shapes.
pub struct CpuFftPlanner<T: Real> {
    fft: FftPlanner<T>,
    rfft: RealFftPlanner<T>,
    cache: HashMap<[usize; 3], Arc<CpuFft3d<T>>>,
}

impl<T: Real> Default for CpuFftPlanner<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Real> std::fmt::Debug for CpuFftPlanner<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shapes: Vec<_> = self.cache.keys().collect();
        shapes.sort();
        f.debug_struct("CpuFftPlanner")
            .field("type", &T::NAME)
            .field("cached_shapes", &shapes)
            .finish()
    }
}

impl<T: Real> CpuFftPlanner<T> {
    /// An empty planner.
    pub fn new() -> Self {
        Self {
            fft: FftPlanner::new(),
            rfft: RealFftPlanner::new(),
            cache: HashMap::new(),
        }
    }

    /// The plan for `shape`, built on first request and shared afterwards.
    pub fn plan(&mut self, shape: [usize; 3]) -> Result<Arc<CpuFft3d<T>>, FftError> {
        if let Some(p) = self.cache.get(&shape) {
            return Ok(Arc::clone(p));
        }
        let p = Arc::new(CpuFft3d::with_planners(
            shape,
            &mut self.fft,
            &mut self.rfft,
        )?);
        self.cache.insert(shape, Arc::clone(&p));
        Ok(p)
    }
}
