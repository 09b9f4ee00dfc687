//! Command-line arguments and the run loop shared by the `confirma-sandbox` binary and the
//! `confirma sandbox` subcommand.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::{RenewShape, Sandbox, SandboxConfig, ValidationMode};

/// The environment variable the provisioning token is read from (never from the command line).
pub const PROVISIONING_TOKEN_ENV: &str = "CONFIRMA_SANDBOX_PROVISIONING_TOKEN";

/// Server-side validation mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ValidationArg {
    /// Presence, ISO codes, e-mail/URL syntax and the Finnish rules.
    #[default]
    Strict,
    /// Presence and ISO codes only.
    Lenient,
}

impl From<ValidationArg> for ValidationMode {
    fn from(v: ValidationArg) -> Self {
        match v {
            ValidationArg::Strict => ValidationMode::Strict,
            ValidationArg::Lenient => ValidationMode::Lenient,
        }
    }
}

/// Options of a local CFIS sandbox.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    /// Port to listen on (0 = a free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Partner code that new clients must name.
    #[arg(long, default_value = "QUICK3")]
    pub partner_code: String,
    /// Lifetime of issued access tokens in seconds (0 = tokens never expire).
    #[arg(long, default_value_t = 90 * 24 * 3600)]
    pub token_ttl_seconds: u64,
    /// How long a renewed token keeps working, in seconds.
    #[arg(long, default_value_t = 0)]
    pub grace_seconds: u64,
    /// Server-side validation of new clients.
    #[arg(long, value_enum, default_value_t = ValidationArg::Strict)]
    pub validation: ValidationArg,
    /// Status for validating an expired token: 200 (isValid false) or 401.
    #[arg(long, default_value_t = 200, value_parser = parse_expired_status)]
    pub expired_status: u16,
    /// Shape of the renew response.
    #[arg(long, value_enum, default_value_t = RenewShape::AccessToken)]
    pub renew_shape: RenewShape,
    /// Renewing an already-renewed token within its grace period returns the same new token again
    /// (instead of 401 "already renewed").
    #[arg(long)]
    pub renew_replaced_same_token: bool,
}

fn parse_expired_status(s: &str) -> Result<u16, String> {
    match s.trim() {
        "200" => Ok(200),
        "401" => Ok(401),
        _ => Err("must be 200 or 401".into()),
    }
}

impl SandboxArgs {
    /// The sandbox configuration these arguments describe; the provisioning token comes from
    /// `CONFIRMA_SANDBOX_PROVISIONING_TOKEN` when it is set and not empty.
    pub fn to_config(&self) -> SandboxConfig {
        SandboxConfig {
            host: self.host,
            port: self.port,
            partner_code: self.partner_code.clone(),
            provisioning_token: std::env::var(PROVISIONING_TOKEN_ENV).ok().filter(|t| !t.trim().is_empty()),
            token_ttl: Some(Duration::from_secs(self.token_ttl_seconds)).filter(|d| !d.is_zero()),
            grace_period: Duration::from_secs(self.grace_seconds),
            validation: self.validation.into(),
            expired_status: self.expired_status,
            renew_shape: self.renew_shape,
            renew_replaced_same: self.renew_replaced_same_token,
        }
    }
}

/// Starts a sandbox, prints its one JSON line (`baseUrl`, `provisioningToken`, `partnerCode`) on stdout,
/// and serves until SIGTERM or SIGINT.
pub async fn run(args: SandboxArgs) -> std::io::Result<()> {
    let sandbox = Sandbox::start(args.to_config()).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", sandbox.info_json())?;
        out.flush()?;
    }
    wait_for_signal().await?;
    tracing::info!("signal received, shutting down");
    sandbox.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
