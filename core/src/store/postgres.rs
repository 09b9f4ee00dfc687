//! [`PostgresStore`]: credentials in PostgreSQL, for partners running many instances on many hosts.
//!
//! - **A pool** (deadpool) of tokio-postgres connections; every statement is runtime-checked SQL sent with
//!   explicit parameter types as an *unnamed* statement (`query_typed`): no build-time database, no named
//!   prepared statements, so it also works behind PgBouncer in transaction pooling mode.
//! - **Migrations** are applied by the store on connect, inside one transaction that first takes a
//!   *transaction-scoped* advisory lock (`pg_advisory_xact_lock`): several processes connecting at once apply
//!   each migration exactly once, and the lock cannot leak (it ends with the transaction — session-level
//!   advisory locks are never used, they leak under PgBouncer's transaction pooling). The applied versions
//!   are rows of `confirma_schema_version`; a database migrated by a newer SDK is refused clearly.
//! - **Writes**: [`insert`](CredentialStore::insert) is `INSERT … ON CONFLICT DO NOTHING`,
//!   [`compare_and_swap`](CredentialStore::compare_and_swap) a conditional `UPDATE … WHERE revision = $n`,
//!   each with its events in the same transaction. The `UPDATE` takes the row lock, so writers on every host
//!   are serialised; under `READ COMMITTED` a writer that waited re-checks the revision and writes nothing
//!   if another one won. Events take a short transaction-scoped lock before their sequence numbers are drawn,
//!   so sequence order is commit order and a reader paging with `after_seq` never skips one.
//! - Counters (`u64`) are stored as `BIGINT`, converted with checks both ways: a value out of range in the
//!   database reads as [`StoreError::Corrupt`], never a panic.
//! - Durability: a write resolves `Ok` after `COMMIT`, which PostgreSQL makes durable (with the default
//!   `synchronous_commit = on`).
//!
//! Connection failures are [`StoreError::Unavailable`] (retryable); refused credentials, a missing privilege
//! or database are [`StoreError::Configuration`] (retrying cannot help). [`describe`](CredentialStore::describe) and every
//! error show the server as `postgres://user@host:port/db`, never a password.
//!
//! **TLS** (rustls, like the HTTP client): `sslmode=require` (or `verify-ca` / `verify-full`, the same here)
//! connects over TLS and **always verifies** the server's certificate and host name — against the system's
//! trust store plus the CA certificates of `sslrootcert=/path/to/ca.pem` (a PEM file; for managed services
//! such as Amazon RDS or Azure Database, their CA bundle). Unlike libpq, `require` never accepts an unverified
//! certificate. Without `sslmode` (libpq's `prefer`) or with `sslmode=disable`, the connection is plain: use
//! that only over a trusted network or a local socket.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::config::Host;
use tokio_postgres::config::SslMode;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{NoTls, Row};

use super::{
    CredentialEvent, CredentialKey, CredentialRecord, CredentialState, CredentialStore, EventKind, RenewalAttempt,
    StoreError, StoreFuture,
};

/// The schema version this SDK writes.
const SCHEMA_VERSION: i32 = 1;

/// The migrations, in order: `(version, SQL)`. Each runs once, in the migration transaction.
const MIGRATIONS: [(i32, &str); 1] = [(
    1,
    "
CREATE TABLE IF NOT EXISTS confirma_credentials (
    environment TEXT NOT NULL,
    client_id TEXT NOT NULL,
    customer_code TEXT NOT NULL,
    payment_reference_prefix TEXT NOT NULL,
    sealed_token BYTEA NOT NULL,
    fingerprint TEXT NOT NULL,
    token_version BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    issued_at BIGINT,
    expires_at BIGINT,
    next_renew_at BIGINT,
    state TEXT NOT NULL,
    attempt_id TEXT,
    attempt_owner TEXT,
    attempt_lease_expires_at BIGINT,
    attempt_fence BIGINT,
    fence BIGINT NOT NULL,
    previous_sealed_token BYTEA,
    previous_fingerprint TEXT,
    last_validated_at BIGINT,
    consecutive_failures BIGINT NOT NULL,
    last_error TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (environment, client_id)
);
CREATE TABLE IF NOT EXISTS confirma_credential_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    environment TEXT NOT NULL,
    client_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    token_version BIGINT NOT NULL,
    fingerprint TEXT NOT NULL,
    attempt_id TEXT,
    owner TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS confirma_credential_events_by_key
    ON confirma_credential_events (environment, client_id, seq);
",
)];

