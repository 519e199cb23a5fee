//! Lagrangian perturbation theory: Zel'dovich (1LPT) and second-order (2LPT) displacements.

use std::ops::Range;

use pm_cosmo::GrowthTable;
use pm_decomp::{Comm, Migration};
use pm_fft::{Complex, Real};
use pm_mesh::{FourierField, Lattice, Mesh, MeshBlock};
use rayon::prelude::*;

use crate::spectral::Spectral;
use crate::stepper::{axpy, dot};
use crate::{IntegrateError, State, StateCotangent};

/// Order of the Lagrangian perturbation theory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LptOrder {
    /// Zel'dovich approximation.
    First,
    /// Second order (the default).
    #[default]
    Second,
}

/// The LPT displacement fields of one realisation at unit growth, on the particle lattice:
///
/// ```text
/// x(q, a) = q + D1(a) psi1(q) + D2(a) psi2(q),
/// p(q, a) = gp1(a) psi1(q) + gp2(a) psi2(q)          (p = a^3 E dx/da),
/// psi1 = -nabla phi1,   nabla^2 phi1 = delta_L (at a = 1, D1(1) = 1),
/// psi2 = +nabla phi2,   nabla^2 phi2 = sum_{i<j} (phi1_ii phi1_jj - phi1_ij^2),
/// ```
///
/// with `D2 ~ -3/7 D1^2` the negative second-order growth of pm-cosmo (Scoccimarro 1998,
/// MNRAS 299, 1097, eqs. 4-6; Bouchet et al. 1995). Derivatives are spectral (`i k`), with
/// odd derivatives zeroed at the Nyquist frequency. The lattice is the grid of the linear
/// modes (one particle per cell of that grid, at the grid points).
///
/// An `Lpt` holds the fields of one rank's particles: the lattice points of the x-planes of
/// its [`MeshBlock`] of the particle grid, in C order (local particle `j` is lattice point
/// `ids().start + j`); on one rank, the whole lattice. The fields are computed with the
/// block's FFT from its modes, the same per-mode and per-cell code on any rank count, and
/// equal the one-rank fields to rounding.
#[derive(Debug, Clone)]
pub struct Lpt<T: Real> {
    lattice: Lattice,
    ids: Range<u64>,
    whole: bool,
    psi1: Vec<[T; 3]>,
    psi2: Option<Vec<[T; 3]>>,
}

/// Cotangents (gradients of a scalar objective) of the LPT fields of an [`Lpt`]: the input of
/// [`Lpt::vjp`].
#[derive(Debug, Clone, PartialEq)]
pub struct LptCotangent<T: Real> {
    /// `dL/d psi1`, one `[T; 3]` per particle.
    pub psi1: Vec<[T; 3]>,
    /// `dL/d psi2` for 2LPT; `None` for 1LPT (or a zero cotangent).
    pub psi2: Option<Vec<[T; 3]>>,
}

impl<T: Real> LptCotangent<T> {
    /// Zero cotangents for `n` particles at LPT order `order`.
    pub fn zeros(n: usize, order: LptOrder) -> Self {
        Self {
            psi1: vec![[T::zero(); 3]; n],
            psi2: match order {
                LptOrder::First => None,
                LptOrder::Second => Some(vec![[T::zero(); 3]; n]),
            },
        }
    }
}

