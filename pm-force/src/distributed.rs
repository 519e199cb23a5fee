//! The PM gravity solve on a slab decomposition, [`SlabGravity`], and its VJP.

use pm_decomp::{Comm, CommData, CommExt, DecompError, PhaseTimes, SlabDecomposition, Stopwatch};
use pm_fft::{Complex, Real, SlabFft};
use pm_mesh::{
    Mesh, Positions, Scheme, SlabMesh, mean_particle_mass, paint_slab, paint_slab_vjp,
    readout_slab_vector, readout_slab_vector_and_vjp,
};

use crate::gravity::{AxisTables, adjoint_component, apply_component, check_prefactor, tabulate};
use crate::{ForceError, ForceKernel, GravityVjp};

/// The particle-mesh gravity solve of [`crate::Gravity`] distributed over the ranks of a
/// communicator with a [`SlabDecomposition`]: every rank holds the particles of its x-slab
/// and gets their accelerations, equal to the serial solve's (to rounding, for any number of
/// ranks).
///
/// Per rank, with `P` ranks (all steps collective):
///
/// ```text
/// paint_slab      particles -> padded x-slab [lo + nx_l + hi][ny][nz]    (weights 1)
/// halo_add        ghost planes summed into their owners
/// SlabFft forward x-slab [nx_l][ny][nz] -> y-slab [nx][ny_l][nz/2+1] (ky-rows ky0..)
/// kernel          F_a(k) = i c m_a(k) delta(k), m_a as in Gravity (same tables, filter,
///                 Nyquist and k = 0 rules, optional 1/W(k)^2), c = prefactor * N_cells / N_p
/// SlabFft inverse per axis, into the owned planes of a padded array
/// halo_fill       ghost planes copied from their owners
/// readout_slab    padded force fields -> accelerations of the rank's particles
/// ```
///
/// The particles given to a rank must be those whose x-plane `floor(x / cell) mod nx` it
/// owns (the output of `pm_decomp::Migration::for_slab_x`); `N_p` is the total over ranks.
/// Any finite positions are wrapped periodically, as in the serial solve.
///
/// Errors are agreed on before the first exchange: when one rank's input is invalid (wrong
/// lengths, particles off its slab, non-finite values) that rank returns its own error and
/// the others [`DecompError::Collective`], instead of waiting forever.
///
/// Wall time per phase on this rank is accumulated over calls ([`SlabGravity::times`]).
///
/// Memory per rank: three padded real slabs, one Fourier y-slab for the density and one
/// scratch (as the serial solve per rank), plus the slab FFT's transients.
///
/// ```
/// use pm_decomp::{Comm, SlabDecomposition, ThreadComm};
/// use pm_force::{FastPmKernel, SlabGravity};
/// use pm_mesh::{Mesh, Positions};
/// let mesh = Mesh::cubic(8, 32.0).unwrap();
/// let acc = ThreadComm::run(2, |comm| {
///     let decomp = SlabDecomposition::for_comm(mesh.shape(), comm).unwrap();
///     let gravity = SlabGravity::<f64, _>::new(mesh, FastPmKernel, decomp).unwrap();
///     // Rank 0 owns x in [0, 16) Mpc/h, rank 1 [16, 32): one particle each.
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
pub struct SlabGravity<T: Real + CommData, K: ForceKernel> {
    mesh: Mesh,
    scheme: Scheme,
    kernel: K,
    compensate: bool,
    slab: SlabMesh,
    fft: SlabFft<T>,
    axes: [AxisTables; 3],
    timers: Timers,
}

/// Per-rank wall time of the phases of [`SlabGravity`] (the FFT's are its own).
#[derive(Debug, Default)]
struct Timers {
    /// Everything in `accelerations` and the VJPs.
    total: Stopwatch,
    paint: Stopwatch,
    halo: Stopwatch,
    readout: Stopwatch,
}

impl<T: Real + CommData, K: ForceKernel> std::fmt::Debug for SlabGravity<T, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlabGravity")
            .field("mesh", &self.mesh)
            .field("scheme", &self.scheme)
            .field("kernel", &self.kernel.name())
            .field("compensate", &self.compensate)
            .field("decomposition", self.fft.decomposition())
            .finish()
    }
}

