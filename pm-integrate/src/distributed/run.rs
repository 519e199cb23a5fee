//! [`DistributedRun`]: a [`Simulation`]'s time steps on any communicator.

use pm_decomp::{
    Comm, CommData, CommExt, DecompError, Migration, PhaseTimes, SlabDecomposition, Stopwatch,
};
use pm_fft::{Real, SlabFft};
use pm_force::{ForceKernel, SlabGravity};
use rayon::prelude::*;

use super::initial::noise_block;
use crate::stepper::update_fields;
use crate::{DistributedLpt, IntegrateError, LocalState, LptCotangent, NoiseCotangent, Simulation};

/// The forward run of a [`Simulation`] distributed over the ranks of a communicator: the
/// same initial conditions, stepper and force as [`Simulation::run`], with each rank holding
/// the particles in its x-slab of the force mesh.
///
/// Per rank:
///
/// ```text
/// DistributedLpt  lattice planes x_range(rank) of the particle grid's slab decomposition
/// migrate         particles to the rank owning their x-plane of the force mesh
/// per step        kick(a0 -> ah, F(a0))    coefficients from Simulation::stepper
///                 drift(a0 -> a1, p(ah))   (the serial kdk_step's sequence)
///                 migrate                  ids, disp, mom (and LPT fields) move together
///                 F(a1) from SlabGravity   (cached for the next step's first kick)
///                 kick(ah -> a1, F(a1))
/// ```
///
/// Particles carry their global lattice index, so a particle can cross any number of
/// domains in one drift (it is sent straight to its new owner). The result equals the
/// serial run's to rounding for any number of ranks (the FFTs and the paint sum in another
/// order); in f64 to about 1e-12 relative after ten steps.
///
/// Positions are handed to the force solve as `q + disp` evaluated in f64
/// ([`LocalState::positions`]), as in the serial run, in f32 too.
/// Observers are not called.
///
/// Wall time per phase on this rank is accumulated over calls ([`DistributedRun::times`]).
///
/// ```
/// use pm_cosmo::Cosmology;
/// use pm_decomp::ThreadComm;
/// use pm_integrate::{DistributedRun, Simulation, TimeSteps};
/// let sim = Simulation::<f64, _>::builder(Cosmology::planck18())
///     .box_size(64.0)
///     .particles(8)
///     .mesh(8)
///     .steps(TimeSteps::LinearA { a_start: 0.1, a_end: 1.0, steps: 2 })
///     .build()
///     .unwrap();
/// let counts = ThreadComm::run(2, |comm| {
///     let run = DistributedRun::new(&sim, comm).unwrap();
///     let local = run.run(comm).unwrap();
///     assert_eq!(local.a, 1.0);
///     local.len()
/// })
/// .unwrap();
/// assert_eq!(counts.iter().sum::<usize>(), 8 * 8 * 8);
/// ```
pub struct DistributedRun<'s, T: Real + CommData, K: ForceKernel> {
    sim: &'s Simulation<T, K>,
    particle_fft: SlabFft<T>,
    gravity: SlabGravity<T, &'s K>,
    /// Wall time in `initial_state` and `evolve`.
    total_time: Stopwatch,
    /// Wall time in `migrate`.
    migration_time: Stopwatch,
}

impl<T: Real + CommData, K: ForceKernel> std::fmt::Debug for DistributedRun<'_, T, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistributedRun")
            .field("particle_fft", &self.particle_fft)
            .field("gravity", &self.gravity)
            .finish()
    }
}

