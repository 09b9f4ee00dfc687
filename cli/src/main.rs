//! `confirma` — the CFIS onboarding command: a self-contained demo, client creation and token operations.
//!
//! Tokens are read from environment variables or standard input, never from arguments (argv is visible
//! to every user of the machine). A token CFIS hands out is written only where the user asked for it
//! (`--token-out FILE`, or stdout with `--json` / for `token renew`), every such write is checked, and a
//! failure is a dedicated exit code with a message saying the token may be in flight. The command never
//! panics on its input; a bug that panics anyway is contained and exits 1, not 101.

// The command must not panic on anything a user or a server hands it (it never exits 101).
#![warn(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice,
    clippy::arithmetic_side_effects
)]

use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use confirma::{
    ClientConfig, CreatedClient, Environment, Error, ErrorKind, OnboardingClient, SecretToken, ValidationMode,
};
use serde_json::{json, Value};

mod credentials;
mod demo;
mod form;
mod output;

use output::{note, say, stdout_all, stdout_secret, stdout_secret_json, wipe, TokenFile};

const EXIT_CODES: &str = "\
Exit codes:
  0   ok
  1   internal error (a bug) or another failure (demo, sandbox, writing non-secret output)
  2   usage or configuration (nothing was sent)
  3   validation (the input was rejected, locally or by CFIS; `form check`: the form has problems)
  4   authentication or permission
  5   conflict (the client already exists)
  6   transient: rate limited, unavailable, timeout, network (safe to retry later)
  7   outcome unknown (a create/renew may have happened; a token CFIS returned was saved where you asked)
  8   unexpected response
  9   token not valid (token validate)
  10  credentials lost (credentials token/renew): the stored token was rotated and its replacement is gone;
      ask Confirma support for a new token, then `confirma credentials import`
  11  the new token could not be written out: it may be in flight (read the message)
  12  credential store error (database unreachable, unreadable or locked; nothing was sent, or read the message)";

#[derive(Parser)]
#[command(
    name = "confirma",
    version,
    about = "Confirma Finance Integrations API (CFIS) onboarding: demo, client creation, token validation and renewal",
    after_help = EXIT_CODES
)]
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
    /// Stored credentials, kept alive by the token manager: import, token, renew, status, reconcile, keygen.
    #[command(subcommand)]
    Credentials(credentials::CredentialsCmd),
    /// The onboarding form kit: the form's JSON Schema, checking a filled form, the end-user messages (fi, sv, en).
    #[command(subcommand)]
    Form(form::FormCmd),
    /// Run the local CFIS sandbox (same as the `confirma-sandbox` binary).
    Sandbox(confirma_sandbox::cli::SandboxArgs),
}

