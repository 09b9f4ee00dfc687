//! The client configuration as Kotlin hands it over, translated into the core's `confirma::ffi::ConfigInput`
//! (which parses the environment, applies the defaults, checks every bound and composes the User-Agent).

use confirma as cfis;
use confirma::ffi::{BindingInfo, ConfigInput, OptionNaming, TimeUnit};
use confirma::ValidationMode;

/// The client configuration as the native layer receives it (the public `ClientConfig` is the hand-written
/// Kotlin class with `kotlin.time.Duration` fields). Every option is optional: absent is the core's default.
#[derive(uniffi::Record, Clone, Debug)]
pub struct NativeClientConfig {
    /// `KotlinVersion.CURRENT`, for the User-Agent (`kotlin/<version> confirma-kotlin/<version>`).
    pub kotlin_version: String,
    /// `staging`, `production` (`prod`), in any case (ignored when `base_url` is set).
    #[uniffi(default)]
    pub environment: Option<String>,
    /// A custom base URL (a proxy, the local sandbox); plain http only for loopback hosts.
    #[uniffi(default)]
    pub base_url: Option<String>,
    /// Per-attempt timeout, milliseconds (any double: the core rejects NaN, infinite, <= 0 and over 24 h).
    #[uniffi(default)]
    pub timeout_ms: Option<f64>,
    /// Connect timeout, milliseconds.
    #[uniffi(default)]
    pub connect_timeout_ms: Option<f64>,
    /// Total deadline of a call, retries included, milliseconds.
    #[uniffi(default)]
    pub total_timeout_ms: Option<f64>,
    /// Retries after the first attempt (the core checks it is an integer 0..=10).
    #[uniffi(default)]
    pub max_retries: Option<f64>,
    /// The largest response body read, bytes (the core checks 1 KiB ..= 64 MiB).
    #[uniffi(default)]
    pub max_response_bytes: Option<f64>,
    /// Client-side validation mode.
    #[uniffi(default)]
    pub validation: Option<ValidationMode>,
    /// The caller's addition to the User-Agent.
    #[uniffi(default)]
    pub user_agent_suffix: Option<String>,
    /// An HTTP(S) proxy URL (may contain credentials; never logged).
    #[uniffi(default)]
    pub proxy: Option<String>,
    /// Extra trusted root certificate(s), PEM.
    #[uniffi(default)]
    pub extra_root_certificates_pem: Option<String>,
    /// The end-user language of validation issues (`fi`, `sv`, `en`).
    #[uniffi(default)]
    pub language: Option<String>,
}

impl NativeClientConfig {
    /// The core's configuration, or the configuration error naming the option as Kotlin spells it.
    pub(crate) fn build(&self) -> Result<cfis::ClientConfig, cfis::Error> {
        // A struct literal without `..`: an option the core adds fails this build until it is passed on.
        ConfigInput {
            binding: BindingInfo {
                language: "kotlin".to_string(),
                language_version: self.kotlin_version.clone(),
                binding_version: env!("CARGO_PKG_VERSION").to_string(),
            },
            time_unit: TimeUnit::Milliseconds,
            naming: OptionNaming::CamelCase,
            environment: self.environment.clone(),
            base_url: self.base_url.clone(),
            timeout: self.timeout_ms,
            connect_timeout: self.connect_timeout_ms,
            total_timeout: self.total_timeout_ms,
            max_retries: self.max_retries,
            max_response_bytes: self.max_response_bytes,
            validation: self.validation.map(|v| v.as_str().to_string()),
            user_agent_suffix: self.user_agent_suffix.clone(),
            proxy: self.proxy.clone(),
            root_certificates_pem: self.extra_root_certificates_pem.clone(),
            language: self.language.clone(),
        }
        .build()
    }
}
