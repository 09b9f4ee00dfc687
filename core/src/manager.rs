//! [`TokenManager`]: keeps each client's access token alive for years — crash-safe and fleet-safe.
//!
//! Renew is a GET that **rotates** the token: the old one dies once the new one is issued. So a lost
//! answer, a crash between the answer and the database write, or two instances renewing at once can log a
//! client out for good. The manager runs one protocol, over any [`CredentialStore`]:
//!
//! 1. **Claim** — in one compare-and-set, write the intent: state `renewing`, a random attempt id, the
//!    owner, a lease and a fresh fence. Nothing is sent before this is durable. A failed claim means
//!    another instance moved first: re-read and take its token.
//! 2. **Call** — exactly one renew request, never retried once it may have reached the service (the
//!    client's own retry rules).
//! 3. **Commit** — persist the new token with a compare-and-set guarded by the fence, *before* it is
//!    published in memory or to any caller. If the lease was lost meanwhile, the new token is still
//!    persisted (it is the only one known valid) and the record reconciled.
//! 4. **Reconcile** what is ambiguous (a timeout, a reset, a crash that left an intent behind): re-read the
//!    store; validate the old token; not known any more → the rotation happened and its answer is gone:
//!    `lost`, loudly. Still known → renew it again under a new lease: a fresh token, or the same new token
//!    handed out again, resolves it; "already renewed" means the rotation happened: `lost` (the old token is
//!    served while the service still accepts it).
//!
//! Renewal is **early** (at about two thirds of a known lifetime, else every
//! [`renew_every`](ManagerOptions::renew_every)) with the jittered time computed once and **persisted**, so
//! restarts and fleets do not renew in lock-step; [`token`](TokenManager::token) serves the current token
//! from memory (no I/O) **until that time**. Then the first call renews — or, in a fleet, waits for and adopts
//! the renewal another instance has claimed — before serving, single-flight per process and, through the
//! lease, per fleet: a token served after its planned renewal time is never one that another instance has
//! already rotated away (renewing "in the background while serving the old token" would hand out exactly
//! that token in a fleet, and, even alone, a token about to die). If the store cannot be read at that moment,
//! the cached token is served (static stability: no instance can rotate it without writing to the store).
//! A failed renewal keeps the current token in service (health `degraded`) and backs off with jitter;
//! credentials are never deleted, and an expiry is never invented.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::broadcast;
use tracing::Instrument;

use crate::client::OnboardingClient;
use crate::config::{PRODUCTION_URL, STAGING_URL};
use crate::error::{Error, ErrorKind, Operation, ResponseMeta, Result};
use crate::models::{clamp_timestamp, CreatedClient, NewClient, RenewedToken};
use crate::secret::SecretToken;
use crate::store::{
    pending_business_code, CredentialEvent, CredentialKey, CredentialRecord, CredentialState, CredentialStore,
    EventKind, RenewalAttempt, Sealer, PENDING_CREATE_PREFIX,
};

/// A clock in epoch milliseconds (tests and the demo move it).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// How the manager renews.
#[derive(Clone)]
pub struct ManagerOptions {
    /// With no known expiry: renew this often (default 24 h).
    pub renew_every: Duration,
    /// With a known lifetime: renew at this fraction of it (default 2/3).
    pub renew_at_fraction: f64,
    /// Spread of the renewal time, as a fraction of the interval, both ways (default 0.1).
    pub jitter: f64,
    /// How long a claim holds (default: the client's total timeout + 30 s, so a live holder always finishes
    /// first).
    pub lease: Option<Duration>,
    /// Validate a stored token on first use unless some instance did within this (default 1 h).
    pub validate_interval: Duration,
    /// The first back-off after a failed renewal (default 30 s), doubled up to
    /// [`failure_backoff_max`](Self::failure_backoff_max) (default 1 h), with jitter.
    pub failure_backoff: Duration,
    /// The longest back-off.
    pub failure_backoff_max: Duration,
    /// How often to re-read the store while another instance holds the lease (default 100 ms).
    pub poll_interval: Duration,
    /// This instance's name in leases and events (default `<host>/<pid>/<random>`).
    pub owner: Option<String>,
    /// The clock (default: the system clock).
    pub clock: Option<Clock>,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        ManagerOptions {
            renew_every: Duration::from_secs(24 * 3600),
            renew_at_fraction: 2.0 / 3.0,
            jitter: 0.1,
            lease: None,
            validate_interval: Duration::from_secs(3600),
            failure_backoff: Duration::from_secs(30),
            failure_backoff_max: Duration::from_secs(3600),
            poll_interval: Duration::from_millis(100),
            owner: None,
            clock: None,
        }
    }
}

impl std::fmt::Debug for ManagerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagerOptions")
            .field("renew_every", &self.renew_every)
            .field("renew_at_fraction", &self.renew_at_fraction)
            .field("jitter", &self.jitter)
            .field("lease", &self.lease)
            .field("validate_interval", &self.validate_interval)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// How a credential is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    /// Active, last renewal fine.
    Healthy,
    /// Usable, but renewals fail (the current token is served while valid) or one is being reconciled.
    Degraded,
    /// Lost: the client needs a new token.
    Lost,
}

impl Health {
    /// `healthy`, `degraded`, `lost`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Lost => "lost",
        }
    }
}

/// A credential's status: everything but the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialStatus {
    /// `staging`, `production` or the custom base URL.
    pub environment: String,
    /// The CFIS client id.
    pub client_id: String,
    /// The customer code.
    pub customer_code: String,
    /// The payment reference prefix.
    pub payment_reference_prefix: String,
    /// The state.
    pub state: CredentialState,
    /// Healthy, degraded or lost.
    pub health: Health,
    /// How many tokens this credential has had.
    pub token_version: u64,
    /// The current token's fingerprint.
    pub fingerprint: String,
    /// When the current token was received (epoch ms).
    pub last_renewed_at: Option<i64>,
    /// When it expires, if the service said.
    pub expires_at: Option<i64>,
    /// The next planned renewal.
    pub next_renew_at: Option<i64>,
    /// When the token was last validated.
    pub last_validated_at: Option<i64>,
    /// Failed renewals in a row.
    pub consecutive_failures: u32,
    /// The last failure's error code.
    pub last_error: Option<String>,
    /// Who holds the renewal lease, if anyone.
    pub lease_holder: Option<String>,
    /// Until when.
    pub lease_expires_at: Option<i64>,
    /// Whether the store encrypts tokens (false only after an explicit plaintext opt-in).
    pub encrypted: bool,
}

/// An event, as subscribers see it (from [`TokenManager::subscribe`]). Fingerprints only, never tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerEvent {
    /// What happened.
    pub kind: EventKind,
    /// The environment.
    pub environment: String,
    /// The client id.
    pub client_id: String,
    /// The token version after it.
    pub token_version: u64,
    /// The fingerprint of the token concerned.
    pub fingerprint: String,
    /// The renewal attempt, if any.
    pub attempt_id: Option<String>,
    /// Details (an error code, the reconciliation's reasoning).
    pub detail: String,
    /// When (epoch ms).
    pub at: i64,
}

impl From<&CredentialEvent> for ManagerEvent {
    fn from(e: &CredentialEvent) -> Self {
        ManagerEvent {
            kind: e.kind,
            environment: e.environment.clone(),
            client_id: e.client_id.clone(),
            token_version: e.token_version,
            fingerprint: e.fingerprint.clone(),
            attempt_id: e.attempt_id.clone(),
            detail: e.detail.clone(),
            at: e.at,
        }
    }
}

/// What is served from memory.
#[derive(Clone)]
struct Cached {
    token: SecretToken,
    /// The record's token version this token is.
    token_version: u64,
    expires_at: Option<i64>,
    next_renew_at: Option<i64>,
    state: CredentialState,
    /// Lost after an "already renewed": the old token is served while the service accepts it; checked
    /// again after this time.
    lost_recheck_at: Option<i64>,
}