#[derive(Subcommand)]
enum ClientCmd {
    /// Create a client account. The Partner Provisioning Token comes from $CONFIRMA_PROVISIONING_TOKEN or stdin.
    ///
    /// CFIS hands out the new client's access token once: say where it goes with --store (a credential store),
    /// --token-out FILE (mode 0600, never overwritten) and/or --json (on stdout). Without one the command refuses
    /// to run.
    #[command(after_help = EXIT_CODES)]
    Create {
        #[command(flatten)]
        target: Target,
        /// The new client as JSON shaped like the API contract (service, client, contacts).
        #[arg(long)]
        file: PathBuf,
        /// Client-side validation mode.
        #[arg(long, default_value = "strict", value_parser = ["strict", "lenient"])]
        validation: String,
        /// Write the new access token to this file (created with mode 0600; an existing file or a symlink is
        /// refused before anything is sent).
        #[arg(long, value_name = "FILE")]
        token_out: Option<PathBuf>,
        /// Save the new client's credentials in this credential store (sqlite:PATH or postgres://…), sealed
        /// under $CONFIRMA_STORE_KEY; `--store` alone means $CONFIRMA_STORE_URL, else the default
        /// sqlite:./confirma-credentials.db. The store is opened and its key checked before anything is sent.
        #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
        store: Option<String>,
        /// With --store and no $CONFIRMA_STORE_KEY: store the token unencrypted (an explicit opt-out).
        #[arg(long, requires = "store")]
        plaintext: bool,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Check an access token ($CONFIRMA_ACCESS_TOKEN or stdin). Exit 0 if valid, 9 if not.
    #[command(after_help = EXIT_CODES)]
    Validate {
        #[command(flatten)]
        target: Target,
    },
    /// Renew an access token ($CONFIRMA_ACCESS_TOKEN or stdin); the new token goes to stdout (or --token-out).
    ///
    /// The old token stops working. If the new token cannot be written out, the exit code is 11.
    #[command(after_help = EXIT_CODES)]
    Renew {
        #[command(flatten)]
        target: Target,
        /// Write the new access token to this file instead of stdout (created with mode 0600; an existing
        /// file or a symlink is refused before anything is sent).
        #[arg(long, value_name = "FILE")]
        token_out: Option<PathBuf>,
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

/// Exit codes (stable, for scripts; listed in [`EXIT_CODES`] and the README).
mod exit {
    pub const INTERNAL_OR_OTHER: u8 = 1;
    pub const USAGE_OR_CONFIG: u8 = 2;
    pub const VALIDATION: u8 = 3;
    pub const AUTH: u8 = 4;
    pub const CONFLICT: u8 = 5;
    pub const TRANSIENT: u8 = 6;
    pub const OUTCOME_UNKNOWN: u8 = 7;
    pub const UNEXPECTED: u8 = 8;
    pub const TOKEN_NOT_VALID: u8 = 9;
    pub const CREDENTIALS_LOST: u8 = 10;
    pub const TOKEN_NOT_WRITTEN: u8 = 11;
    pub const STORAGE: u8 = 12;
}

fn exit_code(e: &Error) -> u8 {
    match e.kind() {
        ErrorKind::Validation => exit::VALIDATION,
        ErrorKind::Authentication | ErrorKind::PermissionDenied => exit::AUTH,
        ErrorKind::Conflict => exit::CONFLICT,
        ErrorKind::RateLimited | ErrorKind::ServiceUnavailable | ErrorKind::Timeout | ErrorKind::Network => {
            exit::TRANSIENT
        }
        ErrorKind::OutcomeUnknown => exit::OUTCOME_UNKNOWN,
        ErrorKind::Configuration => exit::USAGE_OR_CONFIG,
        ErrorKind::Internal => exit::INTERNAL_OR_OTHER,
        ErrorKind::CredentialsLost => exit::CREDENTIALS_LOST,
        ErrorKind::Storage => exit::STORAGE,
        _ => exit::UNEXPECTED,
    }
}

/// A failure of the command, already described for the user: exit code, message for stderr, and the JSON
/// error object for stdout in `--json` mode (`None` when there is none or it was already written).
struct Failure(u8, String, Option<Value>);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let json = error_json(&e);
        Failure(exit_code(&e), e.to_string(), Some(json))
    }
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Failure(exit::USAGE_OR_CONFIG, message.into(), None)
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
            "issues": e.issues(),
            "source": e.validation_source().map(|s| s.as_str()),
            "cause": e.cause().map(|c| c.kind().as_str()),
        }
    })
}

/// Sets `error.<key>` in an [`error_json`] object (never panics on another shape).
fn set_error_field(j: &mut Value, key: &str, value: Value) {
    if let Some(obj) = j.get_mut("error").and_then(Value::as_object_mut) {
        obj.insert(key.to_string(), value);
    }
}

fn main() -> ExitCode {
    // Defence in depth: the command is written not to panic, but should a bug panic anyway, say so in
    // plain words and exit 1 — never 101 with a backtrace prompt. (Tokens are never formatted into panics.)
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no details".into());
        let place = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        note(&format!(
            "error: internal error in confirma ({what}{place}); this is a bug, please report it. \
             If it happened during `client create` or `token renew`, the outcome is unknown: check before retrying."
        ));
    }));
    std::panic::catch_unwind(run).unwrap_or(ExitCode::from(exit::INTERNAL_OR_OTHER))
}

