//! [`MeshBlock`]: one rank's share of a global mesh, and the FFT between its real and
//! Fourier slabs. The serial mesh is the one-rank block.

use std::ops::Range;
use std::sync::Arc;

use pm_decomp::{
    Comm, Decomposition, PhaseTimes, SlabDecomposition, SlabHalo, Stopwatch, widths_for_support,
};
use pm_fft::{Complex, CpuFft3d, Fft3d, Real, SlabFft};

use crate::paint::{ParticleGrads, paint_rows, paint_vjp_rows};
use crate::planes::{ABSENT, Padded, Whole};
use crate::readout::{
    FieldGrads, VectorReadout, readout_rows, readout_vector_rows, readout_vjp_rows,
};
use crate::{FourierField, Mesh, MeshError, Positions, RealField, Scheme};

/// Runs `$body` with `$rows` bound to the block's rows as a `Planes` map: the whole
/// periodic mesh on one rank, the padded slab otherwise.
macro_rules! on_rows {
    ($block:expr, $rows:ident => $body:expr) => {{
        let block = $block;
        if block.is_whole() {
            let $rows = &Whole { mesh: block.mesh };
            $body
        } else {
            let $rows = &Padded {
                mesh: block.mesh,
                rows: &block.rows,
                count: block.halo.padded_planes(),
                first: block.halo.global_plane(0),
            };
            $body
        }
    }};
}

/// The transform between a block's real and Fourier slabs.
enum Transform<T: Real> {
    /// One rank: a plan of the whole grid (no transposes), and its wall time.
    Whole(Arc<dyn Fft3d<T>>, Stopwatch),
    /// Several ranks: the slab FFT (collective).
    Slab(SlabFft<T>),
}

/// One rank's share of a global [`Mesh`] in a slab decomposition over a communicator, and
/// the FFT between its two layouts:
///
/// * **real**: the x-planes [`MeshBlock::x_planes`] `= [x0, x0 + nx_l)`, stored **padded**
///   with `lo` ghost planes below and `hi` above, `[lo + nx_l + hi][ny][nz]` (C order), padded
///   plane `p` holding global plane `(x0 - lo + p) mod nx`; the owned planes are
///   [`MeshBlock::owned_elements`] of it. The ghosts are what a paint reaches beyond the slab
///   (added into their owners by [`MeshBlock::add_ghosts`]) and what a readout needs from
///   the neighbours (copied in by [`MeshBlock::fill_ghosts`]); their widths come from the
///   assignment scheme ([`MeshBlock::with_ghosts_for`]).
/// * **Fourier**: the ky-rows [`MeshBlock::ky_rows`] of the half-complex grid,
///   `[nx][ny_l][nz/2+1]` (C order).
///
/// On **one rank** the block is the whole mesh: no ghosts (a stencil wraps around the
/// periodic box), the serial FFT plan, every collective step a no-op. So an algorithm written
/// once over a `MeshBlock` and a [`Comm`] is the serial algorithm on
/// [`pm_decomp::SerialComm`] and the distributed one on any other communicator, with results
/// equal to rounding (the sums of a paint and of the FFTs run in another order).
///
/// Paint and readout (and their VJPs) act on the rank's own particles: those whose x-plane
/// `floor(x / cell) mod nx` it owns, as `pm_decomp::Migration::for_slab_x` distributes them.
/// A stencil that reaches outside the padded slab is [`MeshError::OutsideSlab`], reported
/// before anything is written. Within a rank, the paint is the parallel, race-free binned
/// paint of [`crate::paint`] on the padded rows, bitwise the same on any thread count.
///
/// ```
/// use pm_decomp::{Comm, SerialComm, ThreadComm};
/// use pm_mesh::{Mesh, MeshBlock, Positions, Scheme};
/// let mesh = Mesh::cubic(8, 8.0).unwrap();
/// // One rank: the whole mesh.
/// let whole = MeshBlock::<f64>::new(mesh, &SerialComm).unwrap();
/// assert_eq!(whole.padded_len(), 8 * 8 * 8);
/// // Rank 1 of 2 owns the x-planes 4..8; CIC needs one ghost plane above (plane 0).
/// let ghost = ThreadComm::run(2, |comm| {
///     let block = MeshBlock::<f64>::new(mesh, comm).unwrap().with_ghosts_for(Scheme::Cic).unwrap();
///     let mut rho = vec![0.0; block.padded_len()];
///     if comm.rank() == 1 {
///         let x = [[7.75, 0.0, 0.0]];
///         block.paint(&mut rho, &Positions::Absolute(&x), None, Scheme::Cic).unwrap();
///         assert_eq!(rho[3 * 64], 0.25); // global plane 7
///         assert_eq!(rho[4 * 64], 0.75); // ghost: global plane 0
///     }
///     block.add_ghosts(comm, &mut rho).unwrap();
///     rho[block.owned_elements()][0] // global plane 0 on rank 0, plane 4 on rank 1
/// })
/// .unwrap();
/// assert_eq!(ghost, vec![0.75, 0.0]);
/// ```
pub struct MeshBlock<T: Real> {
    mesh: Mesh,
    halo: SlabHalo,
    /// Row of each global plane in the padded array ([`ABSENT`] outside it); empty on one
    /// rank, where the rows are the planes.
    rows: Vec<usize>,
    transform: Transform<T>,
    /// Wall time of the migrations of particles to this block's slabs (timed by the
    /// caller that migrates, see [`MeshBlock::migration_stopwatch`]).
    migration: Stopwatch,
}

