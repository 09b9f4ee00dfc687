//! Token events: the core's `ManagerEvent` (fingerprints, never tokens) through `confirma::ffi::EventStream`
//! (in order; a reader that falls behind skips what it missed, counted, and never slows the manager down).

use std::sync::Arc;

use confirma::ffi::EventStream;
use confirma::store::EventKind;
use confirma::ManagerEvent;

use crate::manager::NativeTokenManager;

/// One event as it crosses (the core's `ManagerEvent`; `at` in epoch milliseconds).
#[derive(uniffi::Record, Clone, Debug)]
pub struct NativeTokenEvent {
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
    pub at_ms: i64,
}

impl From<ManagerEvent> for NativeTokenEvent {
    fn from(e: ManagerEvent) -> Self {
        // Destructured whole: a field the core adds fails this build until it is mapped.
        let ManagerEvent { kind, environment, client_id, token_version, fingerprint, attempt_id, detail, at } = e;
        NativeTokenEvent { kind, environment, client_id, token_version, fingerprint, attempt_id, detail, at_ms: at }
    }
}

/// A subscription to one manager's events (plumbing for `TokenManager.events`).
#[derive(uniffi::Object)]
pub struct NativeEventStream {
    inner: tokio::sync::Mutex<EventStream>,
    missed: std::sync::atomic::AtomicU64,
}

#[uniffi::export]
impl NativeEventStream {
    /// The next event; `None` once the manager is gone. Cancelling the wait loses nothing.
    pub async fn next(&self) -> Option<NativeTokenEvent> {
        let mut s = self.inner.lock().await;
        let e = s.next().await;
        self.missed.store(s.missed(), std::sync::atomic::Ordering::Relaxed);
        e.map(NativeTokenEvent::from)
    }

    /// How many events this subscriber skipped because it fell behind.
    pub fn missed(&self) -> u64 {
        self.missed.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[uniffi::export]
impl NativeTokenManager {
    /// The manager's events from now on.
    pub fn subscribe(&self) -> Arc<NativeEventStream> {
        Arc::new(NativeEventStream {
            inner: tokio::sync::Mutex::new(EventStream::new(&self.inner)),
            missed: std::sync::atomic::AtomicU64::new(0),
        })
    }
}