fn run() -> ExitCode {
    let cli = Cli::parse();
    if cli.verbose > 0 || std::env::var_os("RUST_LOG").is_some() {
        let level = match cli.verbose {
            0 | 1 => "confirma=debug",
            _ => "confirma=trace,confirma_sandbox=debug",
        };
        let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into());
        // `try_init`: never a panic if a subscriber is somehow already set.
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            note(&format!("error: cannot start the async runtime: {e}"));
            return ExitCode::from(exit::INTERNAL_OR_OTHER);
        }
    };
    let json_mode = match &cli.command {
        Command::Client(ClientCmd::Create { target, .. })
        | Command::Token(TokenCmd::Validate { target } | TokenCmd::Renew { target, .. }) => target.json,
        Command::Credentials(c) => c.json(),
        Command::Form(f) => f.json(),
        Command::Demo | Command::Sandbox(_) => false,
    };
    let result = rt.block_on(async move {
        // A file-size limit (`ulimit -f`) would kill the process with SIGXFSZ while it writes a token: with a
        // handler installed the write fails with EFBIG instead, and that failure is reported (exit 11).
        #[cfg(unix)]
        let _file_size_limit = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(libc::SIGXFSZ));
        match cli.command {
            Command::Demo => demo::run().await,
            Command::Sandbox(args) => confirma_sandbox::cli::run(args)
                .await
                .map_err(|e| Failure(exit::INTERNAL_OR_OTHER, format!("sandbox: {e}"), None)),
            Command::Client(ClientCmd::Create { target, file, validation, token_out, store, plaintext }) => {
                create(target, file, validation, token_out, store, plaintext).await
            }
            Command::Token(TokenCmd::Validate { target }) => validate(target).await,
            Command::Token(TokenCmd::Renew { target, token_out }) => renew(target, token_out).await,
            Command::Credentials(cmd) => credentials::run(cmd).await,
            Command::Form(cmd) => form::run(cmd),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, message, json)) => {
            if let (true, Some(j)) = (json_mode, json) {
                if let Err(e) = stdout_all(&format!("{j}\n")) {
                    note(&format!("error: could not write the JSON error object to stdout: {e}"));
                }
            }
            note(&format!("error: {message}"));
            ExitCode::from(code)
        }
    }
}

fn build_client(t: &Target, validation: ValidationMode) -> Result<OnboardingClient, Failure> {
    let env = match (&t.env, &t.base_url) {
        (_, Some(url)) => Environment::Custom(url.clone()),
        (Some(e), None) => e.parse::<Environment>()?,
        (None, None) => return Err(Failure::usage("give --env or --base-url")),
    };
    // NaN, infinite, negative, zero or over 24 h: a configuration error (exit 2), never a panic.
    let timeout = confirma::duration_from_secs_f64("--timeout", t.timeout)?;
    let cfg = ClientConfig::new(env)
        .timeout(timeout)
        .max_retries(t.max_retries)
        .validation(validation)
        .user_agent_suffix(format!("confirma-cli/{}", confirma::VERSION));
    Ok(OnboardingClient::new(cfg)?)
}

/// The longest token line read from stdin (a token is far shorter; this bounds memory on a runaway pipe).
const MAX_TOKEN_LINE: u64 = 64 * 1024;

/// Reads a token from an environment variable, else the first line of stdin (never from argv).
fn read_token(var: &str, what: &str) -> Result<SecretToken, Failure> {
    if let Ok(v) = std::env::var(var) {
        if !v.trim().is_empty() {
            return Ok(SecretToken::new(v.trim()));
        }
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Failure::usage(format!(
            "no {what}: set ${var} or pipe it on stdin (tokens are never taken from arguments)"
        )));
    }
    let mut line = String::new();
    stdin
        .lock()
        .take(MAX_TOKEN_LINE)
        .read_line(&mut line)
        .map_err(|e| Failure::usage(format!("reading the {what} from stdin: {e}")))?;
    let token = SecretToken::new(line.trim());
    wipe(&mut line);
    if token.is_empty() {
        return Err(Failure::usage(format!("no {what} on stdin (or set ${var})")));
    }
    Ok(token)
}

fn fmt_time(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    t.map(|t| Value::String(t.to_rfc3339())).unwrap_or(Value::Null)
}

