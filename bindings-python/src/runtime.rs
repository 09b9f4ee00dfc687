//! The binding's one tokio runtime: created lazily, shared by the blocking and asyncio bridges, and
//! fork-aware. The runtime is leaked on purpose: it lives until the process exits and is never joined
//! (joining worker threads at interpreter shutdown can hang). In a forked child, the parent's runtime
//! (whose worker threads do not exist in the child) is abandoned untouched and a fresh one is built.

use std::sync::atomic::{AtomicPtr, Ordering::SeqCst};

use tokio::runtime::Runtime;

struct Slot {
    pid: u32,
    rt: Runtime,
}

/// The current process's runtime (a leaked `Slot`), or null. No lock: a lock held by another thread while
/// building the runtime (or logging) would stay locked forever in a child forked in that window.
static RUNTIME: AtomicPtr<Slot> = AtomicPtr::new(std::ptr::null_mut());

/// The runtime for the current process.
pub fn runtime() -> Result<&'static Runtime, String> {
    let pid = std::process::id();
    let current = RUNTIME.load(SeqCst);
    // SAFETY: a non-null pointer in RUNTIME comes from `Box::leak` below and is never freed.
    let parent_pid = match unsafe { current.as_ref() } {
        Some(s) if s.pid == pid => return Ok(&s.rt),
        Some(s) => Some(s.pid),
        None => None,
    };
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 4);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("confirma-worker")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the confirma runtime: {e}"))?;
    let fresh: &'static mut Slot = Box::leak(Box::new(Slot { pid, rt }));
    let fresh_ptr: *mut Slot = fresh;
    match RUNTIME.compare_exchange(current, fresh_ptr, SeqCst, SeqCst) {
        Ok(_) => {
            if let Some(parent_pid) = parent_pid {
                // Forked child: the parent's runtime (leaked) is simply no longer used.
                tracing::debug!(target: "confirma::python", parent_pid, pid, "fork detected; started a new runtime");
            }
            // SAFETY: just leaked, never freed.
            Ok(unsafe { &(*fresh_ptr).rt })
        }
        Err(winner) => {
            // Another thread installed a runtime meanwhile: use it, and stop ours (it never ran a task).
            // SAFETY: `fresh_ptr` was never published, so this is its only owner.
            let ours = unsafe { Box::from_raw(fresh_ptr) };
            ours.rt.shutdown_background();
            // SAFETY: a pointer in RUNTIME is leaked and never freed.
            match unsafe { winner.as_ref() } {
                Some(s) if s.pid == pid => Ok(&s.rt),
                _ => runtime(),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Entering Python from runtime threads, safely around interpreter shutdown.
//
// A non-Python thread that takes the GIL while the interpreter finalizes is terminated by CPython
// (pthread_exit) in the middle of Rust code, which crashes. So runtime threads enter Python only through
// `with_python`, and an `atexit` hook (`shutdown`) first stops new entries, then waits (GIL released,
// bounded) until those already inside are done.

use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

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
/// in the child.
#[pyfunction]
pub fn _after_fork_child() {
    IN_PYTHON.store(0, SeqCst);
    crate::logbridge::after_fork_child();
}