/// `dst[k] = f(k) * src[k]` (or `dst[k] += f(k) * src[k]` when `add`), in f64 per mode, on a
/// block `[nx][ny_l][nz/2+1]` of the half-complex grid holding the ky-rows `ky0..ky0 + ny_l`
/// (`ny_l` from the length): the whole grid for `ky0 = 0`, or one rank's y-slab of a slab
/// FFT; parallel over x planes. `f` gets the wavevector (h/Mpc), whether each component
/// sits at its axis's Nyquist frequency, and the mode's z index (for the Hermitian weight
/// of the adjoints). Each mode is computed independently, so a block gives bitwise the
/// entries of the whole grid.
pub(crate) fn apply_block<T: Real>(
    mesh: &Mesh,
    src: &[Complex<T>],
    dst: &mut [Complex<T>],
    ky0: usize,
    add: bool,
    f: impl Fn([f64; 3], [bool; 3], usize) -> Complex<f64> + Sync,
) {
    let k: [Vec<f64>; 3] = std::array::from_fn(|a| mesh.wavenumbers(a));
    let shape = mesh.shape();
    let [nx, _, nzc] = mesh.complex_shape();
    let plane_len = src.len() / nx.max(1);
    if plane_len == 0 {
        return;
    }
    let ny_l = plane_len / nzc;
    let nyq = |a: usize, j: usize| shape[a].is_multiple_of(2) && 2 * j == shape[a];
    dst.par_chunks_mut(plane_len)
        .zip(src.par_chunks(plane_len))
        .enumerate()
        .for_each(|(jx, (dst, src))| {
            for ly in 0..ny_l {
                let jy = ky0 + ly;
                for jz in 0..nzc {
                    let i = ly * nzc + jz;
                    let m = f(
                        [k[0][jx], k[1][jy], k[2][jz]],
                        [nyq(0, jx), nyq(1, jy), nyq(2, jz)],
                        jz,
                    );
                    let s = src[i];
                    let (re, im) = (s.re.as_f64(), s.im.as_f64());
                    let (mut new_re, mut new_im) = (m.re * re - m.im * im, m.re * im + m.im * re);
                    if add {
                        new_re += dst[i].re.as_f64();
                        new_im += dst[i].im.as_f64();
                    }
                    dst[i] = Complex::new(T::lit(new_re), T::lit(new_im));
                }
            }
        });
}

/// Adjoint of the inverse (complex-to-real) FFT followed by the multiplier `m(k)`, i.e. of
/// `X -> IFFT(m X)`, on the blocks of `sp`, in the stored-element convention of
/// [`Lpt::vjp`]: for a real cotangent `ybar` (the real block, used as scratch) it **adds**
/// `conj(m(k)) (w_k / N) FFT(ybar)(k)` to `acc` (the Fourier block), with `w_k` the
/// Hermitian weight ([`Mesh::hermitian_weight`]: 1 on the `kz = 0` and `kz = nz/2` planes, 2
/// elsewhere) and `N` the number of cells. This is pm-fft's identity
/// `<FFT x, Y>_w = N <x, IFFT Y>` with `<a, b>_w = sum_stored w_k Re(conj(a_k) b_k)`.
fn inverse_vjp<T: Real>(
    sp: &Spectral<'_, T>,
    mut ybar: Vec<T>,
    acc: &mut [Complex<T>],
    m: impl Fn([f64; 3], [bool; 3]) -> Complex<f64> + Sync,
) -> Result<(), IntegrateError> {
    let mesh = sp.mesh();
    let n = mesh.n_cells() as f64;
    let mut f = vec![Complex::new(T::zero(), T::zero()); acc.len()];
    sp.forward(&mut ybar, &mut f)?;
    apply_block(mesh, &f, acc, sp.ky0(), true, |k, nyq, jz| {
        m(k, nyq).conj() * (mesh.hermitian_weight(jz) / n)
    });
    Ok(())
}

/// Adjoint of the forward (real-to-complex, unnormalised) FFT on the blocks of `sp`, in the
/// stored-element convention of [`Lpt::vjp`]: `xbar = N IFFT(Xbar / w_k)` (`w_k` the
/// Hermitian weight), so that `sum_stored Re(conj(Xbar_k) FFT(x)_k) = sum_r xbar_r x_r` for
/// every real `x`. Returns the real block.
pub(crate) fn forward_vjp<T: Real>(
    sp: &Spectral<'_, T>,
    xbar: &[Complex<T>],
) -> Result<Vec<T>, IntegrateError> {
    let mesh = sp.mesh();
    let n = mesh.n_cells() as f64;
    let mut scaled = vec![Complex::new(T::zero(), T::zero()); xbar.len()];
    apply_block(mesh, xbar, &mut scaled, sp.ky0(), false, |_, _, jz| {
        Complex::new(n / mesh.hermitian_weight(jz), 0.0)
    });
    let mut out = vec![T::zero(); sp.real_len()];
    sp.inverse(&mut scaled, &mut out)?;
    Ok(out)
}

