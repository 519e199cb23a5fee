//! The PM gravity solve, `accelerations`, and its vector-Jacobian product.

use std::sync::Arc;

use pm_fft::{Complex, CpuFft3d, Fft3d, Real};
use pm_mesh::{
    FourierField, Mesh, Positions, RealField, Scheme, mean_particle_mass, paint, paint_vjp,
    readout_vector, readout_vector_and_vjp,
};
use rayon::prelude::*;

use crate::{ForceError, ForceKernel};

/// Per-axis tables of the kernel on one mesh.
#[derive(Debug, Clone)]
pub(crate) struct AxisTables {
    /// Wavenumbers, h/Mpc.
    k: Vec<f64>,
    /// Gradient symbol `d(k)`, zero at the Nyquist frequency.
    grad: Vec<f64>,
    /// Laplacian symbol `L(k)`.
    lap: Vec<f64>,
    /// `1 / W(k)^2` (paint and readout window) when compensating, else 1.
    inv_window2: Vec<f64>,
}

/// The particle-mesh gravity solve on one mesh:
/// paint -> forward FFT -> kernel -> 3 inverse FFTs -> readout.
///
/// For particles of mean mass (mean density 1 in mesh units, `delta = rho - 1`) it returns
/// the acceleration `F = -nabla psi` with `nabla^2 psi = c delta`, where `c` is the
/// `prefactor`. In pmrs units (DESIGN.md: `p = a^3 E dx/da`, lengths in Mpc/h) the
/// equation of motion is `dp/da = F / (a^2 E)` with `c = 3/2 Omega_m` (FastPM, Feng et al.
/// 2016, eq. 3; pmwd uses the same normalisation). The density enters only through
/// `delta(k != 0)`, so the mean is irrelevant.
///
/// Particles are painted and read out with the same scheme (CIC by default), which makes
/// the total momentum change of a solve vanish to rounding (the kernel operator is
/// antisymmetric). Optionally the paint and readout windows are deconvolved
/// (`1/W(k)^2`, Hockney & Eastwood 1988, sec. 7-8).
///
/// ```
/// use pm_force::{Gravity, NaiveKernel};
/// use pm_mesh::{Lattice, Mesh, Positions};
/// let mesh = Mesh::cubic(16, 64.0).unwrap();
/// let lattice = Lattice::cubic(8, 64.0).unwrap();
/// let disp = vec![[0.0f64; 3]; lattice.len()];
/// let gravity = Gravity::<f64, _>::cpu(mesh, NaiveKernel).unwrap();
/// let mut acc = vec![[1.0f64; 3]; lattice.len()];
/// gravity
///     .accelerations(&Positions::Displaced { lattice, disp: &disp }, 1.5 * 0.3, &mut acc)
///     .unwrap();
/// // A uniform lattice feels no force.
/// assert!(acc.iter().flatten().all(|a| a.abs() < 1e-12));
/// ```
pub struct Gravity<T: Real, K: ForceKernel> {
    mesh: Mesh,
    scheme: Scheme,
    kernel: K,
    plan: Arc<dyn Fft3d<T>>,
    compensate: bool,
    axes: [AxisTables; 3],
}

/// Gradients of a scalar `L` with respect to the non-particle inputs of a solve, returned by
/// [`Gravity::accelerations_vjp`].
#[derive(Debug, Clone, PartialEq)]
pub struct GravityVjp {
    /// `dL/dc`, the derivative with respect to the prefactor `c`.
    pub prefactor: f64,
    /// `dL/dtheta_j` for the kernel parameters.
    pub params: Vec<f64>,
}

impl<T: Real, K: ForceKernel> std::fmt::Debug for Gravity<T, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gravity")
            .field("mesh", &self.mesh)
            .field("scheme", &self.scheme)
            .field("kernel", &self.kernel.name())
            .field("compensate", &self.compensate)
            .finish()
    }
}

