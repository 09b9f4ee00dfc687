//! # confirma-sandbox — a local CFIS onboarding simulator
//!
//! A stateful, in-memory simulator of the three CFIS onboarding endpoints (`POST /api/v1/partner/client`,
//! `GET /api/v1/partner/validate`, `GET /api/v1/partner/renew`) with a sandbox clock and fault injection,
//! served over HTTP/1.1 (keep-alive) on a loopback port. The SDK's demo, examples and the test suites of
//! every language run against it.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use confirma_sandbox::{Sandbox, SandboxConfig};
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! println!("{}", sandbox.info_json()); // {"baseUrl":"http://127.0.0.1:PORT",...}
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! ## Admin API (loopback peers only)
//! | request | does |
//! |---|---|
//! | `POST /_sandbox/faults` (object or array) | queues faults: `status`, `delay`, `reset`, `truncate`, `garbage`, `html`, `commit_then_drop`, `redirect`, `partial_success` (see the README) |
//! | `DELETE /_sandbox/faults` | clears pending faults |
//! | `POST /_sandbox/clock {"advanceSeconds": N}` | moves the sandbox clock |
//! | `GET /_sandbox/state` | counts: clients, live tokens, requests, pending faults, clock |
//! | `POST /_sandbox/reset` | forgets everything and restores the start-up config |
//! | `GET`/`POST /_sandbox/config` | reads / partially changes the runtime config |
//! | `GET /_sandbox/health` | `{"ok": true}` |

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

// Layers, bottom up (each module uses only the ones above it in this list): `http` and `state` (no crate
// imports), `faults`, `shared`, `handlers`, `server`; this file and `cli` on top.
pub mod cli;
mod faults;
mod handlers;
mod http;
mod server;
mod shared;
mod state;

pub use confirma::ValidationMode;
pub use state::RenewShape;
use state::MAX_DURATION_SECS;

/// How a sandbox is started.
#[derive(Clone)]
pub struct SandboxConfig {
    /// Address to bind (default `127.0.0.1`).
    pub host: IpAddr,
    /// Port to bind; `0` picks a free port (the default).
    pub port: u16,
    /// The partner code new clients must name in `service.partnerCode` (default `QUICK3`).
    pub partner_code: String,
    /// The Partner Provisioning Token; `None` generates `cfis_ppt_` + 32 random alphanumerics.
    pub provisioning_token: Option<String>,
    /// Lifetime of issued access tokens (default 90 days); `None` = tokens never expire.
    pub token_ttl: Option<Duration>,
    /// How long a renewed (replaced) token keeps validating (default 0).
    pub grace_period: Duration,
    /// Server-side validation of new clients (default strict).
    pub validation: ValidationMode,
    /// Status for validating an expired token: `200` (`isValid: false`, the default) or `401`.
    pub expired_status: u16,
    /// Shape of the renew response.
    pub renew_shape: RenewShape,
    /// Renewing an already-renewed token within its grace period returns the same new token again
    /// (an idempotent renewal) instead of 401 "already renewed" (the default, `false`).
    pub renew_replaced_same: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            partner_code: "QUICK3".into(),
            provisioning_token: None,
            token_ttl: Some(Duration::from_secs(90 * 24 * 3600)),
            grace_period: Duration::ZERO,
            validation: ValidationMode::Strict,
            expired_status: 200,
            renew_shape: RenewShape::AccessToken,
            renew_replaced_same: false,
        }
    }
}

impl fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("partner_code", &self.partner_code)
            .field("provisioning_token", &self.provisioning_token.as_ref().map(|_| "[REDACTED]"))
            .field("token_ttl", &self.token_ttl)
            .field("grace_period", &self.grace_period)
            .field("validation", &self.validation)
            .field("expired_status", &self.expired_status)
            .field("renew_replaced_same", &self.renew_replaced_same)
            .field("renew_shape", &self.renew_shape)
            .finish()
    }
}

fn invalid(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, msg.into())
}