/// The multiplier of the spectral derivative `d/dx_a` times `sign`: `i sign k_a`, zero at
/// the Nyquist frequency of axis `a` (an odd derivative of a real field).
fn derivative(a: usize, sign: f64) -> impl Fn([f64; 3], [bool; 3]) -> Complex<f64> + Sync {
    move |k, nyq| {
        if nyq[a] {
            Complex::new(0.0, 0.0)
        } else {
            Complex::new(0.0, sign * k[a])
        }
    }
}

/// The multiplier of the Hessian component `d^2/dx_i dx_j`: `-k_i k_j`, zero when `i != j`
/// and either component sits at its Nyquist frequency (odd in each).
fn second_derivative(i: usize, j: usize) -> impl Fn([f64; 3], [bool; 3]) -> Complex<f64> + Sync {
    move |k, nyq| {
        if i != j && (nyq[i] || nyq[j]) {
            Complex::new(0.0, 0.0)
        } else {
            Complex::new(-k[i] * k[j], 0.0)
        }
    }
}

/// Component `a` of per-cell vectors (one `[T; 3]` per particle of the block).
fn component<T: Real>(v: &[[T; 3]], a: usize) -> Vec<T> {
    v.par_iter().map(|v| v[a]).collect()
}

/// Adjoint of [`gradient_block`]: for the cotangents `bar` of `sign grad phi` (one
/// `[T; 3]` per cell of the real block), adds `sum_a conj(i sign k_a) (w_k / N)
/// FFT(bar_a)(k)` (Nyquist-zeroed along `a`) to `acc`, the cotangent of `phi(k)`.
fn gradient_vjp<T: Real>(
    sp: &Spectral<'_, T>,
    bar: &[[T; 3]],
    sign: f64,
    acc: &mut [Complex<T>],
) -> Result<(), IntegrateError> {
    for a in 0..3 {
        inverse_vjp(sp, component(bar, a), acc, derivative(a, sign))?;
    }
    Ok(())
}

/// The multiplier of `phi = -delta / k^2` (zero at `k = 0`): the potential of
/// `nabla^2 phi = delta`.
fn inverse_laplacian(k: [f64; 3], _nyq: [bool; 3]) -> Complex<f64> {
    let k2 = k[0] * k[0] + k[1] * k[1] + k[2] * k[2];
    if k2 == 0.0 {
        Complex::new(0.0, 0.0)
    } else {
        Complex::new(-1.0 / k2, 0.0)
    }
}

/// `phi(k) = -delta(k) / k^2` (zero at `k = 0`), the potential of `nabla^2 phi = delta`, on
/// the Fourier block of `sp`.
fn potential_block<T: Real>(sp: &Spectral<'_, T>, delta_k: &[Complex<T>]) -> Vec<Complex<T>> {
    let mut phi = vec![Complex::new(T::zero(), T::zero()); delta_k.len()];
    apply_block(
        sp.mesh(),
        delta_k,
        &mut phi,
        sp.ky0(),
        false,
        |k, nyq, _| inverse_laplacian(k, nyq),
    );
    phi
}

/// `IFFT(m(k) src(k))` on the real block of `sp`; `scratch` (a Fourier block) is
/// overwritten.
fn filtered<T: Real>(
    sp: &Spectral<'_, T>,
    src: &[Complex<T>],
    scratch: &mut [Complex<T>],
    m: impl Fn([f64; 3], [bool; 3]) -> Complex<f64> + Sync,
) -> Result<Vec<T>, IntegrateError> {
    apply_block(sp.mesh(), src, scratch, sp.ky0(), false, |k, nyq, _| {
        m(k, nyq)
    });
    let mut out = vec![T::zero(); sp.real_len()];
    sp.inverse(scratch, &mut out)?;
    Ok(out)
}

/// Gradient of a potential given in Fourier space: `i k_a phi(k)` for each axis, as real
/// grids flattened into per-cell vectors (of the real block of `sp`), times `sign`.
fn gradient_block<T: Real>(
    sp: &Spectral<'_, T>,
    phi_k: &[Complex<T>],
    sign: f64,
) -> Result<Vec<[T; 3]>, IntegrateError> {
    let mut out = vec![[T::zero(); 3]; sp.real_len()];
    let mut scratch = vec![Complex::new(T::zero(), T::zero()); phi_k.len()];
    for a in 0..3 {
        let field = filtered(sp, phi_k, &mut scratch, derivative(a, sign))?;
        out.par_iter_mut()
            .zip(field.par_iter())
            .for_each(|(o, v)| o[a] = *v);
    }
    Ok(out)
}