/// The transaction-scoped advisory lock that serialises migrations (`confirma` + 1).
const MIGRATION_LOCK: i64 = 0x636f_6e66_6972_6d01;
/// The transaction-scoped advisory lock taken before events are appended (`confirma` + 2).
const EVENTS_LOCK: i64 = 0x636f_6e66_6972_6d02;

const COLUMNS: &str = "environment, client_id, customer_code, payment_reference_prefix, sealed_token, fingerprint, \
token_version, revision, issued_at, expires_at, next_renew_at, state, attempt_id, attempt_owner, \
attempt_lease_expires_at, attempt_fence, fence, previous_sealed_token, previous_fingerprint, last_validated_at, \
consecutive_failures, last_error, updated_at";

/// The parameter types of a record's 23 columns, in [`COLUMNS`] order.
const RECORD_TYPES: [Type; 23] = [
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::BYTEA,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::BYTEA,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::INT8,
];

/// The default number of pooled connections.
const DEFAULT_POOL_SIZE: usize = 8;

/// Credentials in a PostgreSQL database, shared by any number of processes and hosts.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    described: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresStore({})", self.described)
    }
}

/// `postgres://user@host:port/db`, from a parsed configuration: never a password.
fn describe_config(config: &tokio_postgres::Config) -> String {
    let user = config.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            };
            match ports.get(i).or(if ports.len() == 1 { ports.first() } else { None }) {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect();
    let db = config.get_dbname().unwrap_or_default();
    format!("postgres://{user}{}/{db}", hosts.join(","))
}

/// The TLS settings of a DSN that tokio-postgres does not parse itself (`sslrootcert`, `sslmode=verify-ca` /
/// `verify-full`), taken out of it.
struct TlsOptions {
    /// The DSN without them.
    dsn: String,
    /// `sslmode=verify-ca` / `verify-full` was given.
    verify: bool,
    /// The `sslrootcert` file.
    root_cert: Option<std::path::PathBuf>,
}

impl TlsOptions {
    fn take(dsn: &str) -> Result<Self, StoreError> {
        let mut out = TlsOptions { dsn: String::new(), verify: false, root_cert: None };
        let mut take = |key: &str, value: &str| -> bool {
            match key {
                "sslrootcert" => {
                    out.root_cert = Some(value.into());
                    true
                }
                "sslmode" if value == "verify-ca" || value == "verify-full" => {
                    out.verify = true;
                    true
                }
                _ => false,
            }
        };
        if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
            let Some((base, query)) = dsn.split_once('?') else {
                out.dsn = dsn.to_string();
                return Ok(out);
            };
            let mut kept = url::form_urlencoded::Serializer::new(String::new());
            let mut any = false;
            for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
                if !take(&k, &v) {
                    kept.append_pair(&k, &v);
                    any = true;
                }
            }
            let kept = kept.finish();
            out.dsn = if any { format!("{base}?{kept}") } else { base.to_string() };
        } else {
            // libpq's key=value form (values of these two keys without spaces or quotes).
            let kept: Vec<&str> = dsn
                .split_whitespace()
                .filter(|part| part.split_once('=').is_none_or(|(k, v)| !take(k.trim(), v.trim())))
                .collect();
            out.dsn = kept.join(" ");
        }
        Ok(out)
    }

    /// A rustls connector that verifies the server against the system's trust store plus `sslrootcert`.
    fn connector(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::CertificateDer;
        let bad = |why: String| StoreError::Configuration(format!("PostgreSQL TLS: {why}"));
        let mut extra = Vec::new();
        if let Some(path) = &self.root_cert {
            let pem =
                std::fs::read(path).map_err(|e| bad(format!("cannot read sslrootcert {}: {e}", path.display())))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                extra.push(cert.map_err(|e| bad(format!("sslrootcert {} is not PEM: {e}", path.display())))?);
            }
            if extra.is_empty() {
                return Err(bad(format!("no certificate in sslrootcert {}", path.display())));
            }
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
            .map_err(|e| bad(format!("cannot load the trust store: {e}")))?;
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(std::sync::Arc::new(verifier))
            .with_no_client_auth();
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
    }
}