impl<T: Real, K: ForceKernel> Gravity<T, K> {
    /// A solver on `mesh` with `kernel` and an FFT `plan` of the mesh's shape; CIC, no
    /// window compensation.
    pub fn new(mesh: Mesh, kernel: K, plan: Arc<dyn Fft3d<T>>) -> Result<Self, ForceError> {
        if plan.shape() != mesh.shape() {
            return Err(ForceError::PlanShape {
                plan: plan.shape(),
                mesh: mesh.shape(),
            });
        }
        let mut gravity = Self {
            mesh,
            scheme: Scheme::Cic,
            kernel,
            plan,
            compensate: false,
            axes: std::array::from_fn(|_| AxisTables {
                k: Vec::new(),
                grad: Vec::new(),
                lap: Vec::new(),
                inv_window2: Vec::new(),
            }),
        };
        gravity.tabulate();
        Ok(gravity)
    }

    /// A solver with a new CPU FFT plan.
    pub fn cpu(mesh: Mesh, kernel: K) -> Result<Self, ForceError> {
        let plan: Arc<dyn Fft3d<T>> = Arc::new(CpuFft3d::<T>::new(mesh.shape())?);
        Self::new(mesh, kernel, plan)
    }

    /// The same solver with another mass-assignment scheme (paint and readout).
    pub fn with_scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = scheme;
        self.tabulate();
        self
    }

    /// The same solver with (or without) deconvolution of the paint and readout windows.
    pub fn with_window_compensation(mut self, compensate: bool) -> Self {
        self.compensate = compensate;
        self.tabulate();
        self
    }

    /// The mesh.
    pub fn mesh(&self) -> &Mesh {
        &self.mesh
    }

    /// The mass-assignment scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The force kernel.
    pub fn kernel(&self) -> &K {
        &self.kernel
    }

    /// Whether the paint and readout windows are deconvolved
    /// ([`Gravity::with_window_compensation`]).
    pub fn window_compensation(&self) -> bool {
        self.compensate
    }

    /// The FFT plan.
    pub fn plan(&self) -> &Arc<dyn Fft3d<T>> {
        &self.plan
    }

    fn tabulate(&mut self) {
        self.axes = tabulate(&self.mesh, &self.kernel, self.scheme, self.compensate);
    }

    /// Force field on the mesh, `F_a = IFFT(i c m_a(k) delta(k))`, from the overdensity in
    /// Fourier space (any mean; `delta(0)` is ignored).
    pub fn force_fields(
        &self,
        delta_k: &FourierField<T>,
        prefactor: f64,
    ) -> Result<[RealField<T>; 3], ForceError> {
        self.check_field(delta_k)?;
        check_prefactor(prefactor)?;
        let mut scratch = FourierField::zeros(self.mesh);
        let mut out = Vec::with_capacity(3);
        for a in 0..3 {
            self.apply_component(delta_k.as_slice(), scratch.as_slice_mut(), a, prefactor);
            out.push(scratch.inverse_in_place(self.plan.as_ref())?);
        }
        Ok(out.try_into().expect("three components"))
    }

    /// `dst = i c m_a(k) src` on the whole Fourier grid ([`apply_component`]).
    fn apply_component(&self, src: &[Complex<T>], dst: &mut [Complex<T>], axis: usize, c: f64) {
        apply_component(&self.mesh, &self.axes, &self.kernel, src, dst, axis, c, 0);
    }

    fn check_field(&self, field: &FourierField<T>) -> Result<(), ForceError> {
        if field.mesh() != &self.mesh {
            return Err(pm_mesh::MeshError::MeshMismatch {
                what: format!("field on {:?}, solver on {:?}", field.mesh(), self.mesh),
            }
            .into());
        }
        Ok(())
    }

    /// Number counts painted on the mesh, in Fourier space, and the mean particle mass.
    fn counts_k(&self, positions: &Positions<'_, T>) -> Result<(FourierField<T>, f64), ForceError> {
        let mut counts = RealField::zeros(self.mesh);
        paint(&mut counts, positions, None, self.scheme)?;
        let mass = mean_particle_mass(&self.mesh, positions.len());
        Ok((counts.forward_in_place(self.plan.as_ref())?, mass))
    }

    /// Accelerations of equal-mass particles (mean density 1), written into `out`
    /// (`out[i] = F(x_i)`, Mpc/h per unit of the time variable squared, see the type docs).
    pub fn accelerations(
        &self,
        positions: &Positions<'_, T>,
        prefactor: f64,
        out: &mut [[T; 3]],
    ) -> Result<(), ForceError> {
        check_prefactor(prefactor)?;
        if out.len() != positions.len() {
            return Err(ForceError::Length {
                what: "accelerations",
                expected: positions.len(),
                got: out.len(),
            });
        }
        if positions.is_empty() {
            return Ok(());
        }
        let (counts_k, mass) = self.counts_k(positions)?;
        let fields = self.force_fields(&counts_k, prefactor * mass)?;
        readout_vector(&fields, positions, self.scheme, out)?;
        Ok(())
    }

    /// Vector-Jacobian product of [`Gravity::accelerations`]: for a cotangent `v` (one
    /// `[T; 3]` per particle) and `L = sum_i v_i . F_i`, **adds** `dL/dx_i` into `grad_pos`
    /// and returns `dL/dc` and `dL/dtheta`.
    ///
    /// The forward pass is recomputed (one paint and four FFTs), then: the readout VJP gives
    /// `dL/dx` at fixed field and the field cotangents `g_a`; the kernel's adjoint is
    /// `delta_bar = IFFT(sum_a conj(i c m_a) FFT(g_a))` (the kernel is a real operator, so its
    /// adjoint multiplies by the complex conjugate); the paint VJP of `delta_bar` adds the
    /// rest of `dL/dx`. Parameter gradients are the Parseval sums
    /// `dL/dtheta = (1/N) sum_k Re[conj(FFT(g_a)) i c dm_a/dtheta delta(k)]`.
    pub fn accelerations_vjp(
        &self,
        positions: &Positions<'_, T>,
        prefactor: f64,
        cotangent: &[[T; 3]],
        grad_pos: &mut [[T; 3]],
    ) -> Result<GravityVjp, ForceError> {
        self.vjp(positions, prefactor, cotangent, grad_pos, None)
    }

    /// [`Gravity::accelerations_vjp`] that also writes the accelerations themselves into
    /// `acc` (one extra readout): the reverse-time adjoint needs both at the same positions.
    pub fn accelerations_and_vjp(
        &self,
        positions: &Positions<'_, T>,
        prefactor: f64,
        cotangent: &[[T; 3]],
        acc: &mut [[T; 3]],
        grad_pos: &mut [[T; 3]],
    ) -> Result<GravityVjp, ForceError> {
        self.vjp(positions, prefactor, cotangent, grad_pos, Some(acc))
    }

    fn vjp(
        &self,
        positions: &Positions<'_, T>,
        prefactor: f64,
        cotangent: &[[T; 3]],
        grad_pos: &mut [[T; 3]],
        acc: Option<&mut [[T; 3]]>,
    ) -> Result<GravityVjp, ForceError> {
        check_prefactor(prefactor)?;
        let n = positions.len();
        let acc_len = acc.as_ref().map_or(n, |a| a.len());
        for (what, got) in [
            ("cotangent", cotangent.len()),
            ("grad_pos", grad_pos.len()),
            ("accelerations", acc_len),
        ] {
            if got != n {
                return Err(ForceError::Length {
                    what,
                    expected: n,
                    got,
                });
            }
        }
        let n_params = self.kernel.params().len();
        if n == 0 {
            return Ok(GravityVjp {
                prefactor: 0.0,
                params: vec![0.0; n_params],
            });
        }
        let (counts_k, mass) = self.counts_k(positions)?;
        let c = prefactor * mass;

        // Readout VJP: dL/dx at fixed field, and the field cotangents g_a.
        let mut field_bar: [RealField<T>; 3] = std::array::from_fn(|_| RealField::zeros(self.mesh));
        {
            let fields = self.force_fields(&counts_k, c)?;
            readout_vector_and_vjp(
                &fields,
                positions,
                self.scheme,
                cotangent,
                acc,
                Some(&mut field_bar),
                Some(&mut *grad_pos),
            )?;
        }

        // Kernel adjoint, accumulated in Fourier space, with the parameter and prefactor sums.
        let mut counts_bar_k = FourierField::<T>::zeros(self.mesh);
        let mut sums = vec![0.0f64; 1 + n_params];
        for (a, bar) in field_bar.iter_mut().enumerate() {
            let g_k = bar.forward_in_place(self.plan.as_ref())?;
            let partial = adjoint_component(
                &self.mesh,
                &self.axes,
                &self.kernel,
                g_k.as_slice(),
                counts_k.as_slice(),
                counts_bar_k.as_slice_mut(),
                a,
                c,
                0,
            );
            for (s, p) in sums.iter_mut().zip(partial) {
                *s += p;
            }
        }
        drop(field_bar);
        let counts_bar = counts_bar_k.inverse_in_place(self.plan.as_ref())?;
        paint_vjp(
            &counts_bar,
            positions,
            None,
            self.scheme,
            Some(grad_pos),
            None,
        )?;

        let n_cells = self.mesh.n_cells() as f64;
        // sums[0] = sum Re[conj(G) i m_a counts] = dL/dc / mass * N.
        Ok(GravityVjp {
            prefactor: sums[0] * mass / n_cells,
            params: sums[1..].iter().map(|s| s * c / n_cells).collect(),
        })
    }
}

