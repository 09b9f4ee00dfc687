//! Running core calls from Python, on the core's one fork-aware runtime (`confirma::ffi::runtime`):
//!
//! - [`contain`]: every entry point's body; a panic becomes `confirma.InternalError` (the core's
//!   `contain`), never pyo3's `PanicException` (a `BaseException`).
//! - [`block_on`]: a blocking call, GIL released; on the main thread signals are checked every 100 ms so
//!   Ctrl-C interrupts the call (the request is dropped).
//! - [`spawn_async`]: an asyncio call on the core's `spawn_guarded`; the result reaches the event loop
//!   through its `aio::LoopBridge` (batched, no GIL on runtime threads), or one `call_soon_threadsafe` per
//!   completion on loops that cannot have a bridge. Cancelling the asyncio future cancels the call.
//! - [`with_python`] / [`_shutdown`]: runtime threads enter Python only around interpreter shutdown safely.

// The core hands an error across as an `ErrorInfo` by value, once per failed call: its size does not matter.
#![allow(clippy::result_large_err)]

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use confirma::ffi::runtime::{self as core_rt, CallHandle};
use confirma::ffi::ErrorInfo;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::aio;
use crate::error::to_pyerr;

// ---------------------------------------------------------------------------------------------------------
// Entering Python from runtime threads, safely around interpreter shutdown.
//
// A non-Python thread that takes the GIL while the interpreter finalizes is terminated by CPython
// (pthread_exit) in the middle of Rust code, which crashes. So runtime threads enter Python only through
// `with_python`, and an `atexit` hook (`_shutdown`) first stops new entries, then waits (GIL released,
// bounded) until those already inside are done.

static IN_PYTHON: AtomicUsize = AtomicUsize::new(0);
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

/// Runs `f` attached to Python, unless the interpreter is shutting down (then `None`).
pub fn with_python<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> Option<R> {
    IN_PYTHON.fetch_add(1, SeqCst);
    let result = if SHUTTING_DOWN.load(SeqCst) { None } else { Python::try_attach(f) };
    IN_PYTHON.fetch_sub(1, SeqCst);
    result
}

/// `atexit` hook: no runtime thread enters Python from now on; waits up to 2 s for those inside.
#[pyfunction]
pub fn _shutdown(py: Python<'_>) {
    crate::logbridge::drain(py);
    SHUTTING_DOWN.store(true, SeqCst);
    py.detach(|| {
        let until = Instant::now() + Duration::from_secs(2);
        while IN_PYTHON.load(SeqCst) > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// `os.register_at_fork(after_in_child=...)`: threads that were inside Python in the parent do not exist
/// in the child. (The core's runtime notices the fork itself.)
#[pyfunction]
pub fn _after_fork_child() {
    IN_PYTHON.store(0, SeqCst);
    crate::logbridge::after_fork_child();
}

// ---------------------------------------------------------------------------------------------------------
// Entry points

/// Runs an entry point's body under the core's panic containment, then emits queued log records.
pub fn contain<R>(py: Python<'_>, f: impl FnOnce() -> PyResult<R>) -> PyResult<R> {
    let result = core_rt::contain(|| Ok(f())).unwrap_or_else(|e| Err(to_pyerr(py, &e)));
    crate::logbridge::drain(py);
    result
}

static MAIN_THREAD_IDENT: PyOnceLock<u64> = PyOnceLock::new();

/// Whether the calling thread is Python's main thread (its ident is looked up once).
fn on_main_thread(py: Python<'_>) -> bool {
    let main = MAIN_THREAD_IDENT.get_or_try_init(py, || -> PyResult<u64> {
        py.import("threading")?.call_method0("main_thread")?.getattr("ident")?.extract()
    });
    match main {
        // SAFETY: plain C call, valid on any thread attached to Python.
        Ok(m) => *m == unsafe { pyo3::ffi::PyThread_get_thread_ident() } as u64,
        Err(_) => false,
    }
}

/// Runs a core call to completion (the core's `block_on`: panic containment, one runtime) with the GIL
/// released, and converts its result. On the main thread a pending signal (Ctrl-C) ends the call: the
/// request is dropped and the signal's exception (`KeyboardInterrupt`) is raised.
pub fn block_on<T, F>(py: Python<'_>, fut: F, convert: fn(Python<'_>, T) -> PyResult<Py<PyAny>>) -> PyResult<Py<PyAny>>
where
    T: Send,
    F: Future<Output = Result<T, confirma::Error>> + Send,
{
    let main = on_main_thread(py);
    let result: Result<PyResult<T>, ErrorInfo> = py.detach(move || {
        core_rt::block_on(async move {
            if !main {
                return fut.await.map(Ok);
            }
            tokio::pin!(fut);
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    r = &mut fut => return r.map(Ok),
                    _ = tick.tick() => {
                        if let Some(Err(e)) = with_python(|py| py.check_signals()) {
                            return Ok(Err(e));
                        }
                    }
                }
            }
        })
    });
    match result {
        Ok(Ok(v)) => convert(py, v),
        Ok(Err(signal)) => Err(signal),
        Err(e) => Err(to_pyerr(py, &e)),
    }
}

