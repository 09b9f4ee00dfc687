//! [`ConfigInput`] → [`ClientConfig`]: one parser for environment names and validation modes, one set of
//! defaults, one bounds check and one User-Agent composition for every binding.

use std::time::Duration;

use crate::config::{duration_from_millis, duration_from_secs_f64, ClientConfig, Environment};
use crate::error::{Error, Result};
use crate::validation::ValidationMode;

/// The unit a binding's duration options are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeUnit {
    /// Seconds (Python, the CLI).
    #[default]
    Seconds,
    /// Milliseconds (JavaScript; Kotlin passes `Duration` as milliseconds).
    Milliseconds,
}

/// How a binding spells its option names, so that an error names the option the caller wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptionNaming {
    /// `connect_timeout`, `max_retries`, `base_url` (Python, the CLI).
    #[default]
    SnakeCase,
    /// `connectTimeout`, `maxRetries`, `baseUrl` (Kotlin).
    CamelCase,
    /// `connectTimeoutMs`, `maxRetries`, `baseUrl`: camelCase with the unit on durations (JavaScript).
    CamelCaseWithUnits,
}

impl OptionNaming {
    /// The name of an option (given in snake_case) in this naming.
    pub fn name(self, snake: &str) -> String {
        if self == OptionNaming::SnakeCase {
            return snake.to_string();
        }
        let mut out = String::with_capacity(snake.len().saturating_add(2));
        let mut upper = false;
        for c in snake.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                out.push(c.to_ascii_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        if self == OptionNaming::CamelCaseWithUnits && snake.ends_with("timeout") {
            out.push_str("Ms");
        }
        out
    }
}

impl OptionNaming {
    /// The name of a duration option (given in snake_case): with [`CamelCaseWithUnits`](Self::CamelCaseWithUnits)
    /// it always carries `Ms` (`pollIntervalMs`).
    pub fn duration_name(self, snake: &str) -> String {
        let mut n = self.name(snake);
        if self == OptionNaming::CamelCaseWithUnits && !n.ends_with("Ms") {
            n.push_str("Ms");
        }
        n
    }
}

/// Which binding builds the client: composes the User-Agent suffix
/// `<language>/<language version> confirma-<language>/<binding version>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindingInfo {
    /// `python`, `node`, `kotlin`.
    pub language: String,
    /// The language runtime's version (`3.11.4`, `20.11.0`, `2.1.0`).
    pub language_version: String,
    /// The binding package's version.
    pub binding_version: String,
}

impl BindingInfo {
    /// The binding's part of the User-Agent (`python/3.11.4 confirma-python/0.1.0`); empty for none.
    pub fn user_agent_part(&self) -> String {
        let clean = |s: &str| -> String {
            s.chars().filter(|c| c.is_ascii_graphic() && *c != '/').take(40).collect::<String>()
        };
        let lang = clean(&self.language);
        if lang.is_empty() {
            return String::new();
        }
        let mut part = lang.clone();
        let lv = clean(&self.language_version);
        if !lv.is_empty() {
            part.push('/');
            part.push_str(&lv);
        }
        part.push_str(" confirma-");
        part.push_str(&lang);
        let bv = clean(&self.binding_version);
        if !bv.is_empty() {
            part.push('/');
            part.push_str(&bv);
        }
        part
    }
}