impl<'s, T: Real + CommData, K: ForceKernel> DistributedRun<'s, T, K> {
    /// Plans the distributed run of `sim` for the calling rank of `comm`: the slab FFT of
    /// the particle grid and the slab gravity solve on the force mesh (same kernel, scheme
    /// and window compensation as the serial force).
    ///
    /// Errors: more ranks than planes of the particle grid or of the force mesh
    /// ([`IntegrateError::Decomp`]); errors of the plans.
    pub fn new(sim: &'s Simulation<T, K>, comm: &dyn Comm) -> Result<Self, IntegrateError> {
        let pmesh = sim.particle_mesh();
        let particle_fft = SlabFft::new(SlabDecomposition::for_comm(pmesh.shape(), comm)?)?;
        let serial = &sim.forces().gravity;
        let mesh = *serial.mesh();
        let gravity = SlabGravity::new(
            mesh,
            serial.kernel(),
            SlabDecomposition::for_comm(mesh.shape(), comm)?,
        )?
        .with_scheme(serial.scheme())?
        .with_window_compensation(serial.window_compensation());
        Ok(Self {
            sim,
            particle_fft,
            gravity,
            total_time: Stopwatch::new(),
            migration_time: Stopwatch::new(),
        })
    }

    /// Wall time this rank spent per phase since the run was planned or
    /// [`DistributedRun::reset_times`]: `fft` and `transpose` of the slab FFTs (the force
    /// solves' and the initial conditions'), `paint`, `halo` and `readout` of the force
    /// solves, `migration`, and `other` the rest of [`DistributedRun::initial_state`] and
    /// [`DistributedRun::evolve`] (and so of [`DistributedRun::run`]): kicks, drifts, the
    /// Fourier-space kernels, noise and LPT outside their FFTs, and the global agreements.
    /// Steps called directly ([`DistributedRun::step`]) add to every phase but `other`.
    pub fn times(&self) -> PhaseTimes {
        // The gravity's `other` (its kernel) is recomputed as part of this run's `other`.
        let mut p = self.gravity.times() + self.particle_fft.times();
        p.other = 0.0;
        p.migration = self.migration_time.seconds();
        p.other = (self.total_time.seconds() - p.total()).max(0.0);
        p
    }

    /// Sets the accumulated [`DistributedRun::times`] back to zero.
    pub fn reset_times(&self) {
        self.gravity.reset_times();
        self.particle_fft.reset_times();
        self.total_time.reset();
        self.migration_time.reset();
    }

    /// The simulation.
    pub fn simulation(&self) -> &Simulation<T, K> {
        self.sim
    }

    /// The slab decomposition of the force mesh (where particles live during the steps).
    pub fn mesh_decomposition(&self) -> &SlabDecomposition {
        self.gravity.decomposition()
    }

    /// The slab decomposition of the particle grid (where the initial conditions are made).
    pub fn particle_decomposition(&self) -> &SlabDecomposition {
        self.particle_fft.decomposition()
    }

