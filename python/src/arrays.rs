//! numpy arrays in and out. An array going in must have the run's dtype (float32 or
//! float64, from `simulation.precision`), the expected shape and C order; anything else is
//! refused with a message naming the argument and what was expected, never converted
//! silently; it is copied once, into the buffer the simulation owns. Arrays coming out take
//! over the simulation's buffers (no copy).

use numpy::ndarray::Array2;
use numpy::{
    Element, IntoPyArray, PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods,
};
use pm_fft::Real;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::config::type_name;

/// A shape as Python writes it: `(8, 8, 8)`, `(3,)`.
pub fn shape_text(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        s => format!(
            "({})",
            s.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The numpy dtype name of `T`.
pub fn dtype_name<T: Real>() -> &'static str {
    pm_cli::snapshot::dtype_name::<T>()
}

/// The values of `array` (named `what` in errors), checked: a numpy array of dtype `T`,
/// shape `shape`, C-contiguous, every value finite. Copied once into a vector the
/// simulation owns.
pub fn read_array<T: Real + Element>(
    array: &Bound<'_, PyAny>,
    what: &str,
    shape: &[usize],
) -> PyResult<Vec<T>> {
    let untyped = array.cast::<PyUntypedArray>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what}: expected a numpy.ndarray of {} with shape {}, got {}",
            dtype_name::<T>(),
            shape_text(shape),
            type_name(array)
        ))
    })?;
    let dtype = untyped.dtype();
    let typed = array.cast::<PyArrayDyn<T>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what}: dtype {dtype}, but this simulation runs in {} (simulation.precision = \
             \"{}\"): pass {what}.astype(numpy.{})",
            dtype_name::<T>(),
            T::NAME,
            dtype_name::<T>()
        ))
    })?;
    if untyped.shape() != shape {
        return Err(PyValueError::new_err(format!(
            "{what}: shape {}, expected {}",
            shape_text(untyped.shape()),
            shape_text(shape)
        )));
    }
    if !untyped.is_c_contiguous() {
        let order = if untyped.is_fortran_contiguous() {
            "Fortran-ordered"
        } else {
            "not contiguous"
        };
        return Err(PyValueError::new_err(format!(
            "{what}: the array is {order}; pmrs reads C-ordered arrays without copying or \
             reordering them: pass numpy.ascontiguousarray({what})"
        )));
    }
    let readonly = typed.readonly();
    let values = readonly
        .as_slice()
        .map_err(|e| PyValueError::new_err(format!("{what}: {e}")))?;
    let bad = values.iter().filter(|v| !v.as_f64().is_finite()).count();
    if bad > 0 {
        return Err(PyValueError::new_err(format!(
            "{what}: {bad} value(s) are not finite (NaN or infinite)"
        )));
    }
    Ok(values.to_vec())
}

/// Rows of three as an `(n, 3)` numpy array, taking over the vector's buffer (no copy).
pub fn rows_array<'py, T: Real + Element>(
    py: Python<'py>,
    rows: Vec<[T; 3]>,
) -> PyResult<Bound<'py, PyAny>> {
    let n = rows.len();
    Ok(Array2::from_shape_vec((n, 3), rows.into_flattened())
        .map_err(|e| PyValueError::new_err(e.to_string()))?
        .into_pyarray(py)
        .into_any())
}

/// A field as an `(n0, n1, n2)` numpy array, taking over its buffer (no copy).
pub fn field_array<'py, T: Real + Element>(
    py: Python<'py>,
    field: pm_mesh::RealField<T>,
) -> Bound<'py, PyAny> {
    field.into_array().into_pyarray(py).into_any()
}

/// A vector as a 1-d numpy array.
pub fn vector_array<'py, T: Element>(py: Python<'py>, values: Vec<T>) -> Bound<'py, PyAny> {
    values.into_pyarray(py).into_any()
}

/// An `(n, 3)` array read as rows of three (see [`read_array`]).
pub fn read_rows<T: Real + Element>(
    array: &Bound<'_, PyAny>,
    what: &str,
    n: usize,
) -> PyResult<Vec<[T; 3]>> {
    let flat = read_array::<T>(array, what, &[n, 3])?;
    Ok(flat.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect())
}
