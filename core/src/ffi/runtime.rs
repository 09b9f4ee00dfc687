//! The one tokio runtime of a process, and running core futures on it with panic containment and
//! cancellation, the result coming back as data.
//!
//! - [`runtime`]: built on first use, then leaked (it lives until the process exits and is never joined:
//!   joining worker threads at interpreter or VM shutdown can hang). Fork-aware: in a forked child (Python's
//!   `os.fork`, multiprocessing) the parent's runtime, whose threads do not exist there, is abandoned
//!   untouched and a fresh one is built.
//! - [`contain`] runs a binding's synchronous body; [`contained`] wraps a future: a panic in either becomes
//!   the core's [`Internal`](crate::ErrorKind::Internal) error instead of unwinding into a foreign runtime.
//! - [`spawn_guarded`] runs a core future on the runtime and hands its result to a callback (the binding's
//!   wake-up path: the asyncio bridge, the napi dispatcher); [`CallHandle::cancel`] and the result agree
//!   atomically on who came first, so a result that was already delivered (a renewed token) is never
//!   discarded by a late cancel.
//! - [`spawn_awaitable`] is the same as a future that aborts the task when dropped (uniffi's futures: a
//!   cancelled Kotlin coroutine cancels the HTTP request).
//! - [`block_on`] runs a core future to completion from a foreign (non-runtime) thread.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::runtime::Runtime;

use crate::error::Error;
use crate::ffi::ErrorInfo;

struct Slot {
    pid: u32,
    rt: Runtime,
}

/// The current process's runtime (a leaked `Slot`), or null. No lock: a lock held by another thread
/// while building the runtime would stay locked forever in a child forked in that window.
static RUNTIME: AtomicPtr<Slot> = AtomicPtr::new(std::ptr::null_mut());

/// The process id, cached until the next `fork()` (0: not known). `getpid()` is a system call, and
/// [`runtime`] is on every binding's hot path (a `token()` served from memory).
static PID: AtomicU32 = AtomicU32::new(0);

#[cfg(unix)]
extern "C" {
    fn pthread_atfork(
        prepare: Option<unsafe extern "C" fn()>,
        parent: Option<unsafe extern "C" fn()>,
        child: Option<unsafe extern "C" fn()>,
    ) -> std::os::raw::c_int;
}

/// Runs in a forked child (every `fork()`, not only Python's `os.fork`); async-signal-safe: one atomic store.
#[cfg(unix)]
unsafe extern "C" fn forget_pid() {
    PID.store(0, SeqCst);
}

/// The id of the current process, without a system call after the first (a `fork()` makes the child look
/// it up again).
pub fn pid() -> u32 {
    match PID.load(SeqCst) {
        0 => {
            #[cfg(unix)]
            {
                static HANDLER: std::sync::Once = std::sync::Once::new();
                // SAFETY: registers a handler that only stores to an atomic. Registered before the first id
                // is cached, so a cached id can never outlive a fork. Handlers are inherited by children.
                HANDLER.call_once(|| unsafe {
                    pthread_atfork(None, None, Some(forget_pid));
                });
            }
            let p = std::process::id();
            PID.store(p, SeqCst);
            p
        }
        p => p,
    }
}

/// The worker threads: one per core, at least 1, at most 4 (an SDK call is I/O-bound).
fn workers() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 4)
}

/// The runtime of the current process, built on first use (named `confirma-worker` threads). Failing to
/// build it (no threads left) is an [`Internal`](crate::ErrorKind::Internal) error, never a panic.
pub fn runtime() -> Result<&'static Runtime, Error> {
    let pid = pid();
    let current = RUNTIME.load(SeqCst);
    // SAFETY: a non-null pointer in RUNTIME comes from `Box::leak` below and is never freed.
    let forked_from = match unsafe { current.as_ref() } {
        Some(s) if s.pid == pid => return Ok(&s.rt),
        Some(s) => Some(s.pid),
        None => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers())
        .thread_name("confirma-worker")
        .enable_all()
        .build()
        .map_err(|e| Error::internal(format!("cannot start the SDK's runtime: {e}")))?;
    let fresh: *mut Slot = Box::leak(Box::new(Slot { pid, rt }));
    match RUNTIME.compare_exchange(current, fresh, SeqCst, SeqCst) {
        Ok(_) => {
            if let Some(parent_pid) = forked_from {
                tracing::debug!(target: "confirma", parent_pid, pid, "fork detected; started a new runtime");
            }
            // SAFETY: just leaked, never freed.
            Ok(unsafe { &(*fresh).rt })
        }
        Err(winner) => {
            // Another thread installed a runtime meanwhile: use it, and stop ours (it never ran a task).
            // SAFETY: `fresh` was never published, so this is its only owner.
            let ours = unsafe { Box::from_raw(fresh) };
            ours.rt.shutdown_background();
            // SAFETY: a pointer in RUNTIME is leaked and never freed.
            match unsafe { winner.as_ref() } {
                Some(s) if s.pid == pid => Ok(&s.rt),
                _ => runtime(),
            }
        }
    }
}