    /// The distributed force solve (for its VJP, [`pm_force::SlabGravity::accelerations_vjp`]).
    pub fn gravity(&self) -> &SlabGravity<T, &'s K> {
        &self.gravity
    }

    /// This rank's block of the simulation's white noise: the x-planes
    /// [`DistributedRun::particle_decomposition`] gives it, C order. Local (a noise file is
    /// read whole).
    pub fn noise_block(&self) -> Result<Vec<T>, IntegrateError> {
        noise_block(self.particle_decomposition(), self.sim.noise_source())
    }

    /// [`DistributedLpt::noise_vjp`] for this run's initial conditions: this rank's blocks
    /// of the gradients with respect to the linear modes and the white noise, for the
    /// cotangents of its LPT fields ([`DistributedRun::lpt`]). Collective.
    pub fn noise_vjp(
        &self,
        comm: &dyn Comm,
        cotangent: &LptCotangent<T>,
    ) -> Result<NoiseCotangent<T>, IntegrateError> {
        DistributedLpt::noise_vjp(
            comm,
            self.sim.particle_mesh(),
            &self.particle_fft,
            self.sim.noise_source(),
            self.sim.power(),
            self.sim.mode_options(),
            cotangent,
        )
    }

    /// The LPT fields of this rank's slab of the particle lattice. Collective.
    pub fn lpt(&self, comm: &dyn Comm) -> Result<DistributedLpt<T>, IntegrateError> {
        DistributedLpt::new(
            comm,
            self.sim.particle_mesh(),
            &self.particle_fft,
            self.sim.noise_source(),
            self.sim.power(),
            self.sim.mode_options(),
            self.sim.lpt_order(),
        )
    }

    /// This rank's particles at the first scale factor (LPT), on the particle grid's slabs.
    /// Collective.
    pub fn initial_state(&self, comm: &dyn Comm) -> Result<LocalState<T>, IntegrateError> {
        self.total_time.time(|| {
            let lpt = self.lpt(comm)?;
            lpt.state(
                self.sim.scale_factors()[0],
                self.sim.growth(),
                self.sim.stepper().needs_lpt(),
            )
        })
    }

    /// Runs from the LPT initial state through every step; returns this rank's particles at
    /// the last scale factor. Collective.
    pub fn run(&self, comm: &dyn Comm) -> Result<LocalState<T>, IntegrateError> {
        let state = self.initial_state(comm)?;
        self.evolve(comm, state)
    }

    /// Integrates `state` (this rank's share of the particles, at the first scale factor, on
    /// any ranks) through every step of the simulation. Collective.
    ///
    /// Errors: an invalid local state on any rank (reported there, and as
    /// [`DecompError::Collective`] on the others), a COLA stepper without the LPT fields,
    /// errors of the migration and force solve.
    pub fn evolve(
        &self,
        comm: &dyn Comm,
        state: LocalState<T>,
    ) -> Result<LocalState<T>, IntegrateError> {
        self.total_time.time(|| self.evolve_untimed(comm, state))
    }

    fn evolve_untimed(
        &self,
        comm: &dyn Comm,
        mut state: LocalState<T>,
    ) -> Result<LocalState<T>, IntegrateError> {
        let local = state.validate().and_then(|()| {
            if self.sim.stepper().needs_lpt() && state.psi1.is_none() {
                Err(IntegrateError::Config {
                    what: "stepper",
                    reason: format!("{} needs the LPT fields", self.sim.stepper().name()),
                })
            } else {
                Ok(())
            }
        });
        let failed = comm.sum_u64(u64::from(local.is_err()))?;
        local?;
        if failed > 0 {
            return Err(DecompError::Collective(format!(
                "{failed} rank(s) passed an invalid state to the distributed run"
            ))
            .into());
        }
        self.migrate(comm, &mut state)?;
        for &a1 in &self.sim.scale_factors()[1..] {
            self.step(comm, &mut state, a1)?;
        }
        Ok(state)
    }

    /// One kick-drift-kick step from `state.a` to `a1`, as [`crate::kdk_step`], with a
    /// migration after the drift. The particles must be on their force-mesh ranks.
    /// Collective.
    pub fn step(
        &self,
        comm: &dyn Comm,
        state: &mut LocalState<T>,
        a1: f64,
    ) -> Result<(), IntegrateError> {
        let a0 = state.a;
        let ah = 0.5 * (a0 + a1);
        self.ensure_accelerations(comm, state)?;
        self.kick(state, a0, ah, a0)?;
        self.drift(state, a0, a1, ah)?;
        self.migrate(comm, state)?;
        self.ensure_accelerations(comm, state)?;
        self.kick(state, ah, a1, a1)?;
        state.a = a1;
        Ok(())
    }

    /// Kicks `state.mom` from `a_from` to `a_to` with the cached accelerations, taken at
    /// `a_force` (the stepper's kick coefficients, with COLA's frame terms from the carried
    /// LPT fields), as [`crate::kick`]. Local: no communication.
    ///
    /// Errors: no cached accelerations, a COLA stepper without the LPT fields, the
    /// stepper's errors.
    pub fn kick(
        &self,
        state: &mut LocalState<T>,
        a_from: f64,
        a_to: f64,
        a_force: f64,
    ) -> Result<(), IntegrateError> {
        let c = self.sim.stepper().kick(a_from, a_to, a_force)?;
        let acc = state.acc.as_ref().ok_or_else(|| IntegrateError::Config {
            what: "state",
            reason: "kick needs the accelerations; compute them first".into(),
        })?;
        let psi = state.psi1.as_deref().map(|p1| (p1, state.psi2.as_deref()));
        update_fields(&mut state.mom, acc, c, psi)
    }

    /// Drifts `state.disp` from `a_from` to `a_to` with the momenta, taken at `a_mom`, as
    /// [`crate::drift`]; drops the cached accelerations. Local: the particles are not
    /// migrated ([`DistributedRun::migrate`]).
    pub fn drift(
        &self,
        state: &mut LocalState<T>,
        a_from: f64,
        a_to: f64,
        a_mom: f64,
    ) -> Result<(), IntegrateError> {
        let c = self.sim.stepper().drift(a_from, a_to, a_mom)?;
        let psi = state.psi1.as_deref().map(|p1| (p1, state.psi2.as_deref()));
        update_fields(&mut state.disp, &state.mom, c, psi)?;
        state.acc = None;
        Ok(())
    }

    /// Moves every particle to the rank owning its x-plane of the force mesh, with all its
    /// arrays. Collective.
    pub fn migrate(
        &self,
        comm: &dyn Comm,
        state: &mut LocalState<T>,
    ) -> Result<(), IntegrateError> {
        self.migrate_with(comm, state, &mut [])
    }

    /// [`DistributedRun::migrate`], moving the per-particle arrays `extra` (one row per
    /// local particle each, such as the adjoint's cotangents) with the particles. Collective.
    ///
    /// Errors: an array of `extra` whose length is not the state's, and the migration's.
    pub fn migrate_with(
        &self,
        comm: &dyn Comm,
        state: &mut LocalState<T>,
        extra: &mut [&mut Vec<[T; 3]>],
    ) -> Result<(), IntegrateError> {
        self.migration_time
            .time(|| self.migrate_untimed(comm, state, extra))
    }

    fn migrate_untimed(
        &self,
        comm: &dyn Comm,
        state: &mut LocalState<T>,
        extra: &mut [&mut Vec<[T; 3]>],
    ) -> Result<(), IntegrateError> {
        if let Some(v) = extra.iter().find(|v| v.len() != state.len()) {
            return Err(IntegrateError::Length {
                what: "array migrated with the particles",
                expected: state.len(),
                got: v.len(),
            });
        }
        if comm.size() == 1 {
            // One rank owns every plane: nothing moves (the force solve checks positions).
            return Ok(());
        }
        let x: Vec<f64> = (0..state.len())
            .into_par_iter()
            .map(|i| state.position(i)[0])
            .collect();
        let box_x = self.gravity.mesh().box_size()[0];
        let mig = Migration::for_slab_x(comm, self.mesh_decomposition(), box_x, &x)?;
        drop(x);
        state.ids = mig.forward(comm, &state.ids)?;
        state.disp = mig.forward(comm, &state.disp)?;
        state.mom = mig.forward(comm, &state.mom)?;
        for field in [&mut state.acc, &mut state.psi1, &mut state.psi2] {
            // Every rank has the same fields (the same stepper and state history).
            if let Some(v) = field.as_mut() {
                *v = mig.forward(comm, v)?;
            }
        }
        for v in extra.iter_mut() {
            **v = mig.forward(comm, v)?;
        }
        Ok(())
    }

    /// Computes `state.acc` (with the distributed force solve) if it is not cached.
    /// Collective; the particles must be on their force-mesh ranks.
    pub fn ensure_accelerations(
        &self,
        comm: &dyn Comm,
        state: &mut LocalState<T>,
    ) -> Result<(), IntegrateError> {
        // Every rank caches at the same points of the step, so all take part or none.
        if state.acc.is_some() {
            return Ok(());
        }
        let mut acc = vec![[T::zero(); 3]; state.len()];
        self.gravity.accelerations(
            comm,
            &state.positions(),
            self.sim.forces().prefactor,
            &mut acc,
        )?;
        state.acc = Some(acc);
        Ok(())
    }
}

impl<T: Real + CommData, K: ForceKernel> Simulation<T, K> {
    /// [`DistributedRun::run`]: this rank's particles at the last scale factor, the same run
    /// as [`Simulation::run`] spread over the ranks of `comm`. Collective.
    pub fn run_distributed(&self, comm: &dyn Comm) -> Result<LocalState<T>, IntegrateError> {
        DistributedRun::new(self, comm)?.run(comm)
    }
}
