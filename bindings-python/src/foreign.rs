//! A partner's own store: a Python object with the seven row methods of `confirma.CredentialStore` (over
//! their MSSQL, MySQL, Oracle, ERP, or the standard library's `sqlite3`), made the core's `RowStore`
//! (`confirma::ffi::foreign_store` then does the encoding, the checks and the protocol).
//!
//! Each method runs on the runtime's blocking pool (`spawn_blocking`) attached to Python, so a slow database
//! call never holds a runtime worker, and the caller waiting on it (blocking call: GIL released; asyncio:
//! the loop runs) never deadlocks with it. A method that raises becomes `RowStoreError("<Type>: <message>")`
//! and a value of the wrong shape a `RowStoreError` too: the caller gets `confirma.StorageError`
//! (retryable) and the core commits nothing.

use std::sync::Arc;

use confirma::ffi::{foreign_store, EventRow, RowFuture, RowStore, RowStoreError, StoreRow};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyList, PyTuple};

use crate::runtime::{contain, with_python};
use crate::store::NativeStore;

static STORE_ROW: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static EVENT_ROW: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

struct PyRowStore {
    obj: Arc<Py<PyAny>>,
    described: String,
}

/// `"<Type>: <message>"` of a Python exception.
fn describe_err(py: Python<'_>, e: &PyErr) -> RowStoreError {
    let ty = e.get_type(py).name().map(|n| n.to_string()).unwrap_or_else(|_| "Exception".into());
    RowStoreError(format!("{ty}: {}", e.value(py)))
}

fn wrong(method: &str, what: &str, got: &Bound<'_, PyAny>) -> RowStoreError {
    let ty = got.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".into());
    RowStoreError(format!("TypeError: {method}() must return {what}, not {ty}"))
}

fn store_row_py<'py>(py: Python<'py>, r: StoreRow) -> PyResult<Bound<'py, PyAny>> {
    STORE_ROW.import(py, "confirma._lifecycle", "StoreRow")?.call1((r.environment, r.client_id, r.revision, r.data))
}

fn event_row_py<'py>(py: Python<'py>, e: EventRow) -> PyResult<Bound<'py, PyAny>> {
    EVENT_ROW.import(py, "confirma._lifecycle", "EventRow")?.call1((
        e.seq,
        e.environment,
        e.client_id,
        e.at,
        e.kind,
        e.data,
    ))
}

fn events_py<'py>(py: Python<'py>, events: Vec<EventRow>) -> PyResult<Bound<'py, PyList>> {
    let items = events.into_iter().map(|e| event_row_py(py, e)).collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

/// A field of a returned row: by attribute (a `StoreRow`, a dataclass, a named tuple) or by position (a
/// plain tuple, e.g. a `sqlite3` row).
fn field<'py, T: for<'a> FromPyObject<'a, 'py>>(
    row: &Bound<'py, PyAny>,
    name: &str,
    index: usize,
    method: &str,
) -> Result<T, RowStoreError> {
    let value = if let Ok(t) = row.cast::<PyTuple>() {
        t.get_item(index).map_err(|_| wrong(method, "rows with every field", row))?
    } else {
        row.getattr(name).map_err(|_| wrong(method, &format!("rows with a {name} field"), row))?
    };
    value.extract::<T>().map_err(|_| {
        let ty = value.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".into());
        RowStoreError(format!("TypeError: {method}(): {name} has the wrong type ({ty})"))
    })
}

fn store_row_of(row: &Bound<'_, PyAny>, method: &str) -> Result<StoreRow, RowStoreError> {
    if row.is_none() || row.cast::<PyBool>().is_ok() || row.cast::<pyo3::types::PyString>().is_ok() {
        return Err(wrong(method, "a StoreRow", row));
    }
    Ok(StoreRow {
        environment: field(row, "environment", 0, method)?,
        client_id: field(row, "client_id", 1, method)?,
        revision: field(row, "revision", 2, method)?,
        data: field(row, "data", 3, method)?,
    })
}

fn event_row_of(row: &Bound<'_, PyAny>, method: &str) -> Result<EventRow, RowStoreError> {
    if row.is_none() || row.cast::<PyBool>().is_ok() || row.cast::<pyo3::types::PyString>().is_ok() {
        return Err(wrong(method, "EventRows", row));
    }
    Ok(EventRow {
        seq: field(row, "seq", 0, method)?,
        environment: field(row, "environment", 1, method)?,
        client_id: field(row, "client_id", 2, method)?,
        at: field(row, "at", 3, method)?,
        kind: field(row, "kind", 4, method)?,
        data: field(row, "data", 5, method)?,
    })
}

