//! Credential persistence (feature `store`): the [`CredentialStore`] trait, its implementations
//! ([`MemoryStore`], [`SqliteStore`] with feature `sqlite`, `PostgresStore` with feature `postgres`), encryption at rest ([`StoreKey`], [`Sealer`]) and
//! the [`conformance`] suite every implementation runs.
//!
//! # The model
//! One [`CredentialRecord`] per `(environment, client_id)`, plus an append-only log of [`CredentialEvent`]s.
//! A record's token is stored **sealed** (AES-256-GCM under the application's key, bound to the record's
//! environment and client id), with a short keyed [fingerprint](Sealer::fingerprint) — the only form of a
//! token that is ever logged or shown.
//!
//! # Concurrency: compare-and-set on a revision
//! Every write names the revision it read ([`CredentialStore::compare_and_swap`]): the write happens only if
//! the stored record still has that revision, atomically with the events that describe it. That is the one
//! primitive the rotation protocol needs (claim a lease, commit a new token under a fence, reconcile), and it
//! is what makes a store safe for many processes (SQLite: a `BEGIN IMMEDIATE` transaction) and many hosts
//! (PostgreSQL: a conditional `UPDATE`, which takes the row lock; no session-level advisory locks, so it works
//! behind PgBouncer's transaction pooling). All policy (leases, fences, states) lives in the token manager,
//! once; a store only stores — which is also what lets partners write a store over their own database.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

mod crypto;
pub mod foreign;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

pub mod conformance;

pub use crypto::{Sealer, StoreKey, KEY_ENV, PREVIOUS_KEYS_ENV};
pub use foreign::{foreign_store, EventRow, RowFuture, RowStore, RowStoreError, StoreRow};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// The future every store method returns (boxed, so that `dyn CredentialStore` works and partners can
/// implement the trait from other languages).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be reached or failed (retryable).
    #[error("credential store unavailable: {0}")]
    Unavailable(String),
    /// The stored data cannot be read (corrupt, or written by an incompatible version).
    #[error("credential store holds unreadable data: {0}")]
    Corrupt(String),
    /// A token cannot be sealed or opened (no key, a wrong key, tampered ciphertext).
    #[error("credential store encryption: {0}")]
    Crypto(String),
    /// The store was used wrongly (a bad path or URL, plaintext not allowed, a record too large).
    #[error("credential store misconfigured: {0}")]
    Configuration(String),
}

/// Which record: the environment (`staging`, `production`, or the base URL of a custom one) and the
/// CFIS client id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialKey {
    /// `staging`, `production`, or a custom base URL.
    pub environment: String,
    /// The CFIS client id.
    pub client_id: String,
}

impl CredentialKey {
    /// A key.
    pub fn new(environment: impl Into<String>, client_id: impl Into<String>) -> Self {
        CredentialKey { environment: environment.into(), client_id: client_id.into() }
    }
}

impl fmt::Display for CredentialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.environment, self.client_id)
    }
}

/// Where a record is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialState {
    /// The token is usable.
    Active,
    /// A renewal was claimed and its intent written: a renew call may be in flight.
    Renewing,
    /// A renew call may or may not have rotated the token (timeout, reset, crash): to be reconciled.
    Ambiguous,
    /// The token was rotated and the new one is gone: the client needs a new token (Confirma support /
    /// re-provisioning). Never served silently.
    Lost,
    /// A pending create ([`PENDING_CREATE_PREFIX`]): the create request is (or may be) in flight under the
    /// record's attempt and lease.
    Creating,
}

impl CredentialState {
    /// `active`, `renewing`, `ambiguous`, `lost`, `creating`.
    pub fn as_str(&self) -> &'static str {
        match self {
            CredentialState::Active => "active",
            CredentialState::Renewing => "renewing",
            CredentialState::Ambiguous => "ambiguous",
            CredentialState::Lost => "lost",
            CredentialState::Creating => "creating",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s names.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(CredentialState::Active),
            "renewing" => Some(CredentialState::Renewing),
            "ambiguous" => Some(CredentialState::Ambiguous),
            "lost" => Some(CredentialState::Lost),
            "creating" => Some(CredentialState::Creating),
            _ => None,
        }
    }
}

