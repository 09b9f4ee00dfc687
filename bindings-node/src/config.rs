//! The JS options object → `confirma::ffi::ConfigInput`. The JS layer has checked the types only; the
//! values (environment spellings, bounds, integers, defaults, the User-Agent) are judged by the core.

use confirma::ffi::{BindingInfo, ConfigInput, OptionNaming, TimeUnit};
use napi_derive::napi;

/// The options of `new OnboardingClient(...)`, type-checked by the JS layer, plus who is calling.
#[napi(object)]
pub struct NativeOptions {
    /// `process.versions.node` (for the User-Agent).
    pub node_version: Option<String>,
    /// The npm package's version (for the User-Agent).
    pub binding_version: Option<String>,
    pub environment: Option<String>,
    pub base_url: Option<String>,
    pub timeout_ms: Option<f64>,
    pub connect_timeout_ms: Option<f64>,
    pub total_timeout_ms: Option<f64>,
    pub max_retries: Option<f64>,
    pub max_response_bytes: Option<f64>,
    pub validation: Option<String>,
    pub user_agent_suffix: Option<String>,
    pub proxy: Option<String>,
    pub root_certificates_pem: Option<String>,
    /// `fi` | `sv` | `en`: the language of validation issues' `userMessage`.
    pub language: Option<String>,
}

impl From<NativeOptions> for ConfigInput {
    fn from(o: NativeOptions) -> Self {
        ConfigInput {
            binding: BindingInfo {
                language: "node".to_string(),
                language_version: o.node_version.unwrap_or_default(),
                binding_version: o.binding_version.unwrap_or_default(),
            },
            time_unit: TimeUnit::Milliseconds,
            naming: OptionNaming::CamelCaseWithUnits,
            environment: o.environment,
            base_url: o.base_url,
            timeout: o.timeout_ms,
            connect_timeout: o.connect_timeout_ms,
            total_timeout: o.total_timeout_ms,
            max_retries: o.max_retries,
            max_response_bytes: o.max_response_bytes,
            validation: o.validation,
            user_agent_suffix: o.user_agent_suffix,
            proxy: o.proxy,
            root_certificates_pem: o.root_certificates_pem,
            language: o.language,
        }
    }
}
