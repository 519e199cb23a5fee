//! The PM gravity solve, `accelerations`, and its vector-Jacobian product, on one rank's
//! [`MeshBlock`] of the mesh: the serial solve is the one-rank case.

use std::sync::Arc;

use pm_decomp::{Comm, CommExt, DecompError, PhaseTimes, Stopwatch};
use pm_fft::{Complex, Fft3d, Real};
use pm_mesh::{
    Mesh, MeshBlock, ParticleGrads, Positions, Scheme, VectorReadout, mean_particle_mass,
};
use rayon::prelude::*;

use crate::{ForceError, ForceKernel};

/// Per-axis tables of the kernel on one mesh.
#[derive(Debug, Clone)]
struct AxisTables {
    /// Wavenumbers, h/Mpc.
    k: Vec<f64>,
    /// Gradient symbol `d(k)`, zero at the Nyquist frequency.
    grad: Vec<f64>,
    /// Laplacian symbol `L(k)`.
    lap: Vec<f64>,
    /// `1 / W(k)^2` (paint and readout window) when compensating, else 1.
    inv_window2: Vec<f64>,
}

/// The particle-mesh gravity solve on one rank's [`MeshBlock`] of a mesh:
/// paint -> forward FFT -> kernel -> 3 inverse FFTs -> readout.
///
/// For particles of mean mass (mean density 1 in mesh units, `delta = rho - 1`) it returns
/// the acceleration `F = -nabla psi` with `nabla^2 psi = c delta`, where `c` is the
/// `prefactor`. In pmrs units (docs/ARCHITECTURE.md: `p = a^3 E dx/da`, lengths in Mpc/h) the
/// equation of motion is `dp/da = F / (a^2 E)` with `c = 3/2 Omega_m` (FastPM, Feng et al.
/// 2016, eq. 3; pmwd uses the same normalisation). The density enters only through
/// `delta(k != 0)`, so the mean is irrelevant.
///
/// Particles are painted and read out with the same scheme (CIC by default), which makes
/// the total momentum change of a solve vanish to rounding (the kernel operator is
/// antisymmetric). Optionally the paint and readout windows are deconvolved
/// (`1/W(k)^2`, Hockney & Eastwood 1988, sec. 7-8).
///
/// # One rank or many
///
/// Every method takes the communicator the solver was made for ([`Gravity::cpu`] and
/// [`Gravity::new`]: one rank, [`pm_decomp::SerialComm`]; [`Gravity::on`]: any
/// communicator) and is collective over it. Per rank, with the particles of its slab:
///
/// ```text
/// paint           particles -> padded x-slab [lo + nx_l + hi][ny][nz]    (weights 1)
/// add_ghosts      ghost planes summed into their owners          (no-op on one rank)
/// forward FFT     x-slab [nx_l][ny][nz] -> y-slab [nx][ny_l][nz/2+1] (ky-rows ky0..)
/// kernel          F_a(k) = i c m_a(k) delta(k), c = prefactor * N_cells / N_p
/// inverse FFT     per axis, into the owned planes of a padded array
/// fill_ghosts     ghost planes copied from their owners          (no-op on one rank)
/// readout         padded force fields -> accelerations of the rank's particles
/// ```
///
/// The particles given to a rank must be those whose x-plane `floor(x / cell) mod nx` it
/// owns (the output of `pm_decomp::Migration::for_slab_x`; on one rank, any); `N_p` is the
/// total over ranks. The forces equal the one-rank solve's to rounding on any number of
/// ranks. Errors are agreed on before the first exchange: when one rank's input is invalid
/// (wrong lengths, particles off its slab, non-finite values) that rank returns its own
/// error and the others [`DecompError::Collective`], instead of waiting forever.
///
/// Memory per rank: three padded real slabs, one Fourier slab for the density and one
/// scratch, plus the slab FFT's transients on several ranks.
///
/// ```
/// use pm_decomp::SerialComm;
/// use pm_force::{Gravity, NaiveKernel};
/// use pm_mesh::{Lattice, Mesh, Positions};
/// let mesh = Mesh::cubic(16, 64.0).unwrap();
/// let lattice = Lattice::cubic(8, 64.0).unwrap();
/// let disp = vec![[0.0f64; 3]; lattice.len()];
/// let gravity = Gravity::<f64, _>::cpu(mesh, NaiveKernel).unwrap();
/// let mut acc = vec![[1.0f64; 3]; lattice.len()];
/// let positions = Positions::Displaced { lattice, disp: &disp };
/// gravity.accelerations(&SerialComm, &positions, 1.5 * 0.3, &mut acc).unwrap();
/// // A uniform lattice feels no force.
/// assert!(acc.iter().flatten().all(|a| a.abs() < 1e-12));
/// ```
///
/// On two thread ranks, one particle each:
///
/// ```
/// use pm_decomp::{Comm, ThreadComm};
/// use pm_force::{FastPmKernel, Gravity};
/// use pm_mesh::{Mesh, Positions};
/// let mesh = Mesh::cubic(8, 32.0).unwrap();
/// let acc = ThreadComm::run(2, |comm| {
///     let gravity = Gravity::<f64, _>::on(mesh, FastPmKernel, comm).unwrap();
///     // Rank 0 owns x in [0, 16) Mpc/h, rank 1 [16, 32).
///     let x = [[10.0 + 8.0 * comm.rank() as f64, 16.0, 16.0]];
///     let mut acc = [[0.0; 3]];
///     gravity.accelerations(comm, &Positions::Absolute(&x), 1.0, &mut acc).unwrap();
///     acc[0]
/// })
/// .unwrap();
/// // The two particles attract: equal and opposite forces along x.
/// assert!(acc[0][0] > 0.0);
/// assert!((acc[0][0] + acc[1][0]).abs() < 1e-10 * acc[0][0]);
/// ```
pub struct Gravity<T: Real, K: ForceKernel> {
    block: MeshBlock<T>,
    scheme: Scheme,
    kernel: K,
    compensate: bool,
    axes: [AxisTables; 3],
    timers: Timers,
}

