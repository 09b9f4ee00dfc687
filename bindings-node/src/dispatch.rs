//! The Node wake-up path: settling promises from the core's runtime threads.
//!
//! One thread-safe function per JS environment (main thread or worker) delivers every completed call.
//! Runtime threads queue `(deferred, outcome)` pairs; at most one wake-up of the JS thread is in flight,
//! and its callback settles the whole queue. While other calls are in flight, the wake-up waits until the
//! runtime has run every ready task (see [`Dispatcher::complete`]), so one wake-up carries every call that
//! completed in that pass. The thread-safe function is unref'd while no call is in flight, so it never
//! keeps the process alive.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use confirma::ffi::ErrorInfo;
use confirma::Error;
use napi::bindgen_prelude::*;
use napi::sys;

use crate::results::NativeOutcome;

/// A `napi_deferred` travelling through the runtime (only ever used on its own JS thread).
struct Deferred(sys::napi_deferred);
// SAFETY: the pointer is only dereferenced by Node-API calls made on the JS thread that created it.
unsafe impl Send for Deferred {}

/// The promise of one call, settled exactly once (by the call, or by its cancellation).
pub struct Pending {
    dispatcher: Arc<Dispatcher>,
    deferred: Mutex<Option<Deferred>>,
}

impl Pending {
    /// Settles the promise with `outcome` (any thread); later calls do nothing.
    pub fn settle(&self, outcome: NativeOutcome) {
        if let Some(deferred) = self.deferred.lock().unwrap_or_else(|e| e.into_inner()).take() {
            self.dispatcher.complete(deferred, outcome);
        }
    }
}

struct DispatchQueue {
    items: Vec<(Deferred, NativeOutcome)>,
    /// Set by the finalizer once Node has torn the thread-safe function down (env teardown).
    closed: bool,
    /// A flush task is scheduled on the runtime: later completions just join the queue.
    flush_scheduled: bool,
}

pub struct Dispatcher {
    env: sys::napi_env,
    /// Set once, right after creation and before any call can use it.
    tsfn: AtomicPtr<sys::napi_threadsafe_function__>,
    queue: Mutex<DispatchQueue>,
    /// A wake-up of the JS thread is pending: later completions just join the queue.
    wake_pending: AtomicBool,
    /// Calls started and not yet settled (touched on the JS thread only).
    in_flight: Cell<usize>,
    /// Calls started and not yet queued (any thread): when the last one completes there is nothing to
    /// batch it with, so it wakes the JS thread at once.
    unqueued: AtomicUsize,
}

// SAFETY: `env`, `tsfn` handles are used per Node-API's rules: `napi_call_threadsafe_function` from any
// thread (under `queue`'s lock, which the finalizer also takes, so never after teardown), everything
// else (`in_flight`, ref/unref, deferreds) on the JS thread only.
unsafe impl Send for Dispatcher {}
unsafe impl Sync for Dispatcher {}

thread_local! {
    static DISPATCHER: RefCell<Option<Arc<Dispatcher>>> = const { RefCell::new(None) };
}

/// Test hook (`probes::fail_next_wakeups`): the next N wake-up attempts fail as if Node-API had refused them.
pub static FAIL_WAKEUPS: AtomicUsize = AtomicUsize::new(0);

/// How many times one wake-up is attempted at once before it is retried later.
const ATTEMPTS: usize = 3;
/// The delay before a failed wake-up is retried (on the core's runtime).
const RETRY_AFTER: Duration = Duration::from_millis(10);

