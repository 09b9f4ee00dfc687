//! Result classes: `CreatedClient`, `TokenStatus`, `RenewedToken`, built from the core's result data
//! (`confirma::ffi::{CreatedData, StatusData, RenewedData}`). Timestamps arrive as epoch milliseconds,
//! already clamped by the core to 1970..=9999, and become timezone-aware (UTC) `datetime`s.

use confirma::ffi::{CreatedData, RenewedData, StatusData};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyTuple};

use crate::token::{token_to_py, PySecretToken};

static EPOCH: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static TIMEDELTA: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A timezone-aware (UTC) `datetime`, or `None` (with a warning on the `confirma` logger) if Python cannot
/// represent it. Never fails: a successful call must never turn into an exception (and lose a token)
/// because of a timestamp.
pub fn to_datetime(py: Python<'_>, ms: Option<i64>) -> Option<Py<PyAny>> {
    let ms = ms?;
    match datetime_of(py, ms) {
        Ok(dt) => Some(dt),
        Err(_) => {
            tracing::warn!(target: "confirma::python", "a timestamp from the service cannot be represented as a Python datetime; it is reported as None");
            None
        }
    }
}

/// `EPOCH + timedelta(milliseconds=ms)`: exact (no float rounding) over the whole clamped range.
fn datetime_of(py: Python<'_>, ms: i64) -> PyResult<Py<PyAny>> {
    let epoch = EPOCH.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        let datetime = py.import("datetime")?;
        let utc = datetime.getattr("timezone")?.getattr("utc")?;
        Ok(datetime.getattr("datetime")?.call((1970, 1, 1, 0, 0, 0, 0, utc), None)?.unbind())
    })?;
    let timedelta = TIMEDELTA.import(py, "datetime", "timedelta")?;
    let delta = timedelta.call((0, 0, 0, ms), None)?;
    Ok(epoch.bind(py).add(delta)?.unbind())
}

fn repr_opt(py: Python<'_>, v: &Option<Py<PyAny>>) -> PyResult<String> {
    match v {
        Some(v) => Ok(v.bind(py).repr()?.to_string()),
        None => Ok("None".into()),
    }
}

fn py_str_repr(py: Python<'_>, s: &str) -> PyResult<String> {
    Ok(PyString::new(py, s).repr()?.to_string())
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// The result of :meth:`Client.create_client`: the new client's identifiers and its first access token.
#[pyclass(frozen, module = "confirma", name = "CreatedClient")]
pub struct PyCreatedClient {
    #[pyo3(get)]
    client_id: String,
    #[pyo3(get)]
    customer_code: String,
    #[pyo3(get)]
    payment_reference_prefix: String,
    #[pyo3(get)]
    access_token: Py<PySecretToken>,
    #[pyo3(get)]
    token_expires_at: Option<Py<PyAny>>,
}

#[pymethods]
impl PyCreatedClient {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "CreatedClient(client_id={}, customer_code={}, payment_reference_prefix={}, access_token=SecretToken('{}'), token_expires_at={})",
            py_str_repr(py, &self.client_id)?,
            py_str_repr(py, &self.customer_code)?,
            py_str_repr(py, &self.payment_reference_prefix)?,
            confirma::REDACTED,
            repr_opt(py, &self.token_expires_at)?
        ))
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err("confirma.CreatedClient holds a secret token and cannot be pickled"))
    }
}

/// `CreatedClient` from the core's data.
pub fn created_to_py(py: Python<'_>, c: CreatedData) -> PyResult<Py<PyAny>> {
    let obj = PyCreatedClient {
        client_id: c.client_id,
        customer_code: c.customer_code,
        payment_reference_prefix: c.payment_reference_prefix,
        access_token: token_to_py(py, c.access_token)?,
        token_expires_at: to_datetime(py, c.token_expires_at_ms),
    };
    Ok(Py::new(py, obj)?.into_any())
}

/// The result of :meth:`Client.validate_token`.
#[pyclass(frozen, module = "confirma", name = "TokenStatus")]
pub struct PyTokenStatus {
    #[pyo3(get)]
    is_valid: bool,
    #[pyo3(get)]
    expired: bool,
    #[pyo3(get)]
    message: String,
}

#[pymethods]
impl PyTokenStatus {
    #[new]
    #[pyo3(signature = (*, is_valid, expired, message))]
    fn new(is_valid: bool, expired: bool, message: String) -> Self {
        PyTokenStatus { is_valid, expired, message }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "TokenStatus(is_valid={}, expired={}, message={})",
            py_bool(self.is_valid),
            py_bool(self.expired),
            py_str_repr(py, &self.message)?
        ))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PyTokenStatus>() {
            Ok(o) => {
                let o = o.get();
                o.is_valid == self.is_valid && o.expired == self.expired && o.message == self.message
            }
            Err(_) => false,
        }
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.is_valid, self.expired, &self.message).hash(&mut h);
        h.finish()
    }

    fn __bool__(&self) -> bool {
        self.is_valid
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let rebuild = py.import("confirma._errors")?.getattr("_token_status")?;
        Ok((
            rebuild,
            PyTuple::new(
                py,
                [
                    self.is_valid.into_pyobject(py)?.to_owned().into_any(),
                    self.expired.into_pyobject(py)?.to_owned().into_any(),
                    PyString::new(py, &self.message).into_any(),
                ],
            )?,
        ))
    }
}

/// `TokenStatus` from the core's data.
pub fn status_to_py(py: Python<'_>, s: StatusData) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, PyTokenStatus { is_valid: s.is_valid, expired: s.expired, message: s.message })?.into_any())
}

/// The result of :meth:`Client.renew_token`: the new access token (the old one stops working).
#[pyclass(frozen, module = "confirma", name = "RenewedToken")]
pub struct PyRenewedToken {
    #[pyo3(get)]
    access_token: Py<PySecretToken>,
    #[pyo3(get)]
    expires_at: Option<Py<PyAny>>,
}

#[pymethods]
impl PyRenewedToken {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "RenewedToken(access_token=SecretToken('{}'), expires_at={})",
            confirma::REDACTED,
            repr_opt(py, &self.expires_at)?
        ))
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err("confirma.RenewedToken holds a secret token and cannot be pickled"))
    }
}

/// `RenewedToken` from the core's data.
pub fn renewed_to_py(py: Python<'_>, r: RenewedData) -> PyResult<Py<PyAny>> {
    let obj =
        PyRenewedToken { access_token: token_to_py(py, r.access_token)?, expires_at: to_datetime(py, r.expires_at_ms) };
    Ok(Py::new(py, obj)?.into_any())
}
