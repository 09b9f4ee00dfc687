//! `NativeStore`: a credential store (the core's SQLite, PostgreSQL or in-memory store, or a partner's row
//! store, see [`crate::foreign`]) together with the key that seals its tokens (the core's `Sealer`, built by
//! `confirma::ffi::SealerInput`: the given key, else `CONFIRMA_STORE_KEY`, else plaintext only when opted into).

use std::sync::Arc;

use confirma::ffi::SealerInput;
use confirma::store::{CredentialStore, MemoryStore, PostgresStore, Sealer, SqliteStore};

use crate::error::NativeError;
use crate::runtime::{contain, run};

/// The store key as Kotlin hands it over: three plain arguments of every store factory (not a uniffi record,
/// whose generated `toString` would print the key). `key` absent = `CONFIRMA_STORE_KEY` (and
/// `CONFIRMA_STORE_PREVIOUS_KEYS`).
#[derive(Clone, Default)]
pub struct NativeKeyInput {
    /// Base64 of 32 bytes; absent = the environment's key.
    pub key: Option<String>,
    /// Older keys that still open what they sealed (key rotation).
    pub previous_keys: Vec<String>,
    /// Store tokens in clear when there is no key (the explicit opt-in).
    pub plaintext: bool,
}

impl std::fmt::Debug for NativeKeyInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeKeyInput")
            .field("key", &self.key.as_ref().map(|_| confirma::REDACTED))
            .field("previous_keys", &self.previous_keys.len())
            .field("plaintext", &self.plaintext)
            .finish()
    }
}

impl NativeKeyInput {
    pub(crate) fn new(key: Option<String>, previous_keys: Vec<String>, plaintext: bool) -> Self {
        NativeKeyInput { key, previous_keys, plaintext }
    }

    fn input(&self) -> SealerInput {
        SealerInput { key: self.key.clone(), previous_keys: self.previous_keys.clone(), plaintext: self.plaintext }
    }

    pub(crate) fn sealer(&self) -> Result<Sealer, confirma::Error> {
        self.input().build()
    }
}

/// A credential store and its sealer (plumbing: use the Kotlin `CredentialStore`).
#[derive(uniffi::Object)]
pub struct NativeStore {
    pub(crate) store: Arc<dyn CredentialStore>,
    pub(crate) sealer: Sealer,
}

impl NativeStore {
    pub(crate) fn wrap(store: Arc<dyn CredentialStore>, sealer: Sealer) -> Arc<Self> {
        Arc::new(NativeStore { store, sealer })
    }
}

#[uniffi::export]
impl NativeStore {
    /// The SQLite store in the file at `path` (created with its schema if needed). Blocking (opens the file).
    #[uniffi::constructor]
    pub fn sqlite(
        path: String,
        key: Option<String>,
        previous_keys: Vec<String>,
        plaintext: bool,
    ) -> Result<Arc<Self>, NativeError> {
        let key = NativeKeyInput::new(key, previous_keys, plaintext);
        contain(|| {
            let sealer = key.sealer()?;
            let store = SqliteStore::open(&path).map_err(confirma::Error::from)?;
            Ok(NativeStore::wrap(Arc::new(store), sealer))
        })
    }

    /// A store in this process's memory (`confirma::ffi::SealerInput::build_for_memory`: the given or environment
    /// key, else a random key of the store; in clear only on the plaintext opt-in).
    #[uniffi::constructor]
    pub fn memory(key: Option<String>, previous_keys: Vec<String>, plaintext: bool) -> Result<Arc<Self>, NativeError> {
        let key = NativeKeyInput::new(key, previous_keys, plaintext);
        contain(|| {
            let sealer = key.input().build_for_memory()?;
            Ok(NativeStore::wrap(Arc::new(MemoryStore::new()), sealer))
        })
    }

    /// Where the store is (`sqlite:/path`, `postgres://user@host:port/db`, …), never a password.
    pub fn describe(&self) -> String {
        self.store.describe()
    }

    /// Whether tokens are sealed (false only after the explicit plaintext opt-in).
    pub fn encrypted(&self) -> bool {
        self.sealer.is_encrypted()
    }
}

/// The PostgreSQL store at `dsn` (`postgres://user:password@host:port/db` or libpq's `key=value` form): connects
/// a pool and applies the schema. The DSN's password never appears in errors or `describe()`.
#[uniffi::export]
pub async fn native_postgres_store(
    dsn: String,
    key: Option<String>,
    previous_keys: Vec<String>,
    plaintext: bool,
) -> Result<Arc<NativeStore>, NativeError> {
    let key = NativeKeyInput::new(key, previous_keys, plaintext);
    let sealer = contain(|| Ok(key.sealer()?))?;
    let store = run(async move { PostgresStore::connect(&dsn).await.map_err(confirma::Error::from) }).await?;
    Ok(NativeStore::wrap(Arc::new(store), sealer))
}