/// `psi1` and (for 2LPT) `psi2`, one `[T; 3]` per particle.
pub(crate) type LptFields<T> = (Vec<[T; 3]>, Option<Vec<[T; 3]>>);

/// The LPT displacement fields at unit growth, `psi1` and (for 2LPT) `psi2`, at the cells of
/// the real block of `sp`, from the linear modes on its Fourier block (equations on
/// [`Lpt`]). Serial ([`Lpt::new`]) and distributed runs share this code.
pub(crate) fn lpt_fields<T: Real>(
    sp: &Spectral<'_, T>,
    modes: &[Complex<T>],
    order: LptOrder,
) -> Result<LptFields<T>, IntegrateError> {
    let phi1 = potential_block(sp, modes);
    // psi1 = -grad phi1.
    let psi1 = gradient_block(sp, &phi1, -1.0)?;
    let psi2 = match order {
        LptOrder::First => None,
        LptOrder::Second => Some(second_order(sp, &phi1)?),
    };
    Ok((psi1, psi2))
}

/// `psi2 = grad phi2`, `nabla^2 phi2 = sum_{i<j} (phi_ii phi_jj - phi_ij^2)`.
fn second_order<T: Real>(
    sp: &Spectral<'_, T>,
    phi1: &[Complex<T>],
) -> Result<Vec<[T; 3]>, IntegrateError> {
    let mut scratch = vec![Complex::new(T::zero(), T::zero()); phi1.len()];
    // phi_ij(k) = -k_i k_j phi(k); a mixed derivative is odd in each component, so it
    // vanishes where either component sits at its Nyquist frequency.
    let mut h = |i: usize, j: usize| filtered(sp, phi1, &mut scratch, second_derivative(i, j));
    let diag = [h(0, 0)?, h(1, 1)?, h(2, 2)?];
    let mut source = vec![T::zero(); sp.real_len()];
    {
        let (xx, yy, zz) = (&diag[0], &diag[1], &diag[2]);
        source
            .par_iter_mut()
            .enumerate()
            .for_each(|(c, s)| *s = xx[c] * yy[c] + xx[c] * zz[c] + yy[c] * zz[c]);
    }
    drop(diag);
    for (i, j) in [(0, 1), (0, 2), (1, 2)] {
        let off = h(i, j)?;
        source
            .par_iter_mut()
            .zip(off.par_iter())
            .for_each(|(s, o)| *s = *s - *o * *o);
    }
    let mut source_k = vec![Complex::new(T::zero(), T::zero()); phi1.len()];
    sp.forward(&mut source, &mut source_k)?;
    let phi2 = potential_block(sp, &source_k);
    gradient_block(sp, &phi2, 1.0)
}

/// Vector-Jacobian product of [`lpt_fields`] on the blocks of `sp` (equations on
/// [`Lpt::vjp`]): the cotangent of the linear modes (the Fourier block) for the cotangents of
/// `psi1` and, for 2LPT, `psi2` (the real block's cells). Serial ([`Lpt::vjp`]) and
/// distributed gradients share this code.
pub(crate) fn lpt_fields_vjp<T: Real>(
    sp: &Spectral<'_, T>,
    modes: &[Complex<T>],
    cotangent: &LptCotangent<T>,
) -> Result<Vec<Complex<T>>, IntegrateError> {
    let n = sp.real_len();
    let lengths = [
        ("psi1 cotangent", Some(cotangent.psi1.len())),
        ("psi2 cotangent", cotangent.psi2.as_ref().map(Vec::len)),
    ];
    for (what, got) in lengths {
        if let Some(got) = got.filter(|&g| g != n) {
            return Err(IntegrateError::Length {
                what,
                expected: n,
                got,
            });
        }
    }
    let phi1 = potential_block(sp, modes);
    let mut phi1_bar = vec![Complex::new(T::zero(), T::zero()); modes.len()];
    gradient_vjp(sp, &cotangent.psi1, -1.0, &mut phi1_bar)?;
    if let Some(psi2_bar) = &cotangent.psi2 {
        second_order_vjp(sp, &phi1, psi2_bar, &mut phi1_bar)?;
    }
    // phi1 = -delta / k^2 is a real diagonal multiplier: its own adjoint.
    Ok(potential_block(sp, &phi1_bar))
}

