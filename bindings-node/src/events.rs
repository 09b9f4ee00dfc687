//! Forwarding a manager's events to JavaScript: a task on the core's runtime reads the manager's
//! `EventStream` and calls a thread-safe function that is **weak** (unref'd): it never keeps the process
//! alive by itself. A reader that falls behind skips events (counted by the core), never slowing the
//! manager down. The task ends with `close()`, when the native manager is dropped, or once the manager is
//! gone.

use confirma::ffi::EventStream;
use confirma::ManagerEvent;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;

use crate::manager::NativeManager;

/// A `ManagerEvent` as plain data (fingerprints only, never a token).
#[napi(object)]
pub struct NativeEvent {
    /// snake_case kind (`renew_failed`).
    pub kind: String,
    pub environment: String,
    pub client_id: String,
    pub token_version: f64,
    pub fingerprint: String,
    pub attempt_id: Option<String>,
    pub detail: String,
    /// Epoch milliseconds.
    pub at_ms: f64,
}

impl From<ManagerEvent> for NativeEvent {
    fn from(e: ManagerEvent) -> Self {
        NativeEvent {
            kind: e.kind.as_str().to_string(),
            environment: e.environment,
            client_id: e.client_id,
            token_version: e.token_version as f64,
            fingerprint: e.fingerprint,
            attempt_id: e.attempt_id,
            detail: e.detail,
            at_ms: e.at as f64,
        }
    }
}

#[napi]
impl NativeManager {
    /// Calls `callback` with every event from now on (on the JS thread). Replaces an earlier subscription.
    #[napi(catch_unwind)]
    pub fn subscribe(&self, callback: Function<NativeEvent, ()>) -> Result<()> {
        let tsfn =
            callback.build_threadsafe_function::<NativeEvent>().weak::<true>().callee_handled::<false>().build()?;
        let rt = confirma::ffi::runtime::runtime()
            .map_err(|e| napi::Error::from_reason(format!("cannot start the SDK's runtime: {e}")))?;
        let mut stream = EventStream::new(self.manager());
        let task = rt.spawn(async move {
            while let Some(event) = stream.next().await {
                let status = tsfn.call(NativeEvent::from(event), ThreadsafeFunctionCallMode::NonBlocking);
                if status == Status::Closing {
                    // The JS environment is going away.
                    break;
                }
            }
        });
        self.stop_events();
        *self.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(task.abort_handle());
        Ok(())
    }
}
