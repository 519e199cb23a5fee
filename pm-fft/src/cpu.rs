//! The CPU plan: realfft along z, rustfft along y and x, parallel with rayon.

use std::collections::HashMap;
use std::sync::Arc;

use num_complex::Complex;
use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};

use crate::{Fft3d, FftError, Real, check_buffers, check_shape};

/// Number of neighbouring lines gathered together for a strided (y or x) pass.
///
/// Reading `BLOCK` contiguous complex numbers per row keeps the gather and scatter
/// cache-friendly; the gathered block is transformed as one batch by rustfft.
const BLOCK: usize = 16;

/// A 3D real FFT planned once for one shape, run on the current rayon pool.
///
/// Passes: real-to-complex along z (one task per row, `realfft`), then complex along y and
/// along x (`rustfft`). For the strided y and x passes, blocks of [`BLOCK`] neighbouring lines
/// are gathered into a contiguous buffer, transformed as a batch and scattered back. Every line
/// is transformed by the same code whatever the thread count, so results are bitwise
/// independent of the number of threads.
///
/// Memory: no grid-sized temporaries. Scratch (one block buffer plus the 1D FFT scratch) is
/// allocated by rayon's `for_each_init`, i.e. once per rayon work split, not per line; the
/// strided passes also allocate a small list of row slices per call (`nx*ny*ceil((nz/2+1)/16)`
/// pointers at most).
pub struct CpuFft3d<T: Real> {
    shape: [usize; 3],
    r2c: Arc<dyn RealToComplex<T>>,
    c2r: Arc<dyn ComplexToReal<T>>,
    fwd_y: Arc<dyn Fft<T>>,
    inv_y: Arc<dyn Fft<T>>,
    fwd_x: Arc<dyn Fft<T>>,
    inv_x: Arc<dyn Fft<T>>,
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
        Ok(Self {
            shape,
            r2c: rfft.plan_fft_forward(nz),
            c2r: rfft.plan_fft_inverse(nz),
            fwd_y: fft.plan_fft_forward(ny),
            inv_y: fft.plan_fft_inverse(ny),
            fwd_x: fft.plan_fft_forward(nx),
            inv_x: fft.plan_fft_inverse(nx),
        })
    }
}

/// Transforms `data`, laid out as `[outer][n][inner]`, along the middle axis with `fft`
/// (of length `n`), in parallel over blocks of `BLOCK` neighbouring lines.
fn strided_pass<T: Real>(data: &mut [Complex<T>], n: usize, inner: usize, fft: &Arc<dyn Fft<T>>) {
    if n == 1 {
        // A length-1 DFT is the identity.
        return;
    }
    let nblocks = inner.div_ceil(BLOCK);
    // One item per (outer, column block): the `n` row pieces of that block.
    let mut items: Vec<Vec<&mut [Complex<T>]>> = Vec::new();
    for plane in data.chunks_mut(n * inner) {
        let first = items.len();
        items.extend((0..nblocks).map(|_| Vec::with_capacity(n)));
        for row in plane.chunks_mut(inner) {
            for (b, piece) in row.chunks_mut(BLOCK).enumerate() {
                items[first + b].push(piece);
            }
        }
    }
    let scratch_len = fft.get_inplace_scratch_len();
    items.into_par_iter().for_each_init(
        || {
            (
                vec![Complex::<T>::default(); BLOCK * n],
                vec![Complex::<T>::default(); scratch_len],
            )
        },
        |(buf, scratch), mut rows| {
            let w = rows[0].len();
            for (i, row) in rows.iter().enumerate() {
                for (b, v) in row.iter().enumerate() {
                    buf[b * n + i] = *v;
                }
            }
            fft.process_with_scratch(&mut buf[..w * n], scratch);
            for (i, row) in rows.iter_mut().enumerate() {
                for (b, v) in row.iter_mut().enumerate() {
                    *v = buf[b * n + i];
                }
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
        let r2c = &self.r2c;
        real.par_chunks_mut(nz)
            .zip(complex.par_chunks_mut(nzc))
            .for_each_init(
                || r2c.make_scratch_vec(),
                |scratch, (r, c)| {
                    r2c.process_with_scratch(r, c, scratch)
                        .expect("realfft r2c: buffer lengths checked by the plan");
                },
            );
        strided_pass(complex, ny, nzc, &self.fwd_y);
        strided_pass(complex, nx, ny * nzc, &self.fwd_x);
        Ok(())
    }

    fn inverse(&self, complex: &mut [Complex<T>], real: &mut [T]) -> Result<(), FftError> {
        check_buffers(self, real.len(), complex.len())?;
        let [nx, ny, nz] = self.shape;
        let nzc = nz / 2 + 1;
        strided_pass(complex, nx, ny * nzc, &self.inv_x);
        strided_pass(complex, ny, nzc, &self.inv_y);
        let scale = T::one() / T::lit((nx * ny * nz) as f64);
        let c2r = &self.c2r;
        complex
            .par_chunks_mut(nzc)
            .zip(real.par_chunks_mut(nz))
            .for_each_init(
                || c2r.make_scratch_vec(),
                |scratch, (c, r)| {
                    // A real field has real DC and Nyquist bins along z; dropping their
                    // imaginary parts is the Hermitian projection (realfft rejects them).
                    c[0].im = T::zero();
                    c[nzc - 1].im = T::zero();
                    c2r.process_with_scratch(c, r, scratch)
                        .expect("realfft c2r: buffer lengths checked, DC/Nyquist made real");
                    for v in r.iter_mut() {
                        *v = *v * scale;
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