impl<T: Real + CommData, K: ForceKernel> SlabGravity<T, K> {
    /// A solver on `mesh` with `kernel` for the rank of `decomp`; CIC, no window
    /// compensation (the defaults of [`crate::Gravity`]).
    ///
    /// Errors: [`ForceError::PlanShape`] when the decomposition's shape is not the mesh's.
    pub fn new(mesh: Mesh, kernel: K, decomp: SlabDecomposition) -> Result<Self, ForceError> {
        use pm_decomp::Decomposition;
        if decomp.shape() != mesh.shape() {
            return Err(ForceError::PlanShape {
                plan: decomp.shape(),
                mesh: mesh.shape(),
            });
        }
        let scheme = Scheme::Cic;
        let slab = SlabMesh::for_scheme(mesh, decomp.clone(), scheme)?;
        let fft = SlabFft::new(decomp)?;
        let axes = tabulate(&mesh, &kernel, scheme, false);
        Ok(Self {
            mesh,
            scheme,
            kernel,
            compensate: false,
            slab,
            fft,
            axes,
            timers: Timers::default(),
        })
    }

    /// Wall time this rank spent in [`SlabGravity::accelerations`] and the VJPs since the
    /// solver was made or [`SlabGravity::reset_times`], per phase: `fft` and `transpose` of
    /// the slab FFTs, `paint` (and the paint VJP), `halo` (halo add and fill), `readout`
    /// (and its VJP), `other` the rest (mostly the kernel in Fourier space and the
    /// allocations); `migration` is zero.
    pub fn times(&self) -> PhaseTimes {
        let t = &self.timers;
        let mut p = PhaseTimes {
            paint: t.paint.seconds(),
            halo: t.halo.seconds(),
            readout: t.readout.seconds(),
            ..self.fft.times()
        };
        p.other = (t.total.seconds() - p.total()).max(0.0);
        p
    }

    /// Sets the accumulated [`SlabGravity::times`] back to zero.
    pub fn reset_times(&self) {
        self.fft.reset_times();
        let t = &self.timers;
        for s in [&t.total, &t.paint, &t.halo, &t.readout] {
            s.reset();
        }
    }

    /// The same solver with another mass-assignment scheme (paint and readout); the halo
    /// widths follow the scheme (`pm_decomp::widths_for_support`).
    pub fn with_scheme(mut self, scheme: Scheme) -> Result<Self, ForceError> {
        self.scheme = scheme;
        self.slab = SlabMesh::for_scheme(self.mesh, self.fft.decomposition().clone(), self.scheme)?;
        self.axes = tabulate(&self.mesh, &self.kernel, self.scheme, self.compensate);
        Ok(self)
    }

    /// The same solver with (or without) deconvolution of the paint and readout windows,
    /// `1/W(k)^2`, as [`crate::Gravity::with_window_compensation`].
    pub fn with_window_compensation(mut self, compensate: bool) -> Self {
        self.compensate = compensate;
        self.axes = tabulate(&self.mesh, &self.kernel, self.scheme, self.compensate);
        self
    }

    /// The global mesh.
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

    /// This rank's padded slab (mesh, halo and decomposition).
    pub fn slab(&self) -> &SlabMesh {
        &self.slab
    }

    /// The distributed FFT plan.
    pub fn fft(&self) -> &SlabFft<T> {
        &self.fft
    }

    /// The decomposition.
    pub fn decomposition(&self) -> &SlabDecomposition {
        self.fft.decomposition()
    }

    /// First ky-row of this rank's Fourier y-slab.
    fn ky0(&self) -> usize {
        let d = self.fft.decomposition();
        d.ky_range(pm_decomp::Decomposition::rank(d)).start
    }

    /// Paints the local particles (after the local checks `check`), agrees on failure with
    /// the other ranks, adds the halos and transforms: the counts in Fourier space (this
    /// rank's y-slab) and the mean particle mass `N_cells / N_p`; `None` when no rank has
    /// particles.
    fn counts_k(
        &self,
        comm: &(impl Comm + ?Sized),
        positions: &Positions<'_, T>,
        check: Result<(), ForceError>,
    ) -> Result<Option<Counts<T>>, ForceError> {
        let mut padded = vec![T::zero(); self.slab.padded_len()];
        let local = check.and_then(|()| {
            self.timers
                .paint
                .time(|| paint_slab(&mut padded, &self.slab, positions, None, self.scheme))
                .map_err(Into::into)
        });
        let mut agree = [positions.len() as u64, u64::from(local.is_err())];
        comm.all_reduce_sum(&mut agree)?;
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
            .time(|| self.slab.halo().halo_add(comm, &mut padded))?;
        let mut counts_k = vec![Complex::new(T::zero(), T::zero()); self.fft.complex_len()];
        let owned = self.slab.owned_elements();
        self.fft.forward(comm, &mut padded[owned], &mut counts_k)?;
        let n_total = usize::try_from(agree[0]).unwrap_or(usize::MAX);
        Ok(Some((counts_k, mean_particle_mass(&self.mesh, n_total))))
    }