impl<T: Real> std::fmt::Debug for MeshBlock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeshBlock")
            .field("mesh", &self.mesh)
            .field("decomposition", self.decomposition())
            .field("ghosts", &(self.halo.lo(), self.halo.hi()))
            .finish()
    }
}

impl<T: Real> MeshBlock<T> {
    /// The calling rank's block of `mesh` on `comm`, without ghost planes: the whole mesh
    /// with a new CPU FFT plan on one rank, an x-slab with the slab FFT on several.
    ///
    /// Errors: more ranks than planes along x or y ([`MeshError::Decomp`]).
    pub fn new(mesh: Mesh, comm: &dyn Comm) -> Result<Self, MeshError> {
        if comm.size() == 1 {
            return Self::whole(mesh);
        }
        let decomp = SlabDecomposition::for_comm(mesh.shape(), comm)?;
        let fft = SlabFft::new(decomp.clone())?;
        Self::build(mesh, decomp, Transform::Slab(fft))
    }

    /// The whole mesh as the block of a single rank, with a new CPU FFT plan.
    pub fn whole(mesh: Mesh) -> Result<Self, MeshError> {
        let plan: Arc<dyn Fft3d<T>> = Arc::new(CpuFft3d::<T>::new(mesh.shape())?);
        Self::with_plan(mesh, plan)
    }

    /// The whole mesh as the block of a single rank, transformed with `plan` (any
    /// [`Fft3d`] of the mesh's shape).
    pub fn with_plan(mesh: Mesh, plan: Arc<dyn Fft3d<T>>) -> Result<Self, MeshError> {
        if plan.shape() != mesh.shape() {
            return Err(MeshError::MeshMismatch {
                what: format!(
                    "FFT plan of shape {:?} for a mesh of shape {:?}",
                    plan.shape(),
                    mesh.shape()
                ),
            });
        }
        let decomp = SlabDecomposition::new(mesh.shape(), 1, 0)?;
        Self::build(mesh, decomp, Transform::Whole(plan, Stopwatch::new()))
    }

    fn build(
        mesh: Mesh,
        decomp: SlabDecomposition,
        transform: Transform<T>,
    ) -> Result<Self, MeshError> {
        let mut block = Self {
            mesh,
            halo: SlabHalo::new(decomp, 0, 0)?,
            rows: Vec::new(),
            transform,
            migration: Stopwatch::new(),
        };
        block.set_ghosts(0, 0)?;
        Ok(block)
    }

    /// The same block with the ghost planes an assignment scheme needs
    /// ([`widths_for_support`]: NGP and CIC `0/1`, TSC `1/2`; none on one rank).
    pub fn with_ghosts_for(self, scheme: Scheme) -> Result<Self, MeshError> {
        let (lo, hi) = widths_for_support(scheme.support());
        self.with_ghosts(lo, hi)
    }

    /// The same block with `lo` ghost planes below its slab and `hi` above (wider halos
    /// admit particles that moved off the slab since they were last migrated); ignored on
    /// one rank, whose stencils wrap around the box.
    pub fn with_ghosts(mut self, lo: usize, hi: usize) -> Result<Self, MeshError> {
        self.set_ghosts(lo, hi)?;
        Ok(self)
    }