/// Per-rank wall time of the phases of [`Gravity`] (the FFTs' are the block's).
#[derive(Debug, Default)]
struct Timers {
    /// Everything in `accelerations` and the VJPs.
    total: Stopwatch,
    paint: Stopwatch,
    halo: Stopwatch,
    readout: Stopwatch,
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
            .field("block", &self.block)
            .field("scheme", &self.scheme)
            .field("kernel", &self.kernel.name())
            .field("compensate", &self.compensate)
            .finish()
    }
}

/// The painted counts in Fourier space (this rank's slab) and the mean particle mass.
type Counts<T> = (Vec<Complex<T>>, f64);

impl<T: Real, K: ForceKernel> Gravity<T, K> {
    /// A solver with `kernel` on the mesh of `block` (one rank's share of it; its ghost
    /// planes are set for the scheme); CIC, no window compensation.
    pub fn with_block(block: MeshBlock<T>, kernel: K) -> Result<Self, ForceError> {
        let scheme = Scheme::Cic;
        let block = block.with_ghosts_for(scheme)?;
        let axes = tabulate(block.mesh(), &kernel, scheme, false);
        Ok(Self {
            block,
            scheme,
            kernel,
            compensate: false,
            axes,
            timers: Timers::default(),
        })
    }

    /// A one-rank solver on `mesh` with `kernel` and an FFT `plan` of the mesh's shape;
    /// CIC, no window compensation.
    pub fn new(mesh: Mesh, kernel: K, plan: Arc<dyn Fft3d<T>>) -> Result<Self, ForceError> {
        if plan.shape() != mesh.shape() {
            return Err(ForceError::PlanShape {
                plan: plan.shape(),
                mesh: mesh.shape(),
            });
        }
        Self::with_block(MeshBlock::with_plan(mesh, plan)?, kernel)
    }

    /// A one-rank solver with a new CPU FFT plan.
    pub fn cpu(mesh: Mesh, kernel: K) -> Result<Self, ForceError> {
        Self::with_block(MeshBlock::whole(mesh)?, kernel)
    }

