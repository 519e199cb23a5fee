//! Window compensation (deconvolution) and interlacing.

use pm_fft::{Complex, Fft3d, Real};
use rayon::prelude::*;

use crate::binning::Binning;
use crate::planes::Whole;
use crate::stencil::check_len;
use crate::{FourierField, Mesh, MeshError, Positions, RealField, Scheme};

/// Divides every mode by the scheme's window, `times` times:
///
/// `F_k /= [prod_a sinc(k_a dx_a / 2)^p]^times`, `p` = [`Scheme::order`],
///
/// with `k_a` from [`Mesh::wavenumbers`] (so the x and y Nyquist bins use `-pi/dx`, which
/// gives the same window since it is even). Use `times = 1` after painting, `2` after a paint
/// followed by a readout. The window is at least `(2/pi)^3p` below the Nyquist frequency, so the
/// division is always defined.
pub fn deconvolve<T: Real>(field: &mut FourierField<T>, scheme: Scheme, times: u32) {
    if times == 0 {
        return;
    }
    let mesh = *field.mesh();
    let cell = mesh.cell_size();
    let inv: [Vec<f64>; 3] = std::array::from_fn(|a| {
        mesh.wavenumbers(a)
            .iter()
            .map(|&k| {
                let w = scheme.fourier_window(k, cell[a]);
                (0..times).fold(1.0, |acc, _| acc / w)
            })
            .collect()
    });
    let [_, ny, nzc] = mesh.complex_shape();
    field
        .as_slice_mut()
        .par_chunks_mut(ny * nzc)
        .enumerate()
        .for_each(|(jx, plane)| {
            for (jy, row) in plane.chunks_mut(nzc).enumerate() {
                let wxy = inv[0][jx] * inv[1][jy];
                for (v, &wz) in row.iter_mut().zip(&inv[2]) {
                    *v = *v * T::lit(wxy * wz);
                }
            }
        });
}

/// Paints on the mesh and on the mesh shifted by half a cell, and averages the two in
/// Fourier space to cancel the odd aliases (interlacing; Hockney & Eastwood 1988, Sefusatti
/// et al. 2016).
///
/// With `h = (dx, dy, dz) / 2`: the first paint gives `F1_k` (unnormalised forward FFT,
/// `e^{-ikx}`) of the field sampled at the grid points `x = j dx`; the second paints every
/// particle at `x_i + h`, which samples `rho(x - h)` at the same grid points, so its transform
/// is `F2_k = sum_n rho~(k + 2 pi n / dx) W~(k + 2 pi n / dx) e^{-i (k + 2 pi n/dx).h}`. Since
/// `(2 pi n / dx).h = pi (n_x + n_y + n_z)`, the phase-corrected
/// `F2_k e^{+i k.h}` carries every alias `n` with the sign `(-1)^{n_x + n_y + n_z}`, and the
/// returned average
///
/// `F_k = [F1_k + e^{+i k.h} F2_k] / 2`
///
/// keeps the true signal (`n = 0`) and the even aliases and cancels the odd ones (the
/// dominant ones, `|n| = 1` along one axis). `k` is taken from [`Mesh::wavenumbers`]
/// (`fftfreq` order along x and y, `0..=nz/2` along z). The window is not deconvolved; call
/// [`deconvolve`] afterwards.
///
/// Errors: as [`crate::paint`], and [`MeshError::MeshMismatch`] for a plan of another shape.
pub fn paint_interlaced<T: Real>(
    mesh: &Mesh,
    positions: &Positions<'_, T>,
    weights: Option<&[T]>,
    scheme: Scheme,
    plan: &dyn Fft3d<T>,
) -> Result<FourierField<T>, MeshError> {
    if plan.shape() != mesh.shape() {
        return Err(MeshError::MeshMismatch {
            what: format!(
                "FFT plan of shape {:?} for a mesh of shape {:?}",
                plan.shape(),
                mesh.shape()
            ),
        });
    }
    positions.validate(mesh)?;
    check_len("weights", positions.len(), weights.map(<[T]>::len))?;
    let weight = |i: usize| weights.map_or(1.0, |w| w[i].as_f64());

    let mut real = RealField::<T>::zeros(*mesh);
    let whole = Whole { mesh: *mesh };
    Binning::new(positions, mesh, scheme, 0.0, &whole).paint(real.as_slice_mut(), &weight);
    let mut f1 = real.forward_in_place(plan)?;
    real.as_slice_mut().fill(T::zero());
    Binning::new(positions, mesh, scheme, 0.5, &whole).paint(real.as_slice_mut(), &weight);
    let f2 = real.forward_in_place(plan)?;

    // e^{i k_a h_a} per axis, h_a = dx_a / 2.
    let cell = mesh.cell_size();
    let phase: [Vec<Complex<f64>>; 3] = std::array::from_fn(|a| {
        mesh.wavenumbers(a)
            .iter()
            .map(|&k| Complex::from_polar(1.0, 0.5 * k * cell[a]))
            .collect()
    });
    let [_, ny, nzc] = mesh.complex_shape();
    f1.as_slice_mut()
        .par_chunks_mut(ny * nzc)
        .zip(f2.as_slice().par_chunks(ny * nzc))
        .enumerate()
        .for_each(|(jx, (p1, p2))| {
            for (jy, (r1, r2)) in p1.chunks_mut(nzc).zip(p2.chunks(nzc)).enumerate() {
                let pxy = phase[0][jx] * phase[1][jy];
                for ((a, b), pz) in r1.iter_mut().zip(r2).zip(&phase[2]) {
                    let e = pxy * pz;
                    let b = Complex::new(b.re.as_f64(), b.im.as_f64()) * e;
                    let a64 = Complex::new(a.re.as_f64(), a.im.as_f64());
                    let m = (a64 + b) * 0.5;
                    *a = Complex::new(T::lit(m.re), T::lit(m.im));
                }
            }
        });
    Ok(f1)
}