    fn set_ghosts(&mut self, lo: usize, hi: usize) -> Result<(), MeshError> {
        let decomp = self.halo.decomposition().clone();
        if decomp.size() == 1 {
            return Ok(());
        }
        let halo = SlabHalo::new(decomp, lo, hi)?;
        let mut rows = vec![ABSENT; self.mesh.shape()[0]];
        for p in (0..halo.padded_planes()).rev() {
            rows[halo.global_plane(p)] = p;
        }
        self.halo = halo;
        self.rows = rows;
        Ok(())
    }

    /// The global mesh.
    pub fn mesh(&self) -> &Mesh {
        &self.mesh
    }

    /// The slab decomposition (of the communicator the block was made for).
    pub fn decomposition(&self) -> &SlabDecomposition {
        self.halo.decomposition()
    }

    /// The ghost planes (and through them the decomposition).
    pub fn halo(&self) -> &SlabHalo {
        &self.halo
    }

    /// True on one rank: the block is the whole mesh.
    pub fn is_whole(&self) -> bool {
        self.decomposition().size() == 1
    }

    /// This rank's x-planes in real space.
    pub fn x_planes(&self) -> Range<usize> {
        let d = self.decomposition();
        d.x_range(d.rank())
    }

    /// This rank's ky-rows in Fourier space.
    pub fn ky_rows(&self) -> Range<usize> {
        let d = self.decomposition();
        d.ky_range(d.rank())
    }

    /// Cells of the owned real slab, `nx_l * ny * nz`.
    pub fn real_len(&self) -> usize {
        self.decomposition().real_local_len()
    }

    /// Cells of the padded real slab, `(lo + nx_l + hi) * ny * nz`.
    pub fn padded_len(&self) -> usize {
        self.halo.padded_len()
    }

    /// The owned cells inside a padded array.
    pub fn owned_elements(&self) -> Range<usize> {
        self.halo.owned_elements()
    }

    /// Modes of the Fourier slab, `nx * ny_l * (nz/2+1)`.
    pub fn complex_len(&self) -> usize {
        self.decomposition().fourier_local_len()
    }

    /// A zero padded real slab.
    pub fn zeros_padded(&self) -> Vec<T> {
        vec![T::zero(); self.padded_len()]
    }

    /// A zero Fourier slab.
    pub fn zeros_fourier(&self) -> Vec<Complex<T>> {
        vec![Complex::new(T::zero(), T::zero()); self.complex_len()]
    }

    /// A zero real field on this rank's x-planes (no ghosts).
    pub fn zeros_real(&self) -> RealField<T> {
        RealField::from_block(self.mesh, self.x_planes(), vec![T::zero(); self.real_len()])
            .expect("the block's shape")
    }

    /// A zero Fourier field on this rank's ky-rows.
    pub fn zeros_modes(&self) -> FourierField<T> {
        FourierField::from_block(self.mesh, self.ky_rows(), self.zeros_fourier())
            .expect("the block's shape")
    }

    /// Checks that `field` is this rank's block of the mesh.
    pub fn check_real(&self, field: &RealField<T>) -> Result<(), MeshError> {
        if *field.mesh() != self.mesh || field.planes() != self.x_planes() {
            return Err(MeshError::MeshMismatch {
                what: format!(
                    "real field of x-planes {:?} on {:?} for the block of x-planes {:?} on {:?}",
                    field.planes(),
                    field.mesh(),
                    self.x_planes(),
                    self.mesh
                ),
            });
        }
        Ok(())
    }

    /// Checks that `field` is this rank's Fourier block of the mesh.
    pub fn check_modes(&self, field: &FourierField<T>) -> Result<(), MeshError> {
        if *field.mesh() != self.mesh || field.rows() != self.ky_rows() {
            return Err(MeshError::MeshMismatch {
                what: format!(
                    "Fourier field of ky-rows {:?} on {:?} for the block of ky-rows {:?} on {:?}",
                    field.rows(),
                    field.mesh(),
                    self.ky_rows(),
                    self.mesh
                ),
            });
        }
        Ok(())
    }

