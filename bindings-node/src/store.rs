//! The credential stores (`SqliteStore`, `PostgresStore`, `MemoryStore`, a partner's store wrapped by
//! [`foreign`](crate::foreign)) and their key. The key is turned into a `Sealer` by the core
//! (`confirma::ffi::SealerInput`: the given key, else `CONFIRMA_STORE_KEY`, else plaintext if opted into,
//! else a `StorageError` saying how to set one) when the store is opened, so a missing key fails there.

use std::sync::{Arc, Mutex};

use confirma::ffi::runtime::contain;
use confirma::ffi::{run_conformance, ErrorInfo, SealerInput};
use confirma::store::{CredentialStore, MemoryStore, PostgresStore, Sealer, SqliteStore};
use confirma::Error;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::cancel::CancelHandle;
use crate::error::NativeError;
use crate::results::NativeOutcome;
use crate::runtime::call;

/// The key options of a store (or of a manager over a partner's store). Never shown anywhere.
#[napi(object)]
pub struct NativeKeyOptions {
    /// Base64 of 32 bytes; absent = `CONFIRMA_STORE_KEY`.
    pub key: Option<String>,
    pub previous_keys: Option<Vec<String>>,
    /// Store tokens in clear when there is no key (the explicit opt-in).
    pub plaintext: Option<bool>,
}

impl NativeKeyOptions {
    pub fn is_empty(&self) -> bool {
        self.key.is_none() && self.previous_keys.is_none() && self.plaintext.is_none()
    }

    pub fn input(&self) -> SealerInput {
        SealerInput {
            key: self.key.clone(),
            previous_keys: self.previous_keys.clone().unwrap_or_default(),
            plaintext: self.plaintext.unwrap_or(false),
        }
    }
}

/// An opened store and the sealer its key made (`None` for a partner's store: the manager's key options
/// or `CONFIRMA_STORE_KEY` decide).
#[derive(Clone)]
pub struct Opened {
    pub store: Arc<dyn CredentialStore>,
    pub sealer: Option<Sealer>,
}

/// A credential store. A `PostgresStore` is created empty and filled by `connectPostgres`.
#[napi]
pub struct NativeStore {
    slot: Arc<Mutex<Option<Opened>>>,
}

impl NativeStore {
    pub fn of(store: Arc<dyn CredentialStore>, sealer: Option<Sealer>) -> Self {
        NativeStore { slot: Arc::new(Mutex::new(Some(Opened { store, sealer }))) }
    }

    /// The opened store, or an error for a PostgreSQL store that is not connected (yet).
    pub fn opened(&self) -> confirma::Result<Opened> {
        self.slot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| Error::storage("the store is not connected", false))
    }
}

fn built<T>(r: std::result::Result<T, ErrorInfo>) -> Either<T, NativeError> {
    match r {
        Ok(v) => Either::A(v),
        Err(e) => Either::B(NativeError::from(&e)),
    }
}

/// `SqliteStore.open(path, keyOptions)`: opens (creates) the file and its schema.
#[napi(catch_unwind)]
pub fn open_sqlite_store(path: String, key: NativeKeyOptions) -> Either<NativeStore, NativeError> {
    built(contain(|| {
        let sealer = key.input().build()?;
        let store = SqliteStore::open(&path).map_err(Error::from)?;
        Ok(NativeStore::of(Arc::new(store), Some(sealer)))
    }))
}

/// `new MemoryStore(keyOptions)`: this process only.
#[napi(catch_unwind)]
pub fn new_memory_store(key: NativeKeyOptions) -> Either<NativeStore, NativeError> {
    built(contain(|| {
        let sealer = key.input().build_for_memory()?;
        Ok(NativeStore::of(Arc::new(MemoryStore::new()), Some(sealer)))
    }))
}

/// A PostgreSQL store before it is connected (`connectPostgres` fills it).
#[napi(catch_unwind)]
pub fn new_pending_store() -> NativeStore {
    NativeStore { slot: Arc::new(Mutex::new(None)) }
}

#[napi]
impl NativeStore {
    /// Connects a pending store to PostgreSQL (creating the schema if needed); the key is checked first.
    #[napi(catch_unwind)]
    pub fn connect_postgres<'env>(
        &self,
        env: &'env Env,
        dsn: String,
        key: NativeKeyOptions,
        cancel: Option<&CancelHandle>,
    ) -> Result<PromiseRaw<'env, NativeOutcome>> {
        let slot = self.slot.clone();
        let sealer = key.input();
        call(env, cancel, move || async move {
            let sealer = sealer.build()?;
            let store = PostgresStore::connect(&dsn).await.map_err(Error::from)?;
            *slot.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(Opened { store: Arc::new(store), sealer: Some(sealer) });
            Ok(())
        })
    }

    /// `sqlite:/path`, `postgres://user@host/db` (never a password), `memory`, or the partner's description.
    #[napi(catch_unwind)]
    pub fn describe(&self) -> String {
        match self.opened() {
            Ok(o) => o.store.describe(),
            Err(_) => "not connected".to_string(),
        }
    }

    /// Whether the store's key encrypts tokens (`null` for a partner's store: the manager's key decides).
    #[napi(getter, catch_unwind)]
    pub fn encrypted(&self) -> Option<bool> {
        self.opened().ok().and_then(|o| o.sealer.map(|s| s.is_encrypted()))
    }

    /// Runs the core's store conformance suite on this (empty) store.
    #[napi(catch_unwind)]
    pub fn check<'env>(
        &self,
        env: &'env Env,
        cancel: Option<&CancelHandle>,
    ) -> Result<PromiseRaw<'env, NativeOutcome>> {
        let opened = self.opened();
        call(env, cancel, move || async move {
            let store = opened?.store;
            Ok(match run_conformance(store).await {
                Ok(report) => NativeOutcome { report: Some(report), ..NativeOutcome::empty(true) },
                Err(e) => NativeOutcome::error(&e),
            })
        })
    }
}