pub(crate) fn check_prefactor(c: f64) -> Result<(), ForceError> {
    if c.is_finite() {
        Ok(())
    } else {
        Err(ForceError::Prefactor(c))
    }
}

/// The per-axis kernel tables of `kernel` on `mesh`: wavenumbers, the gradient symbol (zero
/// at the Nyquist frequency of an even axis), the Laplacian symbol and `1/W(k)^2` of `scheme`
/// when `compensate` (else 1).
pub(crate) fn tabulate<K: ForceKernel>(
    mesh: &Mesh,
    kernel: &K,
    scheme: Scheme,
    compensate: bool,
) -> [AxisTables; 3] {
    let dx = mesh.cell_size();
    let shape = mesh.shape();
    std::array::from_fn(|a| {
        let k = mesh.wavenumbers(a);
        let nyquist = |j: usize| shape[a].is_multiple_of(2) && 2 * j == shape[a];
        let grad = (0..k.len())
            .map(|j| {
                if nyquist(j) {
                    0.0
                } else {
                    kernel.gradient_1d(k[j], dx[a])
                }
            })
            .collect();
        let lap = k.iter().map(|&kj| kernel.laplacian_1d(kj, dx[a])).collect();
        let inv_window2 = k
            .iter()
            .map(|&kj| {
                if compensate {
                    scheme.fourier_window(kj, dx[a]).powi(-2)
                } else {
                    1.0
                }
            })
            .collect();
        AxisTables {
            k,
            grad,
            lap,
            inv_window2,
        }
    })
}

