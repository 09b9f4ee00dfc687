//! `confirma._native`: the private extension module behind the `confirma` Python package.
//!
//! A thin translation of the Rust core (`confirma` crate) into Python: argument conversion, result classes,
//! error mapping (to the exception classes defined in `confirma/_errors.py`), a fork-aware tokio runtime,
//! a blocking bridge (GIL released, Ctrl-C honoured) and an asyncio bridge (cancel = drop the Rust future),
//! and a `tracing` → `logging` bridge. All behaviour (validation, retries, error parsing, redaction) is the
//! core's.

use std::any::Any;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use confirma::{ClientConfig, Environment, OnboardingClient, ValidationMode};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple};

mod aio;
mod logbridge;
mod runtime;

use runtime::{runtime, with_python};

const BINDING_VERSION: &str = env!("CARGO_PKG_VERSION");

// ---------------------------------------------------------------------------------------------------------
// Errors

static ERROR_FACTORY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Builds the Python exception for a core error (`confirma._errors._from_native`).
fn error_object<'py>(py: Python<'py>, err: &confirma::Error) -> PyResult<Bound<'py, PyAny>> {
    let factory = ERROR_FACTORY.import(py, "confirma._errors", "_from_native")?;
    let kw = PyDict::new(py);
    kw.set_item("kind", err.kind().as_str())?;
    kw.set_item("code", err.kind().code())?;
    kw.set_item("message", err.message())?;
    kw.set_item("text", err.to_string())?;
    kw.set_item("status_code", err.status())?;
    kw.set_item("request_id", err.request_id())?;
    kw.set_item("retryable", err.is_retryable())?;
    let fields = PyDict::new(py);
    for (k, v) in err.field_errors() {
        fields.set_item(k, PyList::new(py, v)?)?;
    }
    kw.set_item("field_errors", fields)?;
    kw.set_item("source", err.validation_source().map(|s| s.as_str()))?;
    kw.set_item("retry_after", err.retry_after().map(|d| d.as_secs_f64()))?;
    kw.set_item("body_excerpt", err.body_excerpt())?;
    if let confirma::Error::OutcomeUnknown { operation, .. } = err {
        kw.set_item("operation", operation.as_str())?;
    }
    kw.set_item("recovered_token", secret_to_py(py, err.recovered_token())?)?;
    kw.set_item("raw_response", secret_to_py(py, err.raw_response())?)?;
    if let Some(cause) = err.cause() {
        kw.set_item("cause", error_object(py, cause)?)?;
    }
    factory.call((), Some(&kw))
}

fn to_pyerr(py: Python<'_>, err: &confirma::Error) -> PyErr {
    match error_object(py, err) {
        Ok(obj) => PyErr::from_value(obj),
        Err(e) => e,
    }
}

fn secret_to_py(py: Python<'_>, t: Option<&confirma::SecretToken>) -> PyResult<Option<Py<PySecretToken>>> {
    t.map(|t| Py::new(py, PySecretToken { inner: t.clone() })).transpose()
}

// ---------------------------------------------------------------------------------------------------------
// Panic containment: every entry point runs its body through `contain`, every core future runs through
// `contained`; a panic becomes `confirma.InternalError` (kind "internal"), never pyo3's PanicException (a
// BaseException) and never an awaitable that does not settle.

/// The core's internal error for a contained panic (with the payload text when it is a string; tokens are
/// never formatted into panics).
fn panic_error(payload: Box<dyn Any + Send>) -> confirma::Error {
    confirma::Error::from_panic(payload.as_ref())
}

/// Runs an entry point's body; a panic becomes `InternalError`. Then emits queued log records.
fn contain<R>(py: Python<'_>, f: impl FnOnce() -> PyResult<R>) -> PyResult<R> {
    let result = match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => Err(to_pyerr(py, &panic_error(payload))),
    };
    logbridge::drain(py);
    result
}

/// A future whose panic (in any poll) is caught and becomes the core's internal error.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<T, F: Future<Output = Result<T, confirma::Error>>> Future for CatchUnwind<F> {
    type Output = Result<T, confirma::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(p) => p,
            Err(payload) => Poll::Ready(Err(panic_error(payload))),
        }
    }
}

