//! Lagrangian perturbation theory: Zel'dovich (1LPT) and second-order (2LPT) displacements.

use pm_cosmo::GrowthTable;
use pm_fft::{Complex, Fft3d, Real};
use pm_mesh::{FourierField, Lattice, Mesh, RealField};
use rayon::prelude::*;

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

/// `out[k] = f(k) * src[k]` over a half-complex grid, parallel over x planes; `f` gets the
/// wavevector and whether each component sits at its axis's Nyquist frequency.
fn apply<T: Real>(
    mesh: &Mesh,
    src: &FourierField<T>,
    out: &mut FourierField<T>,
    f: impl Fn([f64; 3], [bool; 3]) -> Complex<f64> + Sync,
) {
    let k: [Vec<f64>; 3] = std::array::from_fn(|a| mesh.wavenumbers(a));
    let shape = mesh.shape();
    let [_, ny, nzc] = mesh.complex_shape();
    let nyq = |a: usize, j: usize| shape[a].is_multiple_of(2) && 2 * j == shape[a];
    out.as_slice_mut()
        .par_chunks_mut(ny * nzc)
        .zip(src.as_slice().par_chunks(ny * nzc))
        .enumerate()
        .for_each(|(jx, (dst, src))| {
            for jy in 0..ny {
                for jz in 0..nzc {
                    let i = jy * nzc + jz;
                    let m = f(
                        [k[0][jx], k[1][jy], k[2][jz]],
                        [nyq(0, jx), nyq(1, jy), nyq(2, jz)],
                    );
                    let s = src[i];
                    let (re, im) = (s.re.as_f64(), s.im.as_f64());
                    dst[i] =
                        Complex::new(T::lit(m.re * re - m.im * im), T::lit(m.re * im + m.im * re));
                }
            }
        });
}

/// Gradient of a potential given in Fourier space: `i k_a phi(k)` for each axis, as real
/// grids flattened into per-particle vectors, times `sign`.
fn gradient<T: Real>(
    mesh: &Mesh,
    phi_k: &FourierField<T>,
    sign: f64,
    plan: &dyn Fft3d<T>,
) -> Result<Vec<[T; 3]>, IntegrateError> {
    let mut out = vec![[T::zero(); 3]; mesh.n_cells()];
    let mut scratch = FourierField::zeros(*mesh);
    for a in 0..3 {
        apply(mesh, phi_k, &mut scratch, |k, nyq| {
            if nyq[a] {
                Complex::new(0.0, 0.0)
            } else {
                Complex::new(0.0, sign * k[a])
            }
        });
        let field = scratch.inverse_in_place(plan)?;
        out.par_iter_mut()
            .zip(field.as_slice().par_iter())
            .for_each(|(o, v)| o[a] = *v);
    }
    Ok(out)
}

/// `phi(k) = -delta(k) / k^2` (zero at `k = 0`): the potential of `nabla^2 phi = delta`.
fn potential<T: Real>(mesh: &Mesh, delta_k: &FourierField<T>) -> FourierField<T> {
    let mut phi = FourierField::zeros(*mesh);
    apply(mesh, delta_k, &mut phi, |k, _| {
        let k2 = k[0] * k[0] + k[1] * k[1] + k[2] * k[2];
        if k2 == 0.0 {
            Complex::new(0.0, 0.0)
        } else {
            Complex::new(-1.0 / k2, 0.0)
        }
    });
    phi
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
        let phi1 = potential(&mesh, modes);
        // psi1 = -grad phi1.
        let psi1 = gradient(&mesh, &phi1, -1.0, plan)?;
        let psi2 = match order {
            LptOrder::First => None,
            LptOrder::Second => Some(Self::second_order(&mesh, &phi1, plan)?),
        };
        Ok(Self {
            lattice,
            psi1,
            psi2,
        })
    }

    /// `psi2 = grad phi2`, `nabla^2 phi2 = sum_{i<j} (phi_ii phi_jj - phi_ij^2)`.
    fn second_order(
        mesh: &Mesh,
        phi1: &FourierField<T>,
        plan: &dyn Fft3d<T>,
    ) -> Result<Vec<[T; 3]>, IntegrateError> {
        let mut scratch = FourierField::zeros(*mesh);
        // phi_ij(k) = -k_i k_j phi(k); a mixed derivative is odd in each component, so it
        // vanishes where either component sits at its Nyquist frequency.
        let mut hessian = |i: usize, j: usize| -> Result<RealField<T>, IntegrateError> {
            apply(mesh, phi1, &mut scratch, |k, nyq| {
                if i != j && (nyq[i] || nyq[j]) {
                    Complex::new(0.0, 0.0)
                } else {
                    Complex::new(-k[i] * k[j], 0.0)
                }
            });
            Ok(scratch.clone().inverse_in_place(plan)?)
        };
        let diag = [hessian(0, 0)?, hessian(1, 1)?, hessian(2, 2)?];
        let mut source = RealField::<T>::zeros(*mesh);
        {
            let (xx, yy, zz) = (diag[0].as_slice(), diag[1].as_slice(), diag[2].as_slice());
            source
                .as_slice_mut()
                .par_iter_mut()
                .enumerate()
                .for_each(|(c, s)| *s = xx[c] * yy[c] + xx[c] * zz[c] + yy[c] * zz[c]);
        }
        drop(diag);
        for (i, j) in [(0, 1), (0, 2), (1, 2)] {
            let off = hessian(i, j)?;
            source
                .as_slice_mut()
                .par_iter_mut()
                .zip(off.as_slice().par_iter())
                .for_each(|(s, o)| *s = *s - *o * *o);
        }
        let source_k = source.forward_in_place(plan)?;
        let phi2 = potential(mesh, &source_k);
        gradient(mesh, &phi2, 1.0, plan)
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
        let combine = |c1: f64, c2: f64| -> Vec<[T; 3]> {
            match &self.psi2 {
                Some(psi2) => self
                    .psi1
                    .par_iter()
                    .zip(psi2.par_iter())
                    .map(|(s1, s2)| {
                        std::array::from_fn(|a| T::lit(c1 * s1[a].as_f64() + c2 * s2[a].as_f64()))
                    })
                    .collect(),
                None => self
                    .psi1
                    .par_iter()
                    .map(|s1| std::array::from_fn(|a| T::lit(c1 * s1[a].as_f64())))
                    .collect(),
            }
        };
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
