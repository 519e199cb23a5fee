//! `Simulation`: cosmology, meshes, force kernel, stepper and observers wired for the common
//! case, on one rank or as one rank's share of a run over a communicator.

use std::path::PathBuf;
use std::sync::Arc;

use pm_cosmo::{Cosmology, GrowthTable, LinearPower};
use pm_decomp::{Comm, PhaseTimes, SerialComm};
use pm_fft::Real;
use pm_force::{FastPmKernel, ForceKernel, Gravity};
use pm_mesh::{FourierField, Mesh, MeshBlock, RealField, Scheme};

use crate::stepper::{DriftWatch, agree};
use crate::{
    Cola, FastPm, IntegrateError, Leapfrog, Lpt, LptOrder, ModeOptions, Observer, PmForces, State,
    StepInfo, StepPositions, Stepper, TimeSteps, kdk_step, linear_modes, migrate,
    read_white_noise_npy, white_noise, white_noise_block,
};

/// Which time stepper a [`Simulation`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StepperKind {
    /// FastPM's kick and drift factors (the default).
    #[default]
    FastPm,
    /// Plain leapfrog.
    Leapfrog,
    /// COLA in the 2LPT frame.
    Cola,
}

impl StepperKind {
    /// The stepper of this kind on `growth`, the growth table of `cosmology`, with its
    /// derivatives with respect to the cosmological parameters enabled
    /// ([`Stepper::kick_derivatives`]; their dual-number table is built on first use).
    pub fn build(
        self,
        growth: Arc<GrowthTable<f64>>,
        cosmology: &Cosmology<f64>,
    ) -> Box<dyn Stepper> {
        match self {
            StepperKind::FastPm => {
                Box::new(FastPm::new(growth).with_parameter_derivatives(cosmology))
            }
            StepperKind::Leapfrog => {
                Box::new(Leapfrog::new(growth).with_parameter_derivatives(cosmology))
            }
            StepperKind::Cola => Box::new(Cola::new(growth).with_parameter_derivatives(cosmology)),
        }
    }
}

/// Where the white noise comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum NoiseSource {
    /// Philox counter-based noise keyed by (seed, cell): the same field on any thread count.
    Seed(u64),
    /// A `.npy` file of the particle grid's shape (to match runs of other codes).
    File(PathBuf),
}

/// A configured forward simulation: Gaussian initial conditions on a particle lattice, LPT
/// to the first time step, then kick-drift-kick steps with the PM force.
///
/// A `Simulation` is one rank's view of a run: its [`MeshBlock`]s of the particle grid and of
/// the force mesh. [`SimulationBuilder::build`] makes the one-rank (serial) run,
/// [`SimulationBuilder::build_on`] the calling rank's share of a run over a communicator;
/// the same methods then run it ([`Simulation::run_on`], collective), and the result equals
/// the one-rank run's to rounding on any number of ranks.
///
/// ```
/// use pm_cosmo::Cosmology;
/// use pm_integrate::{Simulation, TimeSteps};
/// let sim = Simulation::<f32, _>::builder(Cosmology::planck18())
///     .box_size(128.0)
///     .particles(16)
///     .mesh(32)
///     .steps(TimeSteps::LinearA { a_start: 0.1, a_end: 1.0, steps: 5 })
///     .seed(42)
///     .build()
///     .unwrap();
/// let state = sim.run(&mut []).unwrap();
/// assert_eq!(state.a, 1.0);
/// assert_eq!(state.len(), 16 * 16 * 16);
/// ```
///
/// The same run on two thread ranks:
///
/// ```
/// use pm_cosmo::Cosmology;
/// use pm_decomp::ThreadComm;
/// use pm_integrate::{Simulation, TimeSteps};
/// let counts = ThreadComm::run(2, |comm| {
///     let sim = Simulation::<f64, _>::builder(Cosmology::planck18())
///         .box_size(64.0)
///         .particles(8)
///         .mesh(8)
///         .steps(TimeSteps::LinearA { a_start: 0.1, a_end: 1.0, steps: 2 })
///         .build_on(comm)
///         .unwrap();
///     let local = sim.run_on(comm, &mut []).unwrap();
///     assert_eq!(local.a, 1.0);
///     local.len()
/// })
/// .unwrap();
/// assert_eq!(counts.iter().sum::<usize>(), 8 * 8 * 8);
/// ```
pub struct Simulation<T: Real, K: ForceKernel> {
    cosmology: Cosmology<f64>,
    growth: Arc<GrowthTable<f64>>,
    power: LinearPower<f64>,
    particles: MeshBlock<T>,
    forces: PmForces<T, K>,
    stepper: Box<dyn Stepper>,
    scale_factors: Vec<f64>,
    lpt_order: LptOrder,
    noise: NoiseSource,
    mode_options: ModeOptions,
}

