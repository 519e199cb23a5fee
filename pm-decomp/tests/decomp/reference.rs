//! The serial 3D real FFT that the distributed one must equal, written as plain DFTs from
//! its definition (DESIGN.md, pm-fft's `Fft3d` docs), so that pm-decomp's tests need no crate
//! above it:
//!
//! * forward: `X[k] = sum_r x[r] e^{-2 pi i k.r/n}` on `[nx][ny][nz/2+1]`, unnormalised;
//! * inverse: `x[r] = (1/N) sum_k X[k] e^{+2 pi i k.r/n}` over the Hermitian extension
//!   (`kz = 0` and `nz/2` once, the others twice, real part), which discards what a real
//!   field cannot hold.
//!
//! O(N n) per call: for the small test shapes only. Shared with `examples/mpi_smoke.rs`.

use num_complex::Complex;

/// `e^{sign 2 pi i j k / n}`.
fn twiddle(j: usize, k: usize, n: usize, sign: f64) -> Complex<f64> {
    Complex::from_polar(
        1.0,
        sign * 2.0 * std::f64::consts::PI * ((j * k) % n) as f64 / n as f64,
    )
}

/// In-place DFT along an axis of length `n` whose elements are `stride` apart, for every
/// line of `data`.
fn dft_axis(data: &mut [Complex<f64>], n: usize, stride: usize, sign: f64) {
    let block = n * stride;
    let mut line = vec![Complex::new(0.0, 0.0); n];
    for start in (0..data.len()).step_by(block) {
        for offset in 0..stride {
            for (k, out) in line.iter_mut().enumerate() {
                *out = (0..n)
                    .map(|j| data[start + offset + j * stride] * twiddle(j, k, n, sign))
                    .sum();
            }
            for (j, v) in line.iter().enumerate() {
                data[start + offset + j * stride] = *v;
            }
        }
    }
}

/// Forward real-to-half-complex transform of `real` (`shape`, C order).
pub fn rfft3(shape: [usize; 3], real: &[f64]) -> Vec<Complex<f64>> {
    let [nx, ny, nz] = shape;
    let nzc = nz / 2 + 1;
    let mut c: Vec<Complex<f64>> = real
        .chunks(nz)
        .flat_map(|r| {
            (0..nzc).map(move |k| {
                r.iter()
                    .enumerate()
                    .map(|(j, &x)| twiddle(j, k, nz, -1.0) * x)
                    .sum()
            })
        })
        .collect();
    dft_axis(&mut c, ny, nzc, -1.0);
    dft_axis(&mut c, nx, ny * nzc, -1.0);
    c
}

/// Inverse half-complex-to-real transform (with the `1/N`).
pub fn irfft3(shape: [usize; 3], spectrum: &[Complex<f64>]) -> Vec<f64> {
    let [nx, ny, nz] = shape;
    let nzc = nz / 2 + 1;
    let mut c = spectrum.to_vec();
    dft_axis(&mut c, nx, ny * nzc, 1.0);
    dft_axis(&mut c, ny, nzc, 1.0);
    let scale = 1.0 / (nx * ny * nz) as f64;
    c.chunks(nzc)
        .flat_map(|line| {
            (0..nz).map(move |j| {
                let s: f64 = line
                    .iter()
                    .enumerate()
                    .map(|(k, &v)| {
                        let w = if k == 0 || 2 * k == nz { 1.0 } else { 2.0 };
                        w * (v * twiddle(j, k, nz, 1.0)).re
                    })
                    .sum();
                s * scale
            })
        })
        .collect()
}