/// Adds to `phi1_bar` the cotangent of `phi1(k)` through [`second_order`] for the
/// cotangent `psi2_bar` of `psi2` (equations on [`Lpt::vjp`]).
fn second_order_vjp<T: Real>(
    sp: &Spectral<'_, T>,
    phi1: &[Complex<T>],
    psi2_bar: &[[T; 3]],
    phi1_bar: &mut [Complex<T>],
) -> Result<(), IntegrateError> {
    let zero = Complex::new(T::zero(), T::zero());
    let mut phi2_bar = vec![zero; phi1.len()];
    gradient_vjp(sp, psi2_bar, 1.0, &mut phi2_bar)?;
    let source_k_bar = potential_block(sp, &phi2_bar);
    drop(phi2_bar);
    let sbar = forward_vjp(sp, &source_k_bar)?;
    drop(source_k_bar);
    let mut scratch = vec![zero; phi1.len()];
    let mut h = |i: usize, j: usize| filtered(sp, phi1, &mut scratch, second_derivative(i, j));
    let diag = [h(0, 0)?, h(1, 1)?, h(2, 2)?];
    // d S / d phi_ii = phi_jj + phi_kk.
    for (i, j, k) in [(0, 1, 2), (1, 0, 2), (2, 0, 1)] {
        let (hj, hk) = (&diag[j], &diag[k]);
        let bar: Vec<T> = sbar
            .par_iter()
            .enumerate()
            .map(|(c, s)| *s * (hj[c] + hk[c]))
            .collect();
        inverse_vjp(sp, bar, phi1_bar, second_derivative(i, i))?;
    }
    drop(diag);
    // d S / d phi_ij = -2 phi_ij for i != j.
    for (i, j) in [(0, 1), (0, 2), (1, 2)] {
        let mut bar = h(i, j)?;
        bar.par_iter_mut()
            .zip(sbar.par_iter())
            .for_each(|(b, s)| *b = -(*b + *b) * *s);
        inverse_vjp(sp, bar, phi1_bar, second_derivative(i, j))?;
    }
    Ok(())
}

/// `c1 psi1_i + c2 psi2_i` for every particle, in f64 per element, rounded once to `T`.
pub(crate) fn combine_fields<T: Real>(
    psi1: &[[T; 3]],
    psi2: Option<&[[T; 3]]>,
    c1: f64,
    c2: f64,
) -> Vec<[T; 3]> {
    match psi2 {
        Some(psi2) => psi1
            .par_iter()
            .zip(psi2.par_iter())
            .map(|(s1, s2)| {
                std::array::from_fn(|a| T::lit(c1 * s1[a].as_f64() + c2 * s2[a].as_f64()))
            })
            .collect(),
        None => psi1
            .par_iter()
            .map(|s1| std::array::from_fn(|a| T::lit(c1 * s1[a].as_f64())))
            .collect(),
    }
}

impl<T: Real> Lpt<T> {
    /// LPT fields from the linear modes at a = 1 (`delta_L(k)` on the particle grid, as from
    /// [`linear_modes`](crate::linear_modes)): `modes` is this rank's Fourier block of
    /// `block`, the block of the particle grid. Collective.
    ///
    /// ```
    /// use pm_cosmo::{Cosmology, LinearPower};
    /// use pm_decomp::SerialComm;
    /// use pm_integrate::{Lpt, LptOrder, ModeOptions, linear_modes, white_noise};
    /// use pm_mesh::{Mesh, MeshBlock, RealField};
    /// let mesh = Mesh::cubic(8, 64.0).unwrap();
    /// let block = MeshBlock::<f64>::whole(mesh).unwrap();
    /// let power = LinearPower::eisenstein_hu(&Cosmology::planck18()).unwrap();
    /// let noise = RealField::from_array(mesh, white_noise(mesh.shape(), 1)).unwrap();
    /// let modes = linear_modes(&SerialComm, &block, &noise, &power, ModeOptions::default()).unwrap();
    /// let lpt = Lpt::new(&SerialComm, &block, &modes, LptOrder::Second).unwrap();
    /// assert_eq!(lpt.len(), 512);
    /// ```
    pub fn new(
        comm: &dyn Comm,
        block: &MeshBlock<T>,
        modes: &FourierField<T>,
        order: LptOrder,
    ) -> Result<Self, IntegrateError> {
        block.check_modes(modes)?;
        let mesh = *block.mesh();
        let sp = Spectral { block, comm };
        let (psi1, psi2) = lpt_fields(&sp, modes.as_slice(), order)?;
        let xr = block.x_planes();
        let plane = (mesh.shape()[1] * mesh.shape()[2]) as u64;
        Ok(Self {
            lattice: Lattice::new(mesh.shape(), mesh.box_size())?,
            ids: xr.start as u64 * plane..xr.end as u64 * plane,
            whole: block.is_whole(),
            psi1,
            psi2,
        })
    }

