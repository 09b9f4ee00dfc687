//! `confirma` — the CFIS onboarding command: a self-contained demo, client creation and token operations.
//!
//! Tokens are read from environment variables or standard input, never from arguments (argv is visible
//! to every user of the machine).

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use confirma::{ClientConfig, Environment, Error, ErrorKind, OnboardingClient, SecretToken, ValidationMode};
use serde_json::{json, Value};

mod demo;

#[derive(Parser)]
#[command(name = "confirma", version, about = "Confirma Finance Integrations API (CFIS) onboarding: demo, client creation, token validation and renewal")]
struct Cli {
    /// Log what the SDK does to stderr (tokens are never logged). Repeat for more detail.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Walk the automated onboarding flow end to end against an embedded sandbox (no network needed).
    Demo,
    /// Client accounts.
    #[command(subcommand)]
    Client(ClientCmd),
    /// Access tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Run the local CFIS sandbox (same as the `confirma-sandbox` binary).
    Sandbox(confirma_sandbox::cli::SandboxArgs),
}

#[derive(Subcommand)]
enum ClientCmd {
    /// Create a client account. The Partner Provisioning Token comes from $CONFIRMA_PROVISIONING_TOKEN or stdin.
    Create {
        #[command(flatten)]
        target: Target,
        /// The new client as JSON shaped like the API contract (service, client, contacts).
        #[arg(long)]
        file: std::path::PathBuf,
        /// Client-side validation mode.
        #[arg(long, default_value = "strict")]
        validation: String,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Check an access token ($CONFIRMA_ACCESS_TOKEN or stdin). Exit 0 if valid, 9 if not.
    Validate {
        #[command(flatten)]
        target: Target,
    },
    /// Renew an access token ($CONFIRMA_ACCESS_TOKEN or stdin); prints the new token on stdout.
    Renew {
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Args)]
struct Target {
    /// CFIS environment.
    #[arg(long, value_parser = ["staging", "production"], conflicts_with = "base_url", required_unless_present = "base_url")]
    env: Option<String>,
    /// A custom base URL (a proxy, or the sandbox: http://127.0.0.1:PORT).
    #[arg(long)]
    base_url: Option<String>,
    /// Print machine-readable JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Per-attempt timeout in seconds.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Retries of safe-to-retry failures.
    #[arg(long, default_value_t = 2)]
    max_retries: u32,
}

/// Exit codes (stable, for scripts).
mod exit {
    pub const USAGE_OR_CONFIG: u8 = 2;
    pub const VALIDATION: u8 = 3;
    pub const AUTH: u8 = 4;
    pub const CONFLICT: u8 = 5;
    pub const TRANSIENT: u8 = 6;
    pub const OUTCOME_UNKNOWN: u8 = 7;
    pub const UNEXPECTED: u8 = 8;
    pub const TOKEN_NOT_VALID: u8 = 9;
}

fn exit_code(e: &Error) -> u8 {
    match e.kind() {
        ErrorKind::Validation => exit::VALIDATION,
        ErrorKind::Authentication | ErrorKind::PermissionDenied => exit::AUTH,
        ErrorKind::Conflict => exit::CONFLICT,
        ErrorKind::RateLimited | ErrorKind::ServiceUnavailable | ErrorKind::Timeout | ErrorKind::Network => exit::TRANSIENT,
        ErrorKind::OutcomeUnknown => exit::OUTCOME_UNKNOWN,
        ErrorKind::Configuration => exit::USAGE_OR_CONFIG,
        _ => exit::UNEXPECTED,
    }
}

/// A failure of the command, already described for the user.
struct Failure(u8, String, Option<Value>);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let json = error_json(&e);
        Failure(exit_code(&e), e.to_string(), Some(json))
    }
}