/// Unfiltered multipliers `u_a(k)` and the wavevector for mode `(jx, jy, jz)` (global
/// indices): `F_a(k) = i c u_a(k) s_a(k) delta(k)` with `s_a` the kernel's filter.
#[inline]
fn unfiltered(axes: &[AxisTables; 3], j: [usize; 3]) -> ([f64; 3], [f64; 3]) {
    let [x, y, z] = axes;
    let k = [x.k[j[0]], y.k[j[1]], z.k[j[2]]];
    let lap = x.lap[j[0]] + y.lap[j[1]] + z.lap[j[2]];
    if lap == 0.0 {
        return ([0.0; 3], k);
    }
    let base = x.inv_window2[j[0]] * y.inv_window2[j[1]] * z.inv_window2[j[2]] / lap;
    (std::array::from_fn(|a| axes[a].grad[j[a]] * base), k)
}

/// `dst = i c m_a(k) src` on a Fourier block `[nx][ny_l][nz/2+1]` holding the ky-rows
/// `ky0..ky0 + ny_l` (the whole grid for `ky0 = 0`, `ny_l = ny`; a slab FFT's y-slab
/// otherwise), parallel over x planes.
///
/// The multiplier `m_a(k) = u_a(k) s_a(k)` of [`unfiltered`] times the filter, evaluated
/// with the x and y factors hoisted out of the z loop: `m_a = g_a w_x w_y w_z / (l_x + l_y +
/// l_z) * s_a(k)` with the per-axis gradient `g`, inverse squared window `w` and Laplacian
/// `l` tables.
pub(crate) fn apply_component<T: Real, K: ForceKernel>(
    mesh: &Mesh,
    axes: &[AxisTables; 3],
    kernel: &K,
    src: &[Complex<T>],
    dst: &mut [Complex<T>],
    axis: usize,
    c: f64,
    ky0: usize,
) {
    let [nx, _, nzc] = mesh.complex_shape();
    let plane = src.len() / nx;
    let ny_l = plane / nzc;
    let dx = mesh.cell_size();
    let [x, y, z] = axes;
    dst.par_chunks_mut(plane)
        .zip(src.par_chunks(plane))
        .enumerate()
        .for_each(|(jx, (dst, src))| {
            for ly in 0..ny_l {
                let jy = ky0 + ly;
                let lap_xy = x.lap[jx] + y.lap[jy];
                let w_xy = c * x.inv_window2[jx] * y.inv_window2[jy];
                let g_xy = match axis {
                    0 => x.grad[jx],
                    1 => y.grad[jy],
                    _ => 1.0,
                };
                let (dst, src) = (&mut dst[ly * nzc..][..nzc], &src[ly * nzc..][..nzc]);
                for jz in 0..nzc {
                    let lap = lap_xy + z.lap[jz];
                    let g = if axis == 2 { z.grad[jz] } else { g_xy };
                    let m = if lap == 0.0 || g == 0.0 {
                        0.0
                    } else {
                        let k = [x.k[jx], y.k[jy], z.k[jz]];
                        g * w_xy * z.inv_window2[jz] / lap * kernel.filter(k, dx, axis)
                    };
                    let f = T::lit(m);
                    let s = src[jz];
                    // i f (re + i im) = -f im + i f re
                    dst[jz] = Complex::new(-f * s.im, f * s.re);
                }
            }
        });
}