fn rows_of<T>(
    value: &Bound<'_, PyAny>,
    method: &str,
    one: fn(&Bound<'_, PyAny>, &str) -> Result<T, RowStoreError>,
) -> Result<Vec<T>, RowStoreError> {
    if value.is_none() || value.cast::<pyo3::types::PyString>().is_ok() {
        return Err(wrong(method, "a list of rows", value));
    }
    let iter = value.try_iter().map_err(|_| wrong(method, "a list of rows", value))?;
    let mut out = Vec::new();
    for item in iter {
        let item = item.map_err(|e| describe_err(value.py(), &e))?;
        out.push(one(&item, method)?);
    }
    Ok(out)
}

fn bool_of(value: &Bound<'_, PyAny>, method: &str) -> Result<bool, RowStoreError> {
    match value.cast::<PyBool>() {
        Ok(b) => Ok(b.is_true()),
        Err(_) => Err(wrong(method, "a bool", value)),
    }
}

impl PyRowStore {
    /// Calls `method` on the partner's object on the blocking pool, attached to Python; `args` builds the
    /// arguments and `read` the result, both with the GIL held.
    fn call<T, A, R>(&self, method: &'static str, args: A, read: R) -> RowFuture<'_, T>
    where
        T: Send + 'static,
        A: for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyTuple>> + Send + 'static,
        R: for<'py> FnOnce(&Bound<'py, PyAny>) -> Result<T, RowStoreError> + Send + 'static,
    {
        let obj = self.obj.clone();
        Box::pin(async move {
            let job = move || {
                with_python(|py| -> Result<T, RowStoreError> {
                    let args = args(py).map_err(|e| describe_err(py, &e))?;
                    let result = obj.bind(py).call_method1(method, args).map_err(|e| describe_err(py, &e))?;
                    read(&result)
                })
                .unwrap_or_else(|| Err(RowStoreError("RuntimeError: the Python interpreter is shutting down".into())))
            };
            match tokio::task::spawn_blocking(job).await {
                Ok(r) => r,
                Err(e) => Err(RowStoreError(format!("RuntimeError: the store call did not finish: {e}"))),
            }
        })
    }
}

impl RowStore for PyRowStore {
    fn load(&self, environment: String, client_id: String) -> RowFuture<'_, Option<StoreRow>> {
        self.call(
            "load",
            move |py| PyTuple::new(py, [environment, client_id]),
            |v| if v.is_none() { Ok(None) } else { store_row_of(v, "load").map(Some) },
        )
    }

    fn insert(&self, row: StoreRow, events: Vec<EventRow>) -> RowFuture<'_, bool> {
        self.call(
            "insert",
            move |py| PyTuple::new(py, [store_row_py(py, row)?, events_py(py, events)?.into_any()]),
            |v| bool_of(v, "insert"),
        )
    }

    fn compare_and_swap(&self, expected_revision: u64, row: StoreRow, events: Vec<EventRow>) -> RowFuture<'_, bool> {
        self.call(
            "compare_and_swap",
            move |py| {
                PyTuple::new(
                    py,
                    [
                        expected_revision.into_pyobject(py)?.into_any(),
                        store_row_py(py, row)?,
                        events_py(py, events)?.into_any(),
                    ],
                )
            },
            |v| bool_of(v, "compare_and_swap"),
        )
    }

    fn delete(
        &self,
        environment: String,
        client_id: String,
        expected_revision: u64,
        events: Vec<EventRow>,
    ) -> RowFuture<'_, bool> {
        self.call(
            "delete",
            move |py| {
                PyTuple::new(
                    py,
                    [
                        environment.into_pyobject(py)?.into_any(),
                        client_id.into_pyobject(py)?.into_any(),
                        expected_revision.into_pyobject(py)?.into_any(),
                        events_py(py, events)?.into_any(),
                    ],
                )
            },
            |v| bool_of(v, "delete"),
        )
    }

    fn list(&self, environment: Option<String>) -> RowFuture<'_, Vec<StoreRow>> {
        self.call("list", move |py| PyTuple::new(py, [environment]), |v| rows_of(v, "list", store_row_of))
    }

    fn events(
        &self,
        environment: Option<String>,
        client_id: Option<String>,
        after_seq: u64,
        limit: u32,
    ) -> RowFuture<'_, Vec<EventRow>> {
        self.call(
            "events",
            move |py| {
                PyTuple::new(
                    py,
                    [
                        environment.into_pyobject(py)?.into_any(),
                        client_id.into_pyobject(py)?.into_any(),
                        after_seq.into_pyobject(py)?.into_any(),
                        limit.into_pyobject(py)?.into_any(),
                    ],
                )
            },
            |v| rows_of(v, "events", event_row_of),
        )
    }

    fn describe(&self) -> String {
        self.described.clone()
    }
}

/// `NativeStore` over a partner's object. Its `describe()` is read once, here.
#[pyfunction]
fn _foreign_store(py: Python<'_>, obj: Bound<'_, PyAny>) -> PyResult<NativeStore> {
    contain(py, || {
        const METHODS: [&str; 7] = ["load", "insert", "compare_and_swap", "delete", "list", "events", "describe"];
        let missing: Vec<&str> =
            METHODS.iter().copied().filter(|m| !obj.getattr(*m).is_ok_and(|a| a.is_callable())).collect();
        if !missing.is_empty() {
            let ty = obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".into());
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "a confirma.CredentialStore needs the methods {}; {ty} lacks {}",
                METHODS.join(", "),
                missing.join(", ")
            )));
        }
        let described: String = obj.call_method0("describe")?.extract()?;
        let rows = PyRowStore { obj: Arc::new(obj.unbind()), described };
        Ok(NativeStore::new(foreign_store(Arc::new(rows)), None, "CredentialStore"))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_foreign_store, m)?)
}
