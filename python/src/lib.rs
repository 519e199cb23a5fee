//! The native module of the Python package `pmrs` (`pmrs._pmrs`): PyO3 bindings of the
//! high-level pmrs API. `python/README.md` documents the Python API; `pmrs/jax.py` makes the
//! simulation a JAX-differentiable function on top of it.
//!
//! * [`config`]: a config dict (the TOML keys) or file, validated as `pm validate` does;
//! * [`simulate`]: `pmrs.simulate`, the run with its snapshots as numpy arrays;
//! * [`simulation`]: `pmrs.Simulation`, forward runs, their VJP and objective gradients;
//! * [`arrays`]: numpy arrays in (checked dtype, shape, order) and out;
//! * [`worker`]: runs off the GIL, Ctrl-C, and no panic reaching Python;
//! * [`errors`]: pmrs's errors as Python exceptions.

pub mod arrays;
pub mod config;
pub mod errors;
pub mod simulate;
pub mod simulation;
pub mod worker;

use pyo3::prelude::*;

/// The commented default configuration (what `pm init` writes), as TOML text.
#[pyfunction]
fn default_config() -> &'static str {
    pm_cli::config::DEFAULT_CONFIG
}

/// Checks a configuration (a dict, a path to a TOML file, or None) as `pm validate` does and
/// returns it in full, every default filled in, as TOML text; a bad key raises `ValueError`
/// naming it.
#[pyfunction]
#[pyo3(signature = (config = None))]
fn validate(config: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
    let plan = config::plan_of(config)?;
    toml::to_string(&plan.config)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}

/// pmrs: fast, differentiable particle-mesh N-body simulations.
#[pymodule]
fn _pmrs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(simulate::simulate, m)?)?;
    m.add_function(wrap_pyfunction!(validate, m)?)?;
    m.add_function(wrap_pyfunction!(default_config, m)?)?;
    m.add_class::<simulation::PySimulation>()?;
    Ok(())
}