impl fmt::Display for CredentialState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The renewal in progress: who holds the lease, until when, under which fence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalAttempt {
    /// A random id, logged with every event of the attempt.
    pub id: String,
    /// The instance holding the lease (host, process, manager).
    pub owner: String,
    /// The lease ends then (epoch ms); after it, another instance may take over (and reconcile).
    pub lease_expires_at: i64,
    /// The fencing counter of this claim: a commit carries it, and a store write of an older fence is
    /// refused by the protocol.
    pub fence: u64,
}

/// One client's credentials as stored. Times are epoch milliseconds.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialRecord {
    /// `staging`, `production`, or a custom base URL.
    pub environment: String,
    /// The CFIS client id.
    pub client_id: String,
    /// The Confirma Finance customer code.
    pub customer_code: String,
    /// The client's payment reference prefix.
    pub payment_reference_prefix: String,
    /// The access token, sealed ([`Sealer::seal`]).
    pub sealed_token: Vec<u8>,
    /// The token's fingerprint ([`Sealer::fingerprint`]).
    pub fingerprint: String,
    /// How many rotations this credential has been through (1 for the token from create or import).
    pub token_version: u64,
    /// The record's revision: every write increments it by one (compare-and-set).
    pub revision: u64,
    /// When the current token was issued (received).
    pub issued_at: Option<i64>,
    /// When the current token expires, if the service said. Never invented.
    pub expires_at: Option<i64>,
    /// When to renew next (jittered once, persisted, so restarts and fleets do not renew in lock-step).
    pub next_renew_at: Option<i64>,
    /// The state.
    pub state: CredentialState,
    /// The renewal in progress (while `renewing` or `ambiguous`).
    pub attempt: Option<RenewalAttempt>,
    /// The last fence issued for this record.
    pub fence: u64,
    /// The token before the current one, kept until the current one is known durable and working.
    pub previous_sealed_token: Option<Vec<u8>>,
    /// The previous token's fingerprint.
    pub previous_fingerprint: Option<String>,
    /// When the token was last validated with the service (fleet-wide rate limit for start-up validation).
    pub last_validated_at: Option<i64>,
    /// Failed renewals in a row.
    pub consecutive_failures: u32,
    /// The class of the last failure (an error code such as `CONFIRMA_TIMEOUT`), never its text.
    pub last_error: Option<String>,
    /// When the record was last written.
    pub updated_at: i64,
}

impl CredentialRecord {
    /// A new pending-create record (state `creating`, revision 1, no token) for `key`, under `attempt`.
    pub fn pending_create(key: &CredentialKey, attempt: RenewalAttempt, now: i64) -> Self {
        CredentialRecord {
            environment: key.environment.clone(),
            client_id: key.client_id.clone(),
            customer_code: String::new(),
            payment_reference_prefix: String::new(),
            sealed_token: Vec::new(),
            fingerprint: String::new(),
            token_version: 0,
            revision: 1,
            issued_at: None,
            expires_at: None,
            next_renew_at: None,
            state: CredentialState::Creating,
            fence: attempt.fence,
            attempt: Some(attempt),
            previous_sealed_token: None,
            previous_fingerprint: None,
            last_validated_at: None,
            consecutive_failures: 0,
            last_error: None,
            updated_at: now,
        }
    }

    /// The record's key.
    pub fn key(&self) -> CredentialKey {
        CredentialKey::new(self.environment.clone(), self.client_id.clone())
    }

    /// For a pending-create record (its client id starts with [`PENDING_CREATE_PREFIX`]): the business code
    /// being created. Such a record has no token (empty sealed token and fingerprint).
    pub fn pending_business_code(&self) -> Option<&str> {
        pending_business_code(&self.client_id)
    }
}