impl PostgresStore {
    /// The schema version this SDK migrates a database to.
    pub const SCHEMA_VERSION: i32 = SCHEMA_VERSION;
    /// The default number of pooled connections of [`connect`](Self::connect).
    pub const DEFAULT_POOL_SIZE: usize = DEFAULT_POOL_SIZE;

    /// Connects to `dsn` (`postgres://user:password@host:port/db`, or libpq's `key=value` form) with a pool
    /// of [`DEFAULT_POOL_SIZE`](Self::DEFAULT_POOL_SIZE) connections, and applies the migrations this SDK needs.
    pub async fn connect(dsn: &str) -> Result<Self, StoreError> {
        Self::connect_with_pool_size(dsn, DEFAULT_POOL_SIZE).await
    }

    /// [`connect`](Self::connect), with at most `max_connections` pooled connections (at least 1).
    pub async fn connect_with_pool_size(dsn: &str, max_connections: usize) -> Result<Self, StoreError> {
        // The parser's messages name options, never their values; the DSN itself is never repeated.
        let tls = TlsOptions::take(dsn.trim())?;
        let mut config = tokio_postgres::Config::from_str(&tls.dsn)
            .map_err(|e| StoreError::Configuration(format!("invalid PostgreSQL URL: {e}")))?;
        let verified = config.get_ssl_mode() == SslMode::Require || tls.verify;
        if !verified {
            // libpq's `prefer` would try TLS without verifying it: plain, as documented.
            config.ssl_mode(SslMode::Disable);
        } else {
            config.ssl_mode(SslMode::Require);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("confirma");
        }
        let mut described = describe_config(&config);
        let recycling = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let manager = if verified {
            described.push_str(" (TLS)");
            Manager::from_config(config, tls.connector()?, recycling)
        } else {
            Manager::from_config(config, NoTls, recycling)
        };
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(15)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| StoreError::Configuration(format!("{described}: {e}")))?;
        let store = PostgresStore { pool, described };
        store.migrate().await?;
        Ok(store)
    }

    /// A database failure: [`StoreError::Configuration`] when retrying cannot help (the server refused the
    /// credentials, a privilege is missing, the database does not exist), else
    /// [`StoreError::Unavailable`] (unreachable, dropped, timed out, failed).
    fn failed(&self, e: impl std::error::Error + 'static) -> StoreError {
        let text = format!("{}: {}", self.described, error_chain(&e));
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        while let Some(s) = source {
            if let Some(db) = s.downcast_ref::<tokio_postgres::error::DbError>() {
                let code = db.code().code();
                if code.starts_with("28") || code == "42501" || code == "3D000" {
                    return StoreError::Configuration(text);
                }
                break;
            }
            source = s.source();
        }
        StoreError::Unavailable(text)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| self.failed(e))
    }

    /// How many pooled connections may turn out dead in a row (all of them, after a server restart), plus
    /// one fresh one.
    fn attempts(&self) -> usize {
        self.pool.status().max_size.saturating_add(1)
    }

    /// Runs a read; again on another connection while the pooled ones turn out to be gone (a read is always
    /// safe to repeat; a dead connection is not handed out again).
    async fn query_rows(&self, sql: &str, params: &[(&(dyn ToSql + Sync), Type)]) -> Result<Vec<Row>, StoreError> {
        let mut left = self.attempts();
        loop {
            left = left.saturating_sub(1);
            let client = self.client().await?;
            match client.query_typed(sql, params).await {
                Ok(rows) => return Ok(rows),
                Err(e) if left > 0 && connection_lost(&e) => {}
                Err(e) => return Err(self.failed(e)),
            }
        }
    }

    /// Applies the missing migrations, once, under a transaction-scoped advisory lock.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        // The common case, without DDL or a lock: already migrated. (So a role with no CREATE privilege
        // works once an administrator, or a first connect with more rights, has migrated the database.)
        let exists: bool = client
            .query_typed_one("SELECT to_regclass('confirma_schema_version') IS NOT NULL", &[])
            .await
            .map_err(|e| self.failed(e))?
            .try_get(0)
            .map_err(|e| StoreError::Corrupt(format!("schema version: {e}")))?;
        let current: Option<i32> = if exists {
            client
                .query_typed_one("SELECT COALESCE(MAX(version), 0) FROM confirma_schema_version", &[])
                .await
                .map_err(|e| self.failed(e))?
                .try_get(0)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("schema version: {e}")))?
        } else {
            None
        };
        if current == Some(SCHEMA_VERSION) {
            return Ok(());
        }
        let tx = client.transaction().await.map_err(|e| self.failed(e))?;
        tx.execute_typed("SELECT pg_advisory_xact_lock($1)", &[(&MIGRATION_LOCK, Type::INT8)])
            .await
            .map_err(|e| self.failed(e))?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS confirma_schema_version (\
             version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await
        .map_err(|e| self.failed(e))?;
        let row = tx
            .query_typed_one("SELECT COALESCE(MAX(version), 0) FROM confirma_schema_version", &[])
            .await
            .map_err(|e| self.failed(e))?;
        let current: i32 = row.try_get(0).map_err(|e| StoreError::Corrupt(format!("schema version: {e}")))?;
        if current > SCHEMA_VERSION {
            return Err(StoreError::Corrupt(format!(
                "{} has schema version {current}, newer than this SDK's {SCHEMA_VERSION}: upgrade the SDK",
                self.described
            )));
        }
        for (version, sql) in MIGRATIONS {
            if version <= current {
                continue;
            }
            tx.batch_execute(sql).await.map_err(|e| self.failed(e))?;
            tx.execute_typed("INSERT INTO confirma_schema_version (version) VALUES ($1)", &[(&version, Type::INT4)])
                .await
                .map_err(|e| self.failed(e))?;
        }
        tx.commit().await.map_err(|e| self.failed(e))
    }

    /// The schema version the database is at.
    pub async fn schema_version(&self) -> Result<i32, StoreError> {
        let rows = self.query_rows("SELECT COALESCE(MAX(version), 0) FROM confirma_schema_version", &[]).await?;
        let row = rows.first().ok_or_else(|| StoreError::Corrupt("no schema version".into()))?;
        row.try_get(0).map_err(|e| StoreError::Corrupt(format!("schema version: {e}")))
    }

    /// Writes `r` (INSERT if absent, or UPDATE guarded by `expected_revision`) and its events in one
    /// transaction.
    async fn write(
        &self,
        r: &CredentialRecord,
        expected_revision: Option<u64>,
        events: &[CredentialEvent],
    ) -> Result<bool, StoreError> {
        let a = r.attempt.as_ref();
        let token_version = to_i64(r.token_version, "token_version")?;
        let revision = to_i64(r.revision, "revision")?;
        let state = r.state.as_str();
        let attempt_id = a.map(|a| a.id.as_str());
        let attempt_owner = a.map(|a| a.owner.as_str());
        let lease = a.map(|a| a.lease_expires_at);
        let attempt_fence = a.map(|a| to_i64(a.fence, "fence")).transpose()?;
        let fence = to_i64(r.fence, "fence")?;
        let failures = i64::from(r.consecutive_failures);
        let values: [&(dyn ToSql + Sync); 23] = [
            &r.environment,
            &r.client_id,
            &r.customer_code,
            &r.payment_reference_prefix,
            &r.sealed_token,
            &r.fingerprint,
            &token_version,
            &revision,
            &r.issued_at,
            &r.expires_at,
            &r.next_renew_at,
            &state,
            &attempt_id,
            &attempt_owner,
            &lease,
            &attempt_fence,
            &fence,
            &r.previous_sealed_token,
            &r.previous_fingerprint,
            &r.last_validated_at,
            &failures,
            &r.last_error,
            &r.updated_at,
        ];
        let mut params: Vec<(&(dyn ToSql + Sync), Type)> =
            values.iter().copied().zip(RECORD_TYPES.iter().cloned()).collect();
        let expected = expected_revision.map(|v| to_i64(v, "revision")).transpose()?;
        let sql = match &expected {
            None => format!(
                "INSERT INTO confirma_credentials ({COLUMNS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, \
                 $22, $23) ON CONFLICT (environment, client_id) DO NOTHING"
            ),
            Some(expected) => {
                params.push((expected, Type::INT8));
                "UPDATE confirma_credentials SET customer_code = $3, payment_reference_prefix = $4, \
                 sealed_token = $5, fingerprint = $6, token_version = $7, revision = $8, issued_at = $9, \
                 expires_at = $10, next_renew_at = $11, state = $12, attempt_id = $13, attempt_owner = $14, \
                 attempt_lease_expires_at = $15, attempt_fence = $16, fence = $17, previous_sealed_token = $18, \
                 previous_fingerprint = $19, last_validated_at = $20, consecutive_failures = $21, last_error = $22, \
                 updated_at = $23 WHERE environment = $1 AND client_id = $2 AND revision = $24"
                    .to_string()
            }
        };
        self.execute_write(&sql, &params, events).await
    }

    /// Deletes the record of `key` iff its revision is `expected_revision`, with its events, in one
    /// transaction (the DELETE takes the row lock, so a concurrent write naming the same revision finds no row).
    async fn delete_record(
        &self,
        key: &CredentialKey,
        expected_revision: u64,
        events: &[CredentialEvent],
    ) -> Result<bool, StoreError> {
        let expected = to_i64(expected_revision, "revision")?;
        let params: [(&(dyn ToSql + Sync), Type); 3] =
            [(&key.environment, Type::TEXT), (&key.client_id, Type::TEXT), (&expected, Type::INT8)];
        self.execute_write(
            "DELETE FROM confirma_credentials WHERE environment = $1 AND client_id = $2 AND revision = $3",
            &params,
            events,
        )
        .await
    }

    /// Runs one guarded write (`sql` must change exactly one row to count) and appends its events, in one
    /// transaction.
    async fn execute_write(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
        events: &[CredentialEvent],
    ) -> Result<bool, StoreError> {
        let mut event_rows = Vec::with_capacity(events.len());
        for e in events {
            event_rows.push((to_i64(e.token_version, "token_version")?, e.kind.as_str()));
        }

        // A pooled connection the server has dropped (a restart, a failover) fails at BEGIN, before anything
        // is sent that could take effect: then another connection. A failure after BEGIN is returned.
        let mut left = self.attempts();
        loop {
            left = left.saturating_sub(1);
            let mut client = self.client().await?;
            let begun = client.transaction().await;
            match begun {
                Ok(tx) => return self.write_in(tx, sql, params, events, &event_rows).await,
                Err(e) if left > 0 && connection_lost(&e) => {}
                Err(e) => return Err(self.failed(e)),
            }
        }
    }

    /// The transaction of [`write`](Self::write): the record, then its events; commits iff the record was
    /// written.
    async fn write_in(
        &self,
        tx: deadpool_postgres::Transaction<'_>,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
        events: &[CredentialEvent],
        event_rows: &[(i64, &str)],
    ) -> Result<bool, StoreError> {
        let changed = tx.execute_typed(sql, params).await.map_err(|e| self.failed(e))?;
        if changed != 1 {
            // Nothing written: the transaction rolls back (explicitly, so the connection is clean at once).
            tx.rollback().await.map_err(|e| self.failed(e))?;
            return Ok(false);
        }
        if !events.is_empty() {
            tx.execute_typed("SELECT pg_advisory_xact_lock($1)", &[(&EVENTS_LOCK, Type::INT8)])
                .await
                .map_err(|e| self.failed(e))?;
        }
        for (e, (token_version, kind)) in events.iter().zip(event_rows) {
            tx.execute_typed(
                "INSERT INTO confirma_credential_events \
                 (at, environment, client_id, kind, token_version, fingerprint, attempt_id, owner, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    (&e.at, Type::INT8),
                    (&e.environment, Type::TEXT),
                    (&e.client_id, Type::TEXT),
                    (kind, Type::TEXT),
                    (token_version, Type::INT8),
                    (&e.fingerprint, Type::TEXT),
                    (&e.attempt_id, Type::TEXT),
                    (&e.owner, Type::TEXT),
                    (&e.detail, Type::TEXT),
                ],
            )
            .await
            .map_err(|e| self.failed(e))?;
        }
        tx.commit().await.map_err(|e| self.failed(e))?;
        Ok(true)
    }
}