// ---------------------------------------------------------------------------------------------------------
// asyncio

static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static SETTLE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Called when the asyncio future is done (cancelled; or settled by the fallback path, then a no-op: the
/// bridge removes this callback before it settles a future): cancels the core call
/// (its request future is dropped; a result already delivered is never discarded, see `CallHandle::cancel`)
/// and forgets the future in its loop's bridge.
#[pyclass(frozen)]
struct CancelOnDone {
    call: CallHandle,
    bridge: Option<(Py<aio::LoopBridge>, u64)>,
}

#[pymethods]
impl CancelOnDone {
    fn __call__(&self, py: Python<'_>, fut: &Bound<'_, PyAny>) -> PyResult<()> {
        contain(py, || {
            if !self.call.cancel() && fut.call_method0(pyo3::intern!(py, "cancelled"))?.is_truthy()? {
                // The call had finished, its result on the way to the loop, when the task was cancelled.
                tracing::warn!(target: "confirma::python", "an asyncio call was cancelled after it had completed; its result is discarded (a create or renew took effect: treat it like OutcomeUnknownError)");
            }
            if let Some((b, id)) = &self.bridge {
                b.bind(py).get().forget(*id);
            }
            Ok(())
        })
    }
}

/// Settles an asyncio future on its loop thread unless it was already cancelled (fallback path).
#[pyfunction]
fn _settle(fut: &Bound<'_, PyAny>, ok: bool, value: &Bound<'_, PyAny>) -> PyResult<()> {
    contain(fut.py(), || aio::settle(fut, ok, value))
}

/// Private, for tests: how many core calls are alive on the runtime (a cancelled call's request future is
/// dropped, so its count goes back down).
#[pyfunction]
pub fn _active_async_calls() -> usize {
    core_rt::active_calls()
}

/// Lives inside an asyncio call's future: when the future is dropped without completing (cancelled),
/// wakes the loop so that what it logged (e.g. the core's warning about a create cancelled after sending)
/// reaches the `confirma` logger without waiting for the next call.
struct WakeOnDrop {
    shared: Option<Arc<aio::Shared>>,
    completed: bool,
}

impl Drop for WakeOnDrop {
    fn drop(&mut self) {
        if !self.completed {
            if let Some(s) = &self.shared {
                s.wake();
            }
        }
    }
}

/// Starts a core call and returns an asyncio future for it, bound to the running loop. The asyncio future
/// always settles: a panic in the core future or in the conversion becomes `InternalError`.
pub fn spawn_async<'py, T, F>(
    py: Python<'py>,
    fut: F,
    convert: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>>
where
    T: Send + 'static,
    F: Future<Output = Result<T, confirma::Error>> + Send + 'static,
{
    let event_loop = GET_RUNNING_LOOP.import(py, "asyncio", "get_running_loop")?.call0()?;
    let py_fut = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
    // On the loop thread: the result → (ok, value), under panic containment.
    let finish = move |py: Python<'_>, result: Result<T, ErrorInfo>| -> (bool, Py<PyAny>) {
        let converted = core_rt::contain(|| {
            Ok(match result {
                Ok(v) => convert(py, v),
                Err(e) => Err(to_pyerr(py, &e)),
            })
        });
        match converted {
            Ok(Ok(obj)) => (true, obj),
            Ok(Err(e)) => (false, e.into_value(py).into_any()),
            Err(e) => (false, to_pyerr(py, &e).into_value(py).into_any()),
        }
    };
    let bridge = aio::bridge_for(&event_loop);
    let shared = bridge.as_ref().map(|b| b.get().shared.clone());
    let guarded = {
        let shared = shared.clone();
        async move {
            let mut guard = WakeOnDrop { shared, completed: false };
            let r = fut.await;
            guard.completed = true;
            r
        }
    };
    let started = match (bridge, shared) {
        (Some(bridge), Some(shared)) => {
            let id = bridge.get().register(py_fut.clone().unbind());
            core_rt::spawn_guarded(guarded, move |result| shared.complete(id, Box::new(move |py| finish(py, result))))
                .map(|call| CancelOnDone { call, bridge: Some((bridge.unbind(), id)) })
        }
        _ => {
            let settle = SETTLE
                .get_or_try_init(py, || -> PyResult<Py<PyAny>> {
                    Ok(wrap_pyfunction!(_settle, py)?.into_any().unbind())
                })?
                .clone_ref(py);
            let fut_ref = py_fut.clone().unbind();
            let loop_ref = event_loop.unbind();
            core_rt::spawn_guarded(guarded, move |result| {
                with_python(move |py| {
                    let (ok, value) = finish(py, result);
                    // The loop may be closed already: then nobody is waiting and there is nothing to do.
                    let _ = loop_ref.bind(py).call_method1("call_soon_threadsafe", (settle, fut_ref, ok, value));
                });
            })
            .map(|call| CancelOnDone { call, bridge: None })
        }
    };
    let cancel = started.map_err(|e| to_pyerr(py, &e))?;
    let bridged = cancel.bridge.as_ref().map(|(b, id)| (b.clone_ref(py), *id));
    let cancel = Py::new(py, cancel)?.into_any();
    py_fut.call_method1(pyo3::intern!(py, "add_done_callback"), (cancel.clone_ref(py),))?;
    if let Some((b, id)) = bridged {
        // Settling through the bridge removes this callback first (see `aio`).
        b.bind(py).get().set_on_done(id, cancel);
    }
    Ok(py_fut)
}

