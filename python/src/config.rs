//! A run's configuration from Python: a dict with the TOML config's keys and defaults
//! (`pm init` writes them with comments), a path to a TOML file, or `None` for the
//! defaults; validated by the same code as `pm validate` ([`pm_cli::config::Config::plan`]).

use std::path::{Path, PathBuf};

use pm_cli::config::{Config, RunPlan};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::errors::from_cli;

/// The validated plan of `config` (a dict, a path to a TOML file, or `None`), and the config
/// as a dict-ready TOML table.
pub fn plan_of(config: Option<&Bound<'_, PyAny>>) -> PyResult<RunPlan> {
    let (config, base) = config_of(config)?;
    config.plan(&base).map_err(from_cli)
}

/// The parsed (not yet validated) config and the directory its relative paths are resolved
/// against: the file's directory, or the working directory for a dict.
pub fn config_of(config: Option<&Bound<'_, PyAny>>) -> PyResult<(Config, PathBuf)> {
    let cwd = || std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let Some(config) = config.filter(|c| !c.is_none()) else {
        return Ok((
            Config::parse(pm_cli::config::DEFAULT_CONFIG, "the default config")
                .map_err(from_cli)?,
            cwd(),
        ));
    };
    if let Ok(dict) = config.cast::<PyDict>() {
        let table = table_of(dict, "")?;
        let text =
            toml::to_string(&table).map_err(|e| PyValueError::new_err(format!("config: {e}")))?;
        return Ok((
            Config::parse(&text, "the config dict").map_err(from_cli)?,
            cwd(),
        ));
    }
    if config.is_instance_of::<PyString>() || config.hasattr("__fspath__")? {
        let path: PathBuf = config.extract()?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(cwd);
        return Ok((Config::read(&path).map_err(from_cli)?, base));
    }
    Err(PyTypeError::new_err(format!(
        "config: expected a dict, a path to a TOML file or None, got {}",
        type_name(config)
    )))
}

/// A Python dict as a TOML table; `prefix` is the dotted key of the dict (`""` at the top).
fn table_of(dict: &Bound<'_, PyDict>, prefix: &str) -> PyResult<toml::Table> {
    let mut table = toml::Table::new();
    for (k, v) in dict.iter() {
        let Ok(name) = k.extract::<String>() else {
            return Err(PyTypeError::new_err(format!(
                "config{}: keys must be strings, got {}",
                if prefix.is_empty() {
                    String::new()
                } else {
                    format!(" section {prefix}")
                },
                type_name(&k)
            )));
        };
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        // None means "not given": the default applies.
        if v.is_none() {
            continue;
        }
        table.insert(name, value_of(&v, &key)?);
    }
    Ok(table)
}

/// A Python value as a TOML value: bool, int, float (numpy scalars included), str or a
/// path, a list or tuple of them, or a dict.
fn value_of(v: &Bound<'_, PyAny>, key: &str) -> PyResult<toml::Value> {
    if v.is_instance_of::<PyBool>() {
        return Ok(toml::Value::Boolean(v.extract()?));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        return Ok(toml::Value::Table(table_of(d, key)?));
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let items = v
            .try_iter()?
            .enumerate()
            .map(|(i, item)| value_of(&item?, &format!("{key}[{i}]")))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(toml::Value::Array(items));
    }
    if v.is_instance_of::<PyString>() || v.hasattr("__fspath__")? {
        let path: PathBuf = v.extract()?;
        return Ok(toml::Value::String(path.to_string_lossy().into_owned()));
    }
    let integer = |v: &Bound<'_, PyAny>| {
        v.extract::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| PyValueError::new_err(format!("config key {key}: integer out of range")))
    };
    // Python's int and float first; then numpy's scalars (np.int64 has __index__,
    // np.float32 __float__).
    if v.is_instance_of::<PyInt>() {
        return integer(v);
    }
    if v.is_instance_of::<PyFloat>() {
        return Ok(toml::Value::Float(v.extract::<f64>()?));
    }
    if v.hasattr("__index__")? {
        return integer(v);
    }
    if v.hasattr("__float__")? {
        return Ok(toml::Value::Float(
            v.call_method0("__float__")?.extract::<f64>()?,
        ));
    }
    Err(PyTypeError::new_err(format!(
        "config key {key}: expected a bool, number, string, list or dict, got {}",
        type_name(v)
    )))
}

/// A Python object's type name, for messages.
pub fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Refuses a job whose memory estimate (`estimate`, from [`pm_cli::estimate::Estimate`])
/// exceeds the available memory (`MemAvailable`) or `max_memory` (`"8G"`, `"512M"`, bytes),
/// before anything is allocated: a `MemoryError` naming the estimate, the limit and the keys
/// that set the size. `what` names the call (`pmrs.simulate`).
pub fn check_memory(
    estimate: Result<pm_cli::estimate::Estimate, pm_cli::CliError>,
    max_memory: Option<&str>,
    what: &str,
) -> PyResult<()> {
    use pm_cli::estimate::{MemoryLimit, check_memory, parse_size};
    let estimate = estimate.map_err(from_cli)?;
    let given = max_memory
        .map(|s| parse_size(s).map_err(|e| PyValueError::new_err(format!("max_memory: {e}"))))
        .transpose()?;
    check_memory(&estimate, &MemoryLimit::new(given), what).map_err(|e| match e {
        pm_cli::CliError::TooLarge {
            command,
            what,
            keys,
            ..
        } => pyo3::exceptions::PyMemoryError::new_err(format!(
            "{command} refused before starting: it {what}. Change {keys} to make it \
                 smaller, or pass max_memory=\"SIZE\" (e.g. \"8G\") to set the limit instead \
                 of the available memory"
        )),
        e => from_cli(e),
    })
}
