//! `pmrs.Simulation`: one configured simulation, its forward run from a white noise, the
//! vector-Jacobian product of that run, and the gradients of the stock objectives, with
//! respect to the white noise and the cosmological parameters.

use std::path::PathBuf;

use numpy::Element;
use pm_adjoint::{
    CosmologyGradient, GaussianLikelihood, Objective, Painted, PowerLossForm, PowerSpectrumLoss,
    Sigma, StateCotangent, Sum, WhiteNoisePrior, run_cosmology_gradient, value_and_gradient, vjp,
};
use pm_cli::config::{Precision, RunPlan};
use pm_cli::kernel::ConfiguredKernel;
use pm_cli::run::build_simulation;
use pm_cosmo::{Amplitude, Cosmology, Param};
use pm_decomp::SerialComm;
use pm_fft::Real;
use pm_integrate::{Simulation, State, StepInfo};
use pm_mesh::{Mesh, PowerOptions, RealField, Scheme};
use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays::{field_array, read_array, read_rows, rows_array};
use crate::config::{config_of, type_name};
use crate::errors::{from_adjoint, from_cli, from_integrate};
use crate::worker::{Stop, run_detached};

/// The configured simulation in its precision.
pub enum Engine {
    /// `simulation.precision = "f32"`.
    F32(Simulation<f32, ConfiguredKernel>),
    /// `simulation.precision = "f64"`.
    F64(Simulation<f64, ConfiguredKernel>),
}

/// Runs `$body` with `$sim` bound to the engine's simulation, whatever its precision.
macro_rules! on_engine {
    ($engine:expr, $sim:ident => $body:expr) => {
        match $engine {
            Engine::F32($sim) => $body,
            Engine::F64($sim) => $body,
        }
    };
}

/// The simulation a plan describes, in its precision.
pub fn engine_of(plan: &RunPlan) -> PyResult<Engine> {
    Ok(match plan.config.simulation.precision {
        Precision::F32 => Engine::F32(build_simulation::<f32>(plan).map_err(from_cli)?),
        Precision::F64 => Engine::F64(build_simulation::<f64>(plan).map_err(from_cli)?),
    })
}

/// A simulation configured once (a dict with the TOML config's keys, a path to a TOML file,
/// or None for the defaults), run from any white noise: `forward(noise)` gives the final
/// particles, `vjp(noise, cotangent)` the gradient of a scalar of them with respect to the
/// noise and the cosmological parameters, `value_and_grad(noise, ...)` that of a stock
/// objective. Arrays have the config's precision (float32 or float64). Every run releases
/// the GIL and uses `simulation.threads` threads.
#[pyclass(name = "Simulation", module = "pmrs", frozen)]
pub struct PySimulation {
    plan: RunPlan,
    base: PathBuf,
    engine: Engine,
}

impl PySimulation {
    fn particles(&self) -> usize {
        self.plan.config.simulation.particles
    }

    fn threads(&self) -> usize {
        self.plan.config.simulation.threads
    }

    /// Builds a simulation from a validated plan (with the GIL released).
    fn from_plan(py: Python<'_>, plan: RunPlan, base: PathBuf) -> PyResult<Self> {
        let threads = plan.config.simulation.threads;
        let engine = run_detached(py, threads, |_| engine_of(&plan))?;
        Ok(Self { plan, base, engine })
    }
}

#[pymethods]
impl PySimulation {
    /// A `MemoryError` before anything is allocated when a gradient of this simulation
    /// would need more than the available memory (or `max_memory`, `"8G"`).
    #[new]
    #[pyo3(signature = (config = None, max_memory = None))]
    fn new(
        py: Python<'_>,
        config: Option<&Bound<'_, PyAny>>,
        max_memory: Option<&str>,
    ) -> PyResult<Self> {
        let (config, base) = config_of(config)?;
        let plan = config.plan(&base).map_err(from_cli)?;
        let mesh = plan.config.simulation.mesh;
        crate::config::check_memory(
            pm_cli::estimate::Estimate::adjoint(&plan, mesh, "simulation.mesh", false),
            max_memory,
            "pmrs.Simulation",
        )?;
        Self::from_plan(py, plan, base)
    }