/// Whether `e` says the connection is gone (closed, reset, or ended by the server: class 57P, "operator
/// intervention", e.g. a restart or `pg_terminate_backend`) rather than a statement failing on a live one.
fn connection_lost(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.as_db_error() {
        Some(db) => db.code().code().starts_with("57P"),
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

/// An error with its causes (tokio-postgres says only "db error" at the top; the server's message, which
/// never holds a password, is below it).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

fn to_i64(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Configuration(format!("{what} is too large to store")))
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, i: usize, what: &str) -> Result<T, StoreError> {
    row.try_get(i).map_err(|e| corrupt(what, e))
}

fn get_u64(row: &Row, i: usize, what: &str) -> Result<u64, StoreError> {
    let v: i64 = get(row, i, what)?;
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} is negative ({v})")))
}

fn read_record(r: &Row) -> Result<CredentialRecord, StoreError> {
    let state: String = get(r, 11, "state")?;
    let attempt_id: Option<String> = get(r, 12, "attempt_id")?;
    let attempt = match attempt_id {
        Some(id) => {
            let fence: Option<i64> = get(r, 15, "attempt_fence")?;
            Some(RenewalAttempt {
                id,
                owner: get::<Option<String>>(r, 13, "attempt_owner")?.unwrap_or_default(),
                lease_expires_at: get::<Option<i64>>(r, 14, "attempt_lease_expires_at")?.unwrap_or_default(),
                fence: u64::try_from(fence.unwrap_or_default())
                    .map_err(|_| StoreError::Corrupt("attempt_fence is negative".into()))?,
            })
        }
        None => None,
    };
    let failures: i64 = get(r, 20, "consecutive_failures")?;
    Ok(CredentialRecord {
        environment: get(r, 0, "environment")?,
        client_id: get(r, 1, "client_id")?,
        customer_code: get(r, 2, "customer_code")?,
        payment_reference_prefix: get(r, 3, "payment_reference_prefix")?,
        sealed_token: get(r, 4, "sealed_token")?,
        fingerprint: get(r, 5, "fingerprint")?,
        token_version: get_u64(r, 6, "token_version")?,
        revision: get_u64(r, 7, "revision")?,
        issued_at: get(r, 8, "issued_at")?,
        expires_at: get(r, 9, "expires_at")?,
        next_renew_at: get(r, 10, "next_renew_at")?,
        state: CredentialState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("unknown state `{state}`")))?,
        attempt,
        fence: get_u64(r, 16, "fence")?,
        previous_sealed_token: get(r, 17, "previous_sealed_token")?,
        previous_fingerprint: get(r, 18, "previous_fingerprint")?,
        last_validated_at: get(r, 19, "last_validated_at")?,
        consecutive_failures: u32::try_from(failures)
            .map_err(|_| StoreError::Corrupt(format!("consecutive_failures out of range ({failures})")))?,
        last_error: get(r, 21, "last_error")?,
        updated_at: get(r, 22, "updated_at")?,
    })
}