/// Builder of a [`Simulation`]; every setting has a default (256 Mpc/h, 64^3 particles,
/// 128^3 mesh, FastPM kernel with CIC, FastPM stepper, 2LPT, 10 steps linear in a from
/// 0.1 to 1, seed 0, Eisenstein & Hu power).
pub struct SimulationBuilder<T: Real, K: ForceKernel> {
    cosmology: Cosmology<f64>,
    box_size: f64,
    particles: usize,
    mesh: usize,
    kernel: K,
    scheme: Scheme,
    compensate: bool,
    stepper: StepperKind,
    steps: TimeSteps,
    lpt_order: LptOrder,
    noise: NoiseSource,
    mode_options: ModeOptions,
    power: Option<LinearPower<f64>>,
    _real: std::marker::PhantomData<T>,
}

impl<T: Real> Simulation<T, FastPmKernel> {
    /// A builder with the defaults listed on [`SimulationBuilder`].
    pub fn builder(cosmology: Cosmology<f64>) -> SimulationBuilder<T, FastPmKernel> {
        SimulationBuilder {
            cosmology,
            box_size: 256.0,
            particles: 64,
            mesh: 128,
            kernel: FastPmKernel,
            scheme: Scheme::Cic,
            compensate: false,
            stepper: StepperKind::FastPm,
            steps: TimeSteps::LinearA {
                a_start: 0.1,
                a_end: 1.0,
                steps: 10,
            },
            lpt_order: LptOrder::Second,
            noise: NoiseSource::Seed(0),
            mode_options: ModeOptions::default(),
            power: None,
            _real: std::marker::PhantomData,
        }
    }
}