/// Runs a binding's synchronous body; a panic becomes the `internal` error.
pub fn contain<T>(body: impl FnOnce() -> Result<T, ErrorInfo>) -> Result<T, ErrorInfo> {
    std::panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| Err(ErrorInfo::from_panic(&*payload)))
}

/// A future whose panic, in any poll, becomes the `internal` error. Holds the future inline (no box of
/// its own: spawned, it lives in the task's one allocation).
pub struct Contained<F>(F);

impl<T, F: Future<Output = Result<T, Error>>> Future for Contained<F> {
    type Output = Result<T, ErrorInfo>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of the only field: `Contained` never moves it out, has no `Drop` and
        // is not `Unpin` unless `F` is.
        let inner = unsafe { self.map_unchecked_mut(|c| &mut c.0) };
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(r)) => Poll::Ready(r.map_err(ErrorInfo::from)),
            Err(payload) => Poll::Ready(Err(ErrorInfo::from_panic(&*payload))),
        }
    }
}

/// Wraps a core future so that a panic inside it becomes the `internal` error.
pub fn contained<T, F: Future<Output = Result<T, Error>>>(fut: F) -> Contained<F> {
    Contained(fut)
}

static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// The calls alive on the runtime: spawned and not yet finished or dropped (a cancelled call leaves this
/// count as soon as its request future is dropped). For diagnostics and tests.
pub fn active_calls() -> usize {
    ACTIVE.load(SeqCst)
}

struct Active;

impl Active {
    fn new() -> Self {
        ACTIVE.fetch_add(1, SeqCst);
        Active
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, SeqCst);
    }
}

const RUNNING: u8 = 0;
const CANCELLED: u8 = 1;
const COMPLETED: u8 = 2;

struct CallState {
    /// RUNNING → CANCELLED (by `cancel`) or RUNNING → COMPLETED (by the call), exactly once.
    phase: AtomicU8,
    abort: Mutex<Option<tokio::task::AbortHandle>>,
}

/// The handle of a call started by [`spawn_guarded`].
#[derive(Clone)]
pub struct CallHandle {
    state: Arc<CallState>,
}

impl CallHandle {
    /// Cancels the call: its future (the in-flight request) is dropped at once and its callback is never
    /// called. Returns `false` if the call had already completed: its result is being delivered and must
    /// not be discarded (it may hold a renewed token). Cancelling twice returns `true` twice.
    pub fn cancel(&self) -> bool {
        match self.state.phase.compare_exchange(RUNNING, CANCELLED, SeqCst, SeqCst) {
            Ok(_) => {
                if let Some(h) = self.state.abort.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    h.abort();
                }
                true
            }
            Err(phase) => phase == CANCELLED,
        }
    }

    /// Whether the call completed (its callback was or is being called).
    pub fn is_completed(&self) -> bool {
        self.state.phase.load(SeqCst) == COMPLETED
    }
}

impl std::fmt::Debug for CallHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallHandle").field("phase", &self.state.phase.load(SeqCst)).finish()
    }
}

/// Runs `fut` on the runtime under panic containment and calls `on_done` with its result (on a runtime
/// thread) unless the call was cancelled first. `on_done` must only hand the result over (queue it, wake the
/// foreign thread); a panic in it is contained and logged.
pub fn spawn_guarded<T, F, D>(fut: F, on_done: D) -> Result<CallHandle, ErrorInfo>
where
    T: Send + 'static,
    F: Future<Output = Result<T, Error>> + Send + 'static,
    D: FnOnce(Result<T, ErrorInfo>) + Send + 'static,
{
    let state = Arc::new(CallState { phase: AtomicU8::new(RUNNING), abort: Mutex::new(None) });
    let task = spawn_call(fut, Some(state.clone()), on_done)?;
    let mut slot = state.abort.lock().unwrap_or_else(|p| p.into_inner());
    if state.phase.load(SeqCst) == RUNNING {
        *slot = Some(task.abort_handle());
    }
    drop(slot);
    Ok(CallHandle { state })
}

/// [`spawn_guarded`] for a call that can never be cancelled (the caller passed no cancellation handle):
/// the same panic containment and delivery, without the cancel/complete arbitration's state.
pub fn spawn_detached<T, F, D>(fut: F, on_done: D) -> Result<(), ErrorInfo>
where
    T: Send + 'static,
    F: Future<Output = Result<T, Error>> + Send + 'static,
    D: FnOnce(Result<T, ErrorInfo>) + Send + 'static,
{
    spawn_call(fut, None, on_done).map(drop)
}

