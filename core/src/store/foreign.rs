//! Stores written by partners in their own language, over their own database (Python, Node, Kotlin).
//!
//! A partner implements a [`RowStore`]: seven methods over two tables, with nothing to interpret.
//!
//! ```sql
//! CREATE TABLE confirma_credentials (
//!   environment TEXT NOT NULL, client_id TEXT NOT NULL, revision BIGINT NOT NULL, data TEXT NOT NULL,
//!   PRIMARY KEY (environment, client_id));
//! CREATE TABLE confirma_events (
//!   seq <auto-increment> PRIMARY KEY, environment TEXT NOT NULL, client_id TEXT NOT NULL,
//!   at BIGINT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL);
//! ```
//!
//! `insert`, `compare_and_swap` and `delete` write the row and append the events in **one transaction**;
//! compare-and-swap is `UPDATE … SET revision = ?, data = ? WHERE environment = ? AND client_id = ? AND
//! revision = ?` (one row changed: `true`). Everything else — the record's encoding (versioned JSON in
//! `data`, the token only as sealed ciphertext), the checks on what comes back, the protocol — stays here,
//! so a store written in Python, TypeScript or Kotlin stores exactly what ours do and is checked by the same
//! [conformance suite](super::conformance). [`foreign_store`] turns a `RowStore` into a
//! [`CredentialStore`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{
    CredentialEvent, CredentialKey, CredentialRecord, CredentialState, CredentialStore, EventKind, RenewalAttempt,
    StoreError, StoreFuture,
};

/// One credential as a partner's store keeps it: the key, the revision (compare-and-set) and the record's
/// data, encoded by the core. `data` holds the token only sealed (AES-256-GCM), unless the application opted
/// into plaintext.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreRow {
    /// `staging`, `production`, or a custom base URL.
    pub environment: String,
    /// The CFIS client id.
    pub client_id: String,
    /// The record's revision.
    pub revision: u64,
    /// The rest of the record (versioned JSON written and read by the core only).
    pub data: String,
}

impl std::fmt::Debug for StoreRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreRow")
            .field("environment", &self.environment)
            .field("client_id", &self.client_id)
            .field("revision", &self.revision)
            .field("data", &format_args!("<{} bytes>", self.data.len()))
            .finish()
    }
}

/// One event as a partner's store keeps it. `seq` is 0 when written: the store assigns increasing numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// The store's sequence number (increasing; 0 before the write).
    pub seq: u64,
    /// The environment.
    pub environment: String,
    /// The client id.
    pub client_id: String,
    /// When (epoch ms).
    pub at: i64,
    /// What happened (`rotated`, `lost`, … as [`EventKind::as_str`]).
    pub kind: String,
    /// The rest of the event (JSON; fingerprints, never tokens).
    pub data: String,
}

/// A partner store's failure: its exception as `"<type>: <message>"`. Becomes
/// [`StoreError::Unavailable`] (retryable); the manager commits nothing on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowStoreError(pub String);

impl From<RowStoreError> for StoreError {
    fn from(e: RowStoreError) -> Self {
        StoreError::Unavailable(format!("the application's credential store failed: {}", e.0))
    }
}

/// The future a [`RowStore`] method returns.
pub type RowFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, RowStoreError>> + Send + 'a>>;

