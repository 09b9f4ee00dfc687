//! `confirma._native.NativeManager`, behind `confirma.TokenManager` and `confirma.AsyncTokenManager`: the
//! core's `TokenManager` (options through the core's `ManagerInput`: seconds, snake_case; every default,
//! bound and the whole protocol are the core's). Every call has a blocking form (GIL released, the runtime
//! bridge of `runtime.rs`) and an asyncio form (`*_async`; cancelling the asyncio task only stops waiting:
//! the core finishes a rotation it started and persists it).
//!
//! `token()` first asks the core for the token in memory (`ffi::cached_token`, GIL held: no future, no
//! thread hop); only when that has nothing does it call the manager's `token` on the runtime, GIL released.

use std::sync::Arc;

use confirma::ffi::{CreatedData, ManagerInput, OptionNaming, TimeUnit};
use confirma::{CredentialStatus, TokenManager};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};

use crate::client::NativeClient;
use crate::convert::to_json;
use crate::error::{config_error, core_err, to_pyerr};
use crate::events::NativeEvents;
use crate::results::{created_to_py, to_datetime};
use crate::runtime::{block_on, contain, spawn_async, ProcessBound};
use crate::store::{sealer, NativeStore};
use crate::token::{token_arg, token_to_py};

static STATUS_CLASS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The token from memory (the core's `ffi::cached_token`: no future, no thread hop), or `None` when the
/// manager's `token` has work to do.
fn cached(py: Python<'_>, m: &TokenManager, client_id: &str) -> PyResult<Option<confirma::SecretToken>> {
    confirma::ffi::cached_token(m, client_id).map_err(|e| to_pyerr(py, &e))
}

/// A `confirma.CredentialStatus` (a frozen dataclass): times as UTC `datetime`s, state and health as
/// strings. Never a token.
pub fn status_object(py: Python<'_>, s: CredentialStatus) -> PyResult<Py<PyAny>> {
    let class = STATUS_CLASS.import(py, "confirma._lifecycle", "CredentialStatus")?;
    let kw = PyDict::new(py);
    kw.set_item("environment", s.environment)?;
    kw.set_item("client_id", s.client_id)?;
    kw.set_item("customer_code", s.customer_code)?;
    kw.set_item("payment_reference_prefix", s.payment_reference_prefix)?;
    kw.set_item("state", s.state.as_str())?;
    kw.set_item("health", s.health.as_str())?;
    kw.set_item("token_version", s.token_version)?;
    kw.set_item("fingerprint", s.fingerprint)?;
    kw.set_item("last_renewed_at", to_datetime(py, s.last_renewed_at))?;
    kw.set_item("expires_at", to_datetime(py, s.expires_at))?;
    kw.set_item("next_renew_at", to_datetime(py, s.next_renew_at))?;
    kw.set_item("last_validated_at", to_datetime(py, s.last_validated_at))?;
    kw.set_item("consecutive_failures", s.consecutive_failures)?;
    kw.set_item("last_error", s.last_error)?;
    kw.set_item("lease_holder", s.lease_holder)?;
    kw.set_item("lease_expires_at", to_datetime(py, s.lease_expires_at))?;
    kw.set_item("encrypted", s.encrypted)?;
    Ok(class.call((), Some(&kw))?.unbind())
}

fn statuses_object(py: Python<'_>, list: Vec<CredentialStatus>) -> PyResult<Py<PyAny>> {
    let items = list.into_iter().map(|s| status_object(py, s)).collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, items)?.into_any().unbind())
}

fn token_object(py: Python<'_>, t: confirma::SecretToken) -> PyResult<Py<PyAny>> {
    Ok(token_to_py(py, t)?.into_any())
}

fn bool_object(py: Python<'_>, b: bool) -> PyResult<Py<PyAny>> {
    Ok(pyo3::types::PyBool::new(py, b).to_owned().into_any().unbind())
}

/// The native token manager.
#[pyclass(frozen, module = "confirma._native", name = "NativeManager")]
pub struct NativeManager {
    inner: ProcessBound<TokenManager>,
    /// Tells event streams the manager is closed.
    closed: Arc<tokio::sync::watch::Sender<bool>>,
    environment: String,
    owner: String,
    described: String,
    encrypted: bool,
}

impl NativeManager {
    fn manager(&self, py: Python<'_>) -> PyResult<TokenManager> {
        crate::logbridge::refresh_level(py);
        self.manager_quiet(py)
    }

    /// `manager` without re-reading the `confirma` logger's level (a Python call): the hot path of `token()`.
    fn manager_quiet(&self, py: Python<'_>) -> PyResult<TokenManager> {
        self.inner.get(
            py,
            |pid| format!("this confirma token manager was created in process {pid} before os.fork(); it belongs to the parent process. Create a new client, store and TokenManager in the child process"),
            "this confirma token manager is closed",
        )
    }
}