impl<T: Real, K: ForceKernel> SimulationBuilder<T, K> {
    /// Box side, Mpc/h.
    pub fn box_size(mut self, box_size: f64) -> Self {
        self.box_size = box_size;
        self
    }
    /// Particles per side.
    pub fn particles(mut self, n: usize) -> Self {
        self.particles = n;
        self
    }
    /// Force mesh cells per side.
    pub fn mesh(mut self, n: usize) -> Self {
        self.mesh = n;
        self
    }
    /// The force kernel.
    pub fn kernel<K2: ForceKernel>(self, kernel: K2) -> SimulationBuilder<T, K2> {
        SimulationBuilder {
            cosmology: self.cosmology,
            box_size: self.box_size,
            particles: self.particles,
            mesh: self.mesh,
            kernel,
            scheme: self.scheme,
            compensate: self.compensate,
            stepper: self.stepper,
            steps: self.steps,
            lpt_order: self.lpt_order,
            noise: self.noise,
            mode_options: self.mode_options,
            power: self.power,
            _real: std::marker::PhantomData,
        }
    }
    /// Mass assignment scheme of the force (paint and readout).
    pub fn scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = scheme;
        self
    }
    /// Deconvolve the paint and readout windows in the force.
    pub fn window_compensation(mut self, on: bool) -> Self {
        self.compensate = on;
        self
    }
    /// The time stepper.
    pub fn stepper(mut self, stepper: StepperKind) -> Self {
        self.stepper = stepper;
        self
    }
    /// The step boundaries; the first is where LPT places the particles.
    pub fn steps(mut self, steps: TimeSteps) -> Self {
        self.steps = steps;
        self
    }
    /// LPT order of the initial conditions.
    pub fn lpt(mut self, order: LptOrder) -> Self {
        self.lpt_order = order;
        self
    }
    /// White noise from this seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.noise = NoiseSource::Seed(seed);
        self
    }
    /// White noise from a `.npy` file.
    pub fn white_noise_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.noise = NoiseSource::File(path.into());
        self
    }
    /// Fixed amplitude / paired phases.
    pub fn modes(mut self, options: ModeOptions) -> Self {
        self.mode_options = options;
        self
    }
    /// A linear power spectrum other than Eisenstein & Hu's.
    pub fn power(mut self, power: LinearPower<f64>) -> Self {
        self.power = Some(power);
        self
    }

    /// Validates everything and plans the FFTs of a one-rank run.
    pub fn build(self) -> Result<Simulation<T, K>, IntegrateError> {
        self.build_on(&SerialComm)
    }

    /// Validates everything and plans the calling rank's share of a run over `comm`: its
    /// slabs of the particle grid and of the force mesh, with their FFTs (collective calls
    /// follow: every rank must build). The one-rank run is `build_on(&SerialComm)`.
    ///
    /// Errors: as [`SimulationBuilder::build`], and more ranks than planes of the particle
    /// grid or of the force mesh ([`IntegrateError::Mesh`]).
    pub fn build_on(self, comm: &dyn Comm) -> Result<Simulation<T, K>, IntegrateError> {
        self.cosmology.validate()?;
        if !(self.box_size.is_finite() && self.box_size > 0.0) {
            return Err(IntegrateError::Config {
                what: "box size",
                reason: format!("{} Mpc/h must be finite and positive", self.box_size),
            });
        }
        for (what, n) in [
            ("particles per side", self.particles),
            ("mesh cells per side", self.mesh),
        ] {
            if n < 2 || n % 2 != 0 {
                return Err(IntegrateError::Config {
                    what,
                    reason: format!("{n} must be even and at least 2"),
                });
            }
        }
        let scale_factors = self.steps.scale_factors()?;
        let growth = Arc::new(GrowthTable::new(&self.cosmology)?);
        growth.check_range(
            scale_factors[0],
            *scale_factors.last().expect("two or more"),
        )?;
        let power = match self.power {
            Some(p) => p,
            None => LinearPower::eisenstein_hu(&self.cosmology)?,
        };
        let particle_mesh = Mesh::cubic(self.particles, self.box_size)?;
        let particles = MeshBlock::new(particle_mesh, comm)?;
        let mesh = Mesh::cubic(self.mesh, self.box_size)?;
        let gravity = Gravity::on(mesh, self.kernel, comm)?
            .with_scheme(self.scheme)?
            .with_window_compensation(self.compensate);
        let forces = PmForces::new(gravity, self.cosmology.omega_m());
        let stepper = self.stepper.build(growth.clone(), &self.cosmology);
        Ok(Simulation {
            cosmology: self.cosmology,
            growth,
            power,
            particles,
            forces,
            stepper,
            scale_factors,
            lpt_order: self.lpt_order,
            noise: self.noise,
            mode_options: self.mode_options,
        })
    }
}

impl<T: Real, K: ForceKernel> Simulation<T, K> {
    /// The cosmology.
    pub fn cosmology(&self) -> &Cosmology<f64> {
        &self.cosmology
    }
    /// The growth table.
    pub fn growth(&self) -> &Arc<GrowthTable<f64>> {
        &self.growth
    }
    /// The linear power spectrum.
    pub fn power(&self) -> &LinearPower<f64> {
        &self.power
    }
    /// The step boundaries.
    pub fn scale_factors(&self) -> &[f64] {
        &self.scale_factors
    }
    /// The force (this rank's share of the PM solve).
    pub fn forces(&self) -> &PmForces<T, K> {
        &self.forces
    }
    /// The force, mutable (e.g. to change the prefactor or the kernel's parameters).
    pub fn forces_mut(&mut self) -> &mut PmForces<T, K> {
        &mut self.forces
    }
    /// The stepper.
    pub fn stepper(&self) -> &dyn Stepper {
        self.stepper.as_ref()
    }
    /// The grid of the initial conditions (one cell per particle).
    pub fn particle_mesh(&self) -> &Mesh {
        self.particles.mesh()
    }
    /// This rank's block of the particle grid (the grid of the white noise, the linear modes
    /// and the LPT fields), with its FFT.
    pub fn particle_block(&self) -> &MeshBlock<T> {
        &self.particles
    }
    /// The LPT order of the initial conditions.
    pub fn lpt_order(&self) -> LptOrder {
        self.lpt_order
    }
    /// Where the white noise comes from.
    pub fn noise_source(&self) -> &NoiseSource {
        &self.noise
    }
    /// The options of the linear modes (fixed amplitude, phase flip).
    pub fn mode_options(&self) -> ModeOptions {
        self.mode_options
    }