fn show_time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into())
}

/// Creates the `--token-out` file before anything is sent, so a path that cannot take the token is refused
/// while refusing is still free.
fn reserve_token_file(path: Option<&Path>) -> Result<Option<TokenFile>, Failure> {
    let Some(path) = path else { return Ok(None) };
    TokenFile::reserve(path).map(Some).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::usage(format!(
                "--token-out {}: the path exists; it is never overwritten (nor followed if it is a symlink): give a new path (nothing was sent)",
                path.display()
            ))
        } else {
            Failure::usage(format!("--token-out {}: cannot create it: {e} (nothing was sent)", path.display()))
        }
    })
}

/// Hands over a secret that came with an error (a recovered token, a raw answer) so it is never dropped:
/// to the `--token-out` file, else in the JSON error object on stdout (`--json`, under `error.<key>`),
/// else — only when `plain_stdout` (renew, whose stdout is the token channel) — as is on stdout.
/// Writes the JSON error object (with the secret, or with `<key>File` naming the file) whenever `json` is
/// given. Returns where the secret went, or why it could not be written anywhere.
fn rescue_secret(
    secret: &SecretToken,
    key: &str,
    file: Option<&mut TokenFile>,
    json: Option<Value>,
    plain_stdout: bool,
) -> Result<String, String> {
    let mut saved: Option<String> = None;
    let mut problems = Vec::new();
    let mut json = json;
    if let Some(f) = file {
        let path = f.path().to_path_buf();
        match f.write_secret(secret.expose()) {
            Ok(()) => {
                saved = Some(format!("saved to {} (mode 0600)", path.display()));
                if let Some(j) = json.as_mut() {
                    set_error_field(j, &format!("{key}File"), json!(path.to_string_lossy()));
                }
            }
            Err(e) => {
                problems.push(format!("writing it to {} failed: {} ({})", path.display(), e.error, e.describe(&path)))
            }
        }
    }
    if let Some(mut j) = json {
        let carries_secret = saved.is_none();
        if carries_secret {
            set_error_field(&mut j, key, json!(secret.expose()));
        }
        let written = if carries_secret {
            stdout_secret_json(j, &format!("/error/{key}"))
        } else {
            stdout_all(&format!("{j}\n"))
        };
        match written {
            Ok(()) if carries_secret => {
                saved = Some(format!("written to stdout in the JSON error object (error.{key})"))
            }
            Ok(()) => {}
            Err(e) if carries_secret => problems.push(format!("writing the JSON error object to stdout failed: {e}")),
            Err(e) => note(&format!("error: could not write the JSON error object to stdout: {e}")),
        }
    } else if saved.is_none() && plain_stdout {
        match stdout_secret(format!("{}\n", secret.expose())) {
            Ok(()) => saved = Some("written to stdout in place of the new token".into()),
            Err(e) => problems.push(format!("writing it to stdout failed: {e}")),
        }
    }
    match (saved, problems.is_empty()) {
        (Some(place), true) => Ok(place),
        (Some(place), false) => Ok(format!("{place}, after {}", problems.join("; "))),
        (None, true) => Err("no output was chosen".into()),
        (None, false) => Err(problems.join("; ")),
    }
}