impl Dispatcher {
    /// The dispatcher of the calling JS thread's environment, created on first use.
    pub fn current(env: &Env) -> Result<Arc<Dispatcher>> {
        let raw_env = env.raw();
        if let Some(d) = DISPATCHER.with(|d| d.borrow().as_ref().filter(|d| d.env == raw_env).cloned()) {
            return Ok(d);
        }
        let d = Arc::new(Dispatcher {
            env: raw_env,
            tsfn: AtomicPtr::new(ptr::null_mut()),
            queue: Mutex::new(DispatchQueue { items: Vec::new(), closed: false, flush_scheduled: false }),
            wake_pending: AtomicBool::new(false),
            in_flight: Cell::new(0),
            unqueued: AtomicUsize::new(0),
        });
        let context = Arc::into_raw(d.clone()) as *mut c_void;
        let mut tsfn: sys::napi_threadsafe_function = ptr::null_mut();
        let mut name = ptr::null_mut();
        let label = "confirma-dispatch";
        // SAFETY: plain Node-API calls on the JS thread with valid out-pointers.
        unsafe {
            check(sys::napi_create_string_utf8(raw_env, label.as_ptr().cast(), label.len() as isize, &mut name))?;
            let status = sys::napi_create_threadsafe_function(
                raw_env,
                ptr::null_mut(),
                ptr::null_mut(),
                name,
                0,
                1,
                context,
                Some(finalize_dispatcher),
                context,
                Some(dispatch_batch),
                &mut tsfn,
            );
            if status != sys::Status::napi_ok {
                drop(Arc::from_raw(context as *const Dispatcher));
                check(status)?;
            }
            check(sys::napi_unref_threadsafe_function(raw_env, tsfn))?;
        }
        d.tsfn.store(tsfn, Ordering::Release);
        DISPATCHER.with(|slot| *slot.borrow_mut() = Some(d.clone()));
        Ok(d)
    }

    /// Creates the promise of one call (JS thread).
    pub fn begin(self: &Arc<Self>) -> Result<(Arc<Pending>, sys::napi_value)> {
        let mut deferred = ptr::null_mut();
        let mut promise = ptr::null_mut();
        // SAFETY: JS thread, valid out-pointers.
        unsafe {
            check(sys::napi_create_promise(self.env, &mut deferred, &mut promise))?;
            if self.in_flight.get() == 0 {
                check(sys::napi_ref_threadsafe_function(self.env, self.tsfn.load(Ordering::Relaxed)))?;
            }
        }
        self.in_flight.set(self.in_flight.get() + 1);
        self.unqueued.fetch_add(1, Ordering::AcqRel);
        let pending = Pending { dispatcher: self.clone(), deferred: Mutex::new(Some(Deferred(deferred))) };
        Ok((Arc::new(pending), promise))
    }

    /// Queues a finished call (any thread) and wakes the JS thread.
    ///
    /// While other calls are in flight, on a runtime thread, the wake-up is deferred until the worker has
    /// run every task that is ready (a flush task that yields once: tokio runs yielded tasks when its
    /// queues are empty, before it parks or polls for I/O), so the calls completing in one pass of the
    /// runtime reach JavaScript in one wake-up — one `napi_call_threadsafe_function` (an eventfd write and
    /// a switch to the JS thread) per batch instead of one per call. The last call in flight, and a
    /// completion off the runtime (a cancel on the JS thread), wake it at once.
    fn complete(self: &Arc<Self>, deferred: Deferred, outcome: NativeOutcome) {
        let others = self.unqueued.fetch_sub(1, Ordering::AcqRel).saturating_sub(1);
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.closed {
            return;
        }
        q.items.push((deferred, outcome));
        let schedule = !q.flush_scheduled;
        q.flush_scheduled = true;
        drop(q);
        if !schedule {
            return;
        }
        let runtime = if others > 0 { tokio::runtime::Handle::try_current().ok() } else { None };
        if let Some(rt) = runtime {
            // Flushes when the task ends — or is dropped unrun (a runtime shutting down): never lost.
            let flush = FlushOnDrop(self.clone());
            rt.spawn(async move {
                tokio::task::yield_now().await;
                drop(flush);
            });
        } else {
            self.flush();
        }
    }

