//! Client configuration.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use crate::error::{Error, Result};
use crate::form::Language;
use crate::validation::ValidationMode;

/// Staging base URL.
pub const STAGING_URL: &str = "https://staging-integrations.confirmafinance.com";
/// Production base URL.
pub const PRODUCTION_URL: &str = "https://integrations.confirmafinance.com";

/// The longest timeout any option accepts (24 hours).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest backoff any option accepts (1 hour).
pub const MAX_BACKOFF: Duration = Duration::from_secs(60 * 60);
/// The default cap on a response body (1 MiB).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// The smallest and largest response caps accepted.
pub const RESPONSE_BYTES_RANGE: std::ops::RangeInclusive<usize> = 1024..=64 * 1024 * 1024;

/// A duration option given in seconds (as Python and the CLI take them), checked: NaN, infinite,
/// negative, zero or over 24 hours is a [`Configuration`](crate::ErrorKind::Configuration) error naming
/// the option.
pub fn duration_from_secs_f64(name: &str, secs: f64) -> Result<Duration> {
    if !secs.is_finite() || secs <= 0.0 {
        return Err(Error::configuration(format!("{name} must be a finite number of seconds greater than zero")));
    }
    if secs > MAX_TIMEOUT.as_secs_f64() {
        return Err(Error::configuration(format!("{name} must be at most 24 hours")));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| Error::configuration(format!("{name} is not a valid duration")))
}

/// A duration option given in milliseconds (as Node and the JVM take them); the same rules as
/// [`duration_from_secs_f64`].
pub fn duration_from_millis(name: &str, ms: f64) -> Result<Duration> {
    if !ms.is_finite() || ms <= 0.0 {
        return Err(Error::configuration(format!("{name} must be a finite number of milliseconds greater than zero")));
    }
    duration_from_secs_f64(name, ms / 1000.0)
}

/// Which CFIS environment to talk to. Tokens are issued per environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Environment {
    /// `https://staging-integrations.confirmafinance.com`.
    Staging,
    /// `https://integrations.confirmafinance.com`.
    Production,
    /// Any other base URL (a proxy, the local sandbox). Plain `http://` only for loopback hosts.
    Custom(String),
}

impl Environment {
    /// The base URL.
    pub fn base_url(&self) -> &str {
        match self {
            Environment::Staging => STAGING_URL,
            Environment::Production => PRODUCTION_URL,
            Environment::Custom(u) => u,
        }
    }
}

impl FromStr for Environment {
    type Err = Error;
    /// `staging`, `production`, or a URL.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "staging" => Ok(Environment::Staging),
            "production" | "prod" => Ok(Environment::Production),
            _ if s.contains("://") => Ok(Environment::Custom(s.trim().to_string())),
            other => Err(Error::configuration(format!(
                "unknown environment `{other}` (expected `staging`, `production` or a base URL)"
            ))),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Environment::Staging => f.write_str("staging"),
            Environment::Production => f.write_str("production"),
            Environment::Custom(u) => write!(f, "custom ({u})"),
        }
    }
}

/// Retry behaviour. Only failures that are safe to retry for the operation are retried; see the crate docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 2, so at most 3 attempts).
    pub max_retries: u32,
    /// The first backoff ceiling (default 200 ms); doubled each retry, with full jitter.
    pub initial_backoff: Duration,
    /// The largest backoff ceiling (default 5 s).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_retries: 2, initial_backoff: Duration::from_millis(200), max_backoff: Duration::from_secs(5) }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy { max_retries: 0, ..Default::default() }
    }

    /// The backoff before retry number `retry` (1-based): uniformly random in `[0, min(max, initial·2^(retry-1))]`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .initial_backoff
            .saturating_mul(1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX))
            .min(self.max_backoff);
        let nanos = ceiling.as_nanos().min(u64::MAX as u128) as u64;
        Duration::from_nanos(if nanos == 0 { 0 } else { fastrand::u64(0..=nanos) })
    }
}

