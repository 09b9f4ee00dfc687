//! `confirma credentials …`: the token lifecycle from the command line, over a credential store
//! (`confirma::store`) and the core's [`TokenManager`].
//!
//! Every command opens the store named by `--store` (or `$CONFIRMA_STORE_URL`, else
//! [`DEFAULT_STORE_URL`]); tokens are sealed under `$CONFIRMA_STORE_KEY` unless `--plaintext` opts out.
//! Of these commands only `credentials token` writes a token (to stdout: that is what it is asked for).
//! Nothing here puts a token on argv, in a message or in the status.

use std::path::Path;
use std::sync::Arc;

use clap::{Args, Subcommand};
use confirma::store::{
    open_store, CredentialKey, CredentialRecord, CredentialState, CredentialStore, Sealer, StoreError, StoreKey,
    DEFAULT_STORE_URL, KEY_ENV,
};
use confirma::{CredentialStatus, ErrorKind, ManagerOptions, TokenManager, ValidationMode};
use serde_json::{json, Value};

use crate::output::{note, say, stdout_all, stdout_secret, stdout_secret_json};
use crate::{build_client, exit, read_token, Failure, Target, EXIT_CODES};

#[derive(Subcommand)]
pub enum CredentialsCmd {
    /// Store an existing client's access token ($CONFIRMA_ACCESS_TOKEN or stdin), validated with CFIS first.
    #[command(after_help = EXIT_CODES)]
    Import {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        store: StoreOpts,
        /// The CFIS client id.
        #[arg(long)]
        client_id: String,
        /// The client's customer code (kept with the credentials).
        #[arg(long)]
        customer_code: Option<String>,
        /// The client's payment reference prefix (kept with the credentials).
        #[arg(long)]
        payment_reference_prefix: Option<String>,
    },
    /// Print a usable access token on stdout, renewing it first if its renewal is due (for scripts).
    ///
    /// The one `credentials` command that writes a token (to stdout, on request). A lost credential exits 10.
    #[command(after_help = EXIT_CODES)]
    Token {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        store: StoreOpts,
        /// The CFIS client id.
        #[arg(long)]
        client_id: String,
    },
    /// Renew the token now under the store's lease (only if due, unless --force). Prints no token.
    #[command(after_help = EXIT_CODES)]
    Renew {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        store: StoreOpts,
        /// The CFIS client id.
        #[arg(long)]
        client_id: String,
        /// Renew even if the planned renewal time has not come.
        #[arg(long)]
        force: bool,
    },
    /// Show the stored credentials' state, health, version, fingerprint and times (never a token).
    #[command(after_help = EXIT_CODES)]
    Status {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        store: StoreOpts,
        /// Only this client (default: every client of the environment).
        #[arg(long)]
        client_id: Option<String>,
    },
    /// Resolve interrupted or ambiguous renewals (a crash, a timeout) of every client of the environment.
    #[command(after_help = EXIT_CODES)]
    Reconcile {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        store: StoreOpts,
    },
    /// Print a new random store key (base64 of 32 bytes) for $CONFIRMA_STORE_KEY.
    Keygen,
}

impl CredentialsCmd {
    /// Whether the command was asked for JSON output (errors then go to stdout as JSON too).
    pub fn json(&self) -> bool {
        match self {
            CredentialsCmd::Import { target, .. }
            | CredentialsCmd::Token { target, .. }
            | CredentialsCmd::Renew { target, .. }
            | CredentialsCmd::Status { target, .. }
            | CredentialsCmd::Reconcile { target, .. } => target.json,
            CredentialsCmd::Keygen => false,
        }
    }
}

#[derive(Args)]
pub struct StoreOpts {
    /// The credential store: sqlite:PATH or postgres://USER@HOST/DB. A URL with a password is better given in
    /// $CONFIRMA_STORE_URL than on the command line.
    #[arg(long, value_name = "URL", env = "CONFIRMA_STORE_URL", hide_env_values = true, default_value = DEFAULT_STORE_URL)]
    store: String,
    /// Without $CONFIRMA_STORE_KEY, store tokens unencrypted (an explicit opt-out; status says so).
    #[arg(long)]
    plaintext: bool,
}

