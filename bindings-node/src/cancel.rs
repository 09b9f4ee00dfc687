//! The per-call `CancelHandle` the JS layer creates for a call with an `AbortSignal`: a wrapper of the
//! core's `CallHandle`, which decides atomically whether the cancel or the result came first.

use std::sync::{Arc, OnceLock};

use confirma::ffi::runtime::CallHandle;
use napi_derive::napi;

use crate::dispatch::Pending;
use crate::results::NativeOutcome;

/// Cancels the call it was passed to. `cancel()` returns `false` when the call has already completed (its
/// result is on its way to JavaScript and must not be discarded — a renewed token would otherwise be
/// lost); a call cancelled first never delivers its result: its promise settles as `aborted`.
#[napi]
pub struct CancelHandle {
    /// Set once, when the call starts (a handle serves one call).
    call: OnceLock<(CallHandle, Arc<Pending>)>,
}

#[napi]
impl CancelHandle {
    #[napi(constructor)]
    pub fn new() -> Self {
        CancelHandle { call: OnceLock::new() }
    }

    /// Cancels the call: the in-flight request is dropped at once. Returns `false` if the call had already
    /// completed (then its outcome is delivered as usual) or never started.
    #[napi(catch_unwind)]
    pub fn cancel(&self) -> bool {
        let Some((handle, pending)) = self.call.get() else { return false };
        if !handle.cancel() {
            return false;
        }
        // The call will never settle its promise itself: settle it (the JS layer has rejected already).
        pending.settle(NativeOutcome::aborted());
        true
    }
}

impl CancelHandle {
    /// Binds the handle to the call just started.
    pub fn attach(&self, handle: CallHandle, pending: Arc<Pending>) {
        let _ = self.call.set((handle, pending));
    }
}

impl Default for CancelHandle {
    fn default() -> Self {
        Self::new()
    }
}