fn contained<T, F: Future<Output = Result<T, confirma::Error>>>(fut: F) -> CatchUnwind<F> {
    CatchUnwind(Box::pin(fut))
}

fn invalid(py: Python<'_>, field: &str, problem: impl Into<String>) -> PyErr {
    to_pyerr(py, &confirma::Error::invalid_input(field, problem))
}

fn config_error(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_pyerr(py, &confirma::Error::configuration(message))
}

// ---------------------------------------------------------------------------------------------------------
// SecretToken

/// An API token (a client access token or the Partner Provisioning Token).
///
/// ``repr()`` and ``str()`` show ``[REDACTED]``; read the raw value with :meth:`reveal` only where it must
/// leave the program (to store it). Tokens cannot be pickled (pickle ``token.reveal()`` explicitly if you
/// must). The value is wiped from memory when the object is freed.
#[pyclass(frozen, module = "confirma", name = "SecretToken")]
struct PySecretToken {
    inner: confirma::SecretToken,
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

/// A token argument: `str` or `SecretToken`. Anything else is a `TypeError`.
fn token_arg(py: Python<'_>, value: &Bound<'_, PyAny>, name: &str) -> PyResult<confirma::SecretToken> {
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

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".into())
}

// ---------------------------------------------------------------------------------------------------------
// Results

static DATETIME: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static UTC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A timezone-aware (UTC) `datetime`, or `None` (with a warning on the `confirma` logger) if Python cannot
/// represent it. Never fails: a successful call must never turn into an exception (and lose a token)
/// because of a timestamp. The core clamps timestamps to 1970..=9999, which `datetime` always holds.
fn to_datetime(py: Python<'_>, t: Option<chrono::DateTime<chrono::Utc>>) -> Option<Py<PyAny>> {
    let t = t?;
    match datetime_of(py, t) {
        Ok(dt) => Some(dt),
        Err(_) => {
            tracing::warn!(target: "confirma::python", "a timestamp from the service cannot be represented as a Python datetime; it is reported as None");
            None
        }
    }
}

fn datetime_of(py: Python<'_>, t: chrono::DateTime<chrono::Utc>) -> PyResult<Py<PyAny>> {
    use chrono::{Datelike, Timelike};
    let datetime = DATETIME.import(py, "datetime", "datetime")?;
    let utc = UTC.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py.import("datetime")?.getattr("timezone")?.getattr("utc")?.unbind())
    })?;
    let kw = PyDict::new(py);
    kw.set_item("tzinfo", utc.bind(py))?;
    // A leap second's sub-second part can exceed 999 999 µs.
    let micros = t.timestamp_subsec_micros().min(999_999);
    Ok(datetime.call((t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second(), micros), Some(&kw))?.unbind())
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