pub async fn run(cmd: CredentialsCmd) -> Result<(), Failure> {
    match cmd {
        CredentialsCmd::Import { target, store, client_id, customer_code, payment_reference_prefix } => {
            import(target, store, client_id, customer_code, payment_reference_prefix).await
        }
        CredentialsCmd::Token { target, store, client_id } => token(target, store, client_id).await,
        CredentialsCmd::Renew { target, store, client_id, force } => renew(target, store, client_id, force).await,
        CredentialsCmd::Status { target, store, client_id } => status(target, store, client_id).await,
        CredentialsCmd::Reconcile { target, store } => reconcile(target, store).await,
        CredentialsCmd::Keygen => keygen(),
    }
}

// ---------------------------------------------------------------------------------------------------
// Opening the store

/// What a command needs of the key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum KeyNeed {
    /// Tokens are read or written: $CONFIRMA_STORE_KEY, or --plaintext.
    Required,
    /// Only metadata is read (status): a key is used if set, never required.
    Optional,
}

/// A store opened for a command, with the sealer for its tokens.
pub struct Opened {
    pub store: Arc<dyn CredentialStore>,
    pub sealer: Sealer,
}

fn store_failure(e: StoreError, url: &str) -> Failure {
    let where_ = describe_url(url);
    let code = match e {
        StoreError::Configuration(_) | StoreError::Crypto(_) => exit::USAGE_OR_CONFIG,
        _ => exit::STORAGE,
    };
    let message = format!("{where_}: {e}");
    Failure(code, message, Some(crate::error_json(&confirma::Error::from(e))))
}

/// The URL without a password (for messages).
fn describe_url(url: &str) -> String {
    let url = url.trim();
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let (head, tail) = url.split_at(at);
            let creds = head.get(scheme_end.saturating_add(3)..).unwrap_or_default();
            let user = creds.split(':').next().unwrap_or_default();
            format!("{}{user}{tail}", head.get(..scheme_end.saturating_add(3)).unwrap_or_default())
        }
        _ => url.to_string(),
    }
}

fn sqlite_path(url: &str) -> Option<&str> {
    let path = url.trim().strip_prefix("sqlite:")?;
    Some(path.strip_prefix("//").unwrap_or(path)).filter(|p| !p.is_empty())
}

/// The sealer from $CONFIRMA_STORE_KEY (or plaintext, only when asked for or when no token is touched).
pub fn sealer(plaintext: bool, need: KeyNeed) -> Result<Sealer, Failure> {
    let key = StoreKey::from_env().map_err(|e| {
        Failure::usage(format!(
            "{KEY_ENV} is set but unusable: {e}. It must be base64 of 32 random bytes (`confirma credentials keygen` \
             prints one); nothing was done"
        ))
    })?;
    match key {
        Some(k) => Ok(Sealer::encrypted(k)),
        None if plaintext || need == KeyNeed::Optional => Ok(Sealer::plaintext()),
        None => Err(Failure::usage(format!(
            "no store key: set {KEY_ENV} to base64 of 32 random bytes (`confirma credentials keygen` prints one; \
             keep it as safe as the tokens), or pass --plaintext to store tokens unencrypted; nothing was done"
        ))),
    }
}

/// Opens the store at `url`. `create`: a SQLite file may be created (mode 0600); otherwise a missing file is
/// a usage error rather than a new empty database.
pub async fn open(url: &str, plaintext: bool, need: KeyNeed, create: bool) -> Result<Opened, Failure> {
    let sealer = sealer(plaintext, need)?;
    if let Some(path) = sqlite_path(url) {
        let p = Path::new(path);
        if !create && !p.exists() {
            return Err(Failure::usage(format!(
                "no credential store at {path}: give --store (or $CONFIRMA_STORE_URL), or store credentials first \
                 with `confirma credentials import` or `confirma client create --store`"
            )));
        }
        if create && !p.exists() {
            precreate_private(p)
                .map_err(|e| Failure::usage(format!("cannot create the credential store {path}: {e}")))?;
        }
    }
    let store = open_store(url).await.map_err(|e| store_failure(e, url))?;
    Ok(Opened { store, sealer })
}