fn none_to_py(py: Python<'_>, _: ()) -> PyResult<Py<PyAny>> {
    Ok(py.None())
}

/// Private, for tests only: panics inside the binding at `place`, to prove the panic is contained.
/// `"entry"`: in an entry point's body; `"blocking"`: inside a core future run by a blocking call;
/// `"async"`: inside a core future run by an asyncio call (returns an awaitable, needs a running loop);
/// `"async_convert"`: while converting an asyncio call's result on the loop thread.
#[pyfunction]
pub fn _test_panic<'py>(py: Python<'py>, place: &str) -> PyResult<Bound<'py, PyAny>> {
    contain(py, || match place {
        "entry" => panic!("test panic in an entry point"),
        "blocking" => {
            block_on(py, async { panic!("test panic in a blocking call") }, none_to_py).map(|v| v.into_bound(py))
        }
        "async" => spawn_async(py, async { panic!("test panic in an asyncio call") }, none_to_py),
        "async_convert" => spawn_async(py, async { Ok(()) }, |_, ()| panic!("test panic in a conversion")),
        other => Err(PyTypeError::new_err(format!("unknown place {other:?}"))),
    })
}

// ---------------------------------------------------------------------------------------------------------
// Native objects bound to the process that made them

/// A native object (a client, a store, a manager) owned by the process that made it, until closed. After
/// `os.fork()` the child gets a clear error instead of the object, and never tears down the parent's
/// connections: their sockets are registered with the parent's epoll instance (shared across the fork), so
/// tearing them down in the child would deregister them for the parent. In a child, closing or dropping
/// forgets the object instead of dropping it.
pub struct ProcessBound<T> {
    inner: std::sync::Mutex<Option<T>>,
    pid: u32,
}

impl<T: Clone> ProcessBound<T> {
    /// Owned by the current process.
    pub fn new(value: T) -> Self {
        ProcessBound { inner: std::sync::Mutex::new(Some(value)), pid: core_rt::pid() }
    }

    /// The object, for a call from its process: else a `ConfigurationError`, `forked(pid of the owner)` after
    /// a fork, `closed` once closed.
    pub fn get(&self, py: Python<'_>, forked: impl FnOnce(u32) -> String, closed: &str) -> PyResult<T> {
        if self.pid != core_rt::pid() {
            return Err(crate::error::config_error(py, forked(self.pid)));
        }
        match self.inner.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(v) => Ok(v.clone()),
            None => Err(crate::error::config_error(py, closed)),
        }
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).is_none()
    }

    /// Drops the object (in a forked child: forgets it).
    pub fn close(&self) {
        let taken = self.inner.lock().unwrap_or_else(|p| p.into_inner()).take();
        if self.pid == core_rt::pid() {
            drop(taken);
        } else {
            std::mem::forget(taken);
        }
    }
}

impl<T> Drop for ProcessBound<T> {
    fn drop(&mut self) {
        if self.pid != core_rt::pid() {
            if let Some(v) = self.inner.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
                std::mem::forget(v);
            }
        }
    }
}