fn spawn_call<T, F, D>(
    fut: F,
    state: Option<Arc<CallState>>,
    on_done: D,
) -> Result<tokio::task::JoinHandle<()>, ErrorInfo>
where
    T: Send + 'static,
    F: Future<Output = Result<T, Error>> + Send + 'static,
    D: FnOnce(Result<T, ErrorInfo>) + Send + 'static,
{
    let rt = runtime()?;
    let active = Active::new();
    let fut = contained(fut);
    Ok(rt.spawn(async move {
        let result = fut.await;
        // The call's work is over: it stops counting before the foreign side hears of it, so a caller that
        // has its result never sees it still counted as active.
        drop(active);
        if state.is_some_and(|s| s.phase.compare_exchange(RUNNING, COMPLETED, SeqCst, SeqCst).is_err()) {
            // Cancelled at the same moment: the caller has already been told so.
            return;
        }
        if std::panic::catch_unwind(AssertUnwindSafe(|| on_done(result))).is_err() {
            tracing::error!(target: "confirma", "a binding's completion callback panicked; the call's result is lost");
        }
    }))
}

/// A call started by [`spawn_awaitable`]: awaiting it yields the result; dropping it first aborts the call.
pub struct GuardedTask<T> {
    handle: tokio::task::JoinHandle<Result<T, ErrorInfo>>,
}

impl<T> Future for GuardedTask<T> {
    type Output = Result<T, ErrorInfo>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.handle).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(r)) => Poll::Ready(r),
            Poll::Ready(Err(e)) if e.is_panic() => Poll::Ready(Err(ErrorInfo::from_panic(&*e.into_panic()))),
            // Only `Drop` below aborts, and then nobody polls any more.
            Poll::Ready(Err(_)) => Poll::Ready(Err(ErrorInfo::of(&Error::internal("the SDK's task was cancelled")))),
        }
    }
}

impl<T> Drop for GuardedTask<T> {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Runs `fut` on the runtime; the returned future yields its result and aborts it when dropped.
pub fn spawn_awaitable<T, F>(fut: F) -> Result<GuardedTask<T>, ErrorInfo>
where
    T: Send + 'static,
    F: Future<Output = Result<T, Error>> + Send + 'static,
{
    let rt = runtime()?;
    let active = Active::new();
    let fut = contained(fut);
    let handle = rt.spawn(async move {
        let _active = active;
        fut.await
    });
    Ok(GuardedTask { handle })
}

/// Runs `fut` to completion on the runtime, from a thread that is not one of its workers (a foreign
/// caller's thread), under panic containment.
pub fn block_on<T, F>(fut: F) -> Result<T, ErrorInfo>
where
    F: Future<Output = Result<T, Error>>,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(ErrorInfo::of(&Error::internal("a blocking SDK call was made from inside an async runtime")));
    }
    let rt = runtime()?;
    let _active = Active::new();
    rt.block_on(contained(fut))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn panics_become_internal_errors_everywhere() {
        let e = contain::<()>(|| panic!("boom in a body")).unwrap_err();
        assert_eq!((e.kind_name, e.message.contains("boom in a body")), ("internal", true));
        let e = block_on::<(), _>(async { panic!("boom in a future") }).unwrap_err();
        assert_eq!(e.code, "CONFIRMA_INTERNAL");
        let (tx, rx) = mpsc::channel();
        spawn_guarded::<(), _, _>(async { panic!("boom in a task") }, move |r| tx.send(r).unwrap()).unwrap();
        let r = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(r.unwrap_err().kind_name, "internal");
        let e = runtime().unwrap().block_on(spawn_awaitable::<(), _>(async { panic!("awaited") }).unwrap());
        assert_eq!(e.unwrap_err().kind_name, "internal");
    }

    #[test]
    fn cancel_and_completion_agree_on_who_came_first() {
        // Cancelled while running: the callback never runs, the future is dropped.
        let (tx, rx) = mpsc::channel::<Result<(), ErrorInfo>>();
        let h = spawn_guarded(
            async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(())
            },
            move |r| tx.send(r).unwrap(),
        )
        .unwrap();
        assert!(h.cancel());
        assert!(h.cancel(), "cancelling twice is still cancelled");
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "a cancelled call does not deliver");
        // Completed first: cancel says so, and the result was delivered.
        let (tx, rx) = mpsc::channel();
        let h = spawn_guarded(async { Ok(7) }, move |r| tx.send(r).unwrap()).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap(), 7);
        assert!(h.is_completed());
        assert!(!h.cancel());
    }

    #[test]
    fn blocking_inside_the_runtime_is_an_error_not_a_deadlock() {
        let r = runtime().unwrap().block_on(async { block_on(async { Ok(1) }) });
        assert_eq!(r.unwrap_err().kind_name, "internal");
    }
}