/// Creates an empty file with mode 0600 (SQLite gives its -wal and -shm files the same mode).
fn precreate_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Checks that the sealer opens the tokens of `records` before anything is done with them: a wrong or
/// missing key is a usage error (exit 2) naming the fix, not a storage failure halfway through.
pub fn check_key(sealer: &Sealer, records: &[CredentialRecord]) -> Result<(), Failure> {
    // A pending create holds no token.
    for r in records.iter().filter(|r| r.pending_business_code().is_none()) {
        match sealer.open(&r.key(), &r.sealed_token) {
            Ok(_) => {}
            Err(StoreError::Crypto(why)) => {
                let fix = if sealer.is_encrypted() {
                    format!("{KEY_ENV} is not the key this store was written with")
                } else {
                    format!("the stored token is encrypted: set {KEY_ENV} to the store's key")
                };
                return Err(Failure::usage(format!(
                    "the store key does not open the stored token of client {} ({why}): {fix}; nothing was done",
                    r.client_id
                )));
            }
            Err(e) => return Err(Failure(exit::STORAGE, format!("client {}: {e}", r.client_id), None)),
        }
    }
    Ok(())
}

pub fn manager(client: confirma::OnboardingClient, opened: &Opened) -> Result<TokenManager, Failure> {
    Ok(TokenManager::new(client, opened.store.clone(), opened.sealer.clone(), ManagerOptions::default())?)
}

async fn setup(t: &Target, s: &StoreOpts, need: KeyNeed, create: bool) -> Result<(TokenManager, Opened), Failure> {
    let client = build_client(t, ValidationMode::Strict)?;
    let opened = open(&s.store, s.plaintext, need, create).await?;
    let m = manager(client, &opened)?;
    Ok((m, opened))
}

async fn load(m: &TokenManager, client_id: &str) -> Result<CredentialRecord, Failure> {
    if let Some(bc) = confirma::store::pending_business_code(client_id) {
        return Err(Failure::usage(format!(
            "{client_id} is the record of a pending create of business code {bc}, not a client: it has no token \
             (`confirma credentials status` shows how it stands; the next `confirma client create` of that business \
             code resolves it)"
        )));
    }
    let key = CredentialKey::new(m.environment(), client_id);
    m.store().load(&key).await.map_err(|e| Failure(exit::STORAGE, e.to_string(), None))?.ok_or_else(|| {
        Failure::usage(format!(
            "no credentials stored for client {client_id} in {} ({}): import them with `confirma credentials import` \
             or create the client with `confirma client create --store`",
            m.environment(),
            m.store().describe()
        ))
    })
}

// ---------------------------------------------------------------------------------------------------
// Output

fn time(ms: Option<i64>) -> Value {
    ms.and_then(chrono::DateTime::from_timestamp_millis).map(|t| Value::String(t.to_rfc3339())).unwrap_or(Value::Null)
}

fn show(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "-".into())
}

/// Whether a stored token is sealed (the format byte of `confirma::store`'s sealed tokens: 0x01 AES-GCM).
fn sealed(r: &CredentialRecord) -> bool {
    // A pending create holds no token, so nothing in clear.
    r.sealed_token.first() == Some(&0x01) || r.pending_business_code().is_some()
}

/// A status as JSON: `clientId` and `state` always, never a token. `encrypted` says how the stored token
/// is kept (read from the record, whatever key this command was given).
pub fn status_json(s: &CredentialStatus, encrypted: bool) -> Value {
    json!({
        "clientId": s.client_id,
        "environment": s.environment,
        "state": s.state.as_str(),
        "health": s.health.as_str(),
        "customerCode": s.customer_code,
        "paymentReferencePrefix": s.payment_reference_prefix,
        "tokenVersion": s.token_version,
        "fingerprint": s.fingerprint,
        "lastRenewedAt": time(s.last_renewed_at),
        "expiresAt": time(s.expires_at),
        "nextRenewAt": time(s.next_renew_at),
        "lastValidatedAt": time(s.last_validated_at),
        "consecutiveFailures": s.consecutive_failures,
        "lastError": s.last_error,
        "leaseHolder": s.lease_holder,
        "leaseExpiresAt": time(s.lease_expires_at),
        "encrypted": encrypted,
    })
}