struct Entry {
    client_id: String,
    cached: RwLock<Option<Cached>>,
    /// Single flight: one load / renewal / reconciliation per client per process at a time.
    flight: tokio::sync::Mutex<()>,
}

struct Inner {
    client: OnboardingClient,
    store: Arc<dyn CredentialStore>,
    sealer: Sealer,
    environment: String,
    owner: String,
    options: ManagerOptions,
    lease: Duration,
    entries: RwLock<HashMap<String, Arc<Entry>>>,
    events: broadcast::Sender<ManagerEvent>,
}

/// Keeps access tokens alive over a [`CredentialStore`]; see the module docs for the protocol.
///
/// Cheap to clone (one shared state). Create one per process and environment, and share it.
#[derive(Clone)]
pub struct TokenManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("environment", &self.inner.environment)
            .field("store", &self.inner.store.describe())
            .field("owner", &self.inner.owner)
            .field("encrypted", &self.inner.sealer.is_encrypted())
            .finish()
    }
}

/// The store's name for a client's environment: `staging`, `production`, or the base URL.
pub fn environment_key(client: &OnboardingClient) -> String {
    let base = client.base_url().as_str();
    if base.trim_end_matches('/') == STAGING_URL {
        "staging".into()
    } else if base.trim_end_matches('/') == PRODUCTION_URL {
        "production".into()
    } else {
        base.to_string()
    }
}

/// A store write after a create's POST that failed: logged, never in place of the service's answer (which may
/// carry the only copy of a token). The pending record then stays as it was and is resolved like a crash.
fn logged(r: Result<()>) {
    if let Err(e) = r {
        tracing::warn!(target: "confirma", code = %e.kind().code(), "the pending-create record could not be updated: {e}");
    }
}

/// `token()` / `renew_now()` of a pending-create record: a clear error (it has no token).
fn pending_guard(client_id: &str) -> Result<()> {
    match pending_business_code(client_id) {
        Some(_) => Err(pending_error(client_id)),
        None => Ok(()),
    }
}

fn pending_error(client_id: &str) -> Error {
    let bc = pending_business_code(client_id).unwrap_or(client_id);
    Error::configuration(format!(
        "{client_id} is the record of a pending create of business code {bc}, not a client: it has no token. \
         Its status says how the create stands; the next create_client of that business code resolves it"
    ))
}

/// The detail of the `created` event of credentials saved by [`TokenManager::create_client`]: how a
/// reconciliation finds that a create whose pending record survived did commit its credentials.
fn created_detail(business_code: &str) -> String {
    format!("business code {business_code}")
}

