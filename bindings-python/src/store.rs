//! `confirma._native.NativeStore`, behind `confirma.SqliteStore`, `confirma.PostgresStore`,
//! `confirma.MemoryStore` and a partner's own store (`foreign.rs`): the core's `CredentialStore` and the
//! store key (the core's `SealerInput` decides: the given key, else `CONFIRMA_STORE_KEY`, else plaintext
//! only when opted into). The key stays in Rust; nothing here ever shows it.
//!
//! A store is bound to the process that opened it: in an `os.fork()` child it is a `ConfigurationError`
//! (open it again there), and the child never closes the parent's connections.

use std::sync::Arc;

use confirma::ffi::SealerInput;
use confirma::store::{CredentialStore, MemoryStore, PostgresStore, Sealer, SqliteStore};
use pyo3::prelude::*;

use crate::error::core_err;
use crate::runtime::{block_on, contain, spawn_async, ProcessBound};

/// A store and the sealer its tokens are sealed with.
#[pyclass(frozen, module = "confirma._native", name = "NativeStore")]
pub struct NativeStore {
    inner: ProcessBound<Arc<dyn CredentialStore>>,
    /// `None` for a partner's store: the manager is given the key.
    pub sealer: Option<Sealer>,
    described: String,
    kind: &'static str,
}

impl NativeStore {
    pub fn new(store: Arc<dyn CredentialStore>, sealer: Option<Sealer>, kind: &'static str) -> Self {
        NativeStore { described: store.describe(), inner: ProcessBound::new(store), sealer, kind }
    }

    /// The core store, for a call from this process.
    pub fn store(&self, py: Python<'_>) -> PyResult<Arc<dyn CredentialStore>> {
        self.inner.get(
            py,
            |pid| format!("this confirma store was opened in process {pid} before os.fork(); its connections belong to the parent process. Open the store again in the child process"),
            "this confirma store is closed",
        )
    }
}

/// The sealer for a store: the core's `SealerInput`.
pub fn sealer(py: Python<'_>, key: Option<String>, previous_keys: Vec<String>, plaintext: bool) -> PyResult<Sealer> {
    SealerInput { key, previous_keys, plaintext }.build().map_err(|e| core_err(py, &e))
}

fn opened(
    py: Python<'_>,
    r: Result<impl CredentialStore + 'static, confirma::store::StoreError>,
) -> PyResult<Arc<dyn CredentialStore>> {
    match r {
        Ok(s) => Ok(Arc::new(s)),
        Err(e) => Err(core_err(py, &e.into())),
    }
}

fn store_to_py(py: Python<'_>, s: NativeStore) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, s)?.into_any())
}

#[pymethods]
impl NativeStore {
    /// `SqliteStore.open(path)` (the file and its schema are created if missing).
    #[staticmethod]
    #[pyo3(signature = (path, key=None, previous_keys=Vec::new(), plaintext=false))]
    fn sqlite(
        py: Python<'_>,
        path: std::path::PathBuf,
        key: Option<String>,
        previous_keys: Vec<String>,
        plaintext: bool,
    ) -> PyResult<Self> {
        contain(py, || {
            let sealer = sealer(py, key, previous_keys, plaintext)?;
            let store = py.detach(|| SqliteStore::open(&path));
            Ok(NativeStore::new(opened(py, store)?, Some(sealer), "SqliteStore"))
        })
    }

    /// An in-memory store. Without a key (and without `CONFIRMA_STORE_KEY`), tokens are sealed under a
    /// random key of this store (the core's `SealerInput::build_for_memory`): nothing it holds ever leaves
    /// the process.
    #[staticmethod]
    #[pyo3(signature = (key=None, previous_keys=Vec::new(), plaintext=false))]
    fn memory(py: Python<'_>, key: Option<String>, previous_keys: Vec<String>, plaintext: bool) -> PyResult<Self> {
        contain(py, || {
            let input = confirma::ffi::SealerInput { key, previous_keys, plaintext };
            let sealer = input.build_for_memory().map_err(|e| core_err(py, &e))?;
            Ok(NativeStore::new(Arc::new(MemoryStore::new()), Some(sealer), "MemoryStore"))
        })
    }

    /// `PostgresStore.connect(dsn)`, blocking (GIL released).
    #[staticmethod]
    #[pyo3(signature = (dsn, key=None, previous_keys=Vec::new(), plaintext=false))]
    fn postgres(
        py: Python<'_>,
        dsn: String,
        key: Option<String>,
        previous_keys: Vec<String>,
        plaintext: bool,
    ) -> PyResult<Py<PyAny>> {
        contain(py, || {
            let sealer = sealer(py, key, previous_keys, plaintext)?;
            block_on(
                py,
                async move {
                    let s = PostgresStore::connect(&dsn).await?;
                    Ok(NativeStore::new(Arc::new(s), Some(sealer), "PostgresStore"))
                },
                store_to_py,
            )
        })
    }

    /// `PostgresStore.connect(dsn)` as an asyncio awaitable.
    #[staticmethod]
    #[pyo3(signature = (dsn, key=None, previous_keys=Vec::new(), plaintext=false))]
    fn postgres_async<'py>(
        py: Python<'py>,
        dsn: String,
        key: Option<String>,
        previous_keys: Vec<String>,
        plaintext: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        contain(py, || {
            let sealer = sealer(py, key, previous_keys, plaintext)?;
            spawn_async(
                py,
                async move {
                    let s = PostgresStore::connect(&dsn).await?;
                    Ok(NativeStore::new(Arc::new(s), Some(sealer), "PostgresStore"))
                },
                store_to_py,
            )
        })
    }

    /// The store's description (`sqlite:/path`, `postgres://user@host/db`, `memory`): never a password.
    #[getter]
    fn describe(&self) -> &str {
        &self.described
    }

    #[getter]
    fn kind(&self) -> &str {
        self.kind
    }

    /// Whether tokens are encrypted at rest (`None` for a partner's store: the manager's key decides).
    #[getter]
    fn encrypted(&self) -> Option<bool> {
        self.sealer.as_ref().map(Sealer::is_encrypted)
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Closes the store (connections are closed once no manager uses them any more).
    fn close(&self) {
        self.inner.close();
    }

    /// The core's store conformance suite (`confirma::ffi::run_conformance`) against this store, which
    /// must be empty; returns the report (one passed check per line). A failed check is a `StorageError`
    /// naming it.
    fn check(&self, py: Python<'_>) -> PyResult<String> {
        contain(py, || {
            let store = self.store(py)?;
            let r = block_on(
                py,
                async move { Ok(confirma::ffi::run_conformance(store).await) },
                |py, r: Result<String, confirma::ffi::ErrorInfo>| match r {
                    Ok(s) => Ok(s.into_pyobject(py)?.into_any().unbind()),
                    Err(e) => Err(crate::error::to_pyerr(py, &e)),
                },
            )?;
            r.extract(py)
        })
    }
}
