//! `confirma._native.NativeClient`, behind `confirma.Client` and `confirma.AsyncClient`: one core client,
//! bound to the process that created it (a client used after `os.fork()` is a `ConfigurationError`; its
//! connection pool belongs to the parent and is never torn down from the child).

use confirma::ffi::{describe_config, CreatedData, RenewedData, StatusData};
use confirma::{ClientConfig, OnboardingClient};
use pyo3::prelude::*;

use crate::config::{self, Options};
use crate::convert::to_json;
use crate::error::{core_err, to_pyerr};
use crate::manager::manager_for;
use crate::results::{created_to_py, renewed_to_py, status_to_py};
use crate::runtime::{block_on, contain, spawn_async, ProcessBound};
use crate::store::NativeStore;
use crate::token::token_arg;

/// The native client behind `confirma.Client` and `confirma.AsyncClient`.
#[pyclass(frozen, module = "confirma._native", name = "NativeClient")]
pub struct NativeClient {
    inner: ProcessBound<OnboardingClient>,
    config: ClientConfig,
    base_url: String,
    user_agent: String,
}

impl NativeClient {
    fn build(py: Python<'_>, options: Options) -> PyResult<Self> {
        let config = config::build(py, options)?;
        // reqwest needs a runtime context for some of its set-up: build inside the core's runtime.
        let rt = confirma::ffi::runtime::runtime().map_err(|e| core_err(py, &e))?;
        let client = {
            let _guard = rt.enter();
            OnboardingClient::new(config.clone()).map_err(|e| core_err(py, &e))?
        };
        tracing::debug!(target: "confirma::python", base_url = %client.base_url(), validation = config.validation.as_str(), "client created");
        Ok(NativeClient {
            base_url: client.base_url().to_string(),
            user_agent: client.user_agent().to_string(),
            config,
            inner: ProcessBound::new(client),
        })
    }

    /// The core client, for a call from this process.
    pub fn client(&self, py: Python<'_>) -> PyResult<OnboardingClient> {
        crate::logbridge::refresh_level(py);
        self.inner.get(
            py,
            |pid| format!("this confirma client was created in process {pid} before os.fork(); its connection pool belongs to the parent process. Create a new client in the child process"),
            "this confirma client is closed",
        )
    }
}

#[pymethods]
impl NativeClient {
    /// Every option is optional (`None` = the core's default); numbers are `float`, durations in seconds.
    #[new]
    #[pyo3(signature = (*, environment=None, base_url=None, timeout=None, connect_timeout=None, total_timeout=None, max_retries=None, validation=None, user_agent_suffix=None, proxy=None, root_certificates_pem=None, max_response_bytes=None, language=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        environment: Option<String>,
        base_url: Option<String>,
        timeout: Option<f64>,
        connect_timeout: Option<f64>,
        total_timeout: Option<f64>,
        max_retries: Option<f64>,
        validation: Option<String>,
        user_agent_suffix: Option<String>,
        proxy: Option<String>,
        root_certificates_pem: Option<String>,
        max_response_bytes: Option<f64>,
        language: Option<String>,
    ) -> PyResult<Self> {
        contain(py, || {
            Self::build(
                py,
                Options {
                    environment,
                    base_url,
                    timeout,
                    connect_timeout,
                    total_timeout,
                    max_retries,
                    max_response_bytes,
                    validation,
                    user_agent_suffix,
                    proxy,
                    root_certificates_pem,
                    language,
                },
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
    fn validation(&self) -> &'static str {
        self.config.validation.as_str()
    }

    #[getter]
    fn language(&self) -> String {
        self.config.language.to_string()
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Private, for the cross-language parity test: the effective configuration as JSON
    /// (`confirma::ffi::describe_config`: milliseconds, no secrets).
    fn _describe_config(&self, py: Python<'_>) -> PyResult<String> {
        contain(py, || {
            serde_json::to_string(&describe_config(&self.config))
                .map_err(|e| to_pyerr(py, &confirma::ffi::ErrorInfo::of(&confirma::Error::internal(e.to_string()))))
        })
    }

    /// Drops the connection pool (only in the process that created the client).
    fn close(&self) {
        self.inner.close();
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
            block_on(
                py,
                async move { client.create_client_from_value(&token, &value).await.map(CreatedData::from) },
                created_to_py,
            )
        })
    }

    /// `create_client(..., store=store)`: through the core's `TokenManager::create_client` (the create is
    /// recorded before it is sent; the credentials are committed before this returns).
    fn create_client_stored(
        &self,
        py: Python<'_>,
        provisioning_token: &Bound<'_, PyAny>,
        new_client: &Bound<'_, PyAny>,
        store: &NativeStore,
    ) -> PyResult<Py<PyAny>> {
        contain(py, || {
            let token = token_arg(py, provisioning_token, "provisioningToken")?;
            let value = to_json(py, new_client, "", 0)?;
            let client = self.client(py)?;
            let nc = client.parse_new_client(&value).map_err(|e| core_err(py, &e))?;
            let m = manager_for(py, client, store)?;
            block_on(py, async move { m.create_client(&token, &nc).await.map(CreatedData::from) }, created_to_py)
        })
    }

    fn create_client_stored_async<'py>(
        &self,
        py: Python<'py>,
        provisioning_token: &Bound<'py, PyAny>,
        new_client: &Bound<'py, PyAny>,
        store: &NativeStore,
    ) -> PyResult<Bound<'py, PyAny>> {
        contain(py, || {
            let token = token_arg(py, provisioning_token, "provisioningToken")?;
            let value = to_json(py, new_client, "", 0)?;
            let client = self.client(py)?;
            let nc = client.parse_new_client(&value).map_err(|e| core_err(py, &e))?;
            let m = manager_for(py, client, store)?;
            spawn_async(py, async move { m.create_client(&token, &nc).await.map(CreatedData::from) }, created_to_py)
        })
    }

    fn validate_token(&self, py: Python<'_>, token: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        contain(py, || {
            let token = token_arg(py, token, "token")?;
            let client = self.client(py)?;
            block_on(py, async move { client.validate_token(&token).await.map(StatusData::from) }, status_to_py)
        })
    }

    fn renew_token(&self, py: Python<'_>, token: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        contain(py, || {
            let token = token_arg(py, token, "token")?;
            let client = self.client(py)?;
            block_on(py, async move { client.renew_token(&token).await.map(RenewedData::from) }, renewed_to_py)
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
            spawn_async(
                py,
                async move { client.create_client_from_value(&token, &value).await.map(CreatedData::from) },
                created_to_py,
            )
        })
    }

    fn validate_token_async<'py>(&self, py: Python<'py>, token: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        contain(py, || {
            let token = token_arg(py, token, "token")?;
            let client = self.client(py)?;
            spawn_async(py, async move { client.validate_token(&token).await.map(StatusData::from) }, status_to_py)
        })
    }

    fn renew_token_async<'py>(&self, py: Python<'py>, token: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        contain(py, || {
            let token = token_arg(py, token, "token")?;
            let client = self.client(py)?;
            spawn_async(py, async move { client.renew_token(&token).await.map(RenewedData::from) }, renewed_to_py)
        })
    }
}