/// A client configuration as a binding receives it: every option optional (absent = the core's default),
/// numbers as the language has them (checked here), names as strings (parsed here).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigInput {
    /// Who is building the client (User-Agent).
    pub binding: BindingInfo,
    /// The unit of the three timeouts.
    pub time_unit: TimeUnit,
    /// How option names are spelled in error messages.
    pub naming: OptionNaming,
    /// `staging` (the default), `production` (`prod`), in any case; or a base URL.
    pub environment: Option<String>,
    /// A custom base URL (a proxy, the local sandbox). Wins over `environment`.
    pub base_url: Option<String>,
    /// Per-attempt timeout (default 30 s).
    pub timeout: Option<f64>,
    /// Connect timeout (default 10 s).
    pub connect_timeout: Option<f64>,
    /// Whole-call deadline, retries included (default 60 s).
    pub total_timeout: Option<f64>,
    /// Retries after the first attempt: an integer 0..=10 (default 2).
    pub max_retries: Option<f64>,
    /// The largest response body read: an integer 1 KiB..=64 MiB (default 1 MiB).
    pub max_response_bytes: Option<f64>,
    /// `strict` (the default) or `lenient`, in any case.
    pub validation: Option<String>,
    /// The caller's addition to the User-Agent.
    pub user_agent_suffix: Option<String>,
    /// An HTTP(S) proxy URL (may hold credentials; never logged).
    pub proxy: Option<String>,
    /// Extra trusted root certificates, PEM.
    pub root_certificates_pem: Option<String>,
    /// The end-user language of validation messages: `fi`, `sv` or `en` (the default), in any case.
    pub language: Option<String>,
}