/// The client-id prefix of a pending-create record: `pending-create:<normalised business code>`. Written
/// before a create request is sent, removed once the created client's credentials are committed; left
/// `ambiguous` (or `lost`) when the create's outcome is unknown. Never a CFIS client id.
pub const PENDING_CREATE_PREFIX: &str = "pending-create:";

/// The business code of a pending-create record's client id, if it is one.
pub fn pending_business_code(client_id: &str) -> Option<&str> {
    client_id.strip_prefix(PENDING_CREATE_PREFIX)
}

impl fmt::Debug for CredentialRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialRecord")
            .field("environment", &self.environment)
            .field("client_id", &self.client_id)
            .field("fingerprint", &self.fingerprint)
            .field("token_version", &self.token_version)
            .field("revision", &self.revision)
            .field("state", &self.state)
            .field("attempt", &self.attempt)
            .field("fence", &self.fence)
            .field("expires_at", &self.expires_at)
            .field("next_renew_at", &self.next_renew_at)
            .field("consecutive_failures", &self.consecutive_failures)
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

/// What happened to a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Credentials saved by a create.
    Created,
    /// Credentials imported (an existing token).
    Imported,
    /// The token was validated with the service.
    Validated,
    /// A renewal was claimed and its intent written.
    RenewStarted,
    /// A new token was committed.
    Rotated,
    /// A renewal failed without rotating (the old token still works).
    RenewFailed,
    /// A renewal's outcome is unknown.
    Ambiguous,
    /// An ambiguous renewal was resolved (the record is usable again).
    Reconciled,
    /// The token was rotated and the new one is gone.
    Lost,
    /// A create was recorded (a pending-create record) before its request was sent.
    CreateStarted,
    /// A pending create ended (created and committed, or failed without creating) and its record was
    /// removed.
    CreateFinished,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 11] = [
        EventKind::Created,
        EventKind::Imported,
        EventKind::Validated,
        EventKind::RenewStarted,
        EventKind::Rotated,
        EventKind::RenewFailed,
        EventKind::Ambiguous,
        EventKind::Reconciled,
        EventKind::Lost,
        EventKind::CreateStarted,
        EventKind::CreateFinished,
    ];

    /// snake_case name (`renew_started`).
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Imported => "imported",
            EventKind::Validated => "validated",
            EventKind::RenewStarted => "renew_started",
            EventKind::Rotated => "rotated",
            EventKind::RenewFailed => "renew_failed",
            EventKind::Ambiguous => "ambiguous",
            EventKind::Reconciled => "reconciled",
            EventKind::Lost => "lost",
            EventKind::CreateStarted => "create_started",
            EventKind::CreateFinished => "create_finished",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s names.
    pub fn parse(s: &str) -> Option<Self> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the append-only event log. Carries fingerprints, never tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialEvent {
    /// Assigned by the store on append (increasing); 0 before.
    pub seq: u64,
    /// When (epoch ms).
    pub at: i64,
    /// The environment.
    pub environment: String,
    /// The client id.
    pub client_id: String,
    /// What happened.
    pub kind: EventKind,
    /// The token version after the event.
    pub token_version: u64,
    /// The fingerprint of the token concerned.
    pub fingerprint: String,
    /// The renewal attempt, if any.
    pub attempt_id: Option<String>,
    /// The instance that wrote it.
    pub owner: String,
    /// A short description (an error code, the reconciliation's reasoning). Never a token.
    pub detail: String,
}