async fn create(
    t: Target,
    file: PathBuf,
    validation: String,
    token_out: Option<PathBuf>,
    store: Option<String>,
    plaintext: bool,
) -> Result<(), Failure> {
    if token_out.is_none() && !t.json && store.is_none() {
        return Err(Failure::usage(
            "client create needs --store, --token-out FILE or --json: CFIS hands out the new client's access token \
             only once, so say where it goes (nothing was sent)\n\
             usage: confirma client create (--env ENV | --base-url URL) --file CLIENT.json (--store [URL] | --token-out FILE | --json)",
        ));
    }
    let mode = validation.parse::<ValidationMode>()?;
    let client = build_client(&t, mode)?;
    let text = std::fs::read_to_string(&file).map_err(|e| Failure::usage(format!("{}: {e}", file.display())))?;
    let input: Value = serde_json::from_str(&text)
        .map_err(|e| Failure(exit::VALIDATION, format!("{}: not valid JSON: {e}", file.display()), None))?;
    let new_client = client.parse_new_client(&input)?;
    let token = read_token("CONFIRMA_PROVISIONING_TOKEN", "Partner Provisioning Token")?;
    // The store, like the token file, is made ready (opened, its key checked) while refusing is still free.
    let manager = match store {
        Some(url) => {
            let url = if url.trim().is_empty() {
                std::env::var("CONFIRMA_STORE_URL")
                    .ok()
                    .filter(|u| !u.trim().is_empty())
                    .unwrap_or_else(|| confirma::store::DEFAULT_STORE_URL.into())
            } else {
                url
            };
            let opened = credentials::open(&url, plaintext, credentials::KeyNeed::Required, true).await?;
            let m = credentials::manager(client.clone(), &opened)?;
            let records = m
                .store()
                .list(Some(m.environment()))
                .await
                .map_err(|e| Failure(exit::STORAGE, format!("{e} (nothing was sent)"), None))?;
            credentials::check_key(&opened.sealer, &records)?;
            Some(m)
        }
        None => None,
    };
    let mut out_file = reserve_token_file(token_out.as_deref())?;
    let Some(m) = manager else {
        return match finish_despite_interrupts("client create", client.create_client(&token, &new_client)).await? {
            Ok(created) => deliver_created(&t, &created, out_file.as_mut(), None),
            // `out_file`, if never written, is removed when dropped.
            Err(e) => Err(create_failed(&t, e, out_file.as_mut())),
        };
    };
    // With a store, the manager records the create (a pending-create record) before sending it and commits
    // the credentials before answering; an ambiguous create stays visible in `confirma credentials status`
    // and the next `client create` of the business code resolves it.
    match finish_despite_interrupts("client create", m.create_client(&token, &new_client)).await? {
        Ok(created) => {
            let where_ = m.store().describe();
            match m.status(&created.client_id).await {
                Ok(status) => deliver_created(&t, &created, out_file.as_mut(), Some((&where_, &status))),
                Err(e) => {
                    // Committed; only its status could not be read back: the token stays in the store.
                    note(&format!(
                        "warning: the credentials were saved in {where_}, but reading them back failed: {e}"
                    ));
                    let status = confirma::CredentialStatus {
                        environment: m.environment().to_string(),
                        client_id: created.client_id.clone(),
                        customer_code: created.customer_code.clone(),
                        payment_reference_prefix: created.payment_reference_prefix.clone(),
                        state: confirma::store::CredentialState::Active,
                        health: confirma::Health::Healthy,
                        token_version: 1,
                        fingerprint: "-".into(),
                        last_renewed_at: None,
                        expires_at: None,
                        next_renew_at: None,
                        last_validated_at: None,
                        consecutive_failures: 0,
                        last_error: None,
                        lease_holder: None,
                        lease_expires_at: None,
                        encrypted: !plaintext,
                    };
                    deliver_created(&t, &created, out_file.as_mut(), Some((&where_, &status)))
                }
            }
        }
        Err(e) => Err(create_failed(&t, e, out_file.as_mut())),
    }
}