    /// Vector-Jacobian product of [`Lpt::new`]: this rank's block of the cotangent
    /// `delta_bar(k)` of the linear modes for the cotangents `psi1_bar`, `psi2_bar` of this
    /// rank's fields (2LPT when `cotangent.psi2` is `Some`, 1LPT otherwise). `modes` are the
    /// modes the fields were made from (the 2LPT part is quadratic, so its Jacobian depends on
    /// them; the 1LPT part is linear and does not). Collective.
    ///
    /// # Complex cotangent convention
    ///
    /// A half-complex field is treated as the real vector of its stored `(re, im)` parts,
    /// each stored element counted once (also on the `kz = 0` and `kz = nz/2` planes, where a
    /// mode and its Hermitian partner are both stored, and for the imaginary parts the
    /// inverse FFT discards):
    ///
    /// ```text
    /// dL = sum_stored (delta_bar.re d(delta.re) + delta_bar.im d(delta.im))
    ///    = sum_stored Re(conj(delta_bar_k) d delta_k).
    /// ```
    ///
    /// # Equations
    ///
    /// With `IFFT^T(ybar) = (w_k / N) FFT(ybar)` the adjoint of the inverse FFT in that
    /// convention (`w_k` = [`Mesh::hermitian_weight`], `N` cells; pm-fft's weighted adjoint
    /// identity) and `FFT^T(Xbar) = N IFFT(Xbar / w_k)` that of the forward one:
    ///
    /// ```text
    /// phi1_bar  = sum_a conj(-i k_a) IFFT^T(psi1_bar_a)               (psi1 = -grad phi1)
    /// phi2_bar  = sum_a conj(+i k_a) IFFT^T(psi2_bar_a)               (psi2 = +grad phi2)
    /// S_bar(x)  = FFT^T(-phi2_bar / k^2)                              (phi2 = -S(k)/k^2)
    /// phi_ii_bar = S_bar (phi_jj + phi_kk),  phi_ij_bar = -2 S_bar phi_ij  (i != j)
    /// phi1_bar += sum_{i<=j} (-k_i k_j) IFFT^T(phi_ij_bar)
    /// delta_bar = -phi1_bar / k^2                                      (phi1 = -delta/k^2)
    /// ```
    ///
    /// where `S = sum_{i<j} (phi_ii phi_jj - phi_ij^2)`, every odd derivative is zeroed at
    /// the Nyquist frequency as in the forward transform, and `k = 0` maps to 0. Twenty-one
    /// FFTs for 2LPT, three for 1LPT.
    ///
    /// Errors: [`IntegrateError::Length`] for cotangents of the wrong length,
    /// [`IntegrateError::Mesh`] if `modes` is not the block's.
    pub fn vjp(
        comm: &dyn Comm,
        block: &MeshBlock<T>,
        modes: &FourierField<T>,
        cotangent: &LptCotangent<T>,
    ) -> Result<FourierField<T>, IntegrateError> {
        block.check_modes(modes)?;
        let sp = Spectral { block, comm };
        let bar = lpt_fields_vjp(&sp, modes.as_slice(), cotangent)?;
        Ok(FourierField::from_block(
            *block.mesh(),
            block.ky_rows(),
            bar,
        )?)
    }

    /// The order of the fields (second when `psi2` is present).
    pub fn order(&self) -> LptOrder {
        if self.psi2.is_some() {
            LptOrder::Second
        } else {
            LptOrder::First
        }
    }