pub(crate) fn error_json(e: &Error) -> Value {
    json!({
        "error": {
            "kind": e.kind().as_str(),
            "code": e.kind().code(),
            "message": e.to_string(),
            "status": e.status(),
            "requestId": e.request_id(),
            "retryable": e.is_retryable(),
            "retryAfterSeconds": e.retry_after().map(|d| d.as_secs_f64()),
            "fieldErrors": e.field_errors(),
            "source": e.validation_source().map(|s| s.as_str()),
            "cause": e.cause().map(|c| c.kind().as_str()),
        }
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.verbose > 0 || std::env::var_os("RUST_LOG").is_some() {
        let level = match cli.verbose {
            0 | 1 => "confirma=debug",
            _ => "confirma=trace,confirma_sandbox=debug",
        };
        let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into());
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let json_mode = matches!(&cli.command, Command::Client(ClientCmd::Create { target, .. }) | Command::Token(TokenCmd::Validate { target } | TokenCmd::Renew { target }) if target.json);
    let result = rt.block_on(async move {
        match cli.command {
            Command::Demo => demo::run().await,
            Command::Sandbox(args) => confirma_sandbox::cli::run(args).await.map_err(|e| Failure(1, format!("sandbox: {e}"), None)),
            Command::Client(ClientCmd::Create { target, file, validation }) => create(target, file, validation).await,
            Command::Token(TokenCmd::Validate { target }) => validate(target).await,
            Command::Token(TokenCmd::Renew { target }) => renew(target).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, message, json)) => {
            if json_mode {
                if let Some(j) = json {
                    println!("{j}");
                }
            }
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}

fn build_client(t: &Target, validation: ValidationMode) -> Result<OnboardingClient, Failure> {
    let env = match (&t.env, &t.base_url) {
        (_, Some(url)) => Environment::Custom(url.clone()),
        (Some(e), None) => e.parse::<Environment>()?,
        (None, None) => return Err(Failure(exit::USAGE_OR_CONFIG, "give --env or --base-url".into(), None)),
    };
    if !(t.timeout.is_finite() && t.timeout > 0.0 && t.timeout <= 3600.0) {
        return Err(Failure(exit::USAGE_OR_CONFIG, "--timeout must be between 0 and 3600 seconds".into(), None));
    }
    let cfg = ClientConfig::new(env)
        .timeout(Duration::from_secs_f64(t.timeout))
        .max_retries(t.max_retries)
        .validation(validation)
        .user_agent_suffix(format!("confirma-cli/{}", confirma::VERSION));
    Ok(OnboardingClient::new(cfg)?)
}

/// Reads a token from an environment variable, else the first line of stdin (never from argv).
fn read_token(var: &str, what: &str) -> Result<SecretToken, Failure> {
    if let Ok(v) = std::env::var(var) {
        if !v.trim().is_empty() {
            return Ok(SecretToken::new(v.trim()));
        }
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Failure(
            exit::USAGE_OR_CONFIG,
            format!("no {what}: set ${var} or pipe it on stdin (tokens are never taken from arguments)"),
            None,
        ));
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|e| Failure(exit::USAGE_OR_CONFIG, format!("reading stdin: {e}"), None))?;
    let line = line.trim().to_string();
    if line.is_empty() {
        return Err(Failure(exit::USAGE_OR_CONFIG, format!("no {what} on stdin (or set ${var})"), None));
    }
    Ok(SecretToken::new(line))
}

fn fmt_time(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    t.map(|t| Value::String(t.to_rfc3339())).unwrap_or(Value::Null)
}

async fn create(t: Target, file: std::path::PathBuf, validation: String) -> Result<(), Failure> {
    let mode = validation.parse::<ValidationMode>()?;
    let client = build_client(&t, mode)?;
    let text = std::fs::read_to_string(&file).map_err(|e| Failure(exit::USAGE_OR_CONFIG, format!("{}: {e}", file.display()), None))?;
    let input: Value = serde_json::from_str(&text)
        .map_err(|e| Failure(exit::VALIDATION, format!("{}: not valid JSON: {e}", file.display()), None))?;
    let token = read_token("CONFIRMA_PROVISIONING_TOKEN", "Partner Provisioning Token")?;
    let created = client.create_client_from_value(&token, &input).await?;
    if t.json {
        let out = json!({
            "clientId": created.client_id,
            "customerCode": created.customer_code,
            "paymentReferencePrefix": created.payment_reference_prefix,
            "accessToken": created.access_token.expose(),
            "tokenExpiresAt": fmt_time(created.token_expires_at),
        });
        println!("{out}");
    } else {
        println!("client created");
        println!("  client id            {}", created.client_id);
        println!("  customer code        {}", created.customer_code);
        println!("  payment ref prefix   {}", created.payment_reference_prefix);
        println!("  access token         {} (use --json to receive it for storage)", created.access_token);
        println!("  token expires        {}", created.token_expires_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into()));
    }
    Ok(())
}

async fn validate(t: Target) -> Result<(), Failure> {
    let client = build_client(&t, ValidationMode::Strict)?;
    let token = read_token("CONFIRMA_ACCESS_TOKEN", "access token")?;
    let started = Instant::now();
    let status = client.validate_token(&token).await?;
    if t.json {
        println!("{}", json!({"isValid": status.is_valid, "expired": status.expired, "message": status.message}));
    } else {
        let verdict = if status.is_valid { "valid" } else if status.expired { "expired (renew it)" } else { "not valid" };
        println!("token {verdict}: {} ({} ms)", status.message, started.elapsed().as_millis());
    }
    if status.is_valid {
        Ok(())
    } else {
        Err(Failure(exit::TOKEN_NOT_VALID, format!("token is {}", if status.expired { "expired" } else { "not valid" }), None))
    }
}

async fn renew(t: Target) -> Result<(), Failure> {
    let client = build_client(&t, ValidationMode::Strict)?;
    let token = read_token("CONFIRMA_ACCESS_TOKEN", "access token")?;
    let renewed = client.renew_token(&token).await?;
    let mut out = std::io::stdout().lock();
    if t.json {
        let _ = writeln!(out, "{}", json!({"accessToken": renewed.access_token.expose(), "expiresAt": fmt_time(renewed.expires_at)}));
    } else {
        // The new token is the command's output (store it); everything else goes to stderr.
        let _ = writeln!(out, "{}", renewed.access_token.expose());
        eprintln!("token renewed; expires {}", renewed.expires_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into()));
    }
    Ok(())
}