    /// `"f32"` or `"f64"`.
    #[getter]
    fn precision(&self) -> &'static str {
        on_engine!(&self.engine, _s => precision_name(_s))
    }

    /// numpy's name of the arrays' dtype: `"float32"` or `"float64"`.
    #[getter]
    fn dtype(&self) -> &'static str {
        on_engine!(&self.engine, s => dtype_of(s))
    }

    /// Particles per side.
    #[getter]
    fn particles_per_side(&self) -> usize {
        self.particles()
    }

    /// Box side, Mpc/h.
    #[getter]
    fn box_size(&self) -> f64 {
        self.plan.config.simulation.box_size
    }

    /// Force mesh cells per side.
    #[getter]
    fn mesh(&self) -> usize {
        self.plan.config.simulation.mesh
    }

    /// The step boundaries (scale factors), first the LPT start.
    #[getter]
    fn scale_factors(&self) -> Vec<f64> {
        self.plan.scale_factors.clone()
    }

    /// The cosmological parameters a gradient is taken with respect to, by name: `Omega_m`,
    /// `Omega_b`, `h`, `n_s`, `sigma8` (or `A_s`), `w0`, `wa`.
    #[getter]
    fn cosmology<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = &self.plan.cosmology;
        let d = PyDict::new(py);
        for p in Param::ALL {
            d.set_item(param_name(p, c), param_value(p, c))?;
        }
        Ok(d)
    }

    /// The full configuration, every default filled in, as TOML text (what `pm run` writes
    /// as `config.toml`).
    #[getter]
    fn config_toml(&self) -> PyResult<String> {
        toml::to_string(&self.plan.config).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// A new simulation with the same configuration and these cosmological parameters
    /// (names as in [`PySimulation::cosmology`]; `Omega_m` and `Omega_b` each at fixed
    /// other, as the gradients are taken: `Omega_c = Omega_m - Omega_b`), validated as the
    /// config's `[cosmology]` keys are.
    fn with_cosmology(&self, py: Python<'_>, params: &Bound<'_, PyDict>) -> PyResult<Self> {
        let mut config = self.plan.config.clone();
        let current = self.plan.cosmology;
        let (mut omega_m, mut omega_b) = (None, None);
        for (k, v) in params.iter() {
            let name: String = k.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "cosmological parameters: names must be strings, got {}",
                    type_name(&k)
                ))
            })?;
            let value: f64 = v
                .call_method0("__float__")
                .and_then(|f| f.extract())
                .map_err(|_| {
                    PyTypeError::new_err(format!(
                        "cosmology.{name}: expected a number, got {}",
                        type_name(&v)
                    ))
                })?;
            match name.as_str() {
                "Omega_m" => omega_m = Some(value),
                "Omega_b" => omega_b = Some(value),
                "h" | "n_s" | "sigma8" | "A_s" | "w0" | "wa" => {
                    if name == "sigma8" || name == "A_s" {
                        config.cosmology.parameters.remove("sigma8");
                        config.cosmology.parameters.remove("A_s");
                    }
                    config
                        .cosmology
                        .parameters
                        .insert(name, toml::Value::Float(value));
                }
                _ => {
                    return Err(PyKeyError::new_err(format!(
                        "cosmology.{name}: not a parameter pmrs differentiates (Omega_m, \
                         Omega_b, h, n_s, sigma8 or A_s, w0, wa)"
                    )));
                }
            }
        }
        // The parameters are those of the gradient (pm_cosmo::Param): Omega_m total and
        // Omega_b, each at fixed other, so Omega_c = Omega_m - Omega_b follows both.
        if omega_m.is_some() || omega_b.is_some() {
            let m = omega_m.unwrap_or_else(|| current.omega_m());
            let b = omega_b.unwrap_or(current.omega_b);
            for (key, value) in [("Omega_b", b), ("Omega_c", m - b)] {
                config
                    .cosmology
                    .parameters
                    .insert(key.into(), toml::Value::Float(value));
            }
        }
        let derived = omega_m.is_some() || omega_b.is_some();
        let plan = config.plan(&self.base).map_err(|e| match e {
            // Omega_c is what the config holds; the caller gave Omega_m.
            pm_cli::CliError::Config { key, reason } if derived && key.contains("Omega_c") => {
                PyValueError::new_err(format!(
                    "invalid configuration: cosmology.Omega_m / cosmology.Omega_b: {reason} \
                     (Omega_c = Omega_m - Omega_b)"
                ))
            }
            e => from_cli(e),
        })?;
        Self::from_plan(py, plan, self.base.clone())
    }

    /// The white noise of the config's seed (or `simulation.white_noise` file), shape
    /// `(n, n, n)` for `n` particles per side.
    fn white_noise<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        on_engine!(&self.engine, s => {
            Ok(field_array(py, s.white_noise().map_err(from_integrate)?))
        })
    }

    /// The unperturbed lattice positions `q` of the particles, Mpc/h, shape `(n^3, 3)`, row
    /// `i` lattice point `i` in C order: a particle's position is `q + displacement`.
    fn lattice<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        on_engine!(&self.engine, s => lattice_t(py, s))
    }

    /// Runs the simulation from the white noise `noise` (shape `(n, n, n)`, the config's
    /// dtype, C order) and returns the final particles: a dict with `a`, `displacements`
    /// and `momenta` (`(n^3, 3)` each, row `i` lattice point `i`; positions are
    /// `lattice() + displacements`, not wrapped). Ctrl-C stops it at the end of the step
    /// (KeyboardInterrupt).
    fn forward<'py>(
        &self,
        py: Python<'py>,
        noise: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        on_engine!(&self.engine, s => forward_t(py, s, self.threads(), noise))
    }

    /// The vector-Jacobian product of [`PySimulation::forward`] at `noise`: for the
    /// cotangents `cotangent = {"displacements": dL/dx, "momenta": dL/dp}` of the final
    /// particles (either may be omitted for zero), the gradient of `L` with respect to the
    /// noise and, with `cosmology=True`, the cosmological parameters. `final_state`, the
    /// dict `forward(noise)` returned, saves running the forward simulation again. Returns
    /// `{"noise": array, "cosmology": {name: value}}`.
    #[pyo3(signature = (noise, cotangent, final_state = None, cosmology = true))]
    fn vjp<'py>(
        &self,
        py: Python<'py>,
        noise: &Bound<'py, PyAny>,
        cotangent: &Bound<'py, PyDict>,
        final_state: Option<&Bound<'py, PyDict>>,
        cosmology: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        on_engine!(&self.engine, sim => {
            let run = Run { sim, plan: &self.plan, threads: self.threads() };
            vjp_t(py, run, noise, cotangent, final_state, cosmology)
        })
    }

    /// The value and gradient of a stock objective of the run from `noise`:
    ///
    /// * `"likelihood"`: `L = sum_c (delta[c] - data[c])^2 / (2 sigma^2)` of the CIC-painted
    ///   final density contrast `delta` on the mesh of `data` (shape `(m, m, m)`), with the
    ///   residual smoothed by a Gaussian of `smoothing` Mpc/h if given, plus the white-noise
    ///   prior `|noise|^2 / 2` when `prior` (the negative log-posterior up to a constant);
    /// * `"power"`: `L = sum_b (P_b / target_b - 1)^2` (`form="log"`: `(ln P_b - ln
    ///   target_b)^2`) of the final density's P(k) on the force mesh, CIC-compensated, in
    ///   the bins `simulate` reports (`target` one value per bin), plus the prior when
    ///   `prior`.
    ///
    /// Returns `(value, {"noise": dL/dnoise, "cosmology": {name: dL/dparam}})`.
    #[pyo3(signature = (noise, objective = "likelihood", data = None, sigma = None, prior = true, smoothing = 0.0, target = None, form = "ratio", cosmology = true))]
    #[allow(clippy::too_many_arguments)]
    fn value_and_grad<'py>(
        &self,
        py: Python<'py>,
        noise: &Bound<'py, PyAny>,
        objective: &str,
        data: Option<&Bound<'py, PyAny>>,
        sigma: Option<&Bound<'py, PyAny>>,
        prior: bool,
        smoothing: f64,
        target: Option<&Bound<'py, PyAny>>,
        form: &str,
        cosmology: bool,
    ) -> PyResult<(f64, Bound<'py, PyDict>)> {
        let args = ObjectiveArgs {
            objective,
            data,
            sigma,
            prior,
            smoothing,
            target,
            form,
        };
        on_engine!(&self.engine, sim => {
            let run = Run { sim, plan: &self.plan, threads: self.threads() };
            value_and_grad_t(py, run, noise, &args, cosmology)
        })
    }

    fn __repr__(&self) -> String {
        let s = &self.plan.config.simulation;
        format!(
            "pmrs.Simulation({}^3 particles, {}^3 mesh, {} Mpc/h, {} steps, {})",
            s.particles,
            s.mesh,
            s.box_size,
            self.plan.scale_factors.len() - 1,
            self.precision()
        )
    }
}

