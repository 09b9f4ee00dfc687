//! Client options → `confirma::ffi::ConfigInput`: the Python names and units (seconds, snake_case) and the
//! binding's identity for the User-Agent. Parsing, defaults, bounds and the User-Agent itself are the
//! core's (`ConfigInput::build`).

use confirma::ffi::{BindingInfo, ConfigInput, OptionNaming, TimeUnit};
use confirma::ClientConfig;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::error::core_err;

/// The binding package's version.
pub const BINDING_VERSION: &str = env!("CARGO_PKG_VERSION");

static PYTHON_VERSION: PyOnceLock<String> = PyOnceLock::new();

/// `major.minor.micro` of the running interpreter.
fn python_version(py: Python<'_>) -> PyResult<String> {
    PYTHON_VERSION
        .get_or_try_init(py, || -> PyResult<String> {
            let v = py.import("sys")?.getattr("version_info")?;
            let (major, minor, micro): (u32, u32, u32) =
                (v.getattr("major")?.extract()?, v.getattr("minor")?.extract()?, v.getattr("micro")?.extract()?);
            Ok(format!("{major}.{minor}.{micro}"))
        })
        .cloned()
}

/// The options as `confirma.Client(...)` takes them (every one optional: `None` = the core's default).
/// Numbers arrive as `float` (the Python layer has checked their types).
#[derive(Default)]
pub struct Options {
    pub environment: Option<String>,
    pub base_url: Option<String>,
    pub timeout: Option<f64>,
    pub connect_timeout: Option<f64>,
    pub total_timeout: Option<f64>,
    pub max_retries: Option<f64>,
    pub max_response_bytes: Option<f64>,
    pub validation: Option<String>,
    pub user_agent_suffix: Option<String>,
    pub proxy: Option<String>,
    pub root_certificates_pem: Option<String>,
    pub language: Option<String>,
}

/// The checked configuration, or the core's `ConfigurationError`.
pub fn build(py: Python<'_>, o: Options) -> PyResult<ClientConfig> {
    let input = ConfigInput {
        binding: BindingInfo {
            language: "python".into(),
            language_version: python_version(py)?,
            binding_version: BINDING_VERSION.into(),
        },
        time_unit: TimeUnit::Seconds,
        naming: OptionNaming::SnakeCase,
        environment: o.environment,
        base_url: o.base_url,
        timeout: o.timeout,
        connect_timeout: o.connect_timeout,
        total_timeout: o.total_timeout,
        max_retries: o.max_retries,
        max_response_bytes: o.max_response_bytes,
        validation: o.validation,
        user_agent_suffix: o.user_agent_suffix,
        proxy: o.proxy,
        root_certificates_pem: o.root_certificates_pem,
        language: o.language,
    };
    input.build().map_err(|e| core_err(py, &e))
}
