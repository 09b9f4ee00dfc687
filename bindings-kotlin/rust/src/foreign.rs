//! Partner stores: a store the application writes in Kotlin/Java over its own database (JDBC, an ORM), as the
//! core's `RowStore` (seven row methods over two tables; the record's encoding, its checks and the protocol stay
//! in the core, `confirma::ffi::foreign_store`).
//!
//! The Kotlin side implements the uniffi callback interface [`NativeRowStore`] (plumbing: the public interface is
//! the hand-written `PartnerCredentialStore`, adapted by `PartnerStoreAdapter`, which turns anything the partner's
//! code throws into [`NativeRowStoreError`] as `"<class>: <message>"`). Its methods are blocking (JDBC): each call
//! runs on the core runtime's blocking pool (`spawn_blocking`), never on a worker thread. A failure — the
//! partner's exception, a value that cannot be lifted, even a panic in the callback machinery — becomes the
//! core's `RowStoreError`, i.e. a retryable `ConfirmaException.Storage`, and the core commits nothing on it.

use std::sync::Arc;

use confirma::ffi::{foreign_store, runtime::runtime, EventRow, RowFuture, RowStore, RowStoreError, StoreRow};

use crate::error::NativeError;
use crate::runtime::{contain, run};
use crate::store::{NativeKeyInput, NativeStore};

/// One credential row (the core's `StoreRow`): key, revision, and the core-encoded `data`.
#[derive(uniffi::Record, Clone)]
pub struct NativeStoreRow {
    /// `staging`, `production`, or a custom base URL.
    pub environment: String,
    /// The CFIS client id.
    pub client_id: String,
    /// The record's revision (compare-and-set).
    pub revision: u64,
    /// The record's data (versioned JSON written and read by the core only; the token only sealed).
    pub data: String,
}

/// One event row (the core's `EventRow`); `seq` is 0 when written, assigned (increasing) by the store.
#[derive(uniffi::Record, Clone)]
pub struct NativeEventRow {
    /// The store's sequence number.
    pub seq: u64,
    /// The environment.
    pub environment: String,
    /// The client id.
    pub client_id: String,
    /// When (epoch ms).
    pub at: i64,
    /// What happened (`rotated`, `lost`, …).
    pub kind: String,
    /// The rest of the event (JSON; fingerprints, never tokens).
    pub data: String,
}

/// A partner store's failure, as `"<class>: <message>"`.
#[derive(uniffi::Error, Debug)]
pub enum NativeRowStoreError {
    /// The partner's method threw.
    Failed {
        /// `"<class>: <message>"`.
        reason: String,
    },
}

impl std::fmt::Display for NativeRowStoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NativeRowStoreError::Failed { reason } => f.write_str(reason),
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for NativeRowStoreError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        NativeRowStoreError::Failed { reason: format!("the store's method failed unexpectedly: {}", e.reason) }
    }
}

/// The row store the Kotlin adapter implements (plumbing: partners implement `PartnerCredentialStore`). Blocking
/// methods, called on a blocking thread.
#[uniffi::export(callback_interface)]
pub trait NativeRowStore: Send + Sync {
    /// The row for `(environment, client_id)`, if any.
    fn load(&self, environment: String, client_id: String) -> Result<Option<NativeStoreRow>, NativeRowStoreError>;
    /// Inserts `row` and appends `events` in one transaction; `false` if a row exists.
    fn insert(&self, row: NativeStoreRow, events: Vec<NativeEventRow>) -> Result<bool, NativeRowStoreError>;
    /// Replaces the row iff its revision is `expected_revision`, appending `events` in the same transaction.
    fn compare_and_swap(
        &self,
        expected_revision: u64,
        row: NativeStoreRow,
        events: Vec<NativeEventRow>,
    ) -> Result<bool, NativeRowStoreError>;
    /// Deletes the row iff its revision is `expected_revision`, appending `events` in the same transaction.
    fn delete(
        &self,
        environment: String,
        client_id: String,
        expected_revision: u64,
        events: Vec<NativeEventRow>,
    ) -> Result<bool, NativeRowStoreError>;
    /// Every row, or those of one environment.
    fn list(&self, environment: Option<String>) -> Result<Vec<NativeStoreRow>, NativeRowStoreError>;
    /// Events with `seq > after_seq`, oldest first, at most `limit`; of one record or all.
    fn events(
        &self,
        environment: Option<String>,
        client_id: Option<String>,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<NativeEventRow>, NativeRowStoreError>;
    /// A description for logs, never a password.
    fn describe(&self) -> Result<String, NativeRowStoreError>;
}

fn row_in(r: NativeStoreRow) -> StoreRow {
    StoreRow { environment: r.environment, client_id: r.client_id, revision: r.revision, data: r.data }
}

fn row_out(r: StoreRow) -> NativeStoreRow {
    NativeStoreRow { environment: r.environment, client_id: r.client_id, revision: r.revision, data: r.data }
}

fn event_in(e: NativeEventRow) -> EventRow {
    EventRow { seq: e.seq, environment: e.environment, client_id: e.client_id, at: e.at, kind: e.kind, data: e.data }
}

fn event_out(e: EventRow) -> NativeEventRow {
    NativeEventRow {
        seq: e.seq,
        environment: e.environment,
        client_id: e.client_id,
        at: e.at,
        kind: e.kind,
        data: e.data,
    }
}

fn events_out(v: Vec<EventRow>) -> Vec<NativeEventRow> {
    v.into_iter().map(event_out).collect()
}

/// The core's `RowStore` over the Kotlin object.
struct KotlinRows {
    rows: Arc<dyn NativeRowStore>,
    described: String,
}

impl KotlinRows {
    /// Runs one blocking call of the partner's store on the runtime's blocking pool.
    fn call<T, F>(&self, f: F) -> RowFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn NativeRowStore) -> Result<T, NativeRowStoreError> + Send + 'static,
    {
        let rows = self.rows.clone();
        Box::pin(async move {
            let rt = runtime().map_err(|e| RowStoreError(format!("the SDK's runtime: {e}")))?;
            match rt.spawn_blocking(move || f(&*rows)).await {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(NativeRowStoreError::Failed { reason })) => Err(RowStoreError(reason)),
                Err(e) if e.is_panic() => Err(RowStoreError(format!(
                    "the call into the application's store failed inside the SDK: {}",
                    confirma::ffi::ErrorInfo::from_panic(&*e.into_panic()).message
                ))),
                Err(_) => Err(RowStoreError("the call into the application's store was stopped".into())),
            }
        })
    }
}