/// Everything an [`OnboardingClient`](crate::OnboardingClient) is built from.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Environment or custom base URL.
    pub environment: Environment,
    /// Time allowed to establish a connection (default 10 s).
    pub connect_timeout: Duration,
    /// Time allowed for one attempt, from sending to the last byte of the body (default 30 s).
    pub timeout: Duration,
    /// Time allowed for a whole call, retries and backoff included (default 60 s).
    pub total_timeout: Duration,
    /// Retries.
    pub retry: RetryPolicy,
    /// Client-side validation of requests.
    pub validation: ValidationMode,
    /// Added after `confirma-sdk/<version>` in the User-Agent (bindings add their language here).
    pub user_agent_suffix: Option<String>,
    /// An HTTP(S) proxy URL for all requests. May contain credentials; never logged.
    pub proxy: Option<String>,
    /// Extra trusted root certificate(s), PEM (e.g. a corporate TLS-inspecting proxy).
    pub extra_root_certificates_pem: Option<String>,
    /// The largest response body read (default 1 MiB). A larger answer is an
    /// [`UnexpectedResponse`](crate::ErrorKind::UnexpectedResponse) for validate and
    /// [`OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown) for create and renew.
    pub max_response_bytes: usize,
    /// The end-user language of validation issues' messages (`user_message`; default English). The
    /// developer-facing texts stay English.
    pub language: Language,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("environment", &self.environment)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("total_timeout", &self.total_timeout)
            .field("retry", &self.retry)
            .field("validation", &self.validation)
            .field("user_agent_suffix", &self.user_agent_suffix)
            .field("proxy", &self.proxy.as_ref().map(|_| crate::secret::REDACTED))
            .field("extra_root_certificates_pem", &self.extra_root_certificates_pem.as_ref().map(|p| p.len()))
            .field("max_response_bytes", &self.max_response_bytes)
            .field("language", &self.language)
            .finish()
    }
}

impl ClientConfig {
    /// Defaults for an environment.
    pub fn new(environment: Environment) -> Self {
        ClientConfig {
            environment,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            total_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            validation: ValidationMode::Strict,
            user_agent_suffix: None,
            proxy: None,
            extra_root_certificates_pem: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            language: Language::En,
        }
    }

    /// Defaults for a custom base URL (e.g. the sandbox's `http://127.0.0.1:PORT`).
    pub fn with_base_url(base_url: impl Into<String>) -> Self {
        Self::new(Environment::Custom(base_url.into()))
    }

    /// Sets the per-attempt timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Sets the total deadline of a call.
    pub fn total_timeout(mut self, t: Duration) -> Self {
        self.total_timeout = t;
        self
    }

    /// Sets the number of retries.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.retry.max_retries = n;
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, r: RetryPolicy) -> Self {
        self.retry = r;
        self
    }

    /// Sets the validation mode.
    pub fn validation(mut self, v: ValidationMode) -> Self {
        self.validation = v;
        self
    }

    /// Sets the User-Agent suffix.
    pub fn user_agent_suffix(mut self, s: impl Into<String>) -> Self {
        self.user_agent_suffix = Some(s.into());
        self
    }

    /// Sets a proxy.
    pub fn proxy(mut self, p: impl Into<String>) -> Self {
        self.proxy = Some(p.into());
        self
    }

    /// Sets the end-user language of validation issues' messages.
    pub fn language(mut self, l: Language) -> Self {
        self.language = l;
        self
    }

    /// Sets the largest response body read.
    pub fn max_response_bytes(mut self, n: usize) -> Self {
        self.max_response_bytes = n;
        self
    }

    /// Adds trusted root certificates (PEM).
    pub fn extra_root_certificates_pem(mut self, pem: impl Into<String>) -> Self {
        self.extra_root_certificates_pem = Some(pem.into());
        self
    }

    /// The base URL, checked: http(s) only, plain http only to loopback, no credentials, query or fragment.
    pub fn resolved_base_url(&self) -> Result<Url> {
        let raw = self.environment.base_url();
        let mut url = Url::parse(raw).map_err(|e| Error::configuration(format!("invalid base URL: {e}")))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(Error::configuration(
                    "plain http:// is only allowed for loopback hosts (127.0.0.1, ::1, localhost); use https://",
                ))
            }
            other => return Err(Error::configuration(format!("unsupported URL scheme `{other}`"))),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(Error::configuration("the base URL has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::configuration("the base URL must not contain credentials"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::configuration("the base URL must not have a query or fragment"));
        }
        if !url.path().ends_with('/') {
            let p = format!("{}/", url.path());
            url.set_path(&p);
        }
        Ok(url)
    }

    /// Checks every option: timeouts greater than zero and at most 24 hours, backoffs at most an hour,
    /// at most 10 retries, a printable User-Agent suffix, a response cap of 1 KiB to 64 MiB. Called by
    /// [`OnboardingClient::new`](crate::OnboardingClient::new).
    pub fn check(&self) -> Result<()> {
        for (name, d) in [
            ("timeout", self.timeout),
            ("connect_timeout", self.connect_timeout),
            ("total_timeout", self.total_timeout),
        ] {
            if d.is_zero() {
                return Err(Error::configuration(format!("{name} must be greater than zero")));
            }
            if d > MAX_TIMEOUT {
                return Err(Error::configuration(format!("{name} must be at most 24 hours")));
            }
        }
        for (name, d) in [("initial_backoff", self.retry.initial_backoff), ("max_backoff", self.retry.max_backoff)] {
            if d > MAX_BACKOFF {
                return Err(Error::configuration(format!("{name} must be at most 1 hour")));
            }
        }
        if !RESPONSE_BYTES_RANGE.contains(&self.max_response_bytes) {
            return Err(Error::configuration("max_response_bytes must be between 1 KiB and 64 MiB"));
        }
        if self.retry.max_retries > 10 {
            return Err(Error::configuration("max_retries must be at most 10"));
        }
        if let Some(s) = &self.user_agent_suffix {
            if s.len() > 200 || !s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                return Err(Error::configuration("user_agent_suffix must be printable ASCII, at most 200 characters"));
            }
        }
        Ok(())
    }
}