fn status_text(s: &CredentialStatus, encrypted: bool) -> String {
    if let Some(bc) = confirma::store::pending_business_code(&s.client_id) {
        return pending_text(s, bc);
    }
    let mut out = format!(
        "client {} ({})\n  state                {} ({})\n  token                version {}, {}, {}\n  \
         customer code        {}\n  payment ref prefix   {}\n  last renewed         {}\n  expires              {}\n  \
         next renewal         {}\n  last validated       {}\n",
        s.client_id,
        s.environment,
        s.state,
        s.health.as_str(),
        s.token_version,
        s.fingerprint,
        if encrypted { "encrypted (AES-256-GCM)" } else { "NOT ENCRYPTED (stored with --plaintext)" },
        if s.customer_code.is_empty() { "-" } else { &s.customer_code },
        if s.payment_reference_prefix.is_empty() { "-" } else { &s.payment_reference_prefix },
        show(s.last_renewed_at),
        show(s.expires_at),
        show(s.next_renew_at),
        show(s.last_validated_at),
    );
    if s.consecutive_failures > 0 {
        out.push_str(&format!("  failed renewals      {} in a row\n", s.consecutive_failures));
    }
    if let Some(e) = &s.last_error {
        out.push_str(&format!("  last error           {e}\n"));
    }
    if let Some(holder) = &s.lease_holder {
        out.push_str(&format!("  renewal lease        held by {holder} until {}\n", show(s.lease_expires_at)));
    }
    if s.state == CredentialState::Lost {
        out.push_str(&format!("  what to do           {}\n", lost_advice(&s.client_id, &s.customer_code)));
    }
    out
}

/// A pending create (`client create --store` recorded it before sending): in flight, ambiguous or lost.
fn pending_text(s: &CredentialStatus, business_code: &str) -> String {
    let mut out = format!(
        "pending create of business code {business_code} ({})\n  state                {} ({})\n",
        s.environment,
        s.state,
        s.health.as_str()
    );
    if let Some(holder) = &s.lease_holder {
        out.push_str(&format!("  in flight            by {holder} until {}\n", show(s.lease_expires_at)));
    }
    if let Some(e) = &s.last_error {
        out.push_str(&format!("  last error           {e}\n"));
    }
    let todo = match s.state {
        CredentialState::Lost => {
            "the client exists but its token is gone: ask Confirma Finance support for the \
                                  client's id and access token, then `confirma credentials import --client-id ID`"
        }
        CredentialState::Creating => {
            "wait for the create in flight (or, once its lease is over, run the same \
                                      `confirma client create --store` again)"
        }
        _ => {
            "run the same `confirma client create --store` again: CFIS answers 409 if the earlier create \
              happened (then the token is lost: see the advice it gives), else it creates the client now"
        }
    };
    out.push_str(&format!("  what to do           {todo}\n"));
    out
}

fn print(text: &str) -> Result<(), Failure> {
    stdout_all(text).map_err(|e| Failure(exit::INTERNAL_OR_OTHER, format!("writing to stdout failed: {e}"), None))
}

fn lost_advice(client_id: &str, customer_code: &str) -> String {
    let cc = if customer_code.is_empty() { String::new() } else { format!(" (customer code {customer_code})") };
    format!(
        "ask Confirma Finance support for a new access token for client {client_id}{cc}, or re-provision the \
         client; then store it with `confirma credentials import --client-id {client_id}` (token on stdin or in \
         $CONFIRMA_ACCESS_TOKEN)"
    )
}

/// Exit 10: the credentials are lost; says what to do (with a JSON error object for `--json`).
fn lost(client_id: &str, customer_code: &str, detail: Option<&str>) -> Failure {
    let message = format!(
        "{}. The stored token was rotated and its replacement never arrived, so no usable token can be given. \
         What to do: {}.",
        detail.unwrap_or("the stored token no longer works"),
        lost_advice(client_id, customer_code)
    );
    let e = confirma::Error::credentials_lost(client_id, message);
    Failure(exit::CREDENTIALS_LOST, e.to_string(), Some(crate::error_json(&e)))
}

/// A manager error, with a lost credential turned into exit 10 and its advice (the record's own account of
/// what happened, re-read from the store).
async fn manager_failure(m: &TokenManager, e: confirma::Error, r: &CredentialRecord) -> Failure {
    if e.kind() != ErrorKind::CredentialsLost {
        return Failure::from(e);
    }
    let detail = load(m, &r.client_id).await.ok().and_then(|l| l.last_error);
    lost(&r.client_id, &r.customer_code, detail.as_deref())
}

fn with_renewed(mut j: Value, renewed: bool) -> Value {
    if let Some(o) = j.as_object_mut() {
        o.insert("renewed".into(), Value::Bool(renewed));
    }
    j
}

fn due(r: &CredentialRecord, now: i64) -> bool {
    r.expires_at.is_some_and(|e| now >= e) || r.next_renew_at.is_none_or(|at| now >= at)
}

// ---------------------------------------------------------------------------------------------------
// Commands