fn read_event(r: &Row) -> Result<CredentialEvent, StoreError> {
    let kind: String = get(r, 4, "kind")?;
    Ok(CredentialEvent {
        seq: get_u64(r, 0, "seq")?,
        at: get(r, 1, "at")?,
        environment: get(r, 2, "environment")?,
        client_id: get(r, 3, "client_id")?,
        kind: EventKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("unknown event kind `{kind}`")))?,
        token_version: get_u64(r, 5, "token_version")?,
        fingerprint: get(r, 6, "fingerprint")?,
        attempt_id: get(r, 7, "attempt_id")?,
        owner: get(r, 8, "owner")?,
        detail: get(r, 9, "detail")?,
    })
}

impl CredentialStore for PostgresStore {
    fn load<'a>(&'a self, key: &'a CredentialKey) -> StoreFuture<'a, Option<CredentialRecord>> {
        Box::pin(async move {
            let rows = self
                .query_rows(
                    &format!("SELECT {COLUMNS} FROM confirma_credentials WHERE environment = $1 AND client_id = $2"),
                    &[(&key.environment, Type::TEXT), (&key.client_id, Type::TEXT)],
                )
                .await?;
            rows.first().map(read_record).transpose()
        })
    }

    fn insert<'a>(&'a self, record: &'a CredentialRecord, events: &'a [CredentialEvent]) -> StoreFuture<'a, bool> {
        Box::pin(self.write(record, None, events))
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected_revision: u64,
        record: &'a CredentialRecord,
        events: &'a [CredentialEvent],
    ) -> StoreFuture<'a, bool> {
        Box::pin(self.write(record, Some(expected_revision), events))
    }

    fn delete<'a>(
        &'a self,
        key: &'a CredentialKey,
        expected_revision: u64,
        events: &'a [CredentialEvent],
    ) -> StoreFuture<'a, bool> {
        Box::pin(self.delete_record(key, expected_revision, events))
    }

    fn list<'a>(&'a self, environment: Option<&'a str>) -> StoreFuture<'a, Vec<CredentialRecord>> {
        Box::pin(async move {
            let rows = self
                .query_rows(
                    &format!(
                        "SELECT {COLUMNS} FROM confirma_credentials WHERE $1::TEXT IS NULL OR environment = $1 \
                         ORDER BY environment, client_id"
                    ),
                    &[(&environment, Type::TEXT)],
                )
                .await?;
            rows.iter().map(read_record).collect()
        })
    }

    fn events<'a>(
        &'a self,
        key: Option<&'a CredentialKey>,
        after_seq: u64,
        limit: u32,
    ) -> StoreFuture<'a, Vec<CredentialEvent>> {
        Box::pin(async move {
            let after = to_i64(after_seq, "seq")?;
            let limit = i64::from(limit);
            let environment = key.map(|k| k.environment.as_str());
            let client_id = key.map(|k| k.client_id.as_str());
            let rows = self
                .query_rows(
                    "SELECT seq, at, environment, client_id, kind, token_version, fingerprint, attempt_id, owner, \
                     detail FROM confirma_credential_events WHERE seq > $1 \
                     AND ($2::TEXT IS NULL OR (environment = $2 AND client_id = $3)) ORDER BY seq LIMIT $4",
                    &[(&after, Type::INT8), (&environment, Type::TEXT), (&client_id, Type::TEXT), (&limit, Type::INT8)],
                )
                .await?;
            rows.iter().map(read_event).collect()
        })
    }

    fn describe(&self) -> String {
        self.described.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_never_show_a_password() {
        for dsn in [
            "postgres://app:s3cr3t-pw@db.example:6432/creds",
            "postgresql://app:s3cr3t-pw@10.0.0.1/creds?sslmode=disable",
            "host=db.example port=5433 user=app password=s3cr3t-pw dbname=creds",
        ] {
            let config = tokio_postgres::Config::from_str(dsn).unwrap();
            let d = describe_config(&config);
            assert!(!d.contains("s3cr3t"), "{d}");
            assert!(d.starts_with("postgres://app@") && d.ends_with("/creds"), "{d}");
        }
    }

    #[test]
    fn tls_options_are_taken_out_of_both_dsn_forms() {
        let t = TlsOptions::take(
            "postgres://app:pw@db/creds?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x",
        )
        .unwrap();
        assert_eq!((t.dsn.as_str(), t.verify), ("postgres://app:pw@db/creds?application_name=x", true));
        assert_eq!(t.root_cert.as_deref(), Some(std::path::Path::new("/etc/ca.pem")));
        let t = TlsOptions::take("postgres://app:pw@db/creds?sslmode=require").unwrap();
        assert_eq!(
            (t.dsn.as_str(), t.verify, t.root_cert),
            ("postgres://app:pw@db/creds?sslmode=require", false, None)
        );
        let t = TlsOptions::take("host=db user=app sslrootcert=/ca.pem sslmode=verify-ca dbname=c").unwrap();
        assert_eq!((t.dsn.as_str(), t.verify), ("host=db user=app dbname=c", true));
    }

    #[tokio::test]
    async fn a_missing_or_empty_sslrootcert_is_a_configuration_error() {
        let empty = std::env::temp_dir().join(format!("confirma-empty-ca-{}.pem", std::process::id()));
        std::fs::write(&empty, "not a certificate\n").unwrap();
        for root in ["/nonexistent/ca.pem", empty.to_str().unwrap()] {
            let dsn = format!("postgres://app:s3cr3t-pw@127.0.0.1:1/creds?sslmode=require&sslrootcert={root}");
            let err = PostgresStore::connect(&dsn).await.unwrap_err();
            assert!(matches!(&err, StoreError::Configuration(m) if m.contains("sslrootcert")), "{err:?}");
            assert!(!err.to_string().contains("s3cr3t"), "{err}");
        }
        let _ = std::fs::remove_file(empty);
    }

    #[tokio::test]
    async fn bad_urls_are_configuration_errors_without_the_password() {
        for dsn in ["postgres://app:s3cr3t-pw@db.example:notaport/creds", "postgres://app:s3cr3t-pw@h/d?bogus=1"] {
            let err = PostgresStore::connect(dsn).await.unwrap_err();
            assert!(matches!(err, StoreError::Configuration(_)), "{err:?}");
            assert!(!err.to_string().contains("s3cr3t"), "{err}");
        }
    }
}