/// Persistence of credentials. Implementations only store: every decision is the token manager's.
///
/// Contract (checked by [`conformance::run`]):
/// - [`insert`](Self::insert) creates a record (revision 1) unless one exists for its key;
/// - [`compare_and_swap`](Self::compare_and_swap) replaces the record iff its stored revision equals
///   `expected_revision`; the new record's revision must be `expected_revision + 1`;
/// - [`delete`](Self::delete) removes the record iff its stored revision equals `expected_revision`;
/// - the events given to `insert`/`compare_and_swap`/`delete` are appended in the same atomic write, or not at all;
/// - everything written is durable when the future resolves `Ok` (a crash afterwards loses nothing);
/// - concurrent writers (threads, processes, hosts) are serialised: exactly one of several
///   `compare_and_swap`s naming the same revision succeeds.
pub trait CredentialStore: Send + Sync {
    /// The record for `key`, if any.
    fn load<'a>(&'a self, key: &'a CredentialKey) -> StoreFuture<'a, Option<CredentialRecord>>;

    /// Creates the record (its revision must be 1) with its events; `false` if a record exists for its key.
    fn insert<'a>(&'a self, record: &'a CredentialRecord, events: &'a [CredentialEvent]) -> StoreFuture<'a, bool>;

    /// Replaces the record iff its stored revision is `expected_revision`, with its events; `false` if the
    /// stored revision differs (or the record is gone).
    fn compare_and_swap<'a>(
        &'a self,
        expected_revision: u64,
        record: &'a CredentialRecord,
        events: &'a [CredentialEvent],
    ) -> StoreFuture<'a, bool>;

    /// Removes the record for `key` iff its stored revision is `expected_revision`, appending `events` in the
    /// same atomic write; `false` (and no events) if the stored revision differs or there is no record.
    fn delete<'a>(
        &'a self,
        key: &'a CredentialKey,
        expected_revision: u64,
        events: &'a [CredentialEvent],
    ) -> StoreFuture<'a, bool>;

    /// Every record, or those of one environment.
    fn list<'a>(&'a self, environment: Option<&'a str>) -> StoreFuture<'a, Vec<CredentialRecord>>;

    /// Events with `seq > after_seq`, oldest first, at most `limit`, of one record or of all.
    fn events<'a>(
        &'a self,
        key: Option<&'a CredentialKey>,
        after_seq: u64,
        limit: u32,
    ) -> StoreFuture<'a, Vec<CredentialEvent>>;

    /// A description for logs (`sqlite:/var/lib/app/credentials.db`), never a password.
    fn describe(&self) -> String;
}

impl From<StoreError> for crate::Error {
    fn from(e: StoreError) -> Self {
        let retryable = matches!(e, StoreError::Unavailable(_));
        crate::Error::storage(e.to_string(), retryable)
    }
}

/// The default store location of the CLI and the examples.
pub const DEFAULT_STORE_URL: &str = "sqlite:./confirma-credentials.db";

/// Opens a store from a URL: `sqlite:PATH` (a file; created if needed), `memory:` (this process only),
/// or `postgres://…` / `postgresql://…` (feature `postgres`). A URL's password never appears in errors or
/// [`CredentialStore::describe`].
pub async fn open_store(url: &str) -> Result<std::sync::Arc<dyn CredentialStore>, StoreError> {
    let url = url.trim();
    if url == "memory:" || url == "memory" {
        return Ok(std::sync::Arc::new(MemoryStore::new()));
    }
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err(StoreError::Configuration("sqlite: needs a file path (sqlite:./credentials.db)".into()));
        }
        #[cfg(feature = "sqlite")]
        return Ok(std::sync::Arc::new(SqliteStore::open(path)?));
        #[cfg(not(feature = "sqlite"))]
        return Err(StoreError::Configuration("this build has no SQLite store (feature `sqlite`)".into()));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return open_postgres(url).await;
    }
    Err(StoreError::Configuration("unknown store URL: expected sqlite:PATH, postgres://… or memory:".into()))
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str) -> Result<std::sync::Arc<dyn CredentialStore>, StoreError> {
    Ok(std::sync::Arc::new(PostgresStore::connect(url).await?))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(_url: &str) -> Result<std::sync::Arc<dyn CredentialStore>, StoreError> {
    Err(StoreError::Configuration("this build has no PostgreSQL store (feature `postgres`)".into()))
}

/// Now, in epoch milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