    /// The forward FFT of this rank's block of a real field (its values are used as
    /// scratch). Collective.
    pub fn forward_field(
        &self,
        comm: &dyn Comm,
        field: &mut RealField<T>,
    ) -> Result<FourierField<T>, MeshError> {
        self.check_real(field)?;
        let mut out = self.zeros_modes();
        self.forward(comm, field.as_slice_mut(), out.as_slice_mut())?;
        Ok(out)
    }

    /// The inverse FFT of this rank's block of a Fourier field (its values are used as
    /// scratch). Collective.
    pub fn inverse_field(
        &self,
        comm: &dyn Comm,
        modes: &mut FourierField<T>,
    ) -> Result<RealField<T>, MeshError> {
        self.check_modes(modes)?;
        let mut out = self.zeros_real();
        self.inverse(comm, modes.as_slice_mut(), out.as_slice_mut())?;
        Ok(out)
    }

    /// `Err(CommMismatch)` unless `comm` is the block's communicator.
    pub fn check_comm(&self, comm: &dyn Comm) -> Result<(), MeshError> {
        Ok(self.decomposition().check_comm(comm)?)
    }

    /// Wall time this rank spent in [`MeshBlock::forward`] and [`MeshBlock::inverse`] since
    /// the block was made or [`MeshBlock::reset_times`] (`fft` the local passes, `transpose`
    /// the slab FFT's all-to-all transposes, zero on one rank), and in migrations of
    /// particles to its slabs (`migration`, as timed with
    /// [`MeshBlock::migration_stopwatch`]).
    pub fn times(&self) -> PhaseTimes {
        let fft = match &self.transform {
            Transform::Whole(_, time) => PhaseTimes {
                fft: time.seconds(),
                ..PhaseTimes::default()
            },
            Transform::Slab(fft) => fft.times(),
        };
        PhaseTimes {
            migration: self.migration.seconds(),
            ..fft
        }
    }

    /// Sets [`MeshBlock::times`] back to zero.
    pub fn reset_times(&self) {
        match &self.transform {
            Transform::Whole(_, time) => time.reset(),
            Transform::Slab(fft) => fft.reset_times(),
        }
        self.migration.reset();
    }

    /// The stopwatch that migrations of particles to this block's slabs add their wall time
    /// to (reported by [`MeshBlock::times`]).
    pub fn migration_stopwatch(&self) -> &Stopwatch {
        &self.migration
    }

    /// Forward FFT of the owned real slab (`real_len` cells; used as scratch) into the
    /// Fourier slab, `X[k] = sum_r x[r] e^{-2 pi i k.r/n}` (pm-fft's conventions). Collective.
    pub fn forward(
        &self,
        comm: &dyn Comm,
        real: &mut [T],
        complex: &mut [Complex<T>],
    ) -> Result<(), MeshError> {
        self.check_comm(comm)?;
        match &self.transform {
            Transform::Whole(plan, time) => time.time(|| plan.forward(real, complex))?,
            Transform::Slab(fft) => fft.forward(comm, real, complex)?,
        }
        Ok(())
    }

    /// Inverse FFT (with its `1/N`) of the Fourier slab (used as scratch) into the owned real
    /// slab. Collective.
    pub fn inverse(
        &self,
        comm: &dyn Comm,
        complex: &mut [Complex<T>],
        real: &mut [T],
    ) -> Result<(), MeshError> {
        self.check_comm(comm)?;
        match &self.transform {
            Transform::Whole(plan, time) => time.time(|| plan.inverse(complex, real))?,
            Transform::Slab(fft) => fft.inverse(comm, complex, real)?,
        }
        Ok(())
    }

    /// After a paint: adds every ghost plane of a padded array into its owner's plane and
    /// zeroes the ghosts (`pm_decomp::SlabHalo::halo_add`; a no-op on one rank). Its adjoint
    /// is [`MeshBlock::fill_ghosts`]. Collective.
    pub fn add_ghosts(&self, comm: &dyn Comm, padded: &mut [T]) -> Result<(), MeshError> {
        self.check_comm(comm)?;
        if !self.is_whole() {
            self.halo.halo_add(comm, padded)?;
        }
        Ok(())
    }