    /// The whole particle lattice (the grid of the linear modes).
    pub fn lattice(&self) -> Lattice {
        self.lattice
    }

    /// Global lattice indices (C order) of this rank's particles, consecutive.
    pub fn ids(&self) -> Range<u64> {
        self.ids.clone()
    }

    /// Number of this rank's particles.
    pub fn len(&self) -> usize {
        self.psi1.len()
    }

    /// True when the rank holds no particles.
    pub fn is_empty(&self) -> bool {
        self.psi1.is_empty()
    }

    /// First-order displacement at unit growth, Mpc/h.
    pub fn psi1(&self) -> &[[T; 3]] {
        &self.psi1
    }

    /// Second-order displacement (to be multiplied by D2), Mpc/h; `None` for 1LPT.
    pub fn psi2(&self) -> Option<&[[T; 3]]> {
        self.psi2.as_deref()
    }

    /// This rank's particles at `a`: displacement `D1 psi1 + D2 psi2` and momentum
    /// `gp1 psi1 + gp2 psi2` (no LPT fields carried).
    pub fn state(&self, a: f64, growth: &GrowthTable<f64>) -> Result<State<T>, IntegrateError> {
        let g = growth.at(a)?;
        let combine = |c1: f64, c2: f64| combine_fields(&self.psi1, self.psi2.as_deref(), c1, c2);
        let (disp, mom) = (combine(g.d1, g.d2), combine(g.gp1, g.gp2));
        if self.whole {
            State::new(self.lattice, a, disp, mom)
        } else {
            State::with_ids(self.lattice, a, self.ids.clone().collect(), disp, mom)
        }
    }

    /// [`Lpt::state`], and with `carry_lpt` the fields moved into the state (for steppers
    /// that move the LPT frame, COLA), without a copy.
    pub fn into_state(
        self,
        a: f64,
        growth: &GrowthTable<f64>,
        carry_lpt: bool,
    ) -> Result<State<T>, IntegrateError> {
        let mut state = self.state(a, growth)?;
        if carry_lpt {
            state.psi1 = Some(self.psi1);
            state.psi2 = self.psi2;
        }
        Ok(state)
    }

    /// Vector-Jacobian product of [`Lpt::state`] at `a` (`x0 = D1 psi1 + D2 psi2`,
    /// `p0 = gp1 psi1 + gp2 psi2`): for the cotangents `bar` of the state (this rank's
    /// particles in this `Lpt`'s order; `bar.lpt`, the cotangents the steps' LPT-frame terms
    /// gave the carried fields, is added), returns the total cotangents of `psi1`, `psi2` and
    /// `dL/d(D1, D2, gp1, gp2)` (this rank's sums):
    ///
    /// ```text
    /// psi1_bar = D1 x_bar0 + gp1 p_bar0 + frame.psi1,   psi2_bar = D2 x_bar0 + gp2 p_bar0 + frame.psi2
    /// dL/d(D1, D2, gp1, gp2) = (<x_bar0, psi1>, <x_bar0, psi2>, <p_bar0, psi1>, <p_bar0, psi2>)
    /// ```
    pub fn state_vjp(
        &self,
        a: f64,
        growth: &GrowthTable<f64>,
        bar: StateCotangent<T>,
    ) -> Result<(LptCotangent<T>, [f64; 4]), IntegrateError> {
        let n = self.len();
        for (what, got) in [
            ("disp cotangent", bar.disp.len()),
            ("mom cotangent", bar.mom.len()),
        ] {
            if got != n {
                return Err(IntegrateError::Length {
                    what,
                    expected: n,
                    got,
                });
            }
        }
        let g = growth.at(a)?;
        let StateCotangent {
            disp: x_bar,
            mom: p_bar,
            lpt: frame,
        } = bar;
        let mut psi_bar = frame.unwrap_or_else(|| LptCotangent::zeros(n, self.order()));
        axpy(&mut psi_bar.psi1, g.d1, &x_bar);
        axpy(&mut psi_bar.psi1, g.gp1, &p_bar);
        let mut lpt_growth = [dot(&x_bar, &self.psi1), 0.0, dot(&p_bar, &self.psi1), 0.0];
        if let (Some(psi2), Some(bar2)) = (self.psi2.as_deref(), psi_bar.psi2.as_mut()) {
            axpy(bar2, g.d2, &x_bar);
            axpy(bar2, g.gp2, &p_bar);
            lpt_growth[1] = dot(&x_bar, psi2);
            lpt_growth[3] = dot(&p_bar, psi2);
        }
        Ok((psi_bar, lpt_growth))
    }