fn precision_name<T: Real>(_: &Simulation<T, ConfiguredKernel>) -> &'static str {
    T::NAME
}

fn dtype_of<T: Real>(_: &Simulation<T, ConfiguredKernel>) -> &'static str {
    crate::arrays::dtype_name::<T>()
}

fn lattice_t<'py, T: Real + Element>(
    py: Python<'py>,
    sim: &Simulation<T, ConfiguredKernel>,
) -> PyResult<Bound<'py, PyAny>> {
    let lattice = lattice_of(sim)?;
    let q: Vec<[T; 3]> = (0..lattice.len())
        .map(|i| lattice.q(i).map(T::lit))
        .collect();
    rows_array(py, q)
}

/// The particles' lattice (C order, no offset).
fn lattice_of<T: Real>(sim: &Simulation<T, ConfiguredKernel>) -> PyResult<pm_mesh::Lattice> {
    let mesh = sim.particle_mesh();
    pm_mesh::Lattice::new(mesh.shape(), mesh.box_size())
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// A simulation with what a run of it needs from its plan.
struct Run<'a, T: Real> {
    sim: &'a Simulation<T, ConfiguredKernel>,
    plan: &'a RunPlan,
    threads: usize,
}

/// The white noise from Python, checked against the simulation's particle grid.
fn noise_field<T: Real + Element>(
    sim: &Simulation<T, ConfiguredKernel>,
    noise: &Bound<'_, PyAny>,
) -> PyResult<RealField<T>> {
    let mesh = *sim.particle_mesh();
    let values = read_array::<T>(noise, "noise", &mesh.shape())?;
    RealField::from_vec(mesh, values).map_err(|e| PyValueError::new_err(format!("noise: {e}")))
}