    /// The three force components `F_a = IFFT(i c m_a(k) delta(k))` as padded x-slabs with
    /// filled halos, from this rank's Fourier y-slab of the density.
    fn force_fields(
        &self,
        comm: &(impl Comm + ?Sized),
        delta_k: &[Complex<T>],
        c: f64,
    ) -> Result<[Vec<T>; 3], ForceError> {
        let ky0 = self.ky0();
        let owned = self.slab.owned_elements();
        let mut scratch = vec![Complex::new(T::zero(), T::zero()); self.fft.complex_len()];
        let mut out: [Vec<T>; 3] = std::array::from_fn(|_| Vec::new());
        for (a, field) in out.iter_mut().enumerate() {
            apply_component(
                &self.mesh,
                &self.axes,
                &self.kernel,
                delta_k,
                &mut scratch,
                a,
                c,
                ky0,
            );
            let mut padded = vec![T::zero(); self.slab.padded_len()];
            self.fft
                .inverse(comm, &mut scratch, &mut padded[owned.clone()])?;
            self.timers
                .halo
                .time(|| self.slab.halo().halo_fill(comm, &mut padded))?;
            *field = padded;
        }
        Ok(out)
    }

    /// Accelerations of this rank's particles (all particles of equal mass, mean density 1
    /// over all ranks), written into `out` (`out[i] = F(x_i)`, the convention of
    /// [`crate::Gravity`]). Collective.
    ///
    /// Errors: `out.len() != positions.len()` ([`ForceError::Length`]), a non-finite
    /// prefactor, invalid positions or particles off this rank's slab
    /// ([`pm_mesh::MeshError::OutsideSlab`]), a communicator that is not the
    /// decomposition's; another rank's error as [`DecompError::Collective`].
    pub fn accelerations(
        &self,
        comm: &(impl Comm + ?Sized),
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
        comm: &(impl Comm + ?Sized),
        positions: &Positions<'_, T>,
        prefactor: f64,
        out: &mut [[T; 3]],
    ) -> Result<(), ForceError> {
        let check = check_prefactor(prefactor)
            .and_then(|()| check_len("accelerations", positions.len(), out.len()));
        let Some((counts_k, mass)) = self.counts_k(comm, positions, check)? else {
            return Ok(());
        };
        let fields = self.force_fields(comm, &counts_k, prefactor * mass)?;
        drop(counts_k);
        let refs = [&fields[0][..], &fields[1][..], &fields[2][..]];
        self.timers
            .readout
            .time(|| readout_slab_vector(refs, &self.slab, positions, self.scheme, out))?;
        Ok(())
    }

    /// Vector-Jacobian product of [`SlabGravity::accelerations`]: for a cotangent `v` (one
    /// `[T; 3]` per local particle) and `L = sum_i v_i . F_i` summed over all ranks,
    /// **adds** `dL/dx_i` of the local particles into `grad_pos` and returns `dL/dc` and
    /// `dL/dtheta` (the same on every rank). Collective.
    ///
    /// The serial [`crate::Gravity::accelerations_vjp`] with each distributed step replaced
    /// by its adjoint: readout VJP (a slab paint of `v`), `halo_add` (the adjoint of
    /// `halo_fill`), the kernel adjoint `conj(i c m_a)` in Fourier space, `halo_fill` (the
    /// adjoint of `halo_add`), the paint VJP. The adjoints of the inverse and forward FFTs
    /// are applied as `forward` and `inverse` (as in the serial code): by
    /// `SlabFft::inverse_adjoint = W^{-1} F / N` and `forward_adjoint = N F^{-1} W`, the
    /// diagonal `W` and the `N` cancel around the diagonal kernel. The Parseval sums for
    /// `dL/dc` and `dL/dtheta` are reduced over ranks in rank order.
    ///
    /// Errors: as [`SlabGravity::accelerations`], and `cotangent` or `grad_pos` of the
    /// wrong length.
    pub fn accelerations_vjp(
        &self,
        comm: &(impl Comm + ?Sized),
        positions: &Positions<'_, T>,
        prefactor: f64,
        cotangent: &[[T; 3]],
        grad_pos: &mut [[T; 3]],
    ) -> Result<GravityVjp, ForceError> {
        self.vjp(comm, positions, prefactor, cotangent, grad_pos, None)
    }