/// On a Fourier block `[nx][ny_l][nz/2+1]` of ky-rows `ky0..ky0 + ny_l` (as
/// [`apply_component`]): `acc += conj(i c m_a) g_k` and the Hermitian-weighted sums
/// `[sum Re(conj(g_k) i m_a counts_k), sum Re(conj(g_k) i dm_a/dtheta_j counts_k)...]`
/// over the block, reduced per x plane and then in plane order (deterministic).
pub(crate) fn adjoint_component<T: Real, K: ForceKernel>(
    mesh: &Mesh,
    axes: &[AxisTables; 3],
    kernel: &K,
    g_k: &[Complex<T>],
    counts_k: &[Complex<T>],
    acc: &mut [Complex<T>],
    axis: usize,
    c: f64,
    ky0: usize,
) -> Vec<f64> {
    let [nx, _, nzc] = mesh.complex_shape();
    let plane = g_k.len() / nx;
    let ny_l = plane / nzc;
    let n_params = kernel.params().len();
    let dx = mesh.cell_size();
    let partials: Vec<Vec<f64>> = acc
        .par_chunks_mut(plane)
        .zip(g_k.par_chunks(plane))
        .zip(counts_k.par_chunks(plane))
        .enumerate()
        .map(|(jx, ((acc, g), counts))| {
            let mut sums = vec![0.0f64; 1 + n_params];
            let mut dfilter = vec![0.0f64; n_params];
            for ly in 0..ny_l {
                for jz in 0..nzc {
                    let idx = ly * nzc + jz;
                    let (u, k) = unfiltered(axes, [jx, ky0 + ly, jz]);
                    if u[axis] == 0.0 {
                        continue;
                    }
                    let filter = kernel.filter(k, dx, axis);
                    let m = u[axis] * filter;
                    let gv = g[idx];
                    let f = T::lit(c * m);
                    // conj(i f) g = -i f g = f im - i f re
                    acc[idx] = acc[idx] + Complex::new(f * gv.im, -f * gv.re);
                    // Re(conj(g) i x) = g.im x.re - g.re x.im, with x = counts(k).
                    let cv = counts[idx];
                    let h = mesh.hermitian_weight(jz);
                    let re =
                        h * (gv.im.as_f64() * cv.re.as_f64() - gv.re.as_f64() * cv.im.as_f64());
                    sums[0] += m * re;
                    if n_params > 0 {
                        kernel.filter_param_grad(k, dx, axis, &mut dfilter);
                        for (s, d) in sums[1..].iter_mut().zip(&dfilter) {
                            *s += u[axis] * d * re;
                        }
                    }
                }
            }
            sums
        })
        .collect();
    let mut total = vec![0.0f64; 1 + n_params];
    for p in partials {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}