fn state_dict<'py, T: Real + Element>(
    py: Python<'py>,
    state: State<T>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("a", state.a)?;
    d.set_item("displacements", rows_array(py, state.disp)?)?;
    d.set_item("momenta", rows_array(py, state.mom)?)?;
    Ok(d)
}

fn forward_t<'py, T: Real + Element>(
    py: Python<'py>,
    sim: &Simulation<T, ConfiguredKernel>,
    threads: usize,
    noise: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let noise = noise_field(sim, noise)?;
    let state = run_detached(py, threads, |stop| evolve(sim, &noise, stop))?;
    state_dict(py, state)
}

/// The forward run from `noise`, stopped at the end of a step when asked.
fn evolve<T: Real>(
    sim: &Simulation<T, ConfiguredKernel>,
    noise: &RealField<T>,
    stop: &Stop,
) -> PyResult<State<T>> {
    let start = sim
        .initial_state_from(&SerialComm, noise)
        .map_err(from_integrate)?;
    let mut check = |info: &StepInfo, _: &State<T>| stop.check(info);
    sim.evolve(start, &mut [&mut check]).map_err(from_integrate)
}

/// Optional `(n, 3)` rows of a dict entry (zeros when absent).
fn rows_or_zeros<T: Real + Element>(
    d: &Bound<'_, PyDict>,
    key: &str,
    what: &str,
    n: usize,
) -> PyResult<Vec<[T; 3]>> {
    match d.get_item(key)? {
        Some(v) if !v.is_none() => read_rows::<T>(&v, &format!("{what}[\"{key}\"]"), n),
        _ => Ok(vec![[T::zero(); 3]; n]),
    }
}