/// Runs a create or renew to its end even when the user presses Ctrl-C (or the process gets SIGTERM or
/// SIGHUP) once: once the request may have reached CFIS, abandoning it would lose the token CFIS issues (and for
/// renew, the old one is replaced). The first signal only says so; a second one abandons the call: exit 7, the
/// outcome is unknown. The wait is bounded by the SDK's timeouts.
pub(crate) async fn finish_despite_interrupts<T>(
    what: &str,
    call: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<Result<T, Error>, Failure> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) =
            (signal(SignalKind::interrupt()), signal(SignalKind::terminate()), signal(SignalKind::hangup()))
        else {
            return Ok(call.await);
        };
        tokio::pin!(call);
        let mut interrupted = false;
        loop {
            let name = tokio::select! {
                result = &mut call => return Ok(result),
                Some(()) = int.recv() => "Ctrl-C",
                Some(()) = term.recv() => "SIGTERM",
                Some(()) = hup.recv() => "SIGHUP",
            };
            if interrupted {
                return Err(Failure(
                    exit::OUTCOME_UNKNOWN,
                    format!(
                        "{what} abandoned (second interrupt, {name}): the request may have reached CFIS, so the \
                         outcome is unknown{}",
                        if what.starts_with("credentials") {
                            ". The store recorded the renewal's intent: once its lease ends, `confirma credentials \
                             reconcile` (or the next `credentials token`) resolves it."
                        } else {
                            " and a token it issued is lost. Check before retrying (a create that happened answers \
                             409 conflict; a renew that happened has replaced the old token)."
                        }
                    ),
                    None,
                ));
            }
            interrupted = true;
            note(&format!(
                "{name}: waiting for CFIS's answer to {what} so that the token it issues is not lost \
                 (interrupt again to abandon it; the outcome would then be unknown)"
            ));
        }
    }
    #[cfg(not(unix))]
    {
        let _ = what;
        Ok(call.await)
    }
}

/// The created client's token could not be handed over.
fn created_token_lost(created: &CreatedClient, detail: &str) -> Failure {
    Failure(
        exit::TOKEN_NOT_WRITTEN,
        format!(
            "the client was created (client id {}, customer code {}), but its new access token could not be written out: {detail}. \
             The token may be lost in flight: CFIS issued it and this command could not hand it over. \
             Do not create the client again (CFIS would answer 409 conflict); ask Confirma to issue a new access token \
             for customer code {}.",
            created.client_id, created.customer_code, created.customer_code
        ),
        None,
    )
}

fn deliver_created(
    t: &Target,
    created: &CreatedClient,
    out_file: Option<&mut TokenFile>,
    stored: Option<(&str, &confirma::CredentialStatus)>,
) -> Result<(), Failure> {
    let stored_json = |j: &mut Value| {
        if let (Some((store, st)), Some(o)) = (stored, j.as_object_mut()) {
            o.insert("store".into(), json!(store));
            o.insert("state".into(), json!(st.state.as_str()));
            o.insert("tokenVersion".into(), json!(st.token_version));
            o.insert("fingerprint".into(), json!(st.fingerprint));
            o.insert("encrypted".into(), json!(st.encrypted));
        }
    };
    let stored_line = stored
        .map(|(store, st)| {
            format!(
                "  credentials          saved in {store} ({}, token {})\n",
                if st.encrypted { "encrypted" } else { "NOT ENCRYPTED: --plaintext" },
                st.fingerprint
            )
        })
        .unwrap_or_default();
    let Some(f) = out_file else {
        if stored.is_some() {
            // In the store: the summary carries no token.
            let summary_failed = |e: std::io::Error| {
                Failure(
                    exit::INTERNAL_OR_OTHER,
                    format!(
                        "the client was created (client id {}, customer code {}) and its credentials saved in the \
                         store, but writing the summary to stdout failed: {e}",
                        created.client_id, created.customer_code
                    ),
                    None,
                )
            };
            return if t.json {
                let mut out = json!({
                    "clientId": created.client_id,
                    "customerCode": created.customer_code,
                    "paymentReferencePrefix": created.payment_reference_prefix,
                    "tokenExpiresAt": fmt_time(created.token_expires_at),
                });
                stored_json(&mut out);
                stdout_all(&format!("{out}\n")).map_err(summary_failed)
            } else {
                let text = format!(
                    "client created\n  client id            {}\n  customer code        {}\n  payment ref prefix   {}\n\
                     {stored_line}  token expires        {}\n",
                    created.client_id,
                    created.customer_code,
                    created.payment_reference_prefix,
                    show_time(created.token_expires_at)
                );
                stdout_all(&text).map_err(summary_failed)
            };
        }
        // --json without --token-out: the token is part of the JSON on stdout.
        let out = json!({
            "clientId": created.client_id,
            "customerCode": created.customer_code,
            "paymentReferencePrefix": created.payment_reference_prefix,
            "accessToken": created.access_token.expose(),
            "tokenExpiresAt": fmt_time(created.token_expires_at),
        });
        return stdout_secret_json(out, "/accessToken")
            .map_err(|e| created_token_lost(created, &format!("writing the JSON result to stdout failed: {e}")));
    };
    let path = f.path().to_path_buf();
    f.write_secret(created.access_token.expose()).map_err(|e| {
        created_token_lost(
            created,
            &format!("writing it to {} failed: {} ({})", path.display(), e.error, e.describe(&path)),
        )
    })?;
    let summary_failed = |e: std::io::Error| {
        Failure(
            exit::INTERNAL_OR_OTHER,
            format!(
                "the client was created (client id {}, customer code {}) and its access token saved to {}, \
                 but writing the summary to stdout failed: {e}",
                created.client_id,
                created.customer_code,
                path.display()
            ),
            None,
        )
    };
    if t.json {
        let mut out = json!({
            "clientId": created.client_id,
            "customerCode": created.customer_code,
            "paymentReferencePrefix": created.payment_reference_prefix,
            "accessTokenFile": path.to_string_lossy(),
            "tokenExpiresAt": fmt_time(created.token_expires_at),
        });
        stored_json(&mut out);
        stdout_all(&format!("{out}\n")).map_err(summary_failed)
    } else {
        let text = format!(
            "client created\n  client id            {}\n  customer code        {}\n  payment ref prefix   {}\n  \
             access token         written to {} (mode 0600)\n{stored_line}  token expires        {}\n",
            created.client_id,
            created.customer_code,
            created.payment_reference_prefix,
            path.display(),
            show_time(created.token_expires_at)
        );
        stdout_all(&text).map_err(summary_failed)
    }
}