/// A manager for `client` over `store` with default options: `Client.create_client(..., store=...)`.
pub fn manager_for(py: Python<'_>, client: confirma::OnboardingClient, store: &NativeStore) -> PyResult<TokenManager> {
    let sealer = match &store.sealer {
        Some(s) => s.clone(),
        None => sealer(py, None, Vec::new(), false)?,
    };
    TokenManager::new(client, store.store(py)?, sealer, Default::default()).map_err(|e| core_err(py, &e))
}

impl Drop for NativeManager {
    fn drop(&mut self) {
        // Event streams end; the manager itself goes with `inner` (forgotten in a forked child).
        let _ = self.closed.send(true);
    }
}

#[pymethods]
impl NativeManager {
    #[new]
    /// Durations in seconds; every option optional (`None` = the core's default).
    #[pyo3(signature = (client, store, *, renew_every=None, renew_at_fraction=None, jitter=None, lease=None, validate_interval=None, failure_backoff=None, failure_backoff_max=None, poll_interval=None, owner=None, key=None, previous_keys=None, plaintext=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        client: &NativeClient,
        store: &NativeStore,
        renew_every: Option<f64>,
        renew_at_fraction: Option<f64>,
        jitter: Option<f64>,
        lease: Option<f64>,
        validate_interval: Option<f64>,
        failure_backoff: Option<f64>,
        failure_backoff_max: Option<f64>,
        poll_interval: Option<f64>,
        owner: Option<String>,
        key: Option<String>,
        previous_keys: Option<Vec<String>>,
        plaintext: Option<bool>,
    ) -> PyResult<Self> {
        contain(py, || {
            let input = ManagerInput {
                time_unit: TimeUnit::Seconds,
                naming: OptionNaming::SnakeCase,
                renew_every,
                renew_at_fraction,
                jitter,
                lease,
                validate_interval,
                failure_backoff,
                failure_backoff_max,
                poll_interval,
                owner,
            };
            let opts = input.build().map_err(|e| core_err(py, &e))?;
            let given_key = key.is_some() || previous_keys.is_some() || plaintext.is_some();
            let sealer = match (&store.sealer, given_key) {
                (Some(_), true) => {
                    return Err(config_error(
                        py,
                        "key, previous_keys and plaintext belong to the store (SqliteStore/PostgresStore/MemoryStore) for the built-in stores; give them to TokenManager only with your own CredentialStore",
                    ))
                }
                (Some(s), false) => s.clone(),
                (None, _) => sealer(py, key, previous_keys.unwrap_or_default(), plaintext.unwrap_or(false))?,
            };
            let core_client = client.client(py)?;
            let store = store.store(py)?;
            let rt = confirma::ffi::runtime::runtime().map_err(|e| core_err(py, &e))?;
            let _guard = rt.enter();
            let encrypted = sealer.is_encrypted();
            let m = TokenManager::new(core_client, store, sealer, opts).map_err(|e| core_err(py, &e))?;
            tracing::debug!(target: "confirma::python", environment = %m.environment(), store = %m.store().describe(), "token manager created");
            let (closed, _) = tokio::sync::watch::channel(false);
            Ok(NativeManager {
                environment: m.environment().to_string(),
                owner: m.owner().to_string(),
                described: m.store().describe(),
                encrypted,
                closed: Arc::new(closed),
                inner: ProcessBound::new(m),
            })
        })
    }

    #[getter]
    fn environment(&self) -> &str {
        &self.environment
    }

    #[getter]
    fn owner(&self) -> &str {
        &self.owner
    }

    #[getter]
    fn store_description(&self) -> &str {
        &self.described
    }

    #[getter]
    fn encrypted(&self) -> bool {
        self.encrypted
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Stops serving: later calls raise `ConfigurationError`, event streams end. A rotation in flight
    /// completes and is persisted (the core runs it detached).
    fn close(&self) {
        let _ = self.closed.send(true);
        self.inner.close();
    }

    /// A stream of this manager's events (from now on).
    fn events(&self, py: Python<'_>) -> PyResult<NativeEvents> {
        contain(py, || {
            let m = self.manager(py)?;
            Ok(NativeEvents::new(confirma::ffi::EventStream::new(&m), self.closed.subscribe()))
        })
    }

    fn token(&self, py: Python<'_>, client_id: &str) -> PyResult<Py<PyAny>> {
        contain(py, || {
            let m = self.manager_quiet(py)?;
            if let Some(t) = cached(py, &m, client_id)? {
                return token_object(py, t);
            }
            // Not servable from memory: the manager's token() on the runtime, GIL released.
            crate::logbridge::refresh_level(py);
            let id = client_id.to_string();
            block_on(py, async move { m.token(&id).await }, token_object)
        })
    }

    /// The token if it is in memory (the hot path of `AsyncTokenManager.token`), else `None`: then await
    /// `token_async`.
    fn token_now(&self, py: Python<'_>, client_id: &str) -> PyResult<Option<Py<PyAny>>> {
        contain(py, || {
            let m = self.manager_quiet(py)?;
            cached(py, &m, client_id)?.map(|t| token_object(py, t)).transpose()
        })
    }

    /// On the hot path the awaitable returned is an asyncio future that is already done: awaiting it does
    /// not go round the event loop.
    fn token_async<'py>(&self, py: Python<'py>, client_id: String) -> PyResult<Bound<'py, PyAny>> {
        contain(py, || {
            let m = self.manager_quiet(py)?;
            if let Some(t) = cached(py, &m, &client_id)? {
                let event_loop = GET_RUNNING_LOOP.import(py, "asyncio", "get_running_loop")?.call0()?;
                let done = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
                done.call_method1(pyo3::intern!(py, "set_result"), (token_object(py, t)?,))?;
                return Ok(done);
            }
            crate::logbridge::refresh_level(py);
            spawn_async(py, async move { m.token(&client_id).await }, token_object)
        })
    }

    fn status(&self, py: Python<'_>, client_id: String) -> PyResult<Py<PyAny>> {
        contain(py, || {
            let m = self.manager(py)?;
            block_on(py, async move { m.status(&client_id).await }, status_object)
        })
    }

    fn status_async<'py>(&self, py: Python<'py>, client_id: String) -> PyResult<Bound<'py, PyAny>> {
        contain(py, || {
            let m = self.manager(py)?;
            spawn_async(py, async move { m.status(&client_id).await }, status_object)
        })
    }

    fn statuses(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        contain(py, || {
            let m = self.manager(py)?;
            block_on(py, async move { m.statuses().await }, statuses_object)
        })
    }

    fn statuses_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        contain(py, || {
            let m = self.manager(py)?;
            spawn_async(py, async move { m.statuses().await }, statuses_object)
        })
    }

    fn renew_now(&self, py: Python<'_>, client_id: String) -> PyResult<Py<PyAny>> {
        contain(py, || {
            let m = self.manager(py)?;
            block_on(py, async move { m.renew_now(&client_id).await }, status_object)
        })
    }

    fn renew_now_async<'py>(&self, py: Python<'py>, client_id: String) -> PyResult<Bound<'py, PyAny>> {
        contain(py, || {
            let m = self.manager(py)?;
            spawn_async(py, async move { m.renew_now(&client_id).await }, status_object)
        })
    }

    fn reconcile(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        contain(py, || {
            let m = self.manager(py)?;
            block_on(py, async move { m.reconcile().await }, statuses_object)
        })
    }

    fn reconcile_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        contain(py, || {
            let m = self.manager(py)?;
            spawn_async(py, async move { m.reconcile().await }, statuses_object)
        })
    }

    #[pyo3(signature = (client_id, token, customer_code=None, payment_reference_prefix=None))]
    fn import_credentials(
        &self,
        py: Python<'_>,
        client_id: String,
        token: &Bound<'_, PyAny>,
        customer_code: Option<String>,
        payment_reference_prefix: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        contain(py, || {
            let token = token_arg(py, token, "token")?;
            let m = self.manager(py)?;
            block_on(
                py,
                async move {
                    m.import_credentials(
                        &client_id,
                        &token,
                        customer_code.as_deref(),
                        payment_reference_prefix.as_deref(),
                    )
                    .await
                },
                status_object,
            )
        })
    }

    #[pyo3(signature = (client_id, token, customer_code=None, payment_reference_prefix=None))]
    fn import_credentials_async<'py>(
        &self,
        py: Python<'py>,
        client_id: String,
        token: &Bound<'py, PyAny>,
        customer_code: Option<String>,
        payment_reference_prefix: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        contain(py, || {
            let token = token_arg(py, token, "token")?;
            let m = self.manager(py)?;
            spawn_async(
                py,
                async move {
                    m.import_credentials(
                        &client_id,
                        &token,
                        customer_code.as_deref(),
                        payment_reference_prefix.as_deref(),
                    )
                    .await
                },
                status_object,
            )
        })
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
            let m = self.manager(py)?;
            let nc = m.client().parse_new_client(&value).map_err(|e| core_err(py, &e))?;
            block_on(py, async move { m.create_client(&token, &nc).await.map(CreatedData::from) }, created_to_py)
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
            let m = self.manager(py)?;
            let nc = m.client().parse_new_client(&value).map_err(|e| core_err(py, &e))?;
            spawn_async(py, async move { m.create_client(&token, &nc).await.map(CreatedData::from) }, created_to_py)
        })
    }

    fn discard_pending_create(&self, py: Python<'_>, business_code: String) -> PyResult<Py<PyAny>> {
        contain(py, || {
            let m = self.manager(py)?;
            block_on(py, async move { m.discard_pending_create(&business_code).await }, bool_object)
        })
    }

    fn discard_pending_create_async<'py>(&self, py: Python<'py>, business_code: String) -> PyResult<Bound<'py, PyAny>> {
        contain(py, || {
            let m = self.manager(py)?;
            spawn_async(py, async move { m.discard_pending_create(&business_code).await }, bool_object)
        })
    }
}