/// Refuses keys of a state-like dict other than the known ones.
fn check_keys(d: &Bound<'_, PyDict>, what: &str, allowed: &[&str]) -> PyResult<()> {
    for k in d.keys() {
        let name: String = k.extract().unwrap_or_default();
        if !allowed.contains(&name.as_str()) {
            return Err(PyKeyError::new_err(format!(
                "{what}: unknown key {:?} (allowed: {})",
                k.to_string(),
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

fn vjp_t<'py, T: Real + Element>(
    py: Python<'py>,
    run: Run<'_, T>,
    noise: &Bound<'py, PyAny>,
    cotangent: &Bound<'py, PyDict>,
    final_state: Option<&Bound<'py, PyDict>>,
    cosmology: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let Run { sim, plan, threads } = run;
    let n = sim.particle_mesh().n_cells();
    let noise = noise_field(sim, noise)?;
    check_keys(cotangent, "cotangent", &["displacements", "momenta"])?;
    let bar = StateCotangent::new(
        rows_or_zeros::<T>(cotangent, "displacements", "cotangent", n)?,
        rows_or_zeros::<T>(cotangent, "momenta", "cotangent", n)?,
    );
    let given = match final_state {
        Some(d) => {
            check_keys(d, "final_state", &["a", "displacements", "momenta"])?;
            let get = |key: &str| -> PyResult<Vec<[T; 3]>> {
                let v = d.get_item(key)?.ok_or_else(|| {
                    PyKeyError::new_err(format!("final_state: missing \"{key}\""))
                })?;
                read_rows::<T>(&v, &format!("final_state[\"{key}\"]"), n)
            };
            Some((get("displacements")?, get("momenta")?))
        }
        None => None,
    };
    let (grad, cosmo) = run_detached(py, threads, |stop| {
        let end = match given {
            Some((disp, mom)) => {
                let a = sim.scale_factors().last().copied().unwrap_or(1.0);
                State::new(lattice_of(sim)?, a, disp, mom).map_err(from_integrate)?
            }
            None => evolve(sim, &noise, stop)?,
        };
        let grad = vjp(&SerialComm, sim, &noise, end, bar).map_err(from_adjoint)?;
        let cosmo = cosmology_gradient_of(sim, &noise, &grad, cosmology)?;
        Ok((grad.noise, cosmo))
    })?;
    gradient_dict(py, plan, grad, cosmo)
}

/// A gradient parameter's name in Python: pm-cosmo's ([`Param::name`]), with the amplitude
/// named after what normalises the cosmology (`sigma8` or `A_s`).
fn param_name(p: Param, c: &Cosmology) -> &'static str {
    match (p, c.amplitude) {
        (Param::Amplitude, Amplitude::Sigma8(_)) => "sigma8",
        (Param::Amplitude, Amplitude::As(_)) => "A_s",
        (p, _) => p.name(),
    }
}

/// A gradient parameter's value in `c`.
fn param_value(p: Param, c: &Cosmology) -> f64 {
    match p {
        Param::OmegaM => c.omega_m(),
        Param::OmegaB => c.omega_b,
        Param::H => c.h,
        Param::Ns => c.n_s,
        Param::Amplitude => match c.amplitude {
            Amplitude::Sigma8(v) | Amplitude::As(v) => v,
        },
        Param::W0 => c.w0,
        Param::Wa => c.wa,
    }
}

/// `dL/dtheta` of a run from `noise` whose gradients are `grad`, when `wanted`.
fn cosmology_gradient_of<T: Real>(
    sim: &Simulation<T, ConfiguredKernel>,
    noise: &RealField<T>,
    grad: &pm_adjoint::Gradient<T>,
    wanted: bool,
) -> PyResult<Option<CosmologyGradient>> {
    wanted
        .then(|| run_cosmology_gradient(&SerialComm, sim, noise, grad, None))
        .transpose()
        .map_err(cosmology_error)
}

/// A cosmology gradient that cannot be taken (a tabulated P(k)) says how to do without.
fn cosmology_error(e: pm_adjoint::AdjointError) -> PyErr {
    let text = e.to_string();
    if text.contains("Eisenstein") {
        PyValueError::new_err(format!(
            "cosmology.power_spectrum: the gradient with respect to the cosmological \
             parameters needs Eisenstein & Hu's P(k) ({text}); pass cosmology=False for the \
             noise gradient alone"
        ))
    } else {
        from_adjoint(e)
    }
}

fn gradient_dict<'py, T: Real + Element>(
    py: Python<'py>,
    plan: &RunPlan,
    noise: RealField<T>,
    cosmo: Option<CosmologyGradient>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("noise", field_array(py, noise))?;
    if let Some(g) = cosmo {
        let c = PyDict::new(py);
        for p in Param::ALL {
            c.set_item(param_name(p, &plan.cosmology), g.get(p))?;
        }
        d.set_item("cosmology", c)?;
    }
    Ok(d)
}

/// The keyword arguments of `value_and_grad`.
struct ObjectiveArgs<'a, 'py> {
    objective: &'a str,
    data: Option<&'a Bound<'py, PyAny>>,
    sigma: Option<&'a Bound<'py, PyAny>>,
    prior: bool,
    smoothing: f64,
    target: Option<&'a Bound<'py, PyAny>>,
    form: &'a str,
}

/// The stock objective `args` describe, checked.
fn objective_of<T: Real + Element>(
    plan: &RunPlan,
    args: &ObjectiveArgs<'_, '_>,
) -> PyResult<Box<dyn Objective<T>>> {
    let box_size = plan.config.simulation.box_size;
    let main: Box<dyn Objective<T>> = match args.objective {
        "likelihood" => {
            let data = args.data.ok_or_else(|| {
                PyValueError::new_err("data: the likelihood needs the observed density contrast")
            })?;
            let shape = cube_shape(data, "data")?;
            let mesh = Mesh::cubic(shape[0], box_size)
                .map_err(|e| PyValueError::new_err(format!("data: {e}")))?;
            let values = read_array::<T>(data, "data", &shape)?;
            let field = RealField::from_vec(mesh, values)
                .map_err(|e| PyValueError::new_err(format!("data: {e}")))?;
            let sigma = match args.sigma {
                None => Sigma::Scalar(1.0),
                Some(s) if s.cast::<numpy::PyUntypedArray>().is_ok() => {
                    let values = read_array::<T>(s, "sigma", &shape)?;
                    Sigma::PerCell(
                        RealField::from_vec(mesh, values)
                            .map_err(|e| PyValueError::new_err(format!("sigma: {e}")))?,
                    )
                }
                Some(s) => Sigma::Scalar(s.extract::<f64>().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "sigma: expected a number or an array of data's shape, got {}",
                        type_name(s)
                    ))
                })?),
            };
            let mut like = GaussianLikelihood::new(field, sigma)
                .map_err(|e| PyValueError::new_err(format!("sigma: {e}")))?;
            if args.smoothing != 0.0 {
                like = like
                    .with_smoothing(args.smoothing)
                    .map_err(|e| PyValueError::new_err(format!("smoothing: {e}")))?;
            }
            Box::new(Painted::new(like))
        }
        "power" => {
            let target = args.target.ok_or_else(|| {
                PyValueError::new_err(
                    "target: the power loss needs the target P(k), one value per bin",
                )
            })?;
            let mesh = Mesh::cubic(plan.config.simulation.mesh, box_size)
                .map_err(|e| PyValueError::new_err(format!("mesh: {e}")))?;
            let options = PowerOptions {
                compensate: Some(Scheme::Cic),
                ..Default::default()
            };
            let bins = pm_mesh::Binning::default_for(&mesh).n_bins();
            let values: Vec<f64> = read_array::<f64>(target, "target", &[bins])?;
            let form = match args.form {
                "ratio" => PowerLossForm::Ratio,
                "log" => PowerLossForm::Log,
                f => {
                    return Err(PyValueError::new_err(format!(
                        "form: {f:?}, expected \"ratio\" or \"log\""
                    )));
                }
            };
            let loss = PowerSpectrumLoss::<T>::new(mesh, options, values, form)
                .map_err(|e| PyValueError::new_err(format!("target: {e}")))?;
            Box::new(Painted::new(loss))
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "objective: {other:?}, expected \"likelihood\" or \"power\""
            )));
        }
    };
    if args.prior {
        Ok(Box::new(Sum::new().with(main).with(WhiteNoisePrior::new())))
    } else {
        Ok(main)
    }
}