    /// [`SlabGravity::accelerations_vjp`] that also writes the accelerations into `acc`.
    pub fn accelerations_and_vjp(
        &self,
        comm: &(impl Comm + ?Sized),
        positions: &Positions<'_, T>,
        prefactor: f64,
        cotangent: &[[T; 3]],
        acc: &mut [[T; 3]],
        grad_pos: &mut [[T; 3]],
    ) -> Result<GravityVjp, ForceError> {
        self.vjp(comm, positions, prefactor, cotangent, grad_pos, Some(acc))
    }

    fn vjp(
        &self,
        comm: &(impl Comm + ?Sized),
        positions: &Positions<'_, T>,
        prefactor: f64,
        cotangent: &[[T; 3]],
        grad_pos: &mut [[T; 3]],
        acc: Option<&mut [[T; 3]]>,
    ) -> Result<GravityVjp, ForceError> {
        self.timers
            .total
            .time(|| self.vjp_untimed(comm, positions, prefactor, cotangent, grad_pos, acc))
    }

    fn vjp_untimed(
        &self,
        comm: &(impl Comm + ?Sized),
        positions: &Positions<'_, T>,
        prefactor: f64,
        cotangent: &[[T; 3]],
        grad_pos: &mut [[T; 3]],
        acc: Option<&mut [[T; 3]]>,
    ) -> Result<GravityVjp, ForceError> {
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
        let halo = self.slab.halo();
        let owned = self.slab.owned_elements();

        // Readout VJP: dL/dx at fixed field, and the padded field cotangents g_a.
        let mut bars: [Vec<T>; 3] =
            std::array::from_fn(|_| vec![T::zero(); self.slab.padded_len()]);
        {
            let fields = self.force_fields(comm, &counts_k, c)?;
            let refs = [&fields[0][..], &fields[1][..], &fields[2][..]];
            let [b0, b1, b2] = &mut bars;
            self.timers.readout.time(|| {
                readout_slab_vector_and_vjp(
                    refs,
                    &self.slab,
                    positions,
                    self.scheme,
                    cotangent,
                    acc,
                    Some([&mut b0[..], &mut b1[..], &mut b2[..]]),
                    Some(&mut *grad_pos),
                )
            })?;
        }

        // halo_fill^T = halo_add, then the kernel adjoint in Fourier space.
        let ky0 = self.ky0();
        let zero = Complex::new(T::zero(), T::zero());
        let mut counts_bar_k = vec![zero; self.fft.complex_len()];
        let mut g_k = vec![zero; self.fft.complex_len()];
        let mut sums = vec![0.0f64; 1 + n_params];
        for (a, bar) in bars.iter_mut().enumerate() {
            self.timers.halo.time(|| halo.halo_add(comm, bar))?;
            self.fft.forward(comm, &mut bar[owned.clone()], &mut g_k)?;
            let partial = adjoint_component(
                &self.mesh,
                &self.axes,
                &self.kernel,
                &g_k,
                &counts_k,
                &mut counts_bar_k,
                a,
                c,
                ky0,
            );
            for (s, p) in sums.iter_mut().zip(partial) {
                *s += p;
            }
        }
        drop(bars);
        drop(g_k);
        comm.all_reduce_sum(&mut sums)?;

        // halo_add^T = halo_fill, then the paint VJP.
        let mut counts_bar = vec![T::zero(); self.slab.padded_len()];
        self.fft
            .inverse(comm, &mut counts_bar_k, &mut counts_bar[owned])?;
        self.timers
            .halo
            .time(|| halo.halo_fill(comm, &mut counts_bar))?;
        self.timers.paint.time(|| {
            paint_slab_vjp(
                &counts_bar,
                &self.slab,
                positions,
                None,
                self.scheme,
                Some(grad_pos),
                None,
            )
        })?;

        let n_cells = self.mesh.n_cells() as f64;
        Ok(GravityVjp {
            prefactor: sums[0] * mass / n_cells,
            params: sums[1..].iter().map(|s| s * c / n_cells).collect(),
        })
    }
}

/// The painted counts in Fourier space (this rank's y-slab) and the mean particle mass.
type Counts<T> = (Vec<Complex<T>>, f64);

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