    /// Brings the cotangents `bar` of some particles (row `i` of every array is the
    /// particle with global lattice index `ids[i]`, or `i` when `ids` is `None`; held by any
    /// rank) to the rank and position of those particles in this `Lpt`: the inverse of a
    /// run's migrations, by lattice index, ready for [`Lpt::state_vjp`]. On one rank with the
    /// particles in lattice order, `bar` itself (no copy). Collective.
    ///
    /// Errors: a particle that arrives twice or not at all ([`IntegrateError::Length`]).
    pub fn to_lattice_order(
        &self,
        comm: &dyn Comm,
        ids: Option<&[u64]>,
        bar: StateCotangent<T>,
    ) -> Result<StateCotangent<T>, IntegrateError> {
        let Some(ids) = ids else {
            if self.whole {
                return Ok(bar);
            }
            return Err(IntegrateError::Config {
                what: "cotangents",
                reason: "rows without lattice indices on a rank that holds part of the lattice"
                    .into(),
            });
        };
        let StateCotangent { disp, mom, lpt } = bar;
        let mut arrays = vec![disp, mom];
        if let Some(l) = lpt {
            arrays.push(l.psi1);
            arrays.extend(l.psi2);
        }
        let arrays = if comm.size() == 1 {
            arrays
                .iter()
                .map(|a| self.place(ids, a))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            let plane = (self.lattice.shape()[1] * self.lattice.shape()[2]) as u64;
            let split = pm_decomp::BlockSplit::new(self.lattice.shape()[0], comm.size())?;
            let owners: Vec<usize> = ids
                .iter()
                .map(|&id| split.owner((id / plane) as usize).unwrap_or(0))
                .collect();
            let mig = Migration::from_owners(comm, &owners)?;
            let arrived = mig.forward(comm, ids)?;
            arrays
                .iter()
                .map(|a| self.place(&arrived, &mig.forward(comm, a)?))
                .collect::<Result<Vec<_>, _>>()?
        };
        let mut arrays = arrays.into_iter();
        let (disp, mom) = (arrays.next(), arrays.next());
        let (psi1, psi2) = (arrays.next(), arrays.next());
        let (Some(disp), Some(mom)) = (disp, mom) else {
            unreachable!("disp and mom are always put in")
        };
        let lpt = psi1.map(|psi1| LptCotangent { psi1, psi2 });
        Ok(StateCotangent { disp, mom, lpt })
    }

    /// Puts `rows[k]` at the local index of lattice point `ids[k]`.
    fn place(&self, ids: &[u64], rows: &[[T; 3]]) -> Result<Vec<[T; 3]>, IntegrateError> {
        let n = self.len();
        if ids.len() != n {
            return Err(IntegrateError::Length {
                what: "rows brought to the lattice order",
                expected: n,
                got: ids.len(),
            });
        }
        let mut out = vec![[T::zero(); 3]; n];
        for (k, &id) in ids.iter().enumerate() {
            let i = id
                .checked_sub(self.ids.start)
                .map(|i| i as usize)
                .filter(|&i| i < n)
                .ok_or(IntegrateError::Length {
                    what: "rows brought to the lattice order (a particle of another rank)",
                    expected: n,
                    got: ids.len(),
                })?;
            out[i] = rows[k];
        }
        Ok(out)
    }

    /// `c1 psi1_i + c2 psi2_i` for particle `i`: the LPT displacement (`D1`, `D2`), momentum
    /// (`gp1`, `gp2`) or force (`gf1`, `gf2`) of a particle.
    #[inline]
    pub fn combine(&self, i: usize, c1: f64, c2: f64) -> [f64; 3] {
        let s1 = self.psi1[i];
        match &self.psi2 {
            Some(psi2) => std::array::from_fn(|a| c1 * s1[a].as_f64() + c2 * psi2[i][a].as_f64()),
            None => std::array::from_fn(|a| c1 * s1[a].as_f64()),
        }
    }
}