impl RowStore for KotlinRows {
    fn load(&self, environment: String, client_id: String) -> RowFuture<'_, Option<StoreRow>> {
        self.call(move |s| s.load(environment, client_id).map(|r| r.map(row_in)))
    }

    fn insert(&self, row: StoreRow, events: Vec<EventRow>) -> RowFuture<'_, bool> {
        self.call(move |s| s.insert(row_out(row), events_out(events)))
    }

    fn compare_and_swap(&self, expected_revision: u64, row: StoreRow, events: Vec<EventRow>) -> RowFuture<'_, bool> {
        self.call(move |s| s.compare_and_swap(expected_revision, row_out(row), events_out(events)))
    }

    fn delete(
        &self,
        environment: String,
        client_id: String,
        expected_revision: u64,
        events: Vec<EventRow>,
    ) -> RowFuture<'_, bool> {
        self.call(move |s| s.delete(environment, client_id, expected_revision, events_out(events)))
    }

    fn list(&self, environment: Option<String>) -> RowFuture<'_, Vec<StoreRow>> {
        self.call(move |s| s.list(environment).map(|v| v.into_iter().map(row_in).collect()))
    }

    fn events(
        &self,
        environment: Option<String>,
        client_id: Option<String>,
        after_seq: u64,
        limit: u32,
    ) -> RowFuture<'_, Vec<EventRow>> {
        self.call(move |s| {
            s.events(environment, client_id, after_seq, limit).map(|v| v.into_iter().map(event_in).collect())
        })
    }

    fn describe(&self) -> String {
        self.described.clone()
    }
}

/// A credential store over the application's own row store (plumbing for `CredentialStore.custom`). Its
/// description is read once, here (blocking).
#[uniffi::export]
pub fn native_custom_store(
    rows: Box<dyn NativeRowStore>,
    key: Option<String>,
    previous_keys: Vec<String>,
    plaintext: bool,
) -> Result<Arc<NativeStore>, NativeError> {
    let key = NativeKeyInput::new(key, previous_keys, plaintext);
    contain(|| {
        let sealer = key.sealer()?;
        let rows: Arc<dyn NativeRowStore> = Arc::from(rows);
        let described = match rows.describe() {
            Ok(d) => d,
            Err(_) => "application store".to_string(),
        };
        let store = foreign_store(Arc::new(KotlinRows { rows, described }));
        Ok(NativeStore::wrap(store, sealer))
    })
}

/// Runs the core's store conformance suite against `store` (which must be empty): the report, one passed check
/// per line; a failed check is a `Storage` error naming it.
#[uniffi::export]
pub async fn native_check_store(store: Arc<NativeStore>) -> Result<String, NativeError> {
    let store = store.store.clone();
    let report = run(async move {
        confirma::ffi::run_conformance(store).await.map_err(|info| confirma::Error::storage(info.message, false))
    })
    .await?;
    Ok(report)
}
