//! `Simulation`: cosmology, mesh, force kernel, stepper and observers wired for the common case.

use std::path::PathBuf;
use std::sync::Arc;

use pm_cosmo::{Cosmology, GrowthTable, LinearPower};
use pm_fft::{CpuFft3d, Fft3d, Real};
use pm_force::{FastPmKernel, ForceKernel, Gravity};
use pm_mesh::{FourierField, Mesh, RealField, Scheme};

use crate::{
    Cola, FastPm, IntegrateError, Leapfrog, Lpt, LptOrder, ModeOptions, Observer, PmForces, State,
    StepInfo, Stepper, TimeSteps, kdk_step, linear_modes, read_white_noise_npy, white_noise,
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
pub struct Simulation<T: Real, K: ForceKernel> {
    cosmology: Cosmology<f64>,
    growth: Arc<GrowthTable<f64>>,
    power: LinearPower<f64>,
    particle_mesh: Mesh,
    particle_plan: Arc<dyn Fft3d<T>>,
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

    /// Validates everything and plans the FFTs.
    pub fn build(self) -> Result<Simulation<T, K>, IntegrateError> {
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
        let particle_plan: Arc<dyn Fft3d<T>> = Arc::new(CpuFft3d::new(particle_mesh.shape())?);
        let mesh = Mesh::cubic(self.mesh, self.box_size)?;
        let gravity = Gravity::cpu(mesh, self.kernel)?
            .with_scheme(self.scheme)
            .with_window_compensation(self.compensate);
        let forces = PmForces::new(gravity, self.cosmology.omega_m());
        let stepper = self.stepper.build(growth.clone(), &self.cosmology);
        Ok(Simulation {
            cosmology: self.cosmology,
            growth,
            power,
            particle_mesh,
            particle_plan,
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
    /// The force.
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
        &self.particle_mesh
    }

    /// The white noise on the particle grid.
    pub fn white_noise(&self) -> Result<RealField<T>, IntegrateError> {
        let shape = self.particle_mesh.shape();
        let noise = match &self.noise {
            NoiseSource::Seed(seed) => white_noise::<T>(shape, *seed),
            NoiseSource::File(path) => read_white_noise_npy::<T>(path, shape)?,
        };
        Ok(RealField::from_array(self.particle_mesh, noise)?)
    }

    /// The FFT plan of the particle grid (the grid of the white noise and linear modes).
    pub fn particle_plan(&self) -> &dyn Fft3d<T> {
        self.particle_plan.as_ref()
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

    /// The linear density modes at a = 1 on the particle grid.
    pub fn linear_modes(&self) -> Result<FourierField<T>, IntegrateError> {
        self.linear_modes_from(&self.white_noise()?)
    }

    /// The linear density modes at a = 1 from a given white-noise field on the particle grid
    /// (see [`linear_modes`]); [`IntegrateError::Mesh`] if `noise` is on another mesh.
    pub fn linear_modes_from(
        &self,
        noise: &RealField<T>,
    ) -> Result<FourierField<T>, IntegrateError> {
        if *noise.mesh() != self.particle_mesh {
            return Err(pm_mesh::MeshError::MeshMismatch {
                what: format!(
                    "white noise on {:?} for the particle grid {:?}",
                    noise.mesh(),
                    self.particle_mesh
                ),
            }
            .into());
        }
        linear_modes(
            noise,
            &self.power,
            self.mode_options,
            self.particle_plan.as_ref(),
        )
    }

    /// The LPT fields of the realisation.
    pub fn lpt(&self) -> Result<Lpt<T>, IntegrateError> {
        self.lpt_from(&self.white_noise()?)
    }

    /// The LPT fields from a given white-noise field on the particle grid.
    pub fn lpt_from(&self, noise: &RealField<T>) -> Result<Lpt<T>, IntegrateError> {
        self.lpt_from_modes(&self.linear_modes_from(noise)?)
    }

    /// The LPT fields from given linear modes at a = 1 on the particle grid.
    pub fn lpt_from_modes(&self, modes: &FourierField<T>) -> Result<Lpt<T>, IntegrateError> {
        if *modes.mesh() != self.particle_mesh {
            return Err(pm_mesh::MeshError::MeshMismatch {
                what: format!(
                    "linear modes on {:?} for the particle grid {:?}",
                    modes.mesh(),
                    self.particle_mesh
                ),
            }
            .into());
        }
        Lpt::new(modes, self.lpt_order, self.particle_plan.as_ref())
    }

    /// Runs from the LPT initial state to the last scale factor, calling every observer at
    /// the start and after each step; returns the final state.
    pub fn run(&self, observers: &mut [&mut dyn Observer<T>]) -> Result<State<T>, IntegrateError> {
        let lpt = self.lpt()?;
        let state = lpt.state(self.scale_factors[0], &self.growth)?;
        self.evolve(state, Some(&lpt), observers)
    }

    /// Integrates `state` (at the first scale factor) through every step.
    pub fn evolve(
        &self,
        mut state: State<T>,
        lpt: Option<&Lpt<T>>,
        observers: &mut [&mut dyn Observer<T>],
    ) -> Result<State<T>, IntegrateError> {
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
        for (i, &a1) in self.scale_factors[1..].iter().enumerate() {
            info.a_prev = state.a;
            kdk_step(self.stepper.as_ref(), &mut state, a1, &self.forces, lpt)?;
            info.index = i + 1;
            info.a = a1;
            for o in observers.iter_mut() {
                o.observe(&info, &state)?;
            }
        }
        Ok(state)
    }
}