/// The result of :meth:`Client.create_client`: the new client's identifiers and its first access token.
#[pyclass(frozen, module = "confirma", name = "CreatedClient")]
struct PyCreatedClient {
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

fn created_to_py(py: Python<'_>, c: confirma::CreatedClient) -> PyResult<Py<PyAny>> {
    let obj = PyCreatedClient {
        client_id: c.client_id,
        customer_code: c.customer_code,
        payment_reference_prefix: c.payment_reference_prefix,
        access_token: Py::new(py, PySecretToken { inner: c.access_token })?,
        token_expires_at: to_datetime(py, c.token_expires_at),
    };
    Ok(Py::new(py, obj)?.into_any())
}

/// The result of :meth:`Client.validate_token`.
#[pyclass(frozen, module = "confirma", name = "TokenStatus")]
struct PyTokenStatus {
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

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

fn status_to_py(py: Python<'_>, s: confirma::TokenStatus) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, PyTokenStatus { is_valid: s.is_valid, expired: s.expired, message: s.message })?.into_any())
}

/// The result of :meth:`Client.renew_token`: the new access token (the old one stops working).
#[pyclass(frozen, module = "confirma", name = "RenewedToken")]
struct PyRenewedToken {
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

fn renewed_to_py(py: Python<'_>, r: confirma::RenewedToken) -> PyResult<Py<PyAny>> {
    let obj = PyRenewedToken {
        access_token: Py::new(py, PySecretToken { inner: r.access_token })?,
        expires_at: to_datetime(py, r.expires_at),
    };
    Ok(Py::new(py, obj)?.into_any())
}

// ---------------------------------------------------------------------------------------------------------
// Input conversion: Python values → serde_json::Value (the core validates the shape).

const MAX_DEPTH: usize = 32;

fn to_json(py: Python<'_>, v: &Bound<'_, PyAny>, path: &str, depth: usize) -> PyResult<serde_json::Value> {
    use serde_json::Value;
    let here = if path.is_empty() { "newClient" } else { path };
    if depth > MAX_DEPTH {
        return Err(invalid(py, here, "is nested too deeply"));
    }
    if v.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return match s.to_cow() {
            Ok(s) => Ok(Value::String(s.into_owned())),
            Err(_) => Err(invalid(py, here, "is not valid Unicode text")),
        };
    }
    if v.cast::<PyInt>().is_ok() {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = v.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Ok(Value::String(v.str()?.to_string()));
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return match serde_json::Number::from_f64(f.value()) {
            Some(n) => Ok(Value::Number(n)),
            None => Err(invalid(py, here, "must be a finite number")),
        };
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut map = serde_json::Map::new();
        for (k, val) in d.iter() {
            let key = key_of(py, &k, here)?;
            let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            map.insert(key, to_json(py, &val, &child, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    if v.cast::<PyList>().is_ok() || v.cast::<PyTuple>().is_ok() {
        let mut out = Vec::new();
        for (i, item) in v.try_iter()?.enumerate() {
            out.push(to_json(py, &item?, &format!("{here}[{i}]"), depth + 1)?);
        }
        return Ok(Value::Array(out));
    }
    if let Ok(m) = v.cast::<PyMapping>() {
        let mut map = serde_json::Map::new();
        for item in m.items()?.iter() {
            let (k, val): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
            let key = key_of(py, &k, here)?;
            let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            map.insert(key, to_json(py, &val, &child, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    // confirma.NewClient parts (Service, ClientDetails, Contact) nested in a dict.
    if let Ok(to_dict) = v.getattr("to_dict") {
        if to_dict.is_callable() {
            return to_json(py, &to_dict.call0()?, path, depth + 1);
        }
    }
    Err(invalid(py, here, format!("has an unsupported value of type {}", type_name(v))))
}

fn key_of(py: Python<'_>, k: &Bound<'_, PyAny>, here: &str) -> PyResult<String> {
    match k.cast::<PyString>() {
        Ok(s) => s
            .to_cow()
            .map(|c| c.into_owned())
            .map_err(|_| invalid(py, here, "has a key that is not valid Unicode text")),
        Err(_) => Err(invalid(py, here, format!("keys must be strings, not {}", type_name(k)))),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Bridges

static MAIN_THREAD_IDENT: PyOnceLock<u64> = PyOnceLock::new();

/// Whether the calling thread is Python's main thread (its ident is looked up once).
fn on_main_thread(py: Python<'_>) -> bool {
    let main = MAIN_THREAD_IDENT.get_or_try_init(py, || -> PyResult<u64> {
        py.import("threading")?.call_method0("main_thread")?.getattr("ident")?.extract()
    });
    match main {
        // SAFETY: plain C call, valid on any thread attached to Python.
        Ok(m) => *m == unsafe { pyo3::ffi::PyThread_get_thread_ident() } as u64,
        Err(_) => false,
    }
}

/// Runs a core future to completion on the binding's runtime with the GIL released. On the main thread,
/// signals are checked every 100 ms so Ctrl-C interrupts the call (the request is dropped).
fn block_on<T, F>(py: Python<'_>, fut: F) -> PyResult<Result<T, confirma::Error>>
where
    T: Send,
    F: Future<Output = Result<T, confirma::Error>> + Send,
{
    let main = on_main_thread(py);
    let rt = runtime().map_err(|e| config_error(py, e))?;
    let fut = contained(fut);
    py.detach(move || {
        rt.block_on(async move {
            if !main {
                return Ok(fut.await);
            }
            tokio::pin!(fut);
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    r = &mut fut => return Ok(r),
                    _ = tick.tick() => {
                        if let Some(Err(e)) = with_python(|py| py.check_signals()) {
                            return Err(e);
                        }
                    }
                }
            }
        })
    })
}

static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Cancels the Rust task when the asyncio future is done (cancelled, or finished: then a no-op), and
/// forgets the future in its loop's bridge.
#[pyclass(frozen)]
struct CancelOnDone {
    handle: Mutex<Option<tokio::task::AbortHandle>>,
    bridge: Option<(Py<aio::LoopBridge>, u64)>,
}

#[pymethods]
impl CancelOnDone {
    fn __call__(&self, py: Python<'_>, _fut: &Bound<'_, PyAny>) -> PyResult<()> {
        contain(py, || {
            if let Some(h) = self.handle.lock().unwrap_or_else(|p| p.into_inner()).take() {
                h.abort();
            }
            if let Some((b, id)) = &self.bridge {
                drop(b.bind(py).get().forget(*id));
            }
            Ok(())
        })
    }
}

/// Settles an asyncio future on its loop thread unless it was already cancelled (fallback path).
#[pyfunction]
fn _settle(fut: &Bound<'_, PyAny>, ok: bool, value: &Bound<'_, PyAny>) -> PyResult<()> {
    contain(fut.py(), || aio::settle(fut, ok, value))
}

static SETTLE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Rust tasks of asyncio calls that are alive (spawned and not yet finished or dropped).
static ACTIVE_ASYNC_CALLS: AtomicUsize = AtomicUsize::new(0);

/// Private, for tests: how many asyncio calls still have a live Rust task (a cancelled call's task is
/// dropped, so its count goes back down).
#[pyfunction]
fn _active_async_calls() -> usize {
    ACTIVE_ASYNC_CALLS.load(SeqCst)
}

/// Lives inside an asyncio call's Rust task: counts it, and when the task is dropped without completing
/// (cancelled), wakes the loop so that what the dropped future logged (e.g. the core's warning about a
/// create cancelled after sending) reaches the `confirma` logger without waiting for the next call.
struct TaskGuard {
    shared: Option<Arc<aio::Shared>>,
    completed: bool,
}

impl TaskGuard {
    fn new(shared: Option<Arc<aio::Shared>>) -> Self {
        ACTIVE_ASYNC_CALLS.fetch_add(1, SeqCst);
        TaskGuard { shared, completed: false }
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        ACTIVE_ASYNC_CALLS.fetch_sub(1, SeqCst);
        if !self.completed {
            if let Some(s) = &self.shared {
                s.wake();
            }
        }
    }
}

/// Starts a core future on the runtime and returns an asyncio future for it, bound to the running loop.
/// The result reaches the loop through its `aio::LoopBridge` (batched, no GIL on runtime threads); loops
/// that cannot have a bridge get one `call_soon_threadsafe` per completion. The asyncio future always
/// settles: a panic in the core future or in the conversion becomes `InternalError`.
fn spawn_async<'py, T, F>(
    py: Python<'py>,
    fut: F,
    convert: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>>
where
    T: Send + 'static,
    F: Future<Output = Result<T, confirma::Error>> + Send + 'static,
{
    let event_loop = GET_RUNNING_LOOP.import(py, "asyncio", "get_running_loop")?.call0()?;
    let py_fut = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
    let rt = runtime().map_err(|e| config_error(py, e))?;
    let fut = contained(fut);
    let finish = move |py: Python<'_>, result: Result<T, confirma::Error>| -> (bool, Py<PyAny>) {
        let converted = std::panic::catch_unwind(AssertUnwindSafe(|| match result {
            Ok(v) => match convert(py, v) {
                Ok(obj) => (true, obj),
                Err(e) => (false, e.into_value(py).into_any()),
            },
            Err(e) => (false, to_pyerr(py, &e).into_value(py).into_any()),
        }));
        converted.unwrap_or_else(|payload| (false, to_pyerr(py, &panic_error(payload)).into_value(py).into_any()))
    };
    let cancel = if let Some(bridge) = aio::bridge_for(&event_loop) {
        let b = bridge.get();
        let id = b.register(py_fut.clone().unbind());
        let shared = b.shared.clone();
        let guard = TaskGuard::new(Some(shared.clone()));
        let task = rt.spawn(async move {
            let mut guard = guard;
            let result = fut.await;
            guard.completed = true;
            shared.complete(id, Box::new(move |py| finish(py, result)));
        });
        CancelOnDone { handle: Mutex::new(Some(task.abort_handle())), bridge: Some((bridge.unbind(), id)) }
    } else {
        let settle = SETTLE
            .get_or_try_init(py, || -> PyResult<Py<PyAny>> { Ok(wrap_pyfunction!(_settle, py)?.into_any().unbind()) })?
            .clone_ref(py);
        let fut_ref = py_fut.clone().unbind();
        let loop_ref = event_loop.unbind();
        let guard = TaskGuard::new(None);
        let task = rt.spawn(async move {
            let mut guard = guard;
            let result = fut.await;
            guard.completed = true;
            with_python(move |py| {
                let (ok, value) = finish(py, result);
                // The loop may be closed already: then nobody is waiting and there is nothing to do.
                let _ = loop_ref.bind(py).call_method1("call_soon_threadsafe", (settle, fut_ref, ok, value));
            });
        });
        CancelOnDone { handle: Mutex::new(Some(task.abort_handle())), bridge: None }
    };
    py_fut.call_method1(pyo3::intern!(py, "add_done_callback"), (Py::new(py, cancel)?,))?;
    Ok(py_fut)
}

fn none_to_py(py: Python<'_>, _: ()) -> PyResult<Py<PyAny>> {
    Ok(py.None())
}

/// Private, for tests only: panics inside the binding at `place`, to prove the panic is contained.
/// `"entry"`: in an entry point's body; `"blocking"`: inside a core future run by a blocking call;
/// `"async"`: inside a core future run by an asyncio call (returns an awaitable, needs a running loop);
/// `"async_convert"`: while converting an asyncio call's result on the loop thread.
#[pyfunction]
fn _test_panic<'py>(py: Python<'py>, place: &str) -> PyResult<Bound<'py, PyAny>> {
    contain(py, || match place {
        "entry" => panic!("test panic in an entry point"),
        "blocking" => match block_on(py, async { panic!("test panic in a blocking call") })? {
            Ok(()) => Ok(py.None().into_bound(py)),
            Err(e) => Err(to_pyerr(py, &e)),
        },
        "async" => spawn_async(py, async { panic!("test panic in an asyncio call") }, none_to_py),
        "async_convert" => spawn_async(py, async { Ok(()) }, |_, ()| panic!("test panic in a conversion")),
        other => Err(PyTypeError::new_err(format!("unknown place {other:?}"))),
    })
}

// ---------------------------------------------------------------------------------------------------------
// Client

/// The native client behind `confirma.Client` and `confirma.AsyncClient`.
#[pyclass(frozen, module = "confirma._native", name = "NativeClient")]
struct NativeClient {
    inner: Mutex<Option<OnboardingClient>>,
    pid: u32,
    base_url: String,
    user_agent: String,
    validation: &'static str,
}

/// A duration option in seconds, converted (and bounded) by the core: NaN, infinite, negative, zero or
/// absurdly large values are a `ConfigurationError` naming the option.
fn secs(py: Python<'_>, name: &str, v: f64) -> PyResult<Duration> {
    confirma::duration_from_secs_f64(name, v).map_err(|e| to_pyerr(py, &e))
}

impl NativeClient {
    #[allow(clippy::too_many_arguments)]
    fn build(
        py: Python<'_>,
        environment: &str,
        base_url: Option<&str>,
        (timeout, connect_timeout, total_timeout): (f64, f64, f64),
        max_retries: &Bound<'_, PyAny>,
        validation: &str,
        user_agent_suffix: Option<&str>,
        proxy: Option<&str>,
        root_certificates_pem: Option<&str>,
        max_response_bytes: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let env = match base_url {
            Some(u) => Environment::Custom(u.to_string()),
            None => match environment.trim().to_ascii_lowercase().as_str() {
                "staging" => Environment::Staging,
                "production" => Environment::Production,
                other => {
                    return Err(config_error(
                        py,
                        format!("unknown environment {other:?} (expected \"staging\" or \"production\"; pass base_url= for another URL)"),
                    ))
                }
            },
        };
        let mode = match validation.trim().to_ascii_lowercase().as_str() {
            "strict" => ValidationMode::Strict,
            "lenient" => ValidationMode::Lenient,
            other => {
                return Err(config_error(
                    py,
                    format!("unknown validation mode {other:?} (expected \"strict\" or \"lenient\")"),
                ))
            }
        };
        // The core bounds it further (ClientConfig::check); a huge Python int is a ConfigurationError too.
        let max_retries = match max_retries.extract::<u32>() {
            Ok(n) => n,
            Err(_) => return Err(config_error(py, "max_retries must be a non-negative integer (at most 10)")),
        };
        let version_info = py.import("sys")?.getattr("version_info")?;
        let (major, minor, micro): (u32, u32, u32) = (
            version_info.getattr("major")?.extract()?,
            version_info.getattr("minor")?.extract()?,
            version_info.getattr("micro")?.extract()?,
        );
        let mut suffix = format!("python/{major}.{minor}.{micro} confirma-python/{BINDING_VERSION}");
        if let Some(s) = user_agent_suffix.map(str::trim).filter(|s| !s.is_empty()) {
            suffix.push(' ');
            suffix.push_str(s);
        }
        let mut config = ClientConfig::new(env)
            .timeout(secs(py, "timeout", timeout)?)
            .connect_timeout(secs(py, "connect_timeout", connect_timeout)?)
            .total_timeout(secs(py, "total_timeout", total_timeout)?)
            .max_retries(max_retries)
            .validation(mode)
            .user_agent_suffix(suffix);
        if let Some(p) = proxy {
            config = config.proxy(p);
        }
        if let Some(pem) = root_certificates_pem {
            config = config.extra_root_certificates_pem(pem);
        }
        if let Some(n) = max_response_bytes {
            // The core checks the range (ClientConfig::check); an int that is not even a usize is out of it.
            config = config.max_response_bytes(n.extract::<usize>().map_err(|_| {
                config_error(py, "max_response_bytes must be a number of bytes between 1 KiB and 64 MiB")
            })?);
        }
        // reqwest needs a runtime context for some of its set-up; build inside ours.
        let rt = runtime().map_err(|e| config_error(py, e))?;
        let client = {
            let _guard = rt.enter();
            OnboardingClient::new(config).map_err(|e| to_pyerr(py, &e))?
        };
        tracing::debug!(target: "confirma::python", base_url = %client.base_url(), validation = mode.as_str(), "client created");
        Ok(NativeClient {
            pid: std::process::id(),
            base_url: client.base_url().to_string(),
            user_agent: client.user_agent().to_string(),
            validation: mode.as_str(),
            inner: Mutex::new(Some(client)),
        })
    }

    fn client(&self, py: Python<'_>) -> PyResult<OnboardingClient> {
        logbridge::refresh_level(py);
        if self.pid != std::process::id() {
            return Err(config_error(
                py,
                format!(
                    "this confirma client was created in process {} before os.fork(); its connection pool belongs to the parent process. Create a new client in the child process",
                    self.pid
                ),
            ));
        }
        match self.inner.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(c) => Ok(c.clone()),
            None => Err(config_error(py, "this confirma client is closed")),
        }
    }
}

impl Drop for NativeClient {
    fn drop(&mut self) {
        if self.pid != std::process::id() {
            // In a forked child, the connection pool's sockets are registered with the parent's epoll
            // instance (shared across fork): tearing them down here would deregister them for the parent.
            if let Some(c) = self.inner.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
                std::mem::forget(c);
            }
        }
    }
}

#[pymethods]
impl NativeClient {
    #[new]
    #[pyo3(signature = (environment, base_url, timeout, connect_timeout, total_timeout, max_retries, validation, user_agent_suffix, proxy, root_certificates_pem, max_response_bytes=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        environment: &str,
        base_url: Option<&str>,
        timeout: f64,
        connect_timeout: f64,
        total_timeout: f64,
        max_retries: &Bound<'_, PyAny>,
        validation: &str,
        user_agent_suffix: Option<&str>,
        proxy: Option<&str>,
        root_certificates_pem: Option<&str>,
        max_response_bytes: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        contain(py, || {
            Self::build(
                py,
                environment,
                base_url,
                (timeout, connect_timeout, total_timeout),
                max_retries,
                validation,
                user_agent_suffix,
                proxy,
                root_certificates_pem,
                max_response_bytes,
            )
        })
    }

    #[getter]
    fn base_url(&self) -> &str {
        &self.base_url
    }

    #[getter]
    fn user_agent(&self) -> &str {
        &self.user_agent
    }

    #[getter]
    fn validation(&self) -> &str {
        self.validation
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).is_none()
    }

    /// Drops the connection pool (only in the process that created the client).
    fn close(&self) {
        let taken = self.inner.lock().unwrap_or_else(|p| p.into_inner()).take();
        if self.pid == std::process::id() {
            drop(taken);
        } else {
            // Never tear down the parent's connections from a forked child.
            std::mem::forget(taken);
        }
    }

    fn create_client(
        &self,
        py: Python<'_>,
        provisioning_token: &Bound<'_, PyAny>,
        new_client: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        contain(py, || {
            let token = token_arg(py, provisioning_token, "provisioningToken")?;
            let value = to_json(py, new_client, "", 0)?;
            let client = self.client(py)?;
            match block_on(py, async move { client.create_client_from_value(&token, &value).await })? {
                Ok(c) => created_to_py(py, c),
                Err(e) => Err(to_pyerr(py, &e)),
            }
        })
    }

    fn validate_token(&self, py: Python<'_>, token: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        contain(py, || {
            let token = token_arg(py, token, "token")?;
            let client = self.client(py)?;
            match block_on(py, async move { client.validate_token(&token).await })? {
                Ok(s) => status_to_py(py, s),
                Err(e) => Err(to_pyerr(py, &e)),
            }
        })
    }

