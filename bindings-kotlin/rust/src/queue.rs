//! The completion queue: the hot calls (validate, renew) without uniffi's future machinery.
//!
//! A call is started by a synchronous export that takes the Kotlin side's call id: it spawns the core's future on
//! the core's runtime (`confirma::ffi::runtime::spawn_guarded`: panic containment, cancel/complete agree on who came
//! first) and returns at once. When the future finishes, the runtime thread pushes a flat [`NativeCompletion`] into
//! one process-wide queue and wakes the drainer: one long-lived JVM daemon thread (Kotlin's `Completions`) that
//! waits in [`native_drain_completions`], takes everything queued in one crossing and resumes the coroutines by id.
//! No runtime thread ever calls into the JVM (no JNA attach, no upcall), and a call costs the start crossing plus
//! its share of a batch, instead of uniffi's poll / wake / re-poll / complete / free round trips.
//! [`native_cancel_call`] cancels by id: the request future is dropped at once and nothing is queued for it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use confirma as cfis;
use confirma::ffi::{runtime as core_runtime, ErrorInfo, StatusData};

use crate::error::{NativeError, NativeErrorInfo};
use crate::models::RenewedToken;

/// A finished call, by its id: exactly one of `status`, `renewed` and `error` is set.
#[derive(uniffi::Record)]
pub struct NativeCompletion {
    /// The id the call was started with.
    pub id: u64,
    /// A validation's answer.
    pub status: Option<StatusData>,
    /// A renewal's new token.
    pub renewed: Option<RenewedToken>,
    /// The call's error.
    pub error: Option<NativeErrorInfo>,
}

/// What a queued call yields.
pub(crate) enum Outcome {
    Status(StatusData),
    Renewed(RenewedToken),
}

struct Queue {
    done: Mutex<Vec<NativeCompletion>>,
    ready: Condvar,
    /// The calls still running, for [`native_cancel_call`].
    running: Mutex<HashMap<u64, core_runtime::CallHandle>>,
}

fn queue() -> &'static Queue {
    static QUEUE: OnceLock<Queue> = OnceLock::new();
    QUEUE.get_or_init(|| Queue { done: Mutex::new(Vec::new()), ready: Condvar::new(), running: Mutex::new(HashMap::new()) })
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts `fut` as call `id`; its completion is queued for the drainer.
pub(crate) fn start<F>(id: u64, fut: F) -> Result<(), NativeError>
where
    F: Future<Output = Result<Outcome, cfis::Error>> + Send + 'static,
{
    let q = queue();
    let handle = core_runtime::spawn_guarded(fut, move |r: Result<Outcome, ErrorInfo>| {
        // The call is COMPLETED before this runs; `start` below holds `running` while it checks that, so the
        // handle is either never inserted or removed here.
        lock(&q.running).remove(&id);
        let mut c = NativeCompletion { id, status: None, renewed: None, error: None };
        match r {
            Ok(Outcome::Status(s)) => c.status = Some(s),
            Ok(Outcome::Renewed(t)) => c.renewed = Some(t),
            Err(e) => c.error = Some(NativeErrorInfo::from(e)),
        }
        let mut done = lock(&q.done);
        done.push(c);
        if done.len() == 1 {
            q.ready.notify_one();
        }
    })?;
    let mut running = lock(&q.running);
    if !handle.is_completed() {
        running.insert(id, handle);
    }
    Ok(())
}

/// Waits up to `max_wait_ms` for finished calls and takes all of them (empty on timeout). Called by one JVM
/// daemon thread, in a loop.
#[uniffi::export]
pub fn native_drain_completions(max_wait_ms: u32) -> Vec<NativeCompletion> {
    let q = queue();
    let mut done = lock(&q.done);
    if done.is_empty() {
        done = q
            .ready
            .wait_timeout(done, Duration::from_millis(u64::from(max_wait_ms)))
            .map(|(g, _)| g)
            .unwrap_or_else(|p| p.into_inner().0);
    }
    std::mem::take(&mut *done)
}

/// Cancels call `id`: its request is dropped at once and nothing is queued for it. `false` if it had already
/// finished (its completion is queued or delivered) or is unknown.
#[uniffi::export]
pub fn native_cancel_call(id: u64) -> bool {
    let handle = lock(&queue().running).remove(&id);
    handle.is_some_and(|h| h.cancel())
}