    /// Ends the scheduled flush: wakes the JS thread for everything queued so far.
    fn flush(self: &Arc<Self>) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).flush_scheduled = false;
        self.wake();
    }

    /// Wakes the JS thread unless a wake-up is pending or nothing is queued.
    fn wake(self: &Arc<Self>) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.closed || q.items.is_empty() || self.wake_pending.swap(true, Ordering::AcqRel) {
            return;
        }
        // The queue is unbounded, so a call fails only while Node tears the environment down
        // (`napi_closing`) or when it cannot allocate; try a few times, then again a little later.
        let mut status = sys::Status::napi_generic_failure;
        for _ in 0..ATTEMPTS {
            status = if FAIL_WAKEUPS.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1)).is_ok() {
                sys::Status::napi_generic_failure
            } else {
                // SAFETY: not closed (checked under the lock the finalizer takes).
                unsafe {
                    sys::napi_call_threadsafe_function(
                        self.tsfn.load(Ordering::Acquire),
                        ptr::null_mut(),
                        sys::ThreadsafeFunctionCallMode::nonblocking,
                    )
                }
            };
            if status == sys::Status::napi_ok || status == sys::Status::napi_closing {
                break;
            }
        }
        if status == sys::Status::napi_ok {
            return;
        }
        // No wake-up is queued after all: clear the flag, or every later completion would wait for a
        // wake-up that never comes.
        self.wake_pending.store(false, Ordering::Release);
        if status == sys::Status::napi_closing {
            // The environment is going away: these promises can no longer be settled.
            q.closed = true;
            q.items.clear();
            return;
        }
        drop(q);
        // Retry later, so that a queued result is delivered even if no other call ever completes.
        let d = self.clone();
        match confirma::ffi::runtime::runtime() {
            Ok(rt) => {
                rt.spawn(async move {
                    tokio::time::sleep(RETRY_AFTER).await;
                    d.wake();
                });
            }
            Err(_) => {
                std::thread::spawn(move || {
                    std::thread::sleep(RETRY_AFTER);
                    d.wake();
                });
            }
        }
    }
}

/// The scheduled flush of a [`Dispatcher`]: runs when dropped.
struct FlushOnDrop(Arc<Dispatcher>);

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        self.0.flush();
    }
}

fn check(status: sys::napi_status) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::from_status(Status::from(status)))
    }
}

unsafe extern "C" fn dispatch_batch(
    env: sys::napi_env,
    _js_cb: sys::napi_value,
    context: *mut c_void,
    _data: *mut c_void,
) {
    if env.is_null() || context.is_null() {
        return;
    }
    let _ = panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `context` is the Arc the tsfn holds until its finalizer runs (on this thread).
        let d = unsafe { &*(context as *const Dispatcher) };
        d.wake_pending.store(false, Ordering::Release);
        let batch = std::mem::take(&mut d.queue.lock().unwrap_or_else(|e| e.into_inner()).items);
        let n = batch.len();
        for (deferred, outcome) in batch {
            // SAFETY: JS thread of `env`, inside the handle scope Node opens for this callback.
            unsafe { settle(env, deferred, outcome) };
        }
        if n > 0 {
            let left = d.in_flight.get().saturating_sub(n);
            d.in_flight.set(left);
            if left == 0 {
                // SAFETY: JS thread; the tsfn is alive (we are in its callback).
                unsafe { sys::napi_unref_threadsafe_function(env, d.tsfn.load(Ordering::Relaxed)) };
            }
        }
    }));
}

/// Resolves one promise with its outcome (JS thread).
unsafe fn settle(env: sys::napi_env, deferred: Deferred, outcome: NativeOutcome) {
    let converted = NativeOutcome::to_napi_value(env, outcome).or_else(|e| {
        let failed = Error::internal(format!("could not hand the result to JavaScript: {}", e.reason));
        NativeOutcome::to_napi_value(env, NativeOutcome::error(&ErrorInfo::of(&failed)))
    });
    match converted {
        Ok(v) => {
            sys::napi_resolve_deferred(env, deferred.0, v);
        }
        Err(e) => {
            // Not even an error object could be built: reject with a plain Error (the JS layer turns any
            // non-SDK failure of a native call into an InternalError).
            let mut msg = ptr::null_mut();
            let text = format!("internal error in the native layer: {}", e.reason);
            sys::napi_create_string_utf8(env, text.as_ptr().cast(), text.len() as isize, &mut msg);
            let mut err = ptr::null_mut();
            sys::napi_create_error(env, ptr::null_mut(), msg, &mut err);
            sys::napi_reject_deferred(env, deferred.0, err);
        }
    }
}

unsafe extern "C" fn finalize_dispatcher(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    if data.is_null() {
        return;
    }
    // SAFETY: `data` is the Arc reference handed to the tsfn at creation; released exactly once here.
    let d = unsafe { Arc::from_raw(data as *const Dispatcher) };
    let mut q = d.queue.lock().unwrap_or_else(|e| e.into_inner());
    q.closed = true;
    // The environment is going away: these promises can no longer be settled.
    q.items.clear();
    drop(q);
    let _ = DISPATCHER.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, &d)) {
                *slot = None;
            }
        }
    });
}