async fn import(
    t: Target,
    s: StoreOpts,
    client_id: String,
    customer_code: Option<String>,
    prefix: Option<String>,
) -> Result<(), Failure> {
    if client_id.trim().is_empty() {
        return Err(Failure::usage("--client-id must not be blank"));
    }
    let (m, opened) = setup(&t, &s, KeyNeed::Required, true).await?;
    // Every record of the environment is under one key: refuse to mix in another.
    let records = m.store().list(Some(m.environment())).await.map_err(|e| store_failure(e, &s.store))?;
    check_key(&opened.sealer, &records)?;
    let token = read_token("CONFIRMA_ACCESS_TOKEN", "access token")?;
    let st =
        m.import_credentials(&client_id, &token, customer_code.as_deref(), prefix.as_deref()).await.map_err(|e| {
            if e.kind() == ErrorKind::Validation && e.field_errors().contains_key("token") {
                Failure(exit::TOKEN_NOT_VALID, format!("not imported: {e}"), Some(crate::error_json(&e)))
            } else {
                Failure::from(e)
            }
        })?;
    if t.json {
        print(&format!("{}\n", status_json(&st, opened.sealer.is_encrypted())))
    } else {
        print(&format!("imported into {}\n{}", m.store().describe(), status_text(&st, opened.sealer.is_encrypted())))
    }
}

async fn token(t: Target, s: StoreOpts, client_id: String) -> Result<(), Failure> {
    let (m, opened) = setup(&t, &s, KeyNeed::Required, false).await?;
    let r = load(&m, &client_id).await?;
    check_key(&opened.sealer, std::slice::from_ref(&r))?;
    if r.state == CredentialState::Lost {
        return Err(lost(&r.client_id, &r.customer_code, r.last_error.as_deref()));
    }
    let now = confirma::store::now_ms();
    if r.state == CredentialState::Active && due(&r, now) {
        match crate::finish_despite_interrupts("credentials token (a due renewal)", m.renew_now(&client_id)).await? {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::CredentialsLost => return Err(manager_failure(&m, e, &r).await),
            // The renewal failed but the current token still works: serve it (the manager recorded the
            // failure and backs off); an expired token is an error below.
            Err(e) if r.expires_at.is_none_or(|x| now < x) => note(&format!(
                "warning: the due renewal failed ({}); the current token is still valid",
                e.kind().code()
            )),
            Err(e) => return Err(Failure::from(e)),
        }
    }
    let tok = match m.token(&client_id).await {
        Ok(t) => t,
        Err(e) => return Err(manager_failure(&m, e, &r).await),
    };
    let written = if t.json {
        let st = m.status(&client_id).await?;
        stdout_secret_json(
            json!({
                "clientId": st.client_id,
                "state": st.state.as_str(),
                "accessToken": tok.expose(),
                "tokenVersion": st.token_version,
                "fingerprint": st.fingerprint,
                "expiresAt": time(st.expires_at),
            }),
            "/accessToken",
        )
    } else {
        stdout_secret(format!("{}\n", tok.expose()))
    };
    written.map_err(|e| {
        Failure(
            exit::INTERNAL_OR_OTHER,
            format!("writing the token to stdout failed: {e} (nothing is lost: the token is safe in the store)"),
            None,
        )
    })
}

async fn renew(t: Target, s: StoreOpts, client_id: String, force: bool) -> Result<(), Failure> {
    let (m, opened) = setup(&t, &s, KeyNeed::Required, false).await?;
    let r = load(&m, &client_id).await?;
    check_key(&opened.sealer, std::slice::from_ref(&r))?;
    if r.state == CredentialState::Lost {
        return Err(lost(&r.client_id, &r.customer_code, r.last_error.as_deref()));
    }
    let encrypted = sealed(&r);
    if !force && r.state == CredentialState::Active && !due(&r, confirma::store::now_ms()) {
        let st = m.status(&client_id).await?;
        return if t.json {
            print(&format!("{}\n", with_renewed(status_json(&st, encrypted), false)))
        } else {
            print(&format!(
                "not renewed: the renewal of client {client_id} is planned for {} (--force renews now)\n",
                show(st.next_renew_at)
            ))
        };
    }
    let st = match crate::finish_despite_interrupts("credentials renew", m.renew_now(&client_id)).await? {
        Ok(st) => st,
        Err(e) => return Err(manager_failure(&m, e, &r).await),
    };
    let encrypted = load(&m, &client_id).await.map(|r| sealed(&r)).unwrap_or(encrypted);
    if t.json {
        print(&format!("{}\n", with_renewed(status_json(&st, encrypted), st.token_version > r.token_version)))
    } else {
        print(&format!(
            "renewed: token version {} → {}\n{}",
            r.token_version,
            st.token_version,
            status_text(&st, encrypted)
        ))
    }
}