    fn renew_token(&self, py: Python<'_>, token: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        contain(py, || {
            let token = token_arg(py, token, "token")?;
            let client = self.client(py)?;
            match block_on(py, async move { client.renew_token(&token).await })? {
                Ok(r) => renewed_to_py(py, r),
                Err(e) => Err(to_pyerr(py, &e)),
            }
        })
    }

    fn create_client_async<'py>(
        &self,
        py: Python<'py>,
        provisioning_token: &Bound<'py, PyAny>,
        new_client: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        contain(py, || {
            let token = token_arg(py, provisioning_token, "provisioningToken")?;
            let value = to_json(py, new_client, "", 0)?;
            let client = self.client(py)?;
            spawn_async(py, async move { client.create_client_from_value(&token, &value).await }, created_to_py)
        })
    }

    fn validate_token_async<'py>(&self, py: Python<'py>, token: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        contain(py, || {
            let token = token_arg(py, token, "token")?;
            let client = self.client(py)?;
            spawn_async(py, async move { client.validate_token(&token).await }, status_to_py)
        })
    }

    fn renew_token_async<'py>(&self, py: Python<'py>, token: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        contain(py, || {
            let token = token_arg(py, token, "token")?;
            let client = self.client(py)?;
            spawn_async(py, async move { client.renew_token(&token).await }, renewed_to_py)
        })
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", BINDING_VERSION)?;
    m.add("CORE_VERSION", confirma::VERSION)?;
    m.add_class::<PySecretToken>()?;
    m.add_class::<PyCreatedClient>()?;
    m.add_class::<PyTokenStatus>()?;
    m.add_class::<PyRenewedToken>()?;
    m.add_class::<NativeClient>()?;
    m.add_function(wrap_pyfunction!(runtime::_shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::_after_fork_child, m)?)?;
    m.add_function(wrap_pyfunction!(aio::_use_loop_bridge, m)?)?;
    m.add_function(wrap_pyfunction!(_active_async_calls, m)?)?;
    m.add_function(wrap_pyfunction!(_test_panic, m)?)?;
    logbridge::install();
    Ok(())
}