    /// Before a readout: copies every ghost plane of a padded array from its owner
    /// (`pm_decomp::SlabHalo::halo_fill`; a no-op on one rank). Its adjoint is
    /// [`MeshBlock::add_ghosts`]. Collective.
    pub fn fill_ghosts(&self, comm: &dyn Comm, padded: &mut [T]) -> Result<(), MeshError> {
        self.check_comm(comm)?;
        if !self.is_whole() {
            self.halo.halo_fill(comm, padded)?;
        }
        Ok(())
    }

    /// Paint onto the padded slab: **adds** `w_i W(x_i - c)` of every particle (weight 1
    /// when `weights` is `None`) into the rows of the cells its stencil touches, as
    /// [`crate::paint`]. Follow it with [`MeshBlock::add_ghosts`] for the owned planes of the
    /// paint of every rank's particles.
    ///
    /// Errors: invalid positions or weights (as [`crate::paint`]), a padded array of the
    /// wrong length ([`MeshError::Length`]), a particle whose stencil leaves the padded slab
    /// ([`MeshError::OutsideSlab`]; nothing is written then).
    pub fn paint(
        &self,
        padded: &mut [T],
        positions: &Positions<'_, T>,
        weights: Option<&[T]>,
        scheme: Scheme,
    ) -> Result<(), MeshError> {
        on_rows!(self, rows => paint_rows(padded, rows, positions, weights, scheme))
    }

    /// VJP of [`MeshBlock::paint`] for a padded cotangent `g` (every plane, ghosts included,
    /// holding the cotangent of its global plane: apply [`MeshBlock::fill_ghosts`], the
    /// adjoint of [`MeshBlock::add_ghosts`], to the owned cotangent first). Accumulates, as
    /// [`crate::paint_vjp`], `grads.pos[i] += w_i sum_c g[c] grad W(x_i - c)` (Mpc/h) and
    /// `grads.weights[i] += sum_c g[c] W(x_i - c)`.
    pub fn paint_vjp(
        &self,
        cotangent: &[T],
        positions: &Positions<'_, T>,
        weights: Option<&[T]>,
        scheme: Scheme,
        grads: ParticleGrads<'_, T>,
    ) -> Result<(), MeshError> {
        on_rows!(self, rows => paint_vjp_rows(cotangent, rows, positions, weights, scheme, grads))
    }

    /// Readout from the padded slab, **overwriting** `out`: `out[i] = sum_c field[c]
    /// W(x_i - c)` as [`crate::readout`]. The ghost planes must hold their owners' values
    /// ([`MeshBlock::fill_ghosts`]).
    pub fn readout(
        &self,
        padded: &[T],
        positions: &Positions<'_, T>,
        scheme: Scheme,
        out: &mut [T],
    ) -> Result<(), MeshError> {
        on_rows!(self, rows => readout_rows(padded, rows, positions, scheme, out))
    }

    /// VJP of [`MeshBlock::readout`] for the cotangent `v` (one value per particle);
    /// accumulates `grads.field[c] += sum_i v_i W(x_i - c)` (a paint on the padded slab;
    /// follow it with [`MeshBlock::add_ghosts`]) and `grads.pos[i] += v_i sum_c field[c]
    /// grad W(x_i - c)`.
    pub fn readout_vjp(
        &self,
        padded: &[T],
        positions: &Positions<'_, T>,
        scheme: Scheme,
        cotangent: &[T],
        grads: FieldGrads<'_, T>,
    ) -> Result<(), MeshError> {
        on_rows!(self, rows => readout_vjp_rows(padded, rows, positions, scheme, cotangent, grads))
    }

    /// Readout of three padded fields at once (the force components) and, in the same
    /// pass, its VJP for the cotangent `v[i][a]`, as [`crate::readout_vector_and_vjp`]:
    /// writes `outputs.values`, accumulates `outputs.grad_fields` (paints; follow them with
    /// [`MeshBlock::add_ghosts`]) and `outputs.grad_pos`. Without gradients, `cotangent` may
    /// be empty. The ghost planes of the fields must be filled.
    pub fn readout_vector_and_vjp(
        &self,
        padded: [&[T]; 3],
        positions: &Positions<'_, T>,
        scheme: Scheme,
        cotangent: &[[T; 3]],
        outputs: VectorReadout<'_, T>,
    ) -> Result<(), MeshError> {
        on_rows!(self, rows => readout_vector_rows(padded, rows, positions, scheme, cotangent, outputs))
    }
}