    /// The whole white noise on the particle grid (on any rank: every rank can draw it).
    pub fn white_noise(&self) -> Result<RealField<T>, IntegrateError> {
        let mesh = *self.particle_mesh();
        let shape = mesh.shape();
        let noise = match &self.noise {
            NoiseSource::Seed(seed) => white_noise::<T>(shape, *seed),
            NoiseSource::File(path) => read_white_noise_npy::<T>(path, shape)?,
        };
        Ok(RealField::from_array(mesh, noise)?)
    }

    /// This rank's block of the white noise: the x-planes of its particle block, drawn from
    /// the seed for these planes only (the same values as [`Simulation::white_noise`]), or
    /// read whole from the file and cut. Local.
    pub fn noise_block(&self) -> Result<RealField<T>, IntegrateError> {
        let mesh = *self.particle_mesh();
        if self.particles.is_whole() {
            return self.white_noise();
        }
        let shape = mesh.shape();
        let xr = self.particles.x_planes();
        let block = match &self.noise {
            NoiseSource::Seed(seed) => white_noise_block::<T>(
                shape,
                [xr.start, 0, 0],
                [xr.len(), shape[1], shape[2]],
                *seed,
            ),
            NoiseSource::File(path) => {
                let all = read_white_noise_npy::<T>(path, shape)?;
                all.slice(ndarray::s![xr.clone(), .., ..]).to_owned()
            }
        };
        // Logical (C) order whatever the array's layout.
        let data: Vec<T> = block.iter().copied().collect();
        Ok(RealField::from_block(mesh, xr, data)?)
    }

    /// This rank's block of the linear density modes at a = 1 from this rank's block of a
    /// white-noise field on the particle grid (see [`linear_modes`]). Collective.
    pub fn linear_modes_from(
        &self,
        comm: &dyn Comm,
        noise: &RealField<T>,
    ) -> Result<FourierField<T>, IntegrateError> {
        linear_modes(comm, &self.particles, noise, &self.power, self.mode_options)
    }

    /// This rank's LPT fields from its block of the white noise (see
    /// [`Simulation::noise_block`]). Collective.
    pub fn lpt(&self, comm: &dyn Comm) -> Result<Lpt<T>, IntegrateError> {
        self.lpt_from(comm, &self.noise_block()?)
    }

    /// This rank's LPT fields from its block of a given white-noise field. Collective.
    pub fn lpt_from(
        &self,
        comm: &dyn Comm,
        noise: &RealField<T>,
    ) -> Result<Lpt<T>, IntegrateError> {
        self.lpt_from_modes(comm, &self.linear_modes_from(comm, noise)?)
    }

    /// This rank's LPT fields from its block of given linear modes at a = 1. Collective.
    pub fn lpt_from_modes(
        &self,
        comm: &dyn Comm,
        modes: &FourierField<T>,
    ) -> Result<Lpt<T>, IntegrateError> {
        Lpt::new(comm, &self.particles, modes, self.lpt_order)
    }

    /// This rank's particles at the first scale factor (LPT), carrying their LPT fields when
    /// the stepper moves the LPT frame (COLA). Collective.
    pub fn initial_state(&self, comm: &dyn Comm) -> Result<State<T>, IntegrateError> {
        self.initial_state_from(comm, &self.noise_block()?)
    }

    /// [`Simulation::initial_state`] from this rank's block of a given white-noise field
    /// (the start of a run from another noise, e.g. for a finite difference). Collective.
    pub fn initial_state_from(
        &self,
        comm: &dyn Comm,
        noise: &RealField<T>,
    ) -> Result<State<T>, IntegrateError> {
        self.lpt_from(comm, noise)?.into_state(
            self.scale_factors[0],
            &self.growth,
            self.stepper.needs_lpt(),
        )
    }

