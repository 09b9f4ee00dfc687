//! Errors: the core's [`ErrorInfo`] → the Python exception (`confirma._errors._from_native`). The one place
//! where an error's fields are mapped; every error the binding raises (core errors, contained panics, its
//! own configuration errors) goes through [`to_pyerr`].

use confirma::ffi::ErrorInfo;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};

use crate::token::secret_to_py;

static ERROR_FACTORY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Builds the Python exception for an error: every field of [`ErrorInfo`], its cause as `__cause__`.
/// Units: `retry_after` in seconds (`float`).
pub fn error_object<'py>(py: Python<'py>, e: &ErrorInfo) -> PyResult<Bound<'py, PyAny>> {
    let factory = ERROR_FACTORY.import(py, "confirma._errors", "_from_native")?;
    let kw = PyDict::new(py);
    kw.set_item("kind", e.kind_name)?;
    kw.set_item("code", &e.code)?;
    kw.set_item("message", &e.message)?;
    kw.set_item("text", &e.display)?;
    kw.set_item("status_code", e.status)?;
    kw.set_item("request_id", e.request_id.as_deref())?;
    kw.set_item("retryable", e.retryable)?;
    let fields = PyDict::new(py);
    for (k, v) in &e.field_errors {
        fields.set_item(k, PyList::new(py, v)?)?;
    }
    kw.set_item("field_errors", fields)?;
    if !e.issues.is_empty() {
        kw.set_item("issues", confirma::ffi::form::issues_json(&e.issues))?;
    }
    kw.set_item("source", e.source)?;
    // Milliseconds → seconds: exact for every value the core produces (whole milliseconds).
    kw.set_item("retry_after", e.retry_after_ms.map(|ms| ms as f64 / 1000.0))?;
    kw.set_item("body_excerpt", e.body_excerpt.as_deref())?;
    kw.set_item("operation", e.operation)?;
    kw.set_item("connect", e.connect)?;
    kw.set_item("recovered_token", secret_to_py(py, e.recovered_token.as_ref())?)?;
    kw.set_item("raw_response", secret_to_py(py, e.raw_response.as_ref())?)?;
    if let Some(cause) = &e.cause {
        kw.set_item("cause", error_object(py, cause)?)?;
    }
    factory.call((), Some(&kw))
}

/// The Python exception for an error, ready to raise.
pub fn to_pyerr(py: Python<'_>, e: &ErrorInfo) -> PyErr {
    match error_object(py, e) {
        Ok(obj) => PyErr::from_value(obj),
        Err(err) => err,
    }
}

/// The Python exception for a core error.
pub fn core_err(py: Python<'_>, e: &confirma::Error) -> PyErr {
    to_pyerr(py, &ErrorInfo::of(e))
}

/// A client-side validation error for one input field (`ValidationError`, source `client`).
pub fn invalid(py: Python<'_>, field: &str, problem: impl Into<String>) -> PyErr {
    core_err(py, &confirma::Error::invalid_input(field, problem))
}

/// A `ConfigurationError` (a closed client, a client used across `os.fork()`).
pub fn config_error(py: Python<'_>, message: impl Into<String>) -> PyErr {
    core_err(py, &confirma::Error::configuration(message))
}

/// Private, for the cross-language parity test: `[(name, exception)]` for one error of every kind
/// (`confirma::ffi::samples::errors()`), built exactly as a failing call builds them.
#[pyfunction]
pub fn _sample_errors(py: Python<'_>) -> PyResult<Vec<(&'static str, Py<PyAny>)>> {
    confirma::ffi::samples::errors()
        .iter()
        .map(|(name, e)| Ok((*name, error_object(py, &ErrorInfo::of(e))?.unbind())))
        .collect()
}