/// Whether a URL's host is a loopback address or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_rules() {
        let ok = |u: &str| ClientConfig::with_base_url(u).resolved_base_url();
        assert_eq!(ok("http://127.0.0.1:8080").unwrap().as_str(), "http://127.0.0.1:8080/");
        assert_eq!(ok("http://[::1]:1/prefix").unwrap().as_str(), "http://[::1]:1/prefix/");
        assert!(ok("http://localhost:1").is_ok());
        assert!(ok("https://proxy.example.com/cfis/").is_ok());
        for bad in
            ["http://example.com", "http://10.0.0.1", "ftp://x", "https://u:p@x.fi", "https://x.fi/?a=1", "nonsense"]
        {
            assert_eq!(ok(bad).unwrap_err().kind(), crate::ErrorKind::Configuration, "{bad}");
        }
        assert_eq!(
            ClientConfig::new(Environment::Staging).resolved_base_url().unwrap().as_str(),
            "https://staging-integrations.confirmafinance.com/"
        );
    }

    #[test]
    fn backoff_is_bounded_full_jitter() {
        let p = RetryPolicy::default();
        for retry in 1..20 {
            let ceiling =
                Duration::from_millis(200).saturating_mul(1 << (retry - 1).min(20)).min(Duration::from_secs(5));
            for _ in 0..50 {
                assert!(p.backoff(retry) <= ceiling);
            }
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| p.backoff(3).as_nanos()).collect();
        assert!(spread.len() > 10, "jittered");
    }

    #[test]
    fn absurd_durations_are_configuration_errors() {
        let kind = |c: ClientConfig| c.check().unwrap_err().kind();
        let base = || ClientConfig::with_base_url("http://127.0.0.1:1");
        assert_eq!(kind(base().total_timeout(Duration::MAX)), crate::ErrorKind::Configuration);
        assert_eq!(kind(base().timeout(Duration::from_secs(u64::MAX / 2))), crate::ErrorKind::Configuration);
        assert_eq!(kind(base().connect_timeout(Duration::ZERO)), crate::ErrorKind::Configuration);
        assert_eq!(kind(base().max_response_bytes(10)), crate::ErrorKind::Configuration);
        let r = RetryPolicy { max_backoff: Duration::MAX, ..Default::default() };
        assert_eq!(kind(base().retry(r)), crate::ErrorKind::Configuration);
        assert!(base().check().is_ok());
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, 0.0, 9.3e18, 86_400.5] {
            assert_eq!(
                duration_from_secs_f64("timeout", bad).unwrap_err().kind(),
                crate::ErrorKind::Configuration,
                "{bad}"
            );
            assert_eq!(
                duration_from_millis("timeoutMs", bad * 1000.0).unwrap_err().kind(),
                crate::ErrorKind::Configuration,
                "{bad}"
            );
        }
        assert_eq!(duration_from_secs_f64("timeout", 1.5).unwrap(), Duration::from_millis(1500));
        assert_eq!(duration_from_millis("timeoutMs", 250.0).unwrap(), Duration::from_millis(250));
    }

    #[test]
    fn environments_parse() {
        assert_eq!("staging".parse::<Environment>().unwrap(), Environment::Staging);
        assert_eq!("PRODUCTION".parse::<Environment>().unwrap(), Environment::Production);
        assert!(matches!("http://127.0.0.1:1".parse::<Environment>().unwrap(), Environment::Custom(_)));
        assert!("dev".parse::<Environment>().is_err());
    }
}
