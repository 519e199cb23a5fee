//! A naive DFT, O(n^2) per axis, kept only to test the fast plans against.

use std::f64::consts::PI;

use num_complex::Complex;

use crate::{Fft3d, FftError, check_buffers, check_shape};

/// Naive 3D real DFT in `f64` with the same conventions as every [`Fft3d`]: slow
/// (`O(N (nx + ny + nz))`), single-threaded, for tests only.
#[derive(Debug, Clone)]
pub struct NaiveDft3d {
    shape: [usize; 3],
}

impl NaiveDft3d {
    /// A naive transform of real shape `[nx, ny, nz]` (each `>= 1`, `nz` even).
    pub fn new(shape: [usize; 3]) -> Result<Self, FftError> {
        check_shape(shape)?;
        Ok(Self { shape })
    }
}

/// `e^{sign 2 pi i j k / n}` with the phase reduced modulo `n` first, for accuracy.
fn twiddle(j: usize, k: usize, n: usize, sign: f64) -> Complex<f64> {
    let m = (j * k) % n;
    let a = sign * 2.0 * PI * m as f64 / n as f64;
    Complex::new(a.cos(), a.sin())
}

/// Complex DFT along the middle axis of `[outer][n][inner]` data.
fn dft_axis(data: &mut [Complex<f64>], n: usize, inner: usize, sign: f64) {
    let mut line = vec![Complex::new(0.0, 0.0); n];
    for plane in data.chunks_mut(n * inner) {
        for c in 0..inner {
            for (k, out) in line.iter_mut().enumerate() {
                *out = (0..n)
                    .map(|j| plane[j * inner + c] * twiddle(j, k, n, sign))
                    .sum();
            }
            for (j, v) in line.iter().enumerate() {
                plane[j * inner + c] = *v;
            }
        }
    }
}

impl Fft3d<f64> for NaiveDft3d {
    fn shape(&self) -> [usize; 3] {
        self.shape
    }

    fn forward(&self, real: &mut [f64], complex: &mut [Complex<f64>]) -> Result<(), FftError> {
        check_buffers(self, real.len(), complex.len())?;
        let [nx, ny, nz] = self.shape;
        let nzc = nz / 2 + 1;
        for (r, c) in real.chunks(nz).zip(complex.chunks_mut(nzc)) {
            for (k, out) in c.iter_mut().enumerate() {
                *out = r
                    .iter()
                    .enumerate()
                    .map(|(j, &x)| twiddle(j, k, nz, -1.0) * x)
                    .sum();
            }
        }
        dft_axis(complex, ny, nzc, -1.0);
        dft_axis(complex, nx, ny * nzc, -1.0);
        Ok(())
    }

    fn inverse(&self, complex: &mut [Complex<f64>], real: &mut [f64]) -> Result<(), FftError> {
        check_buffers(self, real.len(), complex.len())?;
        let [nx, ny, nz] = self.shape;
        let nzc = nz / 2 + 1;
        dft_axis(complex, nx, ny * nzc, 1.0);
        dft_axis(complex, ny, nzc, 1.0);
        let scale = 1.0 / (nx * ny * nz) as f64;
        for (c, r) in complex.chunks(nzc).zip(real.chunks_mut(nz)) {
            for (j, out) in r.iter_mut().enumerate() {
                // Hermitian extension: weight 1 for kz = 0 and nz/2, 2 in between; real part.
                let s: f64 = c
                    .iter()
                    .enumerate()
                    .map(|(k, &v)| {
                        let w = if k == 0 || 2 * k == nz { 1.0 } else { 2.0 };
                        w * (v * twiddle(j, k, nz, 1.0)).re
                    })
                    .sum();
                *out = s * scale;
            }
        }
        Ok(())
    }
}