/// The storage a partner writes (see the module docs for the two tables). Same contract as
/// [`CredentialStore`], on rows.
pub trait RowStore: Send + Sync {
    /// The row for `(environment, client_id)`, if any.
    fn load(&self, environment: String, client_id: String) -> RowFuture<'_, Option<StoreRow>>;
    /// Inserts `row` and appends `events` in one transaction; `false` (nothing written) if a row exists.
    fn insert(&self, row: StoreRow, events: Vec<EventRow>) -> RowFuture<'_, bool>;
    /// Replaces the row iff its stored revision is `expected_revision`, appending `events` in the same
    /// transaction; `false` (nothing written) otherwise.
    fn compare_and_swap(&self, expected_revision: u64, row: StoreRow, events: Vec<EventRow>) -> RowFuture<'_, bool>;
    /// Deletes the row iff its stored revision is `expected_revision`, appending `events` in the same
    /// transaction; `false` (nothing written) otherwise.
    fn delete(
        &self,
        environment: String,
        client_id: String,
        expected_revision: u64,
        events: Vec<EventRow>,
    ) -> RowFuture<'_, bool>;
    /// Every row, or those of one environment.
    fn list(&self, environment: Option<String>) -> RowFuture<'_, Vec<StoreRow>>;
    /// Events with `seq > after_seq`, oldest first, at most `limit`; of one record (both filters given) or all.
    fn events(
        &self,
        environment: Option<String>,
        client_id: Option<String>,
        after_seq: u64,
        limit: u32,
    ) -> RowFuture<'_, Vec<EventRow>>;
    /// A description for logs, never a password.
    fn describe(&self) -> String;
}

/// A [`CredentialStore`] over a partner's [`RowStore`]. A method that does not answer within
/// [`CALL_TIMEOUT`] is a [`StoreError::Unavailable`] (the manager then commits nothing and says so), never a
/// caller waiting forever.
pub fn foreign_store(rows: Arc<dyn RowStore>) -> Arc<dyn CredentialStore> {
    Arc::new(ForeignStore { rows, timeout: CALL_TIMEOUT })
}

/// How long a partner store's method may take (30 s).
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

struct ForeignStore {
    rows: Arc<dyn RowStore>,
    timeout: std::time::Duration,
}

impl ForeignStore {
    async fn call<T>(&self, method: &str, fut: RowFuture<'_, T>) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(StoreError::Unavailable(format!(
                "the application's credential store did not answer {method} within {} s",
                self.timeout.as_secs_f64()
            ))),
        }
    }
}