/// A failed create: a token or raw answer the error carries is handed over, never dropped.
fn create_failed(t: &Target, e: Error, out_file: Option<&mut TokenFile>) -> Failure {
    let (key, secret) = match (e.recovered_token(), e.raw_response()) {
        (Some(token), _) => ("recoveredToken", token),
        (None, Some(raw)) => ("rawResponse", raw),
        (None, None) => return Failure::from(e),
    };
    let json = t.json.then(|| error_json(&e));
    match rescue_secret(secret, key, out_file, json, false) {
        Ok(place) if key == "recoveredToken" => Failure(
            exit::OUTCOME_UNKNOWN,
            format!(
                "{e}\nThe client exists and its new access token was {place}: store it (`confirma credentials \
                 import --client-id ID`). Do not create the client again (CFIS would answer 409 conflict); if its \
                 client id or customer code is not above, ask Confirma for them."
            ),
            None,
        ),
        Ok(place) => Failure(
            exit_code(&e),
            format!(
                "{e}\nCFIS answered with success but the answer could not be read. The whole answer, which may hold \
                 the new client's access token, was {place}; it is not a bare token: take the token from it. \
                 The client may exist: check with Confirma before creating it again."
            ),
            None,
        ),
        Err(why) => Failure(
            exit::TOKEN_NOT_WRITTEN,
            format!(
                "{e}\nCFIS answered with success and its answer holds the new client's access token, but it could \
                 not be written out: {why}. The token may be lost in flight. Do not create the client again \
                 (CFIS would answer 409 conflict); ask Confirma to issue a new access token for this client."
            ),
            None,
        ),
    }
}

async fn validate(t: Target) -> Result<(), Failure> {
    let client = build_client(&t, ValidationMode::Strict)?;
    let token = read_token("CONFIRMA_ACCESS_TOKEN", "access token")?;
    let started = Instant::now();
    let status = client.validate_token(&token).await?;
    let line = if t.json {
        json!({"isValid": status.is_valid, "expired": status.expired, "message": status.message}).to_string()
    } else {
        let verdict = if status.is_valid {
            "valid"
        } else if status.expired {
            "expired (renew it)"
        } else {
            "not valid"
        };
        format!("token {verdict}: {} ({} ms)", status.message, started.elapsed().as_millis())
    };
    say(&line)
        .map_err(|e| Failure(exit::INTERNAL_OR_OTHER, format!("writing the result to stdout failed: {e}"), None))?;
    if status.is_valid {
        Ok(())
    } else {
        Err(Failure(
            exit::TOKEN_NOT_VALID,
            format!("token is {}", if status.expired { "expired" } else { "not valid" }),
            None,
        ))
    }
}