/// Runs `work` as its own task when a tokio runtime is present, and waits for it: a caller that stops
/// waiting (a dropped future, an asyncio cancel, an `AbortSignal`, a cancelled coroutine) never abandons a
/// rotation or a create half way — the task runs on to its commit. Without a runtime, `work` runs inline.
async fn detached<T: Send + 'static>(work: impl std::future::Future<Output = Result<T>> + Send + 'static) -> Result<T> {
    let Ok(handle) = tokio::runtime::Handle::try_current() else { return work.await };
    match handle.spawn(work).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => Err(Error::from_panic(&*e.into_panic())),
        Err(_) => Err(Error::internal("the credential task was stopped: its runtime is shutting down")),
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn random_id() -> String {
    format!("{:016x}", fastrand::u64(..))
}

/// A time `base + interval·(1 ± jitter)`, never past `limit`.
fn jittered(base: i64, interval_ms: i64, jitter: f64, limit: Option<i64>) -> i64 {
    let spread = (interval_ms as f64 * jitter.clamp(0.0, 0.5)) as i64;
    let offset = if spread > 0 { fastrand::i64(spread.saturating_neg()..=spread) } else { 0 };
    let at = base.saturating_add(interval_ms).saturating_add(offset);
    match limit {
        Some(l) => at.min(l),
        None => at,
    }
}

impl TokenManager {
    /// A manager for `client`'s environment over `store`, sealing tokens with `sealer`.
    pub fn new(
        client: OnboardingClient,
        store: Arc<dyn CredentialStore>,
        sealer: Sealer,
        options: ManagerOptions,
    ) -> Result<Self> {
        if !(options.renew_at_fraction > 0.0 && options.renew_at_fraction < 1.0) {
            return Err(Error::configuration("renew_at_fraction must be between 0 and 1"));
        }
        if options.renew_every.is_zero() || options.poll_interval.is_zero() || options.failure_backoff.is_zero() {
            return Err(Error::configuration("renew_every, poll_interval and failure_backoff must be above zero"));
        }
        let lease =
            options.lease.unwrap_or_else(|| client.config().total_timeout.saturating_add(Duration::from_secs(30)));
        if lease <= client.config().total_timeout {
            return Err(Error::configuration("the lease must be longer than the client's total timeout"));
        }
        let owner = options.owner.clone().unwrap_or_else(|| {
            let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "host".into());
            format!("{host}/{}/{}", std::process::id(), random_id().get(..6).unwrap_or_default())
        });
        let (events, _) = broadcast::channel(256);
        Ok(TokenManager {
            inner: Arc::new(Inner {
                environment: environment_key(&client),
                client,
                store,
                sealer,
                owner,
                options,
                lease,
                entries: RwLock::new(HashMap::new()),
                events,
            }),
        })
    }

    /// The environment this manager's records belong to.
    pub fn environment(&self) -> &str {
        &self.inner.environment
    }

    /// The client.
    pub fn client(&self) -> &OnboardingClient {
        &self.inner.client
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn CredentialStore> {
        &self.inner.store
    }

    /// This instance's owner name (in leases and events).
    pub fn owner(&self) -> &str {
        &self.inner.owner
    }

    /// Events as they happen in this process (rotations, failures, reconciliations, losses). The store's
    /// log ([`CredentialStore::events`]) has every instance's.
    pub fn subscribe(&self) -> broadcast::Receiver<ManagerEvent> {
        self.inner.events.subscribe()
    }

    fn now(&self) -> i64 {
        match &self.inner.options.clock {
            Some(c) => c(),
            None => crate::store::now_ms(),
        }
    }

    fn key(&self, client_id: &str) -> CredentialKey {
        CredentialKey::new(self.inner.environment.clone(), client_id)
    }

    fn entry(&self, client_id: &str) -> Arc<Entry> {
        if let Some(e) = self.inner.entries.read().unwrap_or_else(|p| p.into_inner()).get(client_id) {
            return e.clone();
        }
        let mut map = self.inner.entries.write().unwrap_or_else(|p| p.into_inner());
        map.entry(client_id.to_string())
            .or_insert_with(|| {
                Arc::new(Entry {
                    client_id: client_id.to_string(),
                    cached: RwLock::new(None),
                    flight: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }

    fn event(&self, r: &CredentialRecord, kind: EventKind, detail: impl Into<String>) -> CredentialEvent {
        CredentialEvent {
            seq: 0,
            at: self.now(),
            environment: r.environment.clone(),
            client_id: r.client_id.clone(),
            kind,
            token_version: r.token_version,
            fingerprint: r.fingerprint.clone(),
            attempt_id: r.attempt.as_ref().map(|a| a.id.clone()),
            owner: self.inner.owner.clone(),
            detail: detail.into(),
        }
    }

    fn publish(&self, events: &[CredentialEvent]) {
        for e in events {
            match e.kind {
                EventKind::Lost | EventKind::Ambiguous => tracing::error!(
                    target: "confirma",
                    client_id = %e.client_id, kind = e.kind.as_str(), fingerprint = %e.fingerprint,
                    attempt = e.attempt_id.as_deref().unwrap_or(""), detail = %e.detail, "credential event"
                ),
                EventKind::RenewFailed => tracing::warn!(
                    target: "confirma",
                    client_id = %e.client_id, kind = e.kind.as_str(), fingerprint = %e.fingerprint, detail = %e.detail,
                    "credential event"
                ),
                _ => tracing::info!(
                    target: "confirma",
                    client_id = %e.client_id, kind = e.kind.as_str(), fingerprint = %e.fingerprint,
                    version = e.token_version, "credential event"
                ),
            }
            let _ = self.inner.events.send(ManagerEvent::from(e));
        }
    }

    /// Writes `next` over `current` (compare-and-set on the revision) with its events; publishes them.
    async fn cas(
        &self,
        current: &CredentialRecord,
        next: &CredentialRecord,
        events: Vec<CredentialEvent>,
    ) -> Result<bool> {
        let ok = self.inner.store.compare_and_swap(current.revision, next, &events).await?;
        if ok {
            self.publish(&events);
        }
        Ok(ok)
    }

    async fn load(&self, client_id: &str) -> Result<CredentialRecord> {
        self.inner.store.load(&self.key(client_id)).await?.ok_or_else(|| {
            Error::configuration(format!(
                "no credentials stored for client {client_id} in {} ({}): create the client with this store, or import its token",
                self.inner.environment,
                self.inner.store.describe()
            ))
        })
    }

    fn open(&self, r: &CredentialRecord) -> Result<SecretToken> {
        Ok(self.inner.sealer.open(&r.key(), &r.sealed_token)?)
    }

    fn schedule(&self, issued_at: i64, expires_at: Option<i64>) -> i64 {
        let o = &self.inner.options;
        match expires_at {
            Some(exp) if exp > issued_at => {
                let lifetime = exp.saturating_sub(issued_at);
                let at = (lifetime as f64 * o.renew_at_fraction) as i64;
                // Never later than 90 % of the lifetime.
                let limit = issued_at.saturating_add((lifetime as f64 * 0.9) as i64);
                jittered(issued_at, at, o.jitter, Some(limit))
            }
            // Already expired (or expiring at once): renew now.
            Some(_) => issued_at,
            None => jittered(issued_at, ms(o.renew_every), o.jitter, None),
        }
    }

    fn backoff(&self, failures: u32) -> i64 {
        let o = &self.inner.options;
        let exp = failures.saturating_sub(1).min(20);
        let d = o.failure_backoff.saturating_mul(1u32 << exp).min(o.failure_backoff_max);
        let base = ms(d);
        // Full jitter on the upper half: [base/2, base].
        let half = base / 2;
        half.saturating_add(if half > 0 { fastrand::i64(0..=half) } else { 0 })
    }

    fn cache(&self, entry: &Entry, r: &CredentialRecord, token: SecretToken) -> Cached {
        let c = Cached {
            token,
            token_version: r.token_version,
            expires_at: r.expires_at,
            next_renew_at: r.next_renew_at,
            state: r.state,
            lost_recheck_at: None,
        };
        *entry.cached.write().unwrap_or_else(|p| p.into_inner()) = Some(c.clone());
        c
    }

    fn lost_error(&self, client_id: &str, detail: &str) -> Error {
        Error::credentials_lost(
            client_id,
            format!(
                "{detail}. The stored token no longer works and its replacement is unknown: ask Confirma Finance support for a new token for this client (or re-provision it), then import it with import_credentials"
            ),
        )
    }

    // -----------------------------------------------------------------------------------------------
    // Public operations

    /// A usable token for `client_id`: from memory without I/O in the common case. On first use the record
    /// is loaded (an interrupted renewal reconciled; the token validated unless an instance did within
    /// `validate_interval`). From the planned renewal time on, the first call renews (or adopts the renewal
    /// of another instance) before serving — see the module docs for why; a failed renewal serves the
    /// current token and backs off. A call that stops waiting never abandons a renewal half way.
    pub async fn token(&self, client_id: &str) -> Result<SecretToken> {
        pending_guard(client_id)?;
        let entry = self.entry(client_id);
        if let Some(t) = self.fast(&entry) {
            return Ok(t);
        }
        let m = self.clone();
        // Boxed: the slow path's state lives on the heap, so token()'s own future stays small for the
        // common case that never reaches it.
        detached(Box::pin(async move { m.slow(&entry).await })).await
    }

    /// The token from memory, without I/O and without waiting, if it can be served as it is; `None` when
    /// [`token`](Self::token) has work to do (first use, a renewal due, an expired token, a state that needs
    /// settling). The synchronous hot path of the bindings.
    pub fn cached_token(&self, client_id: &str) -> Option<SecretToken> {
        let entry = self.inner.entries.read().unwrap_or_else(|p| p.into_inner()).get(client_id).cloned()?;
        self.fast(&entry)
    }

    /// The token from memory if it can be served as it is: active, and neither expired nor due for renewal.
    fn fast(&self, entry: &Arc<Entry>) -> Option<SecretToken> {
        let guard = entry.cached.read().unwrap_or_else(|p| p.into_inner());
        let c = guard.as_ref()?;
        let now = self.now();
        if c.expires_at.is_some_and(|e| now >= e) {
            return None;
        }
        match c.state {
            // Due: renewed (or another instance's renewal adopted) before serving; see the module docs.
            CredentialState::Active if c.next_renew_at.is_none_or(|at| now >= at) => None,
            CredentialState::Active => Some(c.token.clone()),
            CredentialState::Lost if c.lost_recheck_at.is_some_and(|at| now < at) => Some(c.token.clone()),
            _ => None,
        }
    }

    async fn slow(&self, entry: &Arc<Entry>) -> Result<SecretToken> {
        let _flight = entry.flight.lock().await;
        if let Some(t) = self.fast(entry) {
            return Ok(t);
        }
        let known = entry.cached.read().unwrap_or_else(|p| p.into_inner()).clone();
        match known {
            None => self.first_load(entry).await.map(|c| c.token),
            Some(c) if c.state == CredentialState::Lost => {
                let r = self.load(&entry.client_id).await?;
                if r.state != CredentialState::Lost {
                    return self.settle(entry, r, false).await.map(|c| c.token);
                }
                self.recheck_lost(entry, r).await.map(|c| c.token)
            }
            Some(c) => {
                // Due, expired, or in a state that cannot be served: settle from the store (renewing if needed).
                let r = match self.load(&entry.client_id).await {
                    Ok(r) => r,
                    Err(e) if e.kind() == ErrorKind::Storage && self.servable_without_store(&c) => {
                        return Ok(self.serve_without_store(entry, c, &e));
                    }
                    Err(e) => return Err(e),
                };
                self.settle(entry, r, true).await.map(|c| c.token)
            }
        }
    }

    /// Another instance's renewal is overdue (past the client's total timeout): the cached token, if active and
    /// unexpired, is served until the holder's lease ends — the same token that instance was renewing, which
    /// may or may not still work; the alternative is to wait out the lease. Logged.
    fn overdue_holder(&self, entry: &Arc<Entry>, r: &CredentialRecord) -> Option<Cached> {
        let mut c = entry.cached.read().unwrap_or_else(|p| p.into_inner()).clone()?;
        if !self.servable_without_store(&c) || c.token_version != r.token_version {
            return None;
        }
        let lease_end = r.attempt.as_ref().map(|a| a.lease_expires_at)?;
        tracing::warn!(
            target: "confirma", client_id = %r.client_id,
            holder = r.attempt.as_ref().map(|a| a.owner.as_str()).unwrap_or(""),
            "another instance's renewal is overdue; serving the cached token until its lease ends"
        );
        c.next_renew_at = Some(c.expires_at.map_or(lease_end, |x| lease_end.min(x)));
        *entry.cached.write().unwrap_or_else(|p| p.into_inner()) = Some(c.clone());
        Some(c)
    }

    /// An active, unexpired cached token may be served when the store cannot be read at its renewal time:
    /// nobody can rotate it meanwhile without writing to that store.
    fn servable_without_store(&self, c: &Cached) -> bool {
        c.state == CredentialState::Active && c.expires_at.is_none_or(|e| self.now() < e)
    }

    /// Serves the cached token when the store is unreachable (static stability), and tries the store again
    /// after a back-off rather than on every call.
    fn serve_without_store(&self, entry: &Arc<Entry>, mut c: Cached, e: &Error) -> SecretToken {
        tracing::warn!(
            target: "confirma", client_id = %entry.client_id, code = %e.kind().code(),
            "the credential store cannot be read at the planned renewal time; serving the cached token (no instance can rotate it without the store): {e}"
        );
        let retry = self.now().saturating_add(self.backoff(1));
        c.next_renew_at = Some(c.expires_at.map_or(retry, |x| retry.min(x)));
        let token = c.token.clone();
        *entry.cached.write().unwrap_or_else(|p| p.into_inner()) = Some(c);
        token
    }

    /// First use in this process: load, reconcile, validate (fleet-wide rate limit), cache.
    async fn first_load(&self, entry: &Arc<Entry>) -> Result<Cached> {
        let r = self.load(&entry.client_id).await?;
        if r.state == CredentialState::Active
            && r.last_validated_at
                .is_none_or(|t| self.now().saturating_sub(t) >= ms(self.inner.options.validate_interval))
        {
            return self.validate_stored(entry, r).await;
        }
        self.settle(entry, r, true).await
    }

    /// Brings a record to a servable state and caches it: reconciles an ambiguous or abandoned renewal,
    /// waits for another instance's renewal, renews an expired token (or a due one when `renew_if_due`).
    async fn settle(&self, entry: &Arc<Entry>, mut r: CredentialRecord, renew_if_due: bool) -> Result<Cached> {
        // Waiting for another instance's renewal does not count as a change; the wait itself is bounded by its
        // lease (and, for a caller holding a servable token, by the client's total timeout).
        let waiting_since = std::time::Instant::now();
        let mut changes = 0u32;
        while changes < 64 {
            changes = changes.saturating_add(1);
            let now = self.now();
            match r.state {
                CredentialState::Lost => return self.recheck_lost(entry, r).await,
                CredentialState::Creating => return Err(pending_error(&r.client_id)),
                CredentialState::Ambiguous => {
                    r = self.reconcile_record(r).await?;
                }
                CredentialState::Renewing => {
                    let lease_over = r.attempt.as_ref().is_none_or(|a| now >= a.lease_expires_at);
                    if lease_over {
                        // The holder died mid-renewal (or its answer is late beyond the lease): ambiguous.
                        r = self.mark_ambiguous(r, "the renewal's lease expired without a commit").await?;
                    } else {
                        // A live holder finishes within the client's total timeout (committed, or marked
                        // ambiguous). Past that it is slow or dead: a caller with a servable token gets it until
                        // the lease ends (then the renewal is reconciled) instead of waiting out the lease.
                        if waiting_since.elapsed() > self.inner.client.config().total_timeout {
                            if let Some(c) = self.overdue_holder(entry, &r) {
                                return Ok(c);
                            }
                        }
                        tokio::time::sleep(self.inner.options.poll_interval).await;
                        r = self.load(&r.client_id).await?;
                        changes = changes.saturating_sub(1);
                    }
                }
                CredentialState::Active => {
                    let expired = r.expires_at.is_some_and(|e| now >= e);
                    let due = r.next_renew_at.is_none_or(|at| now >= at);
                    if expired || (renew_if_due && due) {
                        match self.rotate(r.clone()).await {
                            Ok(Some(next)) => r = next,
                            Ok(None) => r = self.load(&r.client_id).await?,
                            Err(e) if !expired => {
                                // The current token still works: serve it (health degraded).
                                tracing::debug!(target: "confirma", code = %e.kind().code(), "renewal failed; serving the current token");
                                let latest = self.load(&r.client_id).await?;
                                let token = self.open(&latest)?;
                                return Ok(self.cache(entry, &latest, token));
                            }
                            Err(e) => return Err(e),
                        }
                        continue;
                    }
                    let token = self.open(&r)?;
                    let r = self.reseal_if_needed(r, &token).await;
                    return Ok(self.cache(entry, &r, token));
                }
            }
        }
        Err(Error::storage("the credential record keeps changing under contention; try again", true))
    }

    /// Key rotation: a token sealed under a previous key (or in clear, now that a key is set) is written
    /// again under the current key. Best effort: a lost race or a store error leaves it for the next load.
    async fn reseal_if_needed(&self, r: CredentialRecord, token: &SecretToken) -> CredentialRecord {
        if !self.inner.sealer.needs_reseal(&r.sealed_token) {
            return r;
        }
        let Ok(sealed) = self.inner.sealer.seal(&r.key(), token) else { return r };
        let mut next = r.clone();
        next.revision = r.revision.saturating_add(1);
        next.sealed_token = sealed;
        next.fingerprint = self.inner.sealer.fingerprint(token);
        next.previous_sealed_token = None;
        next.previous_fingerprint = None;
        next.updated_at = self.now();
        match self.inner.store.compare_and_swap(r.revision, &next, &[]).await {
            Ok(true) => {
                tracing::info!(target: "confirma", client_id = %r.client_id, key = ?self.inner.sealer.key_id(), "re-sealed a stored token under the current key");
                next
            }
            _ => r,
        }
    }

    /// Start-up validation of a stored active token.
    async fn validate_stored(&self, entry: &Arc<Entry>, r: CredentialRecord) -> Result<Cached> {
        let token = self.open(&r)?;
        let status = match self.inner.client.validate_token(&token).await {
            Ok(s) => s,
            Err(e) => {
                // The service cannot say now: serve what is stored (the normal path renews when due).
                tracing::warn!(target: "confirma", client_id = %r.client_id, code = %e.kind().code(), "start-up validation failed; using the stored token");
                return self.settle(entry, r, false).await;
            }
        };
        if status.is_valid || status.expired {
            let mut next = r.clone();
            next.revision = r.revision.saturating_add(1);
            next.last_validated_at = Some(self.now());
            next.updated_at = self.now();
            if status.expired {
                // Known but expired: renew it now (the service renews expired tokens).
                next.next_renew_at = Some(self.now());
            }
            let ev = self.event(&next, EventKind::Validated, if status.expired { "expired" } else { "valid" });
            let _ = self.cas(&r, &next, vec![ev]).await?;
            let latest = self.load(&r.client_id).await?;
            return self.settle(entry, latest, status.expired).await;
        }
        // Not known to the service. Never delete on a 401: re-read first, another host may have rotated.
        let latest = self.load(&r.client_id).await?;
        if latest.token_version != r.token_version || latest.state != CredentialState::Active {
            return self.settle(entry, latest, false).await;
        }
        let mut lost = latest.clone();
        lost.revision = latest.revision.saturating_add(1);
        lost.state = CredentialState::Lost;
        lost.last_error = Some("the service does not accept the stored token".into());
        lost.updated_at = self.now();
        let ev = self.event(&lost, EventKind::Lost, "the service does not accept the stored token");
        self.cas(&latest, &lost, vec![ev]).await?;
        let latest = self.load(&r.client_id).await?;
        self.settle(entry, latest, false).await
    }

    /// Renews `client_id` now, under the lease (another instance's renewal in progress is waited for and
    /// its token taken instead).
    pub async fn renew_now(&self, client_id: &str) -> Result<CredentialStatus> {
        pending_guard(client_id)?;
        let (m, id) = (self.clone(), client_id.to_string());
        detached(async move { m.renew_now_inner(&id).await }).await
    }

    async fn renew_now_inner(&self, client_id: &str) -> Result<CredentialStatus> {
        let entry = self.entry(client_id);
        let _flight = entry.flight.lock().await;
        let r = self.load(client_id).await?;
        let before = r.token_version;
        let mut r = r;
        for _ in 0..64 {
            match r.state {
                CredentialState::Active if r.token_version == before => match self.rotate(r.clone()).await? {
                    Some(next) => r = next,
                    None => r = self.load(client_id).await?,
                },
                _ => {
                    self.settle(&entry, r, false).await?;
                    break;
                }
            }
        }
        let status = self.status(client_id).await?;
        if status.state == CredentialState::Lost {
            // The old token may still be served for a grace period, but the renewal did not happen.
            return Err(self.lost_error(client_id, status.last_error.as_deref().unwrap_or("the credentials are lost")));
        }
        Ok(status)
    }

    /// Reconciles every record of this environment that is ambiguous or whose renewal was abandoned
    /// (lease expired); returns their statuses afterwards. Pending creates that are not in flight
    /// (`ambiguous`, `lost`, or `creating` past their lease) are listed too, unchanged: only the next
    /// [`create_client`](Self::create_client) of their business code can resolve them.
    pub async fn reconcile(&self) -> Result<Vec<CredentialStatus>> {
        let m = self.clone();
        detached(async move { m.reconcile_inner().await }).await
    }

    async fn reconcile_inner(&self) -> Result<Vec<CredentialStatus>> {
        let records = self.inner.store.list(Some(&self.inner.environment)).await?;
        let now = self.now();
        let mut out = Vec::new();
        for r in records {
            if r.pending_business_code().is_some() {
                // A pending create cannot be resolved without its request: listed (unless in flight), and
                // resolved by the next create_client of its business code.
                let in_flight = r.state == CredentialState::Creating
                    && r.attempt.as_ref().is_some_and(|a| now < a.lease_expires_at);
                if !in_flight {
                    out.push(self.status_of(&r));
                }
                continue;
            }
            let abandoned =
                r.state == CredentialState::Renewing && r.attempt.as_ref().is_none_or(|a| now >= a.lease_expires_at);
            if r.state == CredentialState::Ambiguous || abandoned {
                let entry = self.entry(&r.client_id);
                let _flight = entry.flight.lock().await;
                let latest = self.load(&r.client_id).await?;
                if let Err(e) = self.settle(&entry, latest, false).await {
                    tracing::warn!(target: "confirma", client_id = %r.client_id, code = %e.kind().code(), "reconciliation: {e}");
                }
                out.push(self.status(&r.client_id).await?);
            }
        }
        Ok(out)
    }

    /// The status of `client_id`'s credentials (no token).
    pub async fn status(&self, client_id: &str) -> Result<CredentialStatus> {
        let r = self.load(client_id).await?;
        Ok(self.status_of(&r))
    }

    /// The statuses of every credential of this environment.
    pub async fn statuses(&self) -> Result<Vec<CredentialStatus>> {
        let records = self.inner.store.list(Some(&self.inner.environment)).await?;
        Ok(records.iter().map(|r| self.status_of(r)).collect())
    }

    fn status_of(&self, r: &CredentialRecord) -> CredentialStatus {
        let health = match r.state {
            CredentialState::Lost => Health::Lost,
            CredentialState::Ambiguous | CredentialState::Creating => Health::Degraded,
            _ if r.consecutive_failures > 0 => Health::Degraded,
            _ => Health::Healthy,
        };
        CredentialStatus {
            environment: r.environment.clone(),
            client_id: r.client_id.clone(),
            customer_code: r.customer_code.clone(),
            payment_reference_prefix: r.payment_reference_prefix.clone(),
            state: r.state,
            health,
            token_version: r.token_version,
            fingerprint: r.fingerprint.clone(),
            last_renewed_at: r.issued_at,
            expires_at: r.expires_at,
            next_renew_at: r.next_renew_at,
            last_validated_at: r.last_validated_at,
            consecutive_failures: r.consecutive_failures,
            last_error: r.last_error.clone(),
            lease_holder: r.attempt.as_ref().map(|a| a.owner.clone()),
            lease_expires_at: r.attempt.as_ref().map(|a| a.lease_expires_at),
            encrypted: self.inner.sealer.is_encrypted(),
        }
    }

    /// Saves a newly created client's credentials (the seed's step 7), committed before this returns.
    pub async fn save_created(&self, created: &CreatedClient) -> Result<CredentialStatus> {
        let expires = created.token_expires_at.map(|t| clamp_timestamp(t).timestamp_millis());
        self.put(
            &created.client_id,
            &created.customer_code,
            &created.payment_reference_prefix,
            &created.access_token,
            expires,
            EventKind::Created,
            // The service has just issued it: no start-up validation needed.
            Some(self.now()),
            "",
        )
        .await
    }

    /// Imports an existing client's token, validated first (an unknown token is refused; an expired one is
    /// accepted and renewed on first use). Replaces what is stored for the client.
    pub async fn import_credentials(
        &self,
        client_id: &str,
        token: &SecretToken,
        customer_code: Option<&str>,
        payment_reference_prefix: Option<&str>,
    ) -> Result<CredentialStatus> {
        let (m, id, token) = (self.clone(), client_id.to_string(), token.clone());
        let (code, prefix) = (customer_code.map(str::to_string), payment_reference_prefix.map(str::to_string));
        detached(async move { m.import_inner(&id, &token, code.as_deref(), prefix.as_deref()).await }).await
    }

    async fn import_inner(
        &self,
        client_id: &str,
        token: &SecretToken,
        customer_code: Option<&str>,
        payment_reference_prefix: Option<&str>,
    ) -> Result<CredentialStatus> {
        if client_id.trim().is_empty() {
            return Err(Error::invalid_input("clientId", "must not be blank"));
        }
        let status = self.inner.client.validate_token(token).await?;
        if !status.is_valid && !status.expired {
            return Err(Error::invalid_input(
                "token",
                format!("the service does not accept this token ({})", status.message),
            ));
        }
        let validated = Some(self.now());
        self.put(
            client_id,
            customer_code.unwrap_or_default(),
            payment_reference_prefix.unwrap_or_default(),
            token,
            None,
            EventKind::Imported,
            validated,
            "",
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn put(
        &self,
        client_id: &str,
        customer_code: &str,
        prefix: &str,
        token: &SecretToken,
        expires_at: Option<i64>,
        kind: EventKind,
        validated: Option<i64>,
        detail: &str,
    ) -> Result<CredentialStatus> {
        let key = self.key(client_id);
        let now = self.now();
        let mut record = CredentialRecord {
            environment: key.environment.clone(),
            client_id: client_id.to_string(),
            customer_code: customer_code.to_string(),
            payment_reference_prefix: prefix.to_string(),
            sealed_token: self.inner.sealer.seal(&key, token)?,
            fingerprint: self.inner.sealer.fingerprint(token),
            token_version: 1,
            revision: 1,
            issued_at: Some(now),
            expires_at,
            next_renew_at: Some(self.schedule(now, expires_at)),
            state: CredentialState::Active,
            attempt: None,
            fence: 0,
            previous_sealed_token: None,
            previous_fingerprint: None,
            last_validated_at: validated,
            consecutive_failures: 0,
            last_error: None,
            updated_at: now,
        };
        for _ in 0..16 {
            match self.inner.store.load(&key).await? {
                None => {
                    let ev = self.event(&record, kind, detail);
                    if self.inner.store.insert(&record, std::slice::from_ref(&ev)).await? {
                        self.publish(&[ev]);
                        break;
                    }
                }
                Some(existing) => {
                    record.revision = existing.revision.saturating_add(1);
                    record.token_version = existing.token_version.saturating_add(1);
                    record.fence = existing.fence;
                    if record.customer_code.is_empty() {
                        record.customer_code = existing.customer_code.clone();
                    }
                    if record.payment_reference_prefix.is_empty() {
                        record.payment_reference_prefix = existing.payment_reference_prefix.clone();
                    }
                    let why = if detail.is_empty() {
                        "replaced the stored credentials".to_string()
                    } else {
                        format!("{detail}; replaced the stored credentials")
                    };
                    let ev = self.event(&record, kind, why);
                    if self.cas(&existing, &record, vec![ev]).await? {
                        break;
                    }
                }
            }
        }
        let stored = self.load(client_id).await?;
        if stored.fingerprint != record.fingerprint {
            return Err(Error::storage("the credentials could not be saved under contention; try again", true));
        }
        let entry = self.entry(client_id);
        self.cache(&entry, &stored, token.clone());
        Ok(self.status_of(&stored))
    }

    // -----------------------------------------------------------------------------------------------
    // Creating a client

    /// Creates a client and commits its credentials to the store before returning — the one safe way to
    /// create a client whose token must never be lost.
    ///
    /// 1. The request is normalised and validated locally (nothing is written for a request that fails).
    /// 2. A **pending-create record** (client id `pending-create:<business code>`, state `creating`, an
    ///    operation id, owner, lease and fence; no token) is written durably **before** the POST.
    /// 3. The POST (the client's own retry rules: never repeated once it may have reached the service).
    /// 4. Success: the credentials are saved (event `created`, committed) and the pending record removed.
    ///    An outcome-unknown failure leaves the pending record `ambiguous` (never a second client: the
    ///    error is returned; a token it recovered is in it); a definite failure removes it.
    ///
    /// A pending record left `ambiguous` (or `creating` past its lease: a crash) is reconciled by the next
    /// call for that business code: it POSTs again — the service identifies a client by business code, so
    /// this can never make a second client. 201: the earlier attempt had not created it. 409: it had, and
    /// its token is gone: the record becomes `lost` and [`ErrorKind::CredentialsLost`] says what to do
    /// (unless the earlier attempt's credentials were committed after all: then a [`ErrorKind::Conflict`]
    /// names them). Another instance creating the same business code right now (a live lease):
    /// [`ErrorKind::Conflict`], nothing sent.
    pub async fn create_client(
        &self,
        provisioning_token: &SecretToken,
        new_client: &NewClient,
    ) -> Result<CreatedClient> {
        let (m, token, nc) = (self.clone(), provisioning_token.clone(), new_client.clone());
        detached(async move { m.create_client_inner(&token, &nc).await }).await
    }

    async fn create_client_inner(
        &self,
        provisioning_token: &SecretToken,
        new_client: &NewClient,
    ) -> Result<CreatedClient> {
        if let Some(problem) = crate::validation::token_problem(provisioning_token.expose()) {
            return Err(Error::invalid_input("provisioningToken", problem));
        }
        let nc = new_client.normalized();
        crate::validation::validate_new_client(&nc, self.inner.client.config().validation)
            .map_err(Error::client_validation)?;
        let business_code = nc.client.business_code.clone();
        let key = self.key(&format!("{PENDING_CREATE_PREFIX}{business_code}"));
        let (claimed, prior) = self.claim_create(&key, &business_code).await?;
        let span = tracing::info_span!(
            target: "confirma", "create", business_code = %business_code,
            operation = claimed.attempt.as_ref().map(|a| a.id.as_str()).unwrap_or("")
        );
        let result = self.inner.client.create_client(provisioning_token, &nc).instrument(span).await;
        match result {
            Ok(created) => self.finish_create(&claimed, &business_code, created).await,
            Err(e) if e.kind() == ErrorKind::OutcomeUnknown => {
                let why = if e.recovered_token().is_some() {
                    format!(
                        "{}: CFIS created the client and answered with its token but without its client id; the token was returned in the error's recovered token (store it with the client id from Confirma Finance support); this create stays ambiguous",
                        e.kind().code()
                    )
                } else {
                    format!(
                        "{}: the create may or may not have happened; the next create of business code {business_code} finds out",
                        e.kind().code()
                    )
                };
                logged(self.end_pending(&claimed, CredentialState::Ambiguous, EventKind::Ambiguous, &why).await);
                Err(e)
            }
            Err(e) if e.kind() == ErrorKind::Conflict && prior.is_some() => {
                // The earlier attempt did create the client (or a crash came after its commit).
                if let Some(client_id) = self.created_by_business_code(&business_code).await.unwrap_or_else(|se| {
                    logged(Err(se));
                    None
                }) {
                    let why = format!("the earlier create was committed as client {client_id}");
                    logged(self.remove_pending(&claimed, &why).await);
                    return Err(Error::Conflict {
                        message: format!(
                            "the client with business code {business_code} exists and its credentials are stored as client {client_id} in {}",
                            self.inner.store.describe()
                        ),
                        meta: ResponseMeta { status: e.status(), request_id: e.request_id().map(str::to_string) },
                    });
                }
                let why = format!(
                    "an earlier create of business code {business_code} whose answer was lost did create the client (CFIS answers 409 Conflict now) and its access token is gone: ask Confirma Finance support for the client's id and access token, then import them (import_credentials, `confirma credentials import --client-id ID`)"
                );
                logged(self.end_pending(&claimed, CredentialState::Lost, EventKind::Lost, &why).await);
                Err(Error::credentials_lost(key.client_id.clone(), why))
            }
            Err(e) => {
                // Nothing was created by this request.
                match prior {
                    None => logged(self.remove_pending(&claimed, &format!("failed: {}", e.kind().code())).await),
                    Some(state) => {
                        let why = format!(
                            "the reconciling create failed without creating ({}); the earlier create is still unresolved",
                            e.kind().code()
                        );
                        let kind = if state == CredentialState::Lost { EventKind::Lost } else { EventKind::Ambiguous };
                        logged(self.end_pending(&claimed, state, kind, &why).await);
                    }
                }
                Err(e)
            }
        }
    }

    /// Writes (or takes over) the pending-create record before the POST. Returns it and, for a takeover,
    /// the unresolved state it had (`ambiguous` or `lost`).
    async fn claim_create(
        &self,
        key: &CredentialKey,
        business_code: &str,
    ) -> Result<(CredentialRecord, Option<CredentialState>)> {
        for _ in 0..16 {
            let now = self.now();
            let attempt = |fence: u64| RenewalAttempt {
                id: random_id(),
                owner: self.inner.owner.clone(),
                lease_expires_at: now.saturating_add(ms(self.inner.lease)),
                fence,
            };
            match self.inner.store.load(key).await? {
                None => {
                    let record = CredentialRecord::pending_create(key, attempt(1), now);
                    let ev = self.event(&record, EventKind::CreateStarted, format!("business code {business_code}"));
                    if self.inner.store.insert(&record, std::slice::from_ref(&ev)).await? {
                        self.publish(&[ev]);
                        return Ok((record, None));
                    }
                }
                Some(r) => {
                    if let Some(a) =
                        r.attempt.as_ref().filter(|a| r.state == CredentialState::Creating && now < a.lease_expires_at)
                    {
                        return Err(Error::Conflict {
                            message: format!(
                                "another instance ({}) is creating the client with business code {business_code} right now (operation {}); wait for it, then look at the stored credentials",
                                a.owner, a.id
                            ),
                            meta: ResponseMeta::default(),
                        });
                    }
                    let prior = if r.state == CredentialState::Lost {
                        CredentialState::Lost
                    } else {
                        CredentialState::Ambiguous
                    };
                    let mut next = r.clone();
                    next.revision = r.revision.saturating_add(1);
                    next.fence = r.fence.saturating_add(1);
                    next.state = CredentialState::Creating;
                    next.attempt = Some(attempt(next.fence));
                    next.updated_at = now;
                    let ev = self.event(
                        &next,
                        EventKind::CreateStarted,
                        format!(
                            "business code {business_code}; reconciling an earlier create left {}: creating again (CFIS answers 409 Conflict if it exists)",
                            if r.state == CredentialState::Creating { "in flight past its lease" } else { r.state.as_str() }
                        ),
                    );
                    if self.cas(&r, &next, vec![ev]).await? {
                        return Ok((next, Some(prior)));
                    }
                }
            }
        }
        Err(Error::storage("the pending create could not be recorded under contention; try again", true))
    }

    /// Commits a created client's credentials (retrying a failing store for a while: the token exists
    /// nowhere else), then removes the pending record.
    async fn finish_create(
        &self,
        claimed: &CredentialRecord,
        business_code: &str,
        created: CreatedClient,
    ) -> Result<CreatedClient> {
        let expires = created.token_expires_at.map(|t| clamp_timestamp(t).timestamp_millis());
        let mut delay = Duration::from_millis(50);
        let mut attempts: u32 = 0;
        loop {
            attempts = attempts.saturating_add(1);
            let saved = self
                .put(
                    &created.client_id,
                    &created.customer_code,
                    &created.payment_reference_prefix,
                    &created.access_token,
                    expires,
                    EventKind::Created,
                    None,
                    &created_detail(business_code),
                )
                .await;
            match saved {
                Ok(_) => break,
                Err(e) if attempts < 12 => {
                    tracing::warn!(target: "confirma", client_id = %created.client_id, code = %e.kind().code(), "the created client's credentials cannot be saved yet: {e}");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2).min(Duration::from_secs(2));
                }
                Err(e) => {
                    // Never drop the only token: hand it back in the error (the pending record stays and
                    // becomes ambiguous after its lease; the next create finds the client exists).
                    let message = format!(
                        "CFIS created the client (client id {}, customer code {}) but its credentials could not be saved in {}: {e}. Its access token is in this error's recovered token: store it now (import it once the store works). Do not create the client again (409 Conflict)",
                        created.client_id,
                        created.customer_code,
                        self.inner.store.describe()
                    );
                    let meta = ResponseMeta { status: Some(201), request_id: None };
                    return Err(Error::OutcomeUnknown {
                        operation: Operation::CreateClient,
                        message: message.clone(),
                        cause: Box::new(Error::UnexpectedResponse {
                            message,
                            body_excerpt: String::new(),
                            meta: meta.clone(),
                            recovered_token: Some(Box::new(created.access_token.clone())),
                            raw_response: None,
                        }),
                        meta,
                    });
                }
            }
        }
        if let Err(e) = self.remove_pending(claimed, &format!("created client {}", created.client_id)).await {
            // The credentials are committed; a leftover pending record is resolved by the next create
            // of this business code (which finds the committed credentials).
            tracing::warn!(target: "confirma", client_id = %created.client_id, "the pending-create record could not be removed: {e}");
        }
        Ok(created)
    }

    /// Removes the pending record of `claimed`'s attempt (not a later one), with a `create_finished` event.
    async fn remove_pending(&self, claimed: &CredentialRecord, why: &str) -> Result<()> {
        let key = claimed.key();
        let fence = claimed.fence;
        for _ in 0..16 {
            let Some(latest) = self.inner.store.load(&key).await? else { return Ok(()) };
            if latest.attempt.as_ref().map(|a| a.fence) != Some(fence) {
                return Ok(()); // another instance took it over
            }
            let ev = self.event(&latest, EventKind::CreateFinished, why);
            if self.inner.store.delete(&key, latest.revision, std::slice::from_ref(&ev)).await? {
                self.publish(&[ev]);
                return Ok(());
            }
        }
        Err(Error::storage("the pending create could not be removed under contention", true))
    }

    /// Ends `claimed`'s attempt leaving the pending record in `state` (ambiguous or lost), with its reason.
    async fn end_pending(
        &self,
        claimed: &CredentialRecord,
        state: CredentialState,
        kind: EventKind,
        why: &str,
    ) -> Result<()> {
        let key = claimed.key();
        let fence = claimed.fence;
        for _ in 0..16 {
            let Some(latest) = self.inner.store.load(&key).await? else { return Ok(()) };
            if latest.attempt.as_ref().map(|a| a.fence) != Some(fence) {
                return Ok(());
            }
            let mut next = latest.clone();
            next.revision = latest.revision.saturating_add(1);
            next.state = state;
            next.attempt = None;
            next.last_error = Some(why.to_string());
            next.updated_at = self.now();
            let mut ev = self.event(&next, kind, why);
            ev.attempt_id = latest.attempt.as_ref().map(|a| a.id.clone());
            if self.cas(&latest, &next, vec![ev]).await? {
                return Ok(());
            }
        }
        Err(Error::storage("the pending create could not be updated under contention", true))
    }

    /// Removes the pending-create record of `business_code` once it has been dealt with (a `lost` create whose
    /// client's token was obtained from Confirma Finance support and imported, or a create abandoned for
    /// good). Refused while a create of it is in flight (a live lease). `false` if there is none.
    pub async fn discard_pending_create(&self, business_code: &str) -> Result<bool> {
        let key = self.key(&format!("{PENDING_CREATE_PREFIX}{}", business_code.trim()));
        for _ in 0..16 {
            let Some(r) = self.inner.store.load(&key).await? else { return Ok(false) };
            if r.state == CredentialState::Creating
                && r.attempt.as_ref().is_some_and(|a| self.now() < a.lease_expires_at)
            {
                return Err(Error::Conflict {
                    message: format!(
                        "a create of business code {} is in flight; it cannot be discarded now",
                        business_code.trim()
                    ),
                    meta: ResponseMeta::default(),
                });
            }
            let ev = self.event(&r, EventKind::CreateFinished, format!("discarded while {}", r.state));
            if self.inner.store.delete(&key, r.revision, std::slice::from_ref(&ev)).await? {
                self.publish(&[ev]);
                return Ok(true);
            }
        }
        Err(Error::storage("the pending create could not be discarded under contention", true))
    }

    /// The client id whose credentials a create of `business_code` committed, if a record of it is still
    /// stored (found through its `created` event).
    async fn created_by_business_code(&self, business_code: &str) -> Result<Option<String>> {
        let detail = created_detail(business_code);
        let mut after = 0u64;
        let mut found = None;
        loop {
            let page = self.inner.store.events(None, after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for e in &page {
                if e.kind == EventKind::Created
                    && e.environment == self.inner.environment
                    && (e.detail == detail || e.detail.starts_with(&format!("{detail};")))
                {
                    found = Some(e.client_id.clone());
                }
            }
        }
        match found {
            Some(id) if self.inner.store.load(&self.key(&id)).await?.is_some() => Ok(Some(id)),
            _ => Ok(None),
        }
    }

    // -----------------------------------------------------------------------------------------------
    // The rotation protocol

    /// Claim → call → commit, for an `active` record. `Ok(None)`: the claim lost a race (re-read and
    /// decide again). `Ok(Some(record))`: the record after the attempt (rotated, or reconciled).
    async fn rotate(&self, r: CredentialRecord) -> Result<Option<CredentialRecord>> {
        let old = self.open(&r)?;
        let Some(claimed) = self.claim(&r, "renewal").await? else { return Ok(None) };
        let span = tracing::info_span!(
            target: "confirma", "renew", client_id = %r.client_id,
            attempt = claimed.attempt.as_ref().map(|a| a.id.as_str()).unwrap_or(""),
            fingerprint = %r.fingerprint
        );
        let result = self.inner.client.renew_token(&old).instrument(span).await;
        match result {
            Ok(renewed) => self.commit(&claimed, renewed, EventKind::Rotated, "").await.map(Some),
            Err(e) if e.kind() == ErrorKind::OutcomeUnknown => {
                let amb = self.mark_ambiguous(claimed, e.kind().code().as_str()).await?;
                self.reconcile_record(amb).await.map(Some)
            }
            Err(e) => {
                self.release(&claimed, &e).await?;
                Err(e)
            }
        }
    }

    /// Writes the intent: `renewing`, a new attempt, lease and fence. `None` if another write came first.
    async fn claim(&self, r: &CredentialRecord, why: &str) -> Result<Option<CredentialRecord>> {
        let now = self.now();
        let fence = r.fence.saturating_add(1);
        let mut claimed = r.clone();
        claimed.revision = r.revision.saturating_add(1);
        claimed.state = CredentialState::Renewing;
        claimed.fence = fence;
        claimed.attempt = Some(RenewalAttempt {
            id: random_id(),
            owner: self.inner.owner.clone(),
            lease_expires_at: now.saturating_add(ms(self.inner.lease)),
            fence,
        });
        claimed.updated_at = now;
        let ev = self.event(&claimed, EventKind::RenewStarted, why);
        Ok(self.cas(r, &claimed, vec![ev]).await?.then_some(claimed))
    }

    /// A definite failure (nothing rotated): back to `active`, counted, backed off.
    async fn release(&self, claimed: &CredentialRecord, e: &Error) -> Result<()> {
        let fence = claimed.fence;
        for _ in 0..16 {
            let latest = self.load(&claimed.client_id).await?;
            if latest.attempt.as_ref().map(|a| a.fence) != Some(fence) {
                return Ok(()); // someone else has moved on
            }
            let mut next = latest.clone();
            next.revision = latest.revision.saturating_add(1);
            next.state = CredentialState::Active;
            next.attempt = None;
            next.consecutive_failures = latest.consecutive_failures.saturating_add(1);
            next.last_error = Some(e.kind().code());
            next.next_renew_at = Some(self.now().saturating_add(self.backoff(next.consecutive_failures)));
            next.updated_at = self.now();
            let ev = self.event(&next, EventKind::RenewFailed, e.kind().code());
            if self.cas(&latest, &next, vec![ev]).await? {
                return Ok(());
            }
        }
        Err(Error::storage("could not record the failed renewal under contention", true))
    }

    async fn mark_ambiguous(&self, r: CredentialRecord, why: &str) -> Result<CredentialRecord> {
        let mut next = r.clone();
        next.revision = r.revision.saturating_add(1);
        next.state = CredentialState::Ambiguous;
        next.last_error = Some(why.to_string());
        next.updated_at = self.now();
        let ev = self.event(&next, EventKind::Ambiguous, why);
        if self.cas(&r, &next, vec![ev]).await? {
            Ok(next)
        } else {
            self.load(&r.client_id).await
        }
    }

    /// Persists a new token. Under the claim's fence normally; if the lease was lost meanwhile, the new
    /// token is persisted all the same (it is the only one known valid), unless another instance committed
    /// a newer token that the service accepts.
    async fn commit(
        &self,
        claimed: &CredentialRecord,
        renewed: RenewedToken,
        kind: EventKind,
        detail: &str,
    ) -> Result<CredentialRecord> {
        let key = claimed.key();
        let sealed = self.inner.sealer.seal(&key, &renewed.access_token)?;
        let fingerprint = self.inner.sealer.fingerprint(&renewed.access_token);
        let expires_at = renewed.expires_at.map(|t| clamp_timestamp(t).timestamp_millis());
        let fence = claimed.fence;
        let mut delay = Duration::from_millis(50);
        let mut attempts: u32 = 0;
        loop {
            attempts = attempts.saturating_add(1);
            let latest = match self.inner.store.load(&key).await {
                Ok(Some(l)) => l,
                Ok(None) => {
                    return Err(Error::storage(format!("the record of {key} disappeared during a renewal"), false))
                }
                Err(e) => {
                    // The store is down with a new token in hand: never drop it. Keep trying for the lease's
                    // length; then keep it in memory and report.
                    if attempts > 40 {
                        tracing::error!(target: "confirma", client_id = %key.client_id, fingerprint = %fingerprint, "the renewed token cannot be persisted: {e}");
                        return Err(e.into());
                    }
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2).min(Duration::from_secs(2));
                    continue;
                }
            };
            let ours = latest.attempt.as_ref().map(|a| a.fence) == Some(fence);
            if !ours && latest.token_version > claimed.token_version && latest.state == CredentialState::Active {
                // Another instance committed a newer token meanwhile. Keep the one the service accepts.
                let theirs = self.open(&latest)?;
                if matches!(self.inner.client.validate_token(&theirs).await, Ok(s) if s.is_valid) {
                    return Ok(latest);
                }
            }
            let now = self.now();
            let mut next = latest.clone();
            next.revision = latest.revision.saturating_add(1);
            next.sealed_token = sealed.clone();
            next.fingerprint = fingerprint.clone();
            next.token_version = latest.token_version.max(claimed.token_version).saturating_add(1);
            next.issued_at = Some(now);
            next.expires_at = expires_at;
            next.next_renew_at = Some(self.schedule(now, expires_at));
            next.state = CredentialState::Active;
            next.attempt = None;
            next.previous_sealed_token = Some(claimed.sealed_token.clone());
            next.previous_fingerprint = Some(claimed.fingerprint.clone());
            next.consecutive_failures = 0;
            next.last_error = None;
            next.last_validated_at = Some(now);
            next.updated_at = now;
            let mut events = Vec::new();
            if !ours {
                let mut ev = self.event(
                    &next,
                    EventKind::Reconciled,
                    "the lease was lost during the renewal; its new token was committed all the same",
                );
                ev.attempt_id = claimed.attempt.as_ref().map(|a| a.id.clone());
                events.push(ev);
            }
            let mut ev = self.event(&next, kind, detail);
            ev.attempt_id = claimed.attempt.as_ref().map(|a| a.id.clone());
            events.push(ev);
            match self.cas(&latest, &next, events).await {
                Ok(true) => return Ok(next),
                Ok(false) => continue,
                Err(e) => {
                    if attempts > 40 {
                        return Err(e);
                    }
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Resolves an `ambiguous` record (see the module docs). Returns the record afterwards; `Err` when
    /// it stays unresolved (the service could not be asked) or the credentials are lost.
    async fn reconcile_record(&self, r: CredentialRecord) -> Result<CredentialRecord> {
        // Another instance may have resolved it already.
        let latest = self.load(&r.client_id).await?;
        if latest.state != CredentialState::Ambiguous && latest.revision != r.revision {
            return Ok(latest);
        }
        let r = latest;
        let old = self.open(&r)?;
        let status = self.inner.client.validate_token(&old).await?;
        if !status.is_valid && !status.expired {
            return self
                .lose(r, "a renewal's answer was lost: the old token was rotated and the new one never arrived")
                .await;
        }
        // The old token is still known: renew it again under a new lease.
        let Some(claimed) = self.claim(&r, "reconciliation").await? else {
            return self.load(&r.client_id).await;
        };
        match self.inner.client.renew_token(&old).await {
            Ok(renewed) => self.commit(&claimed, renewed, EventKind::Reconciled, "renewed the old token again").await,
            Err(e) if e.kind() == ErrorKind::Authentication => {
                // "Already renewed": the rotation happened and its answer is gone. The old token keeps
                // working for the service's grace period: serve it while it does, and say lost loudly.
                self.lose(claimed, "the token was already renewed by a renewal whose answer was lost; the old token works only until the service's grace period ends")
                    .await
            }
            Err(e) if e.kind() == ErrorKind::OutcomeUnknown => {
                self.mark_ambiguous(claimed, e.kind().code().as_str()).await?;
                Err(e)
            }
            Err(e) => {
                self.mark_ambiguous(claimed, e.kind().code().as_str()).await?;
                Err(e)
            }
        }
    }

    async fn lose(&self, r: CredentialRecord, why: &str) -> Result<CredentialRecord> {
        let mut next = r.clone();
        next.revision = r.revision.saturating_add(1);
        next.state = CredentialState::Lost;
        next.attempt = None;
        next.last_error = Some(why.to_string());
        next.updated_at = self.now();
        let ev = self.event(&next, EventKind::Lost, why);
        if self.cas(&r, &next, vec![ev]).await? {
            Ok(next)
        } else {
            self.load(&r.client_id).await
        }
    }

    /// A `lost` record whose old token the service may still accept (grace period): serve it while it does.
    async fn recheck_lost(&self, entry: &Arc<Entry>, r: CredentialRecord) -> Result<Cached> {
        let token = self.open(&r)?;
        let still = matches!(self.inner.client.validate_token(&token).await, Ok(s) if s.is_valid);
        let mut c = self.cache(entry, &r, token);
        if still {
            c.lost_recheck_at = Some(self.now().saturating_add(60_000));
            *entry.cached.write().unwrap_or_else(|p| p.into_inner()) = Some(c.clone());
            tracing::error!(target: "confirma", client_id = %r.client_id, "serving a token of lost credentials while the service still accepts it");
            return Ok(c);
        }
        Err(self.lost_error(&r.client_id, r.last_error.as_deref().unwrap_or("the credentials are lost")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_bounds() {
        for _ in 0..1000 {
            let at = jittered(1_000, 10_000, 0.1, None);
            assert!((10_000..=12_000).contains(&at), "{at}");
            let capped = jittered(1_000, 10_000, 0.1, Some(10_500));
            assert!(capped <= 10_500);
        }
        let spread: std::collections::HashSet<i64> = (0..100).map(|_| jittered(0, 100_000, 0.1, None)).collect();
        assert!(spread.len() > 50, "jittered");
    }
}