/// The version of the `data` encoding.
const DATA_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordData {
    v: u32,
    customer_code: String,
    payment_reference_prefix: String,
    sealed_token: String,
    fingerprint: String,
    token_version: u64,
    issued_at: Option<i64>,
    expires_at: Option<i64>,
    next_renew_at: Option<i64>,
    state: String,
    attempt: Option<AttemptData>,
    fence: u64,
    previous_sealed_token: Option<String>,
    previous_fingerprint: Option<String>,
    last_validated_at: Option<i64>,
    consecutive_failures: u32,
    last_error: Option<String>,
    updated_at: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttemptData {
    id: String,
    owner: String,
    lease_expires_at: i64,
    fence: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventData {
    v: u32,
    token_version: u64,
    fingerprint: String,
    attempt_id: Option<String>,
    owner: String,
    detail: String,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("the application's credential store returned {what}"))
}

/// Encodes a record as a row (the core's JSON).
pub fn encode_record(r: &CredentialRecord) -> Result<StoreRow, StoreError> {
    let data = RecordData {
        v: DATA_VERSION,
        customer_code: r.customer_code.clone(),
        payment_reference_prefix: r.payment_reference_prefix.clone(),
        sealed_token: b64().encode(&r.sealed_token),
        fingerprint: r.fingerprint.clone(),
        token_version: r.token_version,
        issued_at: r.issued_at,
        expires_at: r.expires_at,
        next_renew_at: r.next_renew_at,
        state: r.state.as_str().into(),
        attempt: r.attempt.as_ref().map(|a| AttemptData {
            id: a.id.clone(),
            owner: a.owner.clone(),
            lease_expires_at: a.lease_expires_at,
            fence: a.fence,
        }),
        fence: r.fence,
        previous_sealed_token: r.previous_sealed_token.as_ref().map(|t| b64().encode(t)),
        previous_fingerprint: r.previous_fingerprint.clone(),
        last_validated_at: r.last_validated_at,
        consecutive_failures: r.consecutive_failures,
        last_error: r.last_error.clone(),
        updated_at: r.updated_at,
    };
    let data = serde_json::to_string(&data).map_err(|e| StoreError::Configuration(format!("encoding: {e}")))?;
    Ok(StoreRow { environment: r.environment.clone(), client_id: r.client_id.clone(), revision: r.revision, data })
}

/// Decodes a row written by [`encode_record`]; anything else is [`StoreError::Corrupt`].
pub fn decode_record(row: &StoreRow) -> Result<CredentialRecord, StoreError> {
    let d: RecordData = serde_json::from_str(&row.data)
        .map_err(|e| corrupt(format_args!("a credential row whose data is not the SDK's ({e})")))?;
    if d.v != DATA_VERSION {
        return Err(corrupt(format_args!("a credential row of data version {} (this SDK reads {DATA_VERSION})", d.v)));
    }
    let state = CredentialState::parse(&d.state).ok_or_else(|| corrupt("a credential row with an unknown state"))?;
    let sealed_token = b64().decode(&d.sealed_token).map_err(|_| corrupt("a credential row with a damaged token"))?;
    let previous_sealed_token = match &d.previous_sealed_token {
        Some(t) => Some(b64().decode(t).map_err(|_| corrupt("a credential row with a damaged previous token"))?),
        None => None,
    };
    if row.revision == 0 {
        return Err(corrupt("a credential row with revision 0"));
    }
    Ok(CredentialRecord {
        environment: row.environment.clone(),
        client_id: row.client_id.clone(),
        customer_code: d.customer_code,
        payment_reference_prefix: d.payment_reference_prefix,
        sealed_token,
        fingerprint: d.fingerprint,
        token_version: d.token_version,
        revision: row.revision,
        issued_at: d.issued_at,
        expires_at: d.expires_at,
        next_renew_at: d.next_renew_at,
        state,
        attempt: d.attempt.map(|a| RenewalAttempt {
            id: a.id,
            owner: a.owner,
            lease_expires_at: a.lease_expires_at,
            fence: a.fence,
        }),
        fence: d.fence,
        previous_sealed_token,
        previous_fingerprint: d.previous_fingerprint,
        last_validated_at: d.last_validated_at,
        consecutive_failures: d.consecutive_failures,
        last_error: d.last_error,
        updated_at: d.updated_at,
    })
}

/// Encodes an event as a row.
pub fn encode_event(e: &CredentialEvent) -> Result<EventRow, StoreError> {
    let data = EventData {
        v: DATA_VERSION,
        token_version: e.token_version,
        fingerprint: e.fingerprint.clone(),
        attempt_id: e.attempt_id.clone(),
        owner: e.owner.clone(),
        detail: e.detail.clone(),
    };
    let data = serde_json::to_string(&data).map_err(|e| StoreError::Configuration(format!("encoding: {e}")))?;
    Ok(EventRow {
        seq: e.seq,
        environment: e.environment.clone(),
        client_id: e.client_id.clone(),
        at: e.at,
        kind: e.kind.as_str().into(),
        data,
    })
}

/// Decodes an event row.
pub fn decode_event(row: &EventRow) -> Result<CredentialEvent, StoreError> {
    let d: EventData = serde_json::from_str(&row.data)
        .map_err(|e| corrupt(format_args!("an event row whose data is not the SDK's ({e})")))?;
    let kind = EventKind::parse(&row.kind).ok_or_else(|| corrupt("an event row of an unknown kind"))?;
    Ok(CredentialEvent {
        seq: row.seq,
        at: row.at,
        environment: row.environment.clone(),
        client_id: row.client_id.clone(),
        kind,
        token_version: d.token_version,
        fingerprint: d.fingerprint,
        attempt_id: d.attempt_id,
        owner: d.owner,
        detail: d.detail,
    })
}

fn encode_events(events: &[CredentialEvent]) -> Result<Vec<EventRow>, StoreError> {
    events.iter().map(encode_event).collect()
}

impl CredentialStore for ForeignStore {
    fn load<'a>(&'a self, key: &'a CredentialKey) -> StoreFuture<'a, Option<CredentialRecord>> {
        Box::pin(async move {
            let row = self.call("load", self.rows.load(key.environment.clone(), key.client_id.clone())).await?;
            match row {
                None => Ok(None),
                Some(row) if row.environment != key.environment || row.client_id != key.client_id => {
                    Err(corrupt("another record's row to a load"))
                }
                Some(row) => decode_record(&row).map(Some),
            }
        })
    }

    fn insert<'a>(&'a self, record: &'a CredentialRecord, events: &'a [CredentialEvent]) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let (row, events) = (encode_record(record)?, encode_events(events)?);
            self.call("insert", self.rows.insert(row, events)).await
        })
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected_revision: u64,
        record: &'a CredentialRecord,
        events: &'a [CredentialEvent],
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let (row, events) = (encode_record(record)?, encode_events(events)?);
            self.call("compare_and_swap", self.rows.compare_and_swap(expected_revision, row, events)).await
        })
    }

    fn delete<'a>(
        &'a self,
        key: &'a CredentialKey,
        expected_revision: u64,
        events: &'a [CredentialEvent],
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let events = encode_events(events)?;
            let fut = self.rows.delete(key.environment.clone(), key.client_id.clone(), expected_revision, events);
            self.call("delete", fut).await
        })
    }

    fn list<'a>(&'a self, environment: Option<&'a str>) -> StoreFuture<'a, Vec<CredentialRecord>> {
        Box::pin(async move {
            let rows = self.call("list", self.rows.list(environment.map(str::to_string))).await?;
            rows.iter().filter(|r| environment.is_none_or(|e| r.environment == e)).map(decode_record).collect()
        })
    }

    fn events<'a>(
        &'a self,
        key: Option<&'a CredentialKey>,
        after_seq: u64,
        limit: u32,
    ) -> StoreFuture<'a, Vec<CredentialEvent>> {
        Box::pin(async move {
            let fut = self.rows.events(
                key.map(|k| k.environment.clone()),
                key.map(|k| k.client_id.clone()),
                after_seq,
                limit,
            );
            let rows = self.call("events", fut).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                if key.is_some_and(|k| r.environment != k.environment || r.client_id != k.client_id) {
                    continue;
                }
                if r.seq <= after_seq {
                    return Err(corrupt("an event at or before the requested sequence number"));
                }
                out.push(decode_event(r)?);
            }
            out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            Ok(out)
        })
    }

    fn describe(&self) -> String {
        self.rows.describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    type Tables = (BTreeMap<(String, String), StoreRow>, Vec<EventRow>);

    /// A row store the way a partner writes one (a map and a log under one lock, as a transaction).
    #[derive(Default)]
    struct Rows {
        inner: Mutex<Tables>,
        fail: bool,
        garbage: bool,
        hang: bool,
    }

    impl Rows {
        fn tx<T>(
            &self,
            f: impl FnOnce(&mut (BTreeMap<(String, String), StoreRow>, Vec<EventRow>)) -> T,
        ) -> RowFuture<'_, T>
        where
            T: Send + 'static,
        {
            if self.hang {
                return Box::pin(std::future::pending());
            }
            let r = if self.fail {
                Err(RowStoreError("OperationalError: database is locked".into()))
            } else {
                Ok(f(&mut self.inner.lock().unwrap()))
            };
            Box::pin(async move { r })
        }
    }

    fn append(log: &mut Vec<EventRow>, events: Vec<EventRow>) {
        for mut e in events {
            e.seq = log.len() as u64 + 1;
            log.push(e);
        }
    }

    impl RowStore for Rows {
        fn load(&self, environment: String, client_id: String) -> RowFuture<'_, Option<StoreRow>> {
            let garbage = self.garbage;
            self.tx(move |(rows, _)| {
                rows.get(&(environment, client_id)).cloned().map(|mut r| {
                    if garbage {
                        r.data = "{\"v\":1}".into();
                    }
                    r
                })
            })
        }
        fn insert(&self, row: StoreRow, events: Vec<EventRow>) -> RowFuture<'_, bool> {
            self.tx(move |(rows, log)| {
                let k = (row.environment.clone(), row.client_id.clone());
                if rows.contains_key(&k) {
                    return false;
                }
                rows.insert(k, row);
                append(log, events);
                true
            })
        }
        fn compare_and_swap(&self, expected: u64, row: StoreRow, events: Vec<EventRow>) -> RowFuture<'_, bool> {
            self.tx(move |(rows, log)| {
                let k = (row.environment.clone(), row.client_id.clone());
                match rows.get(&k) {
                    Some(r) if r.revision == expected => {
                        rows.insert(k, row);
                        append(log, events);
                        true
                    }
                    _ => false,
                }
            })
        }
        fn delete(&self, env: String, id: String, expected: u64, events: Vec<EventRow>) -> RowFuture<'_, bool> {
            self.tx(move |(rows, log)| {
                let k = (env, id);
                match rows.get(&k) {
                    Some(r) if r.revision == expected => {
                        rows.remove(&k);
                        append(log, events);
                        true
                    }
                    _ => false,
                }
            })
        }
        fn list(&self, environment: Option<String>) -> RowFuture<'_, Vec<StoreRow>> {
            self.tx(move |(rows, _)| {
                rows.values().filter(|r| environment.as_ref().is_none_or(|e| &r.environment == e)).cloned().collect()
            })
        }
        fn events(
            &self,
            env: Option<String>,
            id: Option<String>,
            after: u64,
            limit: u32,
        ) -> RowFuture<'_, Vec<EventRow>> {
            self.tx(move |(_, log)| {
                log.iter()
                    .filter(|e| e.seq > after)
                    .filter(|e| env.as_ref().is_none_or(|v| &e.environment == v))
                    .filter(|e| id.as_ref().is_none_or(|v| &e.client_id == v))
                    .take(limit as usize)
                    .cloned()
                    .collect()
            })
        }
        fn describe(&self) -> String {
            "rows:test".into()
        }
    }

    #[tokio::test]
    async fn a_row_store_passes_the_conformance_suite_through_the_adapter() {
        let store = foreign_store(Arc::new(Rows::default()));
        let report = super::super::conformance::run(&*store).await.unwrap();
        assert!(report.passed.len() >= 9, "{report:?}");
    }

    #[tokio::test]
    async fn failures_and_foreign_data_are_typed_errors() {
        let failing = foreign_store(Arc::new(Rows { fail: true, ..Default::default() }));
        let key = CredentialKey::new("staging", "c1");
        let e = failing.load(&key).await.unwrap_err();
        assert!(matches!(&e, StoreError::Unavailable(m) if m.contains("database is locked")), "{e}");
        let e: crate::Error = e.into();
        assert!(e.is_retryable());

        let rows = Arc::new(Rows { garbage: true, ..Default::default() });
        let store = foreign_store(rows.clone());
        let r = super::super::conformance::sample_record("staging", "c1");
        assert!(store.insert(&r, &[]).await.unwrap());
        assert!(matches!(store.load(&key).await.unwrap_err(), StoreError::Corrupt(_)));

        // A store that never answers is a timeout, not a caller waiting forever.
        let hung = ForeignStore {
            rows: Arc::new(Rows { hang: true, ..Default::default() }),
            timeout: std::time::Duration::from_millis(50),
        };
        let e = hung.load(&key).await.unwrap_err();
        assert!(matches!(&e, StoreError::Unavailable(m) if m.contains("did not answer load")), "{e}");

        // A row that round-trips keeps every field; its Debug shows no data.
        let row = encode_record(&r).unwrap();
        assert_eq!(decode_record(&row).unwrap(), r);
        assert!(!format!("{row:?}").contains(&row.data));
        for bad in ["", "[]", "{\"v\":2}", &row.data.replace("\"active\"", "\"zombie\"")] {
            let e = decode_record(&StoreRow { data: bad.into(), ..row.clone() }).unwrap_err();
            assert!(matches!(e, StoreError::Corrupt(_)), "{bad}: {e}");
        }
    }
}