async fn status(t: Target, s: StoreOpts, client_id: Option<String>) -> Result<(), Failure> {
    let (m, _opened) = setup(&t, &s, KeyNeed::Optional, false).await?;
    let records = match &client_id {
        Some(id) => vec![load(&m, id).await?],
        None => m.store().list(Some(m.environment())).await.map_err(|e| store_failure(e, &s.store))?,
    };
    let mut out = Vec::new();
    for r in &records {
        let st = m.status(&r.client_id).await?;
        out.push((st, sealed(r)));
    }
    if t.json {
        let text = match (&client_id, out.first()) {
            (Some(_), Some((st, enc))) => status_json(st, *enc).to_string(),
            _ => Value::Array(out.iter().map(|(st, enc)| status_json(st, *enc)).collect()).to_string(),
        };
        return print(&format!("{text}\n"));
    }
    if out.is_empty() {
        return print(&format!("no credentials stored for {} in {}\n", m.environment(), m.store().describe()));
    }
    let text: Vec<String> = out.iter().map(|(st, enc)| status_text(st, *enc)).collect();
    print(&text.join("\n"))
}

async fn reconcile(t: Target, s: StoreOpts) -> Result<(), Failure> {
    let (m, opened) = setup(&t, &s, KeyNeed::Required, false).await?;
    let records = m.store().list(Some(m.environment())).await.map_err(|e| store_failure(e, &s.store))?;
    let pending: Vec<CredentialRecord> = records
        .into_iter()
        .filter(|r| matches!(r.state, CredentialState::Ambiguous | CredentialState::Renewing))
        .collect();
    check_key(&opened.sealer, &pending)?;
    let (pending_creates, done): (Vec<CredentialStatus>, Vec<CredentialStatus>) = m
        .reconcile()
        .await?
        .into_iter()
        .partition(|st| confirma::store::pending_business_code(&st.client_id).is_some());
    for st in &pending_creates {
        // Only the next `client create` of its business code can resolve a pending create: shown, not failed on.
        note(&pending_text(st, confirma::store::pending_business_code(&st.client_id).unwrap_or_default()));
    }
    let mut enc = std::collections::HashMap::new();
    for r in m.store().list(Some(m.environment())).await.map_err(|e| store_failure(e, &s.store))? {
        enc.insert(r.client_id.clone(), sealed(&r));
    }
    let encrypted = |st: &CredentialStatus| enc.get(&st.client_id).copied().unwrap_or(true);
    if t.json {
        let list: Vec<Value> = done.iter().map(|st| status_json(st, encrypted(st))).collect();
        print(&format!("{}\n", Value::Array(list)))?;
    } else if done.is_empty() {
        say("nothing to reconcile: no interrupted or ambiguous renewal")
            .map_err(|e| Failure(exit::INTERNAL_OR_OTHER, format!("writing to stdout failed: {e}"), None))?;
    } else {
        let text: Vec<String> = done.iter().map(|st| status_text(st, encrypted(st))).collect();
        print(&format!("reconciled {}:\n{}", done.len(), text.join("\n")))?;
    }
    if let Some(st) = done.iter().find(|st| st.state == CredentialState::Lost) {
        return Err(lost(&st.client_id, &st.customer_code, st.last_error.as_deref()));
    }
    if let Some(st) = done.iter().find(|st| st.state != CredentialState::Active) {
        return Err(Failure(
            exit::TRANSIENT,
            format!(
                "client {} is still {} (the service could not be asked); run `confirma credentials reconcile` again later",
                st.client_id, st.state
            ),
            None,
        ));
    }
    Ok(())
}

fn keygen() -> Result<(), Failure> {
    let key = StoreKey::generate().map_err(|e| Failure(exit::INTERNAL_OR_OTHER, e.to_string(), None))?;
    stdout_secret(format!("{}\n", key.to_base64().as_str()))
        .map_err(|e| Failure(exit::INTERNAL_OR_OTHER, format!("writing the key to stdout failed: {e}"), None))?;
    note(&format!(
        "a new store key (id {}): put it in {KEY_ENV} and keep it as safe as the tokens it protects; \
         without it the stored tokens cannot be read",
        key.id()
    ));
    Ok(())
}