/// A running sandbox. Dropping it stops accepting connections (like [`Sandbox::shutdown`], without waiting).
pub struct Sandbox {
    addr: SocketAddr,
    base_url: String,
    shared: Arc<shared::Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Binds, starts serving on the current tokio runtime and returns once connections are accepted.
    pub async fn start(config: SandboxConfig) -> std::io::Result<Sandbox> {
        let token = match config.provisioning_token.clone() {
            Some(t) => {
                if confirma::validation::token_problem(&t).is_some() {
                    return Err(invalid("the provisioning token must be 1-4096 visible ASCII characters"));
                }
                t
            }
            None => format!("cfis_ppt_{}", state::random_alnum(32)),
        };
        let partner_code = config.partner_code.trim().to_string();
        if partner_code.is_empty() {
            return Err(invalid("the partner code must not be empty"));
        }
        if config.expired_status != 200 && config.expired_status != 401 {
            return Err(invalid("expired_status must be 200 or 401"));
        }
        for d in [config.token_ttl.unwrap_or_default(), config.grace_period] {
            if d.as_secs_f64() > MAX_DURATION_SECS {
                return Err(invalid("token_ttl and grace_period must be at most 100 years"));
            }
        }
        let runtime = state::RuntimeConfig {
            token_ttl: config.token_ttl,
            grace: config.grace_period,
            validation: config.validation,
            expired_status: config.expired_status,
            renew_shape: config.renew_shape,
            renew_replaced_same: config.renew_replaced_same,
        };
        let shared = Arc::new(shared::Shared::new(token, partner_code, runtime));
        let listener = TcpListener::bind(SocketAddr::new(config.host, config.port)).await?;
        let addr = listener.local_addr()?;
        let shown_ip = match addr.ip() {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let base_url = format!("http://{}", SocketAddr::new(shown_ip, addr.port()));
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, shared.clone(), stop_rx));
        tracing::info!(%base_url, "sandbox listening");
        Ok(Sandbox { addr, base_url, shared, stop, task: Some(task) })
    }

    /// `http://127.0.0.1:PORT` (an unspecified bind address is shown as loopback).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Partner Provisioning Token.
    pub fn provisioning_token(&self) -> &str {
        &self.shared.provisioning_token
    }

    /// The partner code.
    pub fn partner_code(&self) -> &str {
        &self.shared.partner_code
    }

    /// `{"baseUrl": "...", "provisioningToken": "...", "partnerCode": "..."}` on one line.
    pub fn info_json(&self) -> String {
        let s = |v: &str| serde_json::Value::from(v).to_string();
        format!(
            "{{\"baseUrl\":{},\"provisioningToken\":{},\"partnerCode\":{}}}",
            s(&self.base_url),
            s(&self.shared.provisioning_token),
            s(&self.shared.partner_code)
        )
    }

    /// Stops accepting connections, lets in-flight requests finish (at most a few seconds) and returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// A valid Finnish Business ID (`NNNNNNN-C`) derived from `seed`; different seeds below 5,000,000 give
/// different IDs. Numbers without a valid check digit (remainder 1) are skipped.
pub fn valid_business_id(seed: u32) -> String {
    let base = (seed % 5_000_000) * 2;
    for n in [base, base + 1] {
        let digits = format!("{n:07}");
        if let Some(check) = confirma::validation::finnish_business_id_check_digit(&digits) {
            return format!("{digits}-{check}");
        }
    }
    // base is even, so base + 1 does not carry into other digits: its weighted sum differs by 2 (mod 11)
    // and cannot also leave remainder 1.
    unreachable!("two consecutive numbers without a check digit")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_ids_are_valid_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for seed in (0..20_000).chain([4_999_999, 5_000_000 - 7, u32::MAX]) {
            let id = valid_business_id(seed);
            assert!(confirma::validation::is_finnish_business_id(&id), "{id}");
            if seed < 5_000_000 {
                assert!(seen.insert(id));
            }
        }
    }

    /// Over a real connection: a request whose handler panics gets a 500 answer, and the same keep-alive
    /// connection then serves the next request (the panic neither killed the connection nor the server).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_handler_answers_500_and_the_connection_lives_on() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
        let mut s = tokio::net::TcpStream::connect(sb.addr()).await.unwrap();
        let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: sandbox\r\n\r\n");
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        for (path, want) in [(handlers::TEST_PANIC_PATH, "HTTP/1.1 500 "), ("/_sandbox/health", "HTTP/1.1 200 ")] {
            s.write_all(get(path).as_bytes()).await.unwrap();
            got.clear();
            // Until the whole answer (every answer here is a complete JSON object) has arrived.
            while !String::from_utf8_lossy(&got).ends_with('}') {
                let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await.unwrap().unwrap();
                assert!(n > 0, "connection closed after {path}: {:?}", String::from_utf8_lossy(&got));
                got.extend_from_slice(&buf[..n]);
            }
            let text = String::from_utf8_lossy(&got);
            assert!(text.starts_with(want), "{path}: {text}");
        }
        assert!(String::from_utf8_lossy(&got).contains("application/json"));
        sb.shutdown().await;
    }

    #[test]
    fn config_debug_redacts_token() {
        let c = SandboxConfig { provisioning_token: Some("cfis_ppt_secret".into()), ..Default::default() };
        assert!(!format!("{c:?}").contains("secret"));
    }
}