/// The renewed token could not be handed over; the old one is already replaced.
fn renewed_token_lost(detail: &str) -> Failure {
    Failure(
        exit::TOKEN_NOT_WRITTEN,
        format!(
            "the token was renewed, but the new token could not be written out: {detail}. \
             The new token may be lost in flight: CFIS issued it and this command could not hand it over. \
             Your old token no longer works: this renewal replaced it. If CFIS still accepts the old token for a \
             short grace period (check with `confirma token validate`), renew again at once with --token-out FILE; \
             otherwise ask Confirma to issue a new access token for this client."
        ),
        None,
    )
}

async fn renew(t: Target, token_out: Option<PathBuf>) -> Result<(), Failure> {
    let client = build_client(&t, ValidationMode::Strict)?;
    let token = read_token("CONFIRMA_ACCESS_TOKEN", "access token")?;
    let mut out_file = reserve_token_file(token_out.as_deref())?;
    let renewed = match finish_despite_interrupts("token renew", client.renew_token(&token)).await? {
        Ok(renewed) => renewed,
        Err(e) => return Err(renew_failed(&t, e, out_file.as_mut())),
    };
    let expires = show_time(renewed.expires_at);
    if let Some(f) = out_file.as_mut() {
        let path = f.path().to_path_buf();
        f.write_secret(renewed.access_token.expose()).map_err(|e| {
            renewed_token_lost(&format!("writing it to {} failed: {} ({})", path.display(), e.error, e.describe(&path)))
        })?;
        if t.json {
            let out = json!({"accessTokenFile": path.to_string_lossy(), "expiresAt": fmt_time(renewed.expires_at)});
            stdout_all(&format!("{out}\n")).map_err(|e| {
                Failure(
                    exit::INTERNAL_OR_OTHER,
                    format!("the token was renewed and the new token saved to {}, but writing the result to stdout failed: {e}", path.display()),
                    None,
                )
            })?;
        } else {
            note(&format!(
                "token renewed; the new token was written to {} (mode 0600); expires {expires}",
                path.display()
            ));
        }
    } else if t.json {
        let out = json!({"accessToken": renewed.access_token.expose(), "expiresAt": fmt_time(renewed.expires_at)});
        stdout_secret_json(out, "/accessToken")
            .map_err(|e| renewed_token_lost(&format!("writing the JSON result to stdout failed: {e}")))?;
    } else {
        // The new token is the command's output (store it); everything else goes to stderr.
        stdout_secret(format!("{}\n", renewed.access_token.expose()))
            .map_err(|e| renewed_token_lost(&format!("writing it to stdout failed: {e}")))?;
        note(&format!("token renewed; expires {expires}"));
    }
    Ok(())
}

/// A failed renew: a raw success answer the error carries (it holds the new token) is handed over.
fn renew_failed(t: &Target, e: Error, out_file: Option<&mut TokenFile>) -> Failure {
    let Some(raw) = e.raw_response() else {
        return Failure::from(e);
    };
    let json = t.json.then(|| error_json(&e));
    // Plain stdout only when it is the renew's token channel: not when the user chose a file or JSON.
    let plain_stdout = out_file.is_none() && json.is_none();
    match rescue_secret(raw, "rawResponse", out_file, json, plain_stdout) {
        Ok(place) => Failure(
            exit_code(&e),
            format!(
                "{e}\nCFIS answered the renewal with success, but the new token could not be read from its answer. \
                 Your old token most likely no longer works. The whole answer, which holds the new token, was {place}; \
                 it is not a bare token: take the token from it."
            ),
            None,
        ),
        Err(why) => Failure(
            exit::TOKEN_NOT_WRITTEN,
            format!(
                "{e}\nCFIS answered the renewal with success, but its answer (which holds the new token) could not be \
                 written out: {why}. The new token may be lost in flight, and your old token most likely no longer \
                 works; ask Confirma to issue a new access token for this client."
            ),
            None,
        ),
    }
}