    /// Runs the one-rank simulation from the LPT initial state to the last scale factor,
    /// calling every observer at the start and after each step; returns the final state.
    pub fn run(&self, observers: &mut [&mut dyn Observer<T>]) -> Result<State<T>, IntegrateError> {
        self.run_on(&SerialComm, observers)
    }

    /// [`Simulation::run`] over `comm`: this rank's particles at the last scale factor.
    /// Collective.
    pub fn run_on(
        &self,
        comm: &dyn Comm,
        observers: &mut [&mut dyn Observer<T>],
    ) -> Result<State<T>, IntegrateError> {
        let state = self.initial_state(comm)?;
        self.evolve_on(comm, state, observers)
    }

    /// Integrates `state` (at the first scale factor) through every step of the one-rank
    /// run.
    pub fn evolve(
        &self,
        state: State<T>,
        observers: &mut [&mut dyn Observer<T>],
    ) -> Result<State<T>, IntegrateError> {
        self.evolve_on(&SerialComm, state, observers)
    }

    /// Integrates `state` (this rank's share of the particles at the first scale factor, on
    /// any ranks) through every step, with a migration after each drift; calls the observers
    /// with this rank's particles at the start, at each drift (those that want it) and after
    /// each step. Collective.
    ///
    /// Errors: an invalid state on any rank (reported there, and as a collective failure on
    /// the others), a COLA stepper without the LPT fields, errors of the steps and of the
    /// observers.
    pub fn evolve_on(
        &self,
        comm: &dyn Comm,
        mut state: State<T>,
        observers: &mut [&mut dyn Observer<T>],
    ) -> Result<State<T>, IntegrateError> {
        let local = state.validate().and_then(|()| {
            if self.stepper.needs_lpt() && state.psi1.is_none() {
                Err(IntegrateError::Config {
                    what: "stepper",
                    reason: format!("{} needs the LPT fields in the state", self.stepper.name()),
                })
            } else {
                Ok(())
            }
        });
        agree(comm, local, "an invalid state was passed to the run")?;
        migrate(comm, &self.forces, &mut state, &mut [])?;
        let steps = self.scale_factors.len() - 1;
        let mut info = StepInfo {
            index: 0,
            steps,
            a_prev: state.a,
            a: state.a,
        };
        for o in observers.iter_mut() {
            o.observe(&info, &state)?;
        }
        let wants_steps = observers.iter().any(|o| o.wants_steps());
        for (i, &a1) in self.scale_factors[1..].iter().enumerate() {
            let a0 = state.a;
            let mut watch = |x0: &[[T; 3]], after: &State<T>| -> Result<(), IntegrateError> {
                let step = StepPositions {
                    step: i,
                    a0,
                    a1,
                    x0: after.positions_with(x0),
                    x1: after.positions(),
                };
                for o in observers.iter_mut().filter(|o| o.wants_steps()) {
                    o.observe_step(&step)?;
                }
                Ok(())
            };
            let watch: Option<DriftWatch<'_, T>> =
                if wants_steps { Some(&mut watch) } else { None };
            kdk_step(
                comm,
                self.stepper.as_ref(),
                &self.forces,
                &mut state,
                a1,
                watch,
            )?;
            info.index = i + 1;
            info.a_prev = a0;
            info.a = a1;
            for o in observers.iter_mut() {
                o.observe(&info, &state)?;
            }
        }
        Ok(state)
    }

    /// Wall time this rank spent per phase since the simulation was built or
    /// [`Simulation::reset_times`]: the force solves' (`fft`, `transpose`, `paint`, `halo`,
    /// `readout`, `other`: the kernel), the migrations, and the FFTs of the initial
    /// conditions (added to `fft` and `transpose`).
    pub fn times(&self) -> PhaseTimes {
        self.forces.gravity.times() + self.particles.times()
    }

    /// Sets [`Simulation::times`] back to zero.
    pub fn reset_times(&self) {
        self.forces.gravity.reset_times();
        self.particles.reset_times();
    }
}
