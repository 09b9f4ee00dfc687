//! [`SqliteStore`]: the embedded default: one SQLite file (bundled library), safe for many processes on
//! one host. WAL journal with `synchronous=FULL` (a committed write survives a power cut), `BEGIN IMMEDIATE`
//! for every write (writers are serialised by SQLite's file lock; readers never block them), a busy timeout
//! instead of `SQLITE_BUSY` errors, and the schema versioned with `PRAGMA user_version`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::{
    CredentialEvent, CredentialKey, CredentialRecord, CredentialState, CredentialStore, EventKind, RenewalAttempt,
    StoreError, StoreFuture,
};

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS confirma_credentials (
    environment TEXT NOT NULL,
    client_id TEXT NOT NULL,
    customer_code TEXT NOT NULL,
    payment_reference_prefix TEXT NOT NULL,
    sealed_token BLOB NOT NULL,
    fingerprint TEXT NOT NULL,
    token_version INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    issued_at INTEGER,
    expires_at INTEGER,
    next_renew_at INTEGER,
    state TEXT NOT NULL,
    attempt_id TEXT,
    attempt_owner TEXT,
    attempt_lease_expires_at INTEGER,
    attempt_fence INTEGER,
    fence INTEGER NOT NULL,
    previous_sealed_token BLOB,
    previous_fingerprint TEXT,
    last_validated_at INTEGER,
    consecutive_failures INTEGER NOT NULL,
    last_error TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (environment, client_id)
);
CREATE TABLE IF NOT EXISTS confirma_credential_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    environment TEXT NOT NULL,
    client_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    token_version INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    attempt_id TEXT,
    owner TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS confirma_credential_events_by_key
    ON confirma_credential_events (environment, client_id, seq);
";

const COLUMNS: &str = "environment, client_id, customer_code, payment_reference_prefix, sealed_token, fingerprint, \
token_version, revision, issued_at, expires_at, next_renew_at, state, attempt_id, attempt_owner, \
attempt_lease_expires_at, attempt_fence, fence, previous_sealed_token, previous_fingerprint, last_validated_at, \
consecutive_failures, last_error, updated_at";

/// Credentials in one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqliteStore({})", self.path.display())
    }
}

fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("sqlite: {e}"))
}

fn to_i64(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Configuration(format!("{what} is too large to store")))
}

fn to_u64(v: i64, what: &str) -> rusqlite::Result<u64> {
    u64::try_from(v).map_err(|_| corrupt_column(format!("{what} is negative")))
}