impl ConfigInput {
    /// Parses, applies the defaults, and checks every bound ([`ClientConfig::check`]). Every problem is a
    /// [`Configuration`](crate::ErrorKind::Configuration) error naming the option as the caller spells it.
    pub fn build(&self) -> Result<ClientConfig> {
        let environment = match (&self.base_url, &self.environment) {
            (Some(url), _) => Environment::Custom(url.trim().to_string()),
            (None, Some(env)) => env.parse::<Environment>()?,
            (None, None) => Environment::Staging,
        };
        let mut config = ClientConfig::new(environment);
        if let Some(t) = self.duration("timeout", self.timeout)? {
            config.timeout = t;
        }
        if let Some(t) = self.duration("connect_timeout", self.connect_timeout)? {
            config.connect_timeout = t;
        }
        if let Some(t) = self.duration("total_timeout", self.total_timeout)? {
            config.total_timeout = t;
        }
        if let Some(n) = self.integer("max_retries", self.max_retries, 10, "at most 10")? {
            config.retry.max_retries = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some(n) =
            self.integer("max_response_bytes", self.max_response_bytes, 64 * 1024 * 1024, "between 1 KiB and 64 MiB")?
        {
            config.max_response_bytes = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(v) = &self.validation {
            config.validation = v.parse::<ValidationMode>()?;
        }
        if let Some(l) = self.language.as_deref().filter(|l| !l.trim().is_empty()) {
            config.language = l.parse::<crate::form::Language>()?;
        }
        let ours = self.binding.user_agent_part();
        let theirs = self.user_agent_suffix.as_deref().map(str::trim).filter(|s| !s.is_empty());
        config.user_agent_suffix = match (ours.is_empty(), theirs) {
            (true, None) => None,
            (true, Some(t)) => Some(t.to_string()),
            (false, None) => Some(ours),
            (false, Some(t)) => Some(format!("{ours} {t}")),
        };
        config.proxy = self.proxy.clone().filter(|p| !p.trim().is_empty());
        config.extra_root_certificates_pem = self.root_certificates_pem.clone().filter(|p| !p.trim().is_empty());
        config.check().map_err(|e| self.rename(e))?;
        Ok(config)
    }

    fn duration(&self, snake: &str, value: Option<f64>) -> Result<Option<Duration>> {
        let Some(v) = value else { return Ok(None) };
        let name = self.naming.name(snake);
        match self.time_unit {
            TimeUnit::Seconds => duration_from_secs_f64(&name, v),
            TimeUnit::Milliseconds => duration_from_millis(&name, v),
        }
        .map(Some)
    }

    fn integer(&self, snake: &str, value: Option<f64>, max: u64, range: &str) -> Result<Option<u64>> {
        let Some(v) = value else { return Ok(None) };
        let name = self.naming.name(snake);
        if !v.is_finite() || v.fract() != 0.0 || v < 0.0 {
            return Err(Error::configuration(format!("{name} must be a non-negative integer ({range})")));
        }
        if v > max as f64 {
            return Err(Error::configuration(format!("{name} must be {range}")));
        }
        // In range and integral: the conversion is exact.
        Ok(Some(v as u64))
    }

    /// `ClientConfig::check` names options in snake_case: say them as the caller spells them.
    fn rename(&self, e: Error) -> Error {
        if self.naming == OptionNaming::SnakeCase {
            return e;
        }
        let Error::Configuration { message } = e else { return e };
        let Some((first, rest)) = message.split_once(' ') else { return Error::Configuration { message } };
        if first.contains('_') {
            Error::configuration(format!("{} {rest}", self.naming.name(first)))
        } else {
            Error::Configuration { message }
        }
    }
}

/// A configuration as canonical JSON (milliseconds, resolved base URL, the proxy and certificates only as
/// present/absent): what `repr`/`toString` show, and what the cross-language tests compare.
pub fn describe_config(c: &ClientConfig) -> serde_json::Value {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let environment = match &c.environment {
        Environment::Staging => "staging",
        Environment::Production => "production",
        Environment::Custom(_) => "custom",
    };
    serde_json::json!({
        "environment": environment,
        "baseUrl": c.resolved_base_url().map(|u| u.to_string()).unwrap_or_else(|_| c.environment.base_url().to_string()),
        "timeoutMs": ms(c.timeout),
        "connectTimeoutMs": ms(c.connect_timeout),
        "totalTimeoutMs": ms(c.total_timeout),
        "maxRetries": c.retry.max_retries,
        "initialBackoffMs": ms(c.retry.initial_backoff),
        "maxBackoffMs": ms(c.retry.max_backoff),
        "validation": c.validation.as_str(),
        "userAgentSuffix": c.user_agent_suffix,
        "proxy": c.proxy.is_some(),
        "rootCertificates": c.extra_root_certificates_pem.is_some(),
        "maxResponseBytes": c.max_response_bytes,
        "language": c.language.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn input() -> ConfigInput {
        ConfigInput {
            binding: BindingInfo {
                language: "python".into(),
                language_version: "3.11.4".into(),
                binding_version: "0.1.0".into(),
            },
            ..Default::default()
        }
    }

    #[test]
    fn defaults_spellings_and_user_agent() {
        let c = input().build().unwrap();
        assert_eq!(c, {
            let mut d = ClientConfig::new(Environment::Staging);
            d.user_agent_suffix = Some("python/3.11.4 confirma-python/0.1.0".into());
            d
        });
        for (spelling, env) in [
            ("staging", Environment::Staging),
            (" Staging ", Environment::Staging),
            ("PRODUCTION", Environment::Production),
            ("prod", Environment::Production),
        ] {
            let c = ConfigInput { environment: Some(spelling.into()), ..input() }.build().unwrap();
            assert_eq!(c.environment, env, "{spelling}");
        }
        let e = ConfigInput { environment: Some("dev".into()), ..input() }.build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration);
        let c = ConfigInput { user_agent_suffix: Some(" erp/7 ".into()), ..input() }.build().unwrap();
        assert_eq!(c.user_agent_suffix.as_deref(), Some("python/3.11.4 confirma-python/0.1.0 erp/7"));
    }

    #[test]
    fn bounds_name_the_option_as_the_caller_spells_it() {
        let js = |f: fn(&mut ConfigInput)| {
            let mut i =
                ConfigInput { time_unit: TimeUnit::Milliseconds, naming: OptionNaming::CamelCaseWithUnits, ..input() };
            f(&mut i);
            i.build().unwrap_err().to_string()
        };
        assert!(js(|i| i.connect_timeout = Some(f64::NAN)).contains("connectTimeoutMs"));
        assert!(js(|i| i.max_retries = Some(11.0)).contains("maxRetries"));
        assert!(js(|i| i.max_retries = Some(1.5)).contains("maxRetries"));
        assert!(js(|i| i.max_response_bytes = Some(10.0)).contains("maxResponseBytes"));
        let ok = ConfigInput { time_unit: TimeUnit::Milliseconds, timeout: Some(250.0), ..input() }.build().unwrap();
        assert_eq!(ok.timeout, Duration::from_millis(250));
        assert_eq!(OptionNaming::CamelCase.name("root_certificates_pem"), "rootCertificatesPem");
    }
}