    /// The solver of the calling rank of `comm` (the slab FFT on several ranks, the CPU plan
    /// on one).
    ///
    /// Errors: more ranks than planes of the mesh along x or y.
    pub fn on(mesh: Mesh, kernel: K, comm: &dyn Comm) -> Result<Self, ForceError> {
        Self::with_block(MeshBlock::new(mesh, comm)?, kernel)
    }

    /// The same solver with another mass-assignment scheme (paint and readout); the ghost
    /// planes follow the scheme.
    pub fn with_scheme(mut self, scheme: Scheme) -> Result<Self, ForceError> {
        self.scheme = scheme;
        self.block = self.block.with_ghosts_for(scheme)?;
        self.tabulate();
        Ok(self)
    }

    /// The same solver with (or without) deconvolution of the paint and readout windows.
    pub fn with_window_compensation(mut self, compensate: bool) -> Self {
        self.compensate = compensate;
        self.tabulate();
        self
    }

    /// The global mesh.
    pub fn mesh(&self) -> &Mesh {
        self.block.mesh()
    }

    /// This rank's block of the mesh (decomposition, ghosts, FFT).
    pub fn block(&self) -> &MeshBlock<T> {
        &self.block
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

    fn tabulate(&mut self) {
        self.axes = tabulate(
            self.block.mesh(),
            &self.kernel,
            self.scheme,
            self.compensate,
        );
    }

    /// Wall time this rank spent in the solves and VJPs since the solver was made or
    /// [`Gravity::reset_times`], per phase: `fft` and `transpose` of the FFTs, `paint` (and
    /// the paint VJP), `halo` (the ghost exchanges), `readout` (and its VJP), `other` the
    /// rest (mostly the kernel in Fourier space and the allocations); `migration` that of
    /// the particles to its block's slabs ([`MeshBlock::migration_stopwatch`]).
    pub fn times(&self) -> PhaseTimes {
        let t = &self.timers;
        let mut p = PhaseTimes {
            paint: t.paint.seconds(),
            halo: t.halo.seconds(),
            readout: t.readout.seconds(),
            ..self.block.times()
        };
        p.other = (t.total.seconds() - (p.total() - p.migration)).max(0.0);
        p
    }

    /// Sets the accumulated [`Gravity::times`] back to zero.
    pub fn reset_times(&self) {
        self.block.reset_times();
        let t = &self.timers;
        for s in [&t.total, &t.paint, &t.halo, &t.readout] {
            s.reset();
        }
    }

    /// Paints the local particles (after the local checks `check`), agrees on failure with
    /// the other ranks, adds the ghosts and transforms: the counts in Fourier space (this
    /// rank's slab) and the mean particle mass `N_cells / N_p`; `None` when no rank has
    /// particles.
    fn counts_k(
        &self,
        comm: &dyn Comm,
        positions: &Positions<'_, T>,
        check: Result<(), ForceError>,
    ) -> Result<Option<Counts<T>>, ForceError> {
        let block = &self.block;
        let mut padded = block.zeros_padded();
        let local = check.and_then(|()| {
            self.timers
                .paint
                .time(|| block.paint(&mut padded, positions, None, self.scheme))
                .map_err(Into::into)
        });
        let mut agree = [positions.len() as u64, u64::from(local.is_err())];
        if comm.size() > 1 {
            comm.all_reduce_sum(&mut agree)?;
        }
        local?;
        if agree[1] > 0 {
            return Err(DecompError::Collective(format!(
                "{} rank(s) passed invalid input to the distributed gravity solve",
                agree[1]
            ))
            .into());
        }
        if agree[0] == 0 {
            return Ok(None);
        }
        self.timers
            .halo
            .time(|| block.add_ghosts(comm, &mut padded))?;
        let mut counts_k = block.zeros_fourier();
        let owned = block.owned_elements();
        block.forward(comm, &mut padded[owned], &mut counts_k)?;
        let n_total = usize::try_from(agree[0]).unwrap_or(usize::MAX);
        Ok(Some((counts_k, mean_particle_mass(block.mesh(), n_total))))
    }

    /// Force field on the mesh, `F_a = IFFT(i c m_a(k) delta(k))`, from this rank's Fourier
    /// slab of the overdensity (any mean; `delta(0)` is ignored): the three components as
    /// padded real slabs with filled ghosts (on one rank, the whole grid). Collective.
    pub fn force_fields(
        &self,
        comm: &dyn Comm,
        delta_k: &[Complex<T>],
        prefactor: f64,
    ) -> Result<[Vec<T>; 3], ForceError> {
        check_prefactor(prefactor)?;
        check_len("delta_k", self.block.complex_len(), delta_k.len())?;
        let block = &self.block;
        let owned = block.owned_elements();
        let mut scratch = block.zeros_fourier();
        let mut out: [Vec<T>; 3] = std::array::from_fn(|_| Vec::new());
        for (a, field) in out.iter_mut().enumerate() {
            self.apply_component(delta_k, &mut scratch, a, prefactor);
            let mut padded = block.zeros_padded();
            block.inverse(comm, &mut scratch, &mut padded[owned.clone()])?;
            self.timers
                .halo
                .time(|| block.fill_ghosts(comm, &mut padded))?;
            *field = padded;
        }
        Ok(out)
    }

    /// Accelerations of this rank's particles (all particles of equal mass, mean density 1
    /// over all ranks), written into `out` (`out[i] = F(x_i)`, Mpc/h per unit of the time
    /// variable squared, see the type docs). Collective.
    ///
    /// Errors: `out.len() != positions.len()` ([`ForceError::Length`]), a non-finite
    /// prefactor, invalid positions or particles off this rank's slab
    /// ([`pm_mesh::MeshError::OutsideSlab`]), a communicator that is not the block's;
    /// another rank's error as [`DecompError::Collective`].
    pub fn accelerations(
        &self,
        comm: &dyn Comm,
        positions: &Positions<'_, T>,
        prefactor: f64,
        out: &mut [[T; 3]],
    ) -> Result<(), ForceError> {
        self.timers
            .total
            .time(|| self.accelerations_untimed(comm, positions, prefactor, out))
    }

    fn accelerations_untimed(
        &self,
        comm: &dyn Comm,
        positions: &Positions<'_, T>,
        prefactor: f64,
        out: &mut [[T; 3]],
    ) -> Result<(), ForceError> {
        self.block.check_comm(comm)?;
        let check = check_prefactor(prefactor)
            .and_then(|()| check_len("accelerations", positions.len(), out.len()));
        let Some((counts_k, mass)) = self.counts_k(comm, positions, check)? else {
            return Ok(());
        };
        let fields = self.force_fields(comm, &counts_k, prefactor * mass)?;
        drop(counts_k);
        let refs = [&fields[0][..], &fields[1][..], &fields[2][..]];
        let outputs = VectorReadout {
            values: Some(out),
            ..VectorReadout::default()
        };
        self.timers.readout.time(|| {
            self.block
                .readout_vector_and_vjp(refs, positions, self.scheme, &[], outputs)
        })?;
        Ok(())
    }

    /// Vector-Jacobian product of [`Gravity::accelerations`]: for a cotangent `v` (one
    /// `[T; 3]` per local particle) and `L = sum_i v_i . F_i` summed over all ranks,
    /// **adds** `dL/dx_i` of the local particles into `grad_pos` and returns `dL/dc` and
    /// `dL/dtheta` (the same on every rank). Collective.
    ///
    /// The forward pass is recomputed (one paint and four FFTs), then each step is replaced
    /// by its adjoint: the readout VJP gives `dL/dx` at fixed field and the padded field
    /// cotangents `g_a`; `add_ghosts` (the adjoint of `fill_ghosts`); the kernel's adjoint
    /// `delta_bar = IFFT(sum_a conj(i c m_a) FFT(g_a))` (the kernel is a real operator, so
    /// its adjoint multiplies by the complex conjugate); `fill_ghosts` (the adjoint of
    /// `add_ghosts`); the paint VJP of `delta_bar` adds the rest of `dL/dx`. The adjoints of
    /// the inverse and forward FFTs are applied as forward and inverse: the Hermitian weight
    /// and the `N` of `F^T = N F^{-1} W` cancel around the diagonal kernel. Parameter
    /// gradients are the Parseval sums `dL/dtheta = (1/N) sum_k Re[conj(FFT(g_a)) i c
    /// dm_a/dtheta delta(k)]`, reduced over ranks in rank order.
    pub fn accelerations_vjp(
        &self,
        comm: &dyn Comm,
        positions: &Positions<'_, T>,
        prefactor: f64,
        cotangent: &[[T; 3]],
        grad_pos: &mut [[T; 3]],
    ) -> Result<GravityVjp, ForceError> {
        let arrays = VjpArrays {
            cotangent,
            grad_pos,
            acc: None,
        };
        self.accelerations_and_vjp(comm, positions, prefactor, arrays)
    }

    /// [`Gravity::accelerations_vjp`] that also writes the accelerations themselves into
    /// `arrays.acc` when given (one extra readout in the same pass): the reverse-time adjoint
    /// needs both at the same positions.
    pub fn accelerations_and_vjp(
        &self,
        comm: &dyn Comm,
        positions: &Positions<'_, T>,
        prefactor: f64,
        arrays: VjpArrays<'_, T>,
    ) -> Result<GravityVjp, ForceError> {
        self.timers
            .total
            .time(|| self.vjp_untimed(comm, positions, prefactor, arrays))
    }

    fn vjp_untimed(
        &self,
        comm: &dyn Comm,
        positions: &Positions<'_, T>,
        prefactor: f64,
        arrays: VjpArrays<'_, T>,
    ) -> Result<GravityVjp, ForceError> {
        self.block.check_comm(comm)?;
        let VjpArrays {
            cotangent,
            grad_pos,
            acc,
        } = arrays;
        let n = positions.len();
        let acc_len = acc.as_ref().map_or(n, |a| a.len());
        let check = check_prefactor(prefactor)
            .and_then(|()| check_len("cotangent", n, cotangent.len()))
            .and_then(|()| check_len("grad_pos", n, grad_pos.len()))
            .and_then(|()| check_len("accelerations", n, acc_len));
        let n_params = self.kernel.params().len();
        let Some((counts_k, mass)) = self.counts_k(comm, positions, check)? else {
            return Ok(GravityVjp {
                prefactor: 0.0,
                params: vec![0.0; n_params],
            });
        };
        let c = prefactor * mass;
        let block = &self.block;
        let owned = block.owned_elements();

        // Readout VJP: dL/dx at fixed field, and the padded field cotangents g_a.
        let mut bars: [Vec<T>; 3] = std::array::from_fn(|_| block.zeros_padded());
        {
            let fields = self.force_fields(comm, &counts_k, c)?;
            let refs = [&fields[0][..], &fields[1][..], &fields[2][..]];
            let [b0, b1, b2] = &mut bars;
            let outputs = VectorReadout {
                values: acc,
                grad_fields: Some([&mut b0[..], &mut b1[..], &mut b2[..]]),
                grad_pos: Some(&mut *grad_pos),
            };
            self.timers.readout.time(|| {
                block.readout_vector_and_vjp(refs, positions, self.scheme, cotangent, outputs)
            })?;
        }

        // fill_ghosts^T = add_ghosts, then the kernel adjoint in Fourier space.
        let mut counts_bar_k = block.zeros_fourier();
        let mut g_k = block.zeros_fourier();
        let mut sums = vec![0.0f64; 1 + n_params];
        for (a, bar) in bars.iter_mut().enumerate() {
            self.timers.halo.time(|| block.add_ghosts(comm, bar))?;
            block.forward(comm, &mut bar[owned.clone()], &mut g_k)?;
            let slabs = AdjointSlabs {
                g_k: &g_k,
                counts_k: &counts_k,
                acc: &mut counts_bar_k,
            };
            let partial = self.adjoint_component(slabs, a, c);
            for (s, p) in sums.iter_mut().zip(partial) {
                *s += p;
            }
        }
        drop(bars);
        drop(g_k);
        if comm.size() > 1 {
            comm.all_reduce_sum(&mut sums)?;
        }

        // add_ghosts^T = fill_ghosts, then the paint VJP.
        let mut counts_bar = block.zeros_padded();
        block.inverse(comm, &mut counts_bar_k, &mut counts_bar[owned])?;
        self.timers
            .halo
            .time(|| block.fill_ghosts(comm, &mut counts_bar))?;
        self.timers.paint.time(|| {
            let grads = ParticleGrads {
                pos: Some(grad_pos),
                weights: None,
            };
            block.paint_vjp(&counts_bar, positions, None, self.scheme, grads)
        })?;

        let n_cells = block.mesh().n_cells() as f64;
        // sums[0] = sum Re[conj(G) i m_a counts] = dL/dc / mass * N.
        Ok(GravityVjp {
            prefactor: sums[0] * mass / n_cells,
            params: sums[1..].iter().map(|s| s * c / n_cells).collect(),
        })
    }
}

/// The per-particle arrays of a force VJP ([`Gravity::accelerations_and_vjp`]): the
/// cotangent of the accelerations in, the position gradient (accumulated into) and
/// optionally the accelerations out.
#[derive(Debug)]
pub struct VjpArrays<'a, T> {
    /// `v_i`, one `[T; 3]` per particle: `L = sum_i v_i . F_i`.
    pub cotangent: &'a [[T; 3]],
    /// `dL/dx_i`, Mpc/h, **added** into.
    pub grad_pos: &'a mut [[T; 3]],
    /// `F(x_i)`, written when given.
    pub acc: Option<&'a mut [[T; 3]]>,
}

fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), ForceError> {
    if got == expected {
        Ok(())
    } else {
        Err(ForceError::Length {
            what,
            expected,
            got,
        })
    }
}

fn check_prefactor(c: f64) -> Result<(), ForceError> {
    if c.is_finite() {
        Ok(())
    } else {
        Err(ForceError::Prefactor(c))
    }
}

/// The per-axis kernel tables of `kernel` on `mesh`: wavenumbers, the gradient symbol (zero
/// at the Nyquist frequency of an even axis), the Laplacian symbol and `1/W(k)^2` of `scheme`
/// when `compensate` (else 1).
fn tabulate<K: ForceKernel>(
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

impl<T: Real, K: ForceKernel> Gravity<T, K> {
    /// `dst = i c m_a(k) src` on this rank's Fourier slab `[nx][ny_l][nz/2+1]` of ky-rows
    /// `ky0..ky0 + ny_l` (the whole grid on one rank), parallel over x planes.
    ///
    /// The multiplier `m_a(k) = u_a(k) s_a(k)` of [`unfiltered`] times the filter, evaluated
    /// with the x and y factors hoisted out of the z loop: `m_a = g_a w_x w_y w_z / (l_x +
    /// l_y + l_z) * s_a(k)` with the per-axis gradient `g`, inverse squared window `w` and
    /// Laplacian `l` tables.
    fn apply_component(&self, src: &[Complex<T>], dst: &mut [Complex<T>], axis: usize, c: f64) {
        let mesh = self.block.mesh();
        let kernel = &self.kernel;
        let ky0 = self.block.ky_rows().start;
        let [nx, _, nzc] = mesh.complex_shape();
        let plane = src.len() / nx;
        let ny_l = plane / nzc;
        let dx = mesh.cell_size();
        let [x, y, z] = &self.axes;
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

    /// On this rank's Fourier slab (as [`Gravity::apply_component`]): `acc += conj(i c m_a)
    /// g_k` and the Hermitian-weighted sums `[sum Re(conj(g_k) i m_a counts_k), sum
    /// Re(conj(g_k) i dm_a/dtheta_j counts_k)...]` over the slab, reduced per x plane and
    /// then in plane order (deterministic).
    fn adjoint_component(&self, slabs: AdjointSlabs<'_, T>, axis: usize, c: f64) -> Vec<f64> {
        let AdjointSlabs { g_k, counts_k, acc } = slabs;
        let mesh = self.block.mesh();
        let (axes, kernel) = (&self.axes, &self.kernel);
        let ky0 = self.block.ky_rows().start;
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
}

/// The Fourier slabs of one component of the kernel adjoint: the field cotangent `g_k`, the
/// painted counts and the accumulated density cotangent.
struct AdjointSlabs<'a, T> {
    g_k: &'a [Complex<T>],
    counts_k: &'a [Complex<T>],
    acc: &'a mut [Complex<T>],
}