fn corrupt_column(msg: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Integer, msg.into())
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`, and applies the schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path)
            .map_err(|e| StoreError::Configuration(format!("cannot open {}: {e}", path.display())))?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(unavailable)?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(unavailable)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Configuration(format!(
                "{} cannot use WAL journaling (got {mode}); is it on a network file system?",
                path.display()
            )));
        }
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;").map_err(unavailable)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(unavailable)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Corrupt(format!(
                "{} has schema version {version}, newer than this SDK's {SCHEMA_VERSION}: upgrade the SDK",
                path.display()
            )));
        }
        if version < SCHEMA_VERSION {
            let mut conn = conn;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(unavailable)?;
            tx.execute_batch(SCHEMA).map_err(unavailable)?;
            tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}")).map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            return Ok(SqliteStore { path, conn: Arc::new(Mutex::new(conn)) });
        }
        Ok(SqliteStore { path, conn: Arc::new(Mutex::new(conn)) })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the connection: on a blocking thread when inside a tokio runtime (SQLite may wait for
    /// another process's lock, or for the disk), inline otherwise.
    fn run<'a, T, F>(&'a self, f: F) -> StoreFuture<'a, T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        let job = move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread => {
                Box::pin(async move {
                    handle
                        .spawn_blocking(job)
                        .await
                        .map_err(|e| StoreError::Unavailable(format!("sqlite task failed: {e}")))?
                })
            }
            _ => Box::pin(std::future::ready(job())),
        }
    }
}

fn read_record(r: &Row<'_>) -> rusqlite::Result<CredentialRecord> {
    let state: String = r.get(11)?;
    let attempt_id: Option<String> = r.get(12)?;
    let attempt = match attempt_id {
        Some(id) => Some(RenewalAttempt {
            id,
            owner: r.get::<_, Option<String>>(13)?.unwrap_or_default(),
            lease_expires_at: r.get::<_, Option<i64>>(14)?.unwrap_or_default(),
            fence: to_u64(r.get::<_, Option<i64>>(15)?.unwrap_or_default(), "attempt_fence")?,
        }),
        None => None,
    };
    Ok(CredentialRecord {
        environment: r.get(0)?,
        client_id: r.get(1)?,
        customer_code: r.get(2)?,
        payment_reference_prefix: r.get(3)?,
        sealed_token: r.get(4)?,
        fingerprint: r.get(5)?,
        token_version: to_u64(r.get(6)?, "token_version")?,
        revision: to_u64(r.get(7)?, "revision")?,
        issued_at: r.get(8)?,
        expires_at: r.get(9)?,
        next_renew_at: r.get(10)?,
        state: CredentialState::parse(&state).ok_or_else(|| corrupt_column(format!("unknown state `{state}`")))?,
        attempt,
        fence: to_u64(r.get(16)?, "fence")?,
        previous_sealed_token: r.get(17)?,
        previous_fingerprint: r.get(18)?,
        last_validated_at: r.get(19)?,
        consecutive_failures: u32::try_from(r.get::<_, i64>(20)?)
            .map_err(|_| corrupt_column("consecutive_failures out of range".into()))?,
        last_error: r.get(21)?,
        updated_at: r.get(22)?,
    })
}

fn read_event(r: &Row<'_>) -> rusqlite::Result<CredentialEvent> {
    let kind: String = r.get(4)?;
    Ok(CredentialEvent {
        seq: to_u64(r.get(0)?, "seq")?,
        at: r.get(1)?,
        environment: r.get(2)?,
        client_id: r.get(3)?,
        kind: EventKind::parse(&kind).ok_or_else(|| corrupt_column(format!("unknown event kind `{kind}`")))?,
        token_version: to_u64(r.get(5)?, "token_version")?,
        fingerprint: r.get(6)?,
        attempt_id: r.get(7)?,
        owner: r.get(8)?,
        detail: r.get(9)?,
    })
}

fn map_read(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::FromSqlConversionFailure(_, _, m) => StoreError::Corrupt(m.to_string()),
        rusqlite::Error::InvalidColumnType(i, name, t) => {
            StoreError::Corrupt(format!("column {i} ({name}) has type {t}"))
        }
        other => unavailable(other),
    }
}

fn insert_events(tx: &rusqlite::Transaction<'_>, events: &[CredentialEvent]) -> Result<(), StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO confirma_credential_events \
             (at, environment, client_id, kind, token_version, fingerprint, attempt_id, owner, detail) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(unavailable)?;
    for e in events {
        stmt.execute(params![
            e.at,
            e.environment,
            e.client_id,
            e.kind.as_str(),
            to_i64(e.token_version, "token_version")?,
            e.fingerprint,
            e.attempt_id,
            e.owner,
            e.detail
        ])
        .map_err(unavailable)?;
    }
    Ok(())
}

/// Writes `r` (INSERT, or UPDATE guarded by `expected_revision`) and its events in one IMMEDIATE transaction.
fn write(
    conn: &mut Connection,
    r: &CredentialRecord,
    expected_revision: Option<u64>,
    events: &[CredentialEvent],
) -> Result<bool, StoreError> {
    let a = r.attempt.as_ref();
    let token_version = to_i64(r.token_version, "token_version")?;
    let revision = to_i64(r.revision, "revision")?;
    let (issued_at, expires_at, next_renew_at) = (r.issued_at, r.expires_at, r.next_renew_at);
    let lease = a.map(|a| a.lease_expires_at);
    let attempt_fence = a.map(|a| to_i64(a.fence, "fence")).transpose()?;
    let fence = to_i64(r.fence, "fence")?;
    let (last_validated_at, failures, updated_at) =
        (r.last_validated_at, i64::from(r.consecutive_failures), r.updated_at);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(unavailable)?;
    let state = r.state.as_str();
    let attempt_id = a.map(|a| a.id.as_str());
    let attempt_owner = a.map(|a| a.owner.as_str());
    let expected = expected_revision.map(|e| to_i64(e, "revision")).transpose()?;
    // ?1..?23 in COLUMNS order; the UPDATE adds the expected revision as ?24.
    let mut values: Vec<&dyn rusqlite::ToSql> = vec![
        &r.environment,
        &r.client_id,
        &r.customer_code,
        &r.payment_reference_prefix,
        &r.sealed_token,
        &r.fingerprint,
        &token_version,
        &revision,
        &issued_at,
        &expires_at,
        &next_renew_at,
        &state,
        &attempt_id,
        &attempt_owner,
        &lease,
        &attempt_fence,
        &fence,
        &r.previous_sealed_token,
        &r.previous_fingerprint,
        &last_validated_at,
        &failures,
        &r.last_error,
        &updated_at,
    ];
    let sql = match &expected {
        None => format!(
            "INSERT OR IGNORE INTO confirma_credentials ({COLUMNS}) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)"
        ),
        Some(expected) => {
            values.push(expected);
            "UPDATE confirma_credentials SET customer_code = ?3, payment_reference_prefix = ?4, \
             sealed_token = ?5, fingerprint = ?6, token_version = ?7, revision = ?8, issued_at = ?9, \
             expires_at = ?10, next_renew_at = ?11, state = ?12, attempt_id = ?13, attempt_owner = ?14, \
             attempt_lease_expires_at = ?15, attempt_fence = ?16, fence = ?17, previous_sealed_token = ?18, \
             previous_fingerprint = ?19, last_validated_at = ?20, consecutive_failures = ?21, last_error = ?22, \
             updated_at = ?23 WHERE environment = ?1 AND client_id = ?2 AND revision = ?24"
                .to_string()
        }
    };
    let changed = tx.execute(&sql, values.as_slice()).map_err(unavailable)?;
    if changed != 1 {
        return Ok(false); // the transaction rolls back on drop
    }
    insert_events(&tx, events)?;
    tx.commit().map_err(unavailable)?;
    Ok(true)
}

impl CredentialStore for SqliteStore {
    fn load<'a>(&'a self, key: &'a CredentialKey) -> StoreFuture<'a, Option<CredentialRecord>> {
        let key = key.clone();
        self.run(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM confirma_credentials WHERE environment = ?1 AND client_id = ?2"
            ))
            .map_err(unavailable)?
            .query_row(params![key.environment, key.client_id], read_record)
            .optional()
            .map_err(map_read)
        })
    }

    fn insert<'a>(&'a self, record: &'a CredentialRecord, events: &'a [CredentialEvent]) -> StoreFuture<'a, bool> {
        let record = record.clone();
        let events = events.to_vec();
        self.run(move |conn| write(conn, &record, None, &events))
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected_revision: u64,
        record: &'a CredentialRecord,
        events: &'a [CredentialEvent],
    ) -> StoreFuture<'a, bool> {
        let record = record.clone();
        let events = events.to_vec();
        self.run(move |conn| write(conn, &record, Some(expected_revision), &events))
    }

    fn delete<'a>(
        &'a self,
        key: &'a CredentialKey,
        expected_revision: u64,
        events: &'a [CredentialEvent],
    ) -> StoreFuture<'a, bool> {
        let key = key.clone();
        let events = events.to_vec();
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(unavailable)?;
            let changed = tx
                .execute(
                    "DELETE FROM confirma_credentials WHERE environment = ?1 AND client_id = ?2 AND revision = ?3",
                    params![key.environment, key.client_id, to_i64(expected_revision, "revision")?],
                )
                .map_err(unavailable)?;
            if changed != 1 {
                return Ok(false); // the transaction rolls back on drop
            }
            insert_events(&tx, &events)?;
            tx.commit().map_err(unavailable)?;
            Ok(true)
        })
    }

    fn list<'a>(&'a self, environment: Option<&'a str>) -> StoreFuture<'a, Vec<CredentialRecord>> {
        let environment = environment.map(str::to_string);
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM confirma_credentials WHERE ?1 IS NULL OR environment = ?1 \
                     ORDER BY environment, client_id"
                ))
                .map_err(unavailable)?;
            let rows = stmt.query_map(params![environment], read_record).map_err(unavailable)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_read)
        })
    }

    fn events<'a>(
        &'a self,
        key: Option<&'a CredentialKey>,
        after_seq: u64,
        limit: u32,
    ) -> StoreFuture<'a, Vec<CredentialEvent>> {
        let key = key.cloned();
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT seq, at, environment, client_id, kind, token_version, fingerprint, attempt_id, owner, detail \
                     FROM confirma_credential_events WHERE seq > ?1 AND (?2 IS NULL OR (environment = ?2 AND client_id = ?3)) \
                     ORDER BY seq LIMIT ?4",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(
                    params![
                        to_i64(after_seq, "seq")?,
                        key.as_ref().map(|k| k.environment.as_str()),
                        key.as_ref().map(|k| k.client_id.as_str()),
                        i64::from(limit)
                    ],
                    read_event,
                )
                .map_err(unavailable)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_read)
        })
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}
