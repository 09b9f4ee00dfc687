//! `confirma.SecretToken`, and token arguments (`str` or `SecretToken`).

use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::convert::type_name;
use crate::error::invalid;
use crate::runtime::contain;

/// An API token (a client access token or the Partner Provisioning Token).
///
/// ``repr()`` and ``str()`` show ``[REDACTED]``; read the raw value with :meth:`reveal` only where it must
/// leave the program (to store it). Tokens cannot be pickled (pickle ``token.reveal()`` explicitly if you
/// must). The value is wiped from memory when the object is freed.
#[pyclass(frozen, module = "confirma", name = "SecretToken")]
pub struct PySecretToken {
    pub inner: confirma::SecretToken,
}

#[pymethods]
impl PySecretToken {
    #[new]
    fn new(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Self> {
        contain(py, || Ok(PySecretToken { inner: token_arg(py, value, "value")? }))
    }

    /// The raw token. Call this only where the value must leave the program.
    fn reveal(&self) -> &str {
        self.inner.expose()
    }

    fn __repr__(&self) -> String {
        format!("SecretToken('{}')", confirma::REDACTED)
    }

    fn __str__(&self) -> &'static str {
        confirma::REDACTED
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PySecretToken>() {
            // The core's equality is constant-time.
            Ok(o) => self.inner == o.get().inner,
            Err(_) => false,
        }
    }

    /// Keyed with random keys chosen once per process: equal tokens hash equal within the process, and the
    /// hash value says nothing portable about the token.
    fn __hash__(&self) -> u64 {
        static KEYS: OnceLock<RandomState> = OnceLock::new();
        KEYS.get_or_init(RandomState::new).hash_one(self.inner.expose())
    }

    fn __bool__(&self) -> bool {
        !self.inner.is_empty()
    }

    fn __copy__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __deepcopy__(slf: Py<Self>, _memo: &Bound<'_, PyAny>) -> Py<Self> {
        slf
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "confirma.SecretToken cannot be pickled (that would write the secret out); pickle token.reveal() explicitly if you must",
        ))
    }
}

/// A new `SecretToken` object holding `t`.
pub fn token_to_py(py: Python<'_>, t: confirma::SecretToken) -> PyResult<Py<PySecretToken>> {
    Py::new(py, PySecretToken { inner: t })
}

/// `SecretToken` or `None`.
pub fn secret_to_py(py: Python<'_>, t: Option<&confirma::SecretToken>) -> PyResult<Option<Py<PySecretToken>>> {
    t.map(|t| token_to_py(py, t.clone())).transpose()
}

/// A token argument: `str` or `SecretToken`. Anything else is a `TypeError`.
pub fn token_arg(py: Python<'_>, value: &Bound<'_, PyAny>, name: &str) -> PyResult<confirma::SecretToken> {
    if let Ok(t) = value.cast::<PySecretToken>() {
        return Ok(t.get().inner.clone());
    }
    if let Ok(s) = value.cast::<PyString>() {
        return match s.to_cow() {
            Ok(s) => Ok(confirma::SecretToken::new(s.into_owned())),
            Err(_) => Err(invalid(py, name, "must be visible ASCII characters without spaces or line breaks")),
        };
    }
    Err(PyTypeError::new_err(format!("{name} must be a str or confirma.SecretToken, not {}", type_name(value))))
}