/// The shape of a cubic numpy array argument (`(m, m, m)`).
fn cube_shape(array: &Bound<'_, PyAny>, what: &str) -> PyResult<[usize; 3]> {
    let a = array.cast::<numpy::PyUntypedArray>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what}: expected a numpy.ndarray of shape (m, m, m), got {}",
            type_name(array)
        ))
    })?;
    use numpy::PyUntypedArrayMethods;
    match a.shape() {
        &[x, y, z] if x == y && y == z && x >= 2 => Ok([x, y, z]),
        s => Err(PyValueError::new_err(format!(
            "{what}: shape {}, expected a cube (m, m, m) with m >= 2",
            crate::arrays::shape_text(s)
        ))),
    }
}

fn value_and_grad_t<'py, T: Real + Element>(
    py: Python<'py>,
    run: Run<'_, T>,
    noise: &Bound<'py, PyAny>,
    args: &ObjectiveArgs<'_, 'py>,
    cosmology: bool,
) -> PyResult<(f64, Bound<'py, PyDict>)> {
    let Run { sim, plan, threads } = run;
    let noise = noise_field(sim, noise)?;
    let objective = objective_of::<T>(plan, args)?;
    let (value, grad, cosmo) = run_detached(py, threads, |_| {
        let grad = value_and_gradient(&SerialComm, sim, &noise, objective.as_ref())
            .map_err(from_adjoint)?;
        let cosmo = cosmology_gradient_of(sim, &noise, &grad, cosmology)?;
        Ok((grad.value, grad.noise, cosmo))
    })?;
    Ok((value, gradient_dict(py, plan, grad, cosmo)?))
}
