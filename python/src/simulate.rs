//! `pmrs.simulate(config, white_noise=None)`: the run `pm run` makes of the same config,
//! its snapshots returned as numpy arrays instead of written (the same code computes them:
//! the arrays equal the files byte for byte).

use ndarray_npy::WritableElement;
use numpy::Element;
use pm_cli::config::{Precision, RunPlan};
use pm_cli::run::{build_simulation, linear_power, snapshot_meta};
use pm_cli::snapshot::{SnapshotMeta, density_and_power, wrapped_positions};
use pm_decomp::SerialComm;
use pm_fft::Real;
use pm_integrate::{IntegrateError, State, StepInfo};
use pm_mesh::{Mesh, PowerSpectrum, RealField, Scheme};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::arrays::{field_array, read_array, rows_array, vector_array};
use crate::errors::{from_cli, from_integrate};
use crate::worker::run_detached;

/// One output time's products, in memory.
struct Snapshot<T: Real> {
    meta: SnapshotMeta,
    positions: Option<Vec<[T; 3]>>,
    momenta: Option<Vec<[T; 3]>>,
    density: Option<RealField<T>>,
    power: Option<(PowerSpectrum, Vec<f64>)>,
}

/// Runs the simulation `config` describes (a dict with the TOML config's keys, a path to a
/// TOML file, or None for the defaults) from its seed, or from `white_noise` (shape
/// `(n, n, n)`, the config's dtype), and returns its snapshots at `output.a`. A run whose
/// memory estimate exceeds the available memory (or `max_memory`, `"8G"`) raises
/// `MemoryError` before anything is allocated.
#[pyfunction]
#[pyo3(signature = (config = None, white_noise = None, max_memory = None))]
pub fn simulate<'py>(
    py: Python<'py>,
    config: Option<&Bound<'py, PyAny>>,
    white_noise: Option<&Bound<'py, PyAny>>,
    max_memory: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    let plan = crate::config::plan_of(config)?;
    crate::config::check_memory(
        pm_cli::estimate::Estimate::run(&plan, 1),
        max_memory,
        "pmrs.simulate",
    )?;
    if plan.lensing.is_some() {
        return Err(PyValueError::new_err(
            "invalid configuration: lensing.enabled: the convergence maps are made by `pm run`; \
             pmrs.simulate returns snapshots only (set lensing.enabled = false)",
        ));
    }
    let white_noise = white_noise.filter(|w| !w.is_none());
    match plan.config.simulation.precision {
        Precision::F32 => simulate_t::<f32>(py, &plan, white_noise),
        Precision::F64 => simulate_t::<f64>(py, &plan, white_noise),
    }
}

fn simulate_t<'py, T: Real + Element + WritableElement>(
    py: Python<'py>,
    plan: &RunPlan,
    white_noise: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let n = plan.config.simulation.particles;
    let noise = white_noise
        .map(|w| read_array::<T>(w, "white_noise", &[n, n, n]))
        .transpose()?;
    let threads = plan.config.simulation.threads;
    let snapshots = run_detached(py, threads, |stop| {
        let sim = build_simulation::<T>(plan).map_err(from_cli)?;
        let start = match noise {
            Some(values) => {
                let field = RealField::from_vec(*sim.particle_mesh(), values)
                    .map_err(|e| PyValueError::new_err(format!("white_noise: {e}")))?;
                sim.initial_state_from(&SerialComm, &field)
            }
            None => sim.initial_state(&SerialComm),
        }
        .map_err(from_integrate)?;
        let mut taken = Vec::new();
        let mut failure = None;
        let mut observer = |info: &StepInfo, state: &State<T>| -> Result<(), IntegrateError> {
            if plan.outputs.contains(&info.index) {
                let meta = snapshot_meta(plan, &sim, info.index, state.a);
                match snapshot(plan, meta, state, &linear_power(&sim, state.a)) {
                    Ok(s) => taken.push(s),
                    Err(e) => {
                        let message = e.to_string();
                        failure = Some(e);
                        return Err(IntegrateError::Observer(message));
                    }
                }
            }
            stop.check(info)
        };
        let result = sim.evolve(start, &mut [&mut observer]);
        if let Some(e) = failure {
            return Err(from_cli(e));
        }
        result.map_err(from_integrate)?;
        Ok(taken)
    })?;
    let list = PyList::empty(py);
    for s in snapshots {
        list.append(snapshot_dict(py, s)?)?;
    }
    let out = PyDict::new(py);
    out.set_item("snapshots", list)?;
    out.set_item("scale_factors", plan.scale_factors.clone())?;
    out.set_item(
        "config_toml",
        toml::to_string(&plan.config).map_err(|e| PyValueError::new_err(e.to_string()))?,
    )?;
    Ok(out)
}

/// The products of the config's `[output]` at one output time: the particles as
/// `positions.npy` and `momenta.npy` hold them, the density contrast and the P(k) (with
/// linear theory) as `density.npy` and `power.csv` do.
fn snapshot<T: Real>(
    plan: &RunPlan,
    meta: SnapshotMeta,
    state: &State<T>,
    linear: &dyn Fn(f64) -> f64,
) -> Result<Snapshot<T>, pm_cli::CliError> {
    let out = &plan.config.output;
    let wrapped = wrapped_positions(state, meta.box_size);
    let (density, power) = if out.density || out.power {
        let mesh = Mesh::cubic(meta.mesh, meta.box_size)?;
        let (delta, power) = density_and_power(
            &SerialComm,
            mesh,
            &wrapped,
            state.len(),
            Scheme::Cic,
            out.density,
        )?;
        let lin = power.k.iter().map(|&k| linear(k)).collect();
        (delta, out.power.then_some((power, lin)))
    } else {
        (None, None)
    };
    Ok(Snapshot {
        meta,
        positions: out.snapshots.then_some(wrapped),
        momenta: out.snapshots.then(|| state.mom.clone()),
        density,
        power,
    })
}

fn snapshot_dict<'py, T: Real + Element>(
    py: Python<'py>,
    s: Snapshot<T>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("a", s.meta.a)?;
    d.set_item("z", s.meta.z)?;
    d.set_item("step", s.meta.step)?;
    if let Some(p) = s.positions {
        d.set_item("positions", rows_array(py, p)?)?;
    }
    if let Some(p) = s.momenta {
        d.set_item("momenta", rows_array(py, p)?)?;
    }
    if let Some(delta) = s.density {
        d.set_item("density", field_array(py, delta))?;
    }
    if let Some((power, linear)) = s.power {
        let p = PyDict::new(py);
        p.set_item("k", vector_array(py, power.k))?;
        p.set_item("power", vector_array(py, power.power))?;
        p.set_item("modes", vector_array(py, power.n_modes))?;
        p.set_item("linear", vector_array(py, linear))?;
        d.set_item("power", p)?;
    }
    let text = serde_json::to_string(&s.meta).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let meta = py.import("json")?.call_method1("loads", (text,))?;
    d.set_item("meta", meta)?;
    Ok(d)
}
