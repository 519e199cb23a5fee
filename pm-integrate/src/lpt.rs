//! Lagrangian perturbation theory: Zel'dovich (1LPT) and second-order (2LPT) displacements.

use pm_cosmo::GrowthTable;
use pm_fft::{Complex, Fft3d, Real};
use pm_mesh::{FourierField, Lattice, Mesh};
use rayon::prelude::*;

use crate::spectral::{SerialSpectral, Spectral};
use crate::{IntegrateError, State};

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
#[derive(Debug, Clone)]
pub struct Lpt<T: Real> {
    lattice: Lattice,
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
    sp: &dyn Spectral<T>,
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
    sp: &dyn Spectral<T>,
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
    sp: &dyn Spectral<T>,
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
fn potential_block<T: Real>(sp: &dyn Spectral<T>, delta_k: &[Complex<T>]) -> Vec<Complex<T>> {
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
    sp: &dyn Spectral<T>,
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
    sp: &dyn Spectral<T>,
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
    sp: &dyn Spectral<T>,
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
    sp: &dyn Spectral<T>,
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
    sp: &dyn Spectral<T>,
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
    sp: &dyn Spectral<T>,
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
    /// LPT fields from the linear modes at a = 1 (`delta_L(k)` on the particle grid, as
    /// from [`linear_modes`](crate::linear_modes)); `plan` is an FFT of that grid's shape.
    pub fn new(
        modes: &FourierField<T>,
        order: LptOrder,
        plan: &dyn Fft3d<T>,
    ) -> Result<Self, IntegrateError> {
        let mesh = *modes.mesh();
        let lattice = Lattice::new(mesh.shape(), mesh.box_size())?;
        let sp = SerialSpectral::new(mesh, plan)?;
        let (psi1, psi2) = lpt_fields(&sp, modes.as_slice(), order)?;
        Ok(Self {
            lattice,
            psi1,
            psi2,
        })
    }

    /// Vector-Jacobian product of [`Lpt::new`]: the cotangent `delta_bar(k)` of the linear
    /// modes for the cotangents `psi1_bar`, `psi2_bar` of the displacement fields (2LPT when
    /// `cotangent.psi2` is `Some`, 1LPT otherwise). `modes` are the modes the fields were
    /// made from (the 2LPT part is quadratic, so its Jacobian depends on them; the 1LPT part
    /// is linear and does not).
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
    /// [`IntegrateError::Mesh`] if `plan` does not have the modes' shape.
    pub fn vjp(
        modes: &FourierField<T>,
        cotangent: &LptCotangent<T>,
        plan: &dyn Fft3d<T>,
    ) -> Result<FourierField<T>, IntegrateError> {
        let mesh = *modes.mesh();
        let sp = SerialSpectral::new(mesh, plan)?;
        let bar = lpt_fields_vjp(&sp, modes.as_slice(), cotangent)?;
        Ok(FourierField::from_vec(mesh, bar)?)
    }

    /// The order of the fields (second when `psi2` is present).
    pub fn order(&self) -> LptOrder {
        if self.psi2.is_some() {
            LptOrder::Second
        } else {
            LptOrder::First
        }
    }

    /// The particle lattice (the grid of the linear modes).
    pub fn lattice(&self) -> Lattice {
        self.lattice
    }

    /// First-order displacement at unit growth, Mpc/h.
    pub fn psi1(&self) -> &[[T; 3]] {
        &self.psi1
    }

    /// Second-order displacement (to be multiplied by D2), Mpc/h; `None` for 1LPT.
    pub fn psi2(&self) -> Option<&[[T; 3]]> {
        self.psi2.as_deref()
    }

    /// Displacement `D1 psi1 + D2 psi2` and momentum `gp1 psi1 + gp2 psi2` at `a`.
    pub fn state(&self, a: f64, growth: &GrowthTable<f64>) -> Result<State<T>, IntegrateError> {
        let g = growth.at(a)?;
        let (d1, d2, p1, p2) = (g.d1, g.d2, g.gp1, g.gp2);
        let combine = |c1: f64, c2: f64| combine_fields(&self.psi1, self.psi2.as_deref(), c1, c2);
        State::new(self.lattice, a, combine(d1, d2), combine(p1, p2))
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
