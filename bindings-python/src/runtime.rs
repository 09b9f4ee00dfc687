//! The binding's one tokio runtime: created lazily, shared by the blocking and asyncio bridges, and
//! fork-aware. The runtime is leaked on purpose: it lives until the process exits and is never joined
//! (joining worker threads at interpreter shutdown can hang). In a forked child, the parent's runtime
//! (whose worker threads do not exist in the child) is abandoned untouched and a fresh one is built.

use std::sync::Mutex;

use tokio::runtime::Runtime;

struct Slot {
    pid: u32,
    rt: &'static Runtime,
}

static RUNTIME: Mutex<Option<Slot>> = Mutex::new(None);

/// The runtime for the current process.
pub fn runtime() -> Result<&'static Runtime, String> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = slot.as_ref() {
        if s.pid == pid {
            return Ok(s.rt);
        }
        // Forked child: the parent's runtime is leaked already; simply stop using it.
        tracing::debug!(target: "confirma::python", parent_pid = s.pid, pid, "fork detected; starting a new runtime");
    }
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 4);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("confirma-worker")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the confirma runtime: {e}"))?;
    let rt: &'static Runtime = Box::leak(Box::new(rt));
    *slot = Some(Slot { pid, rt });
    Ok(rt)
}

// ---------------------------------------------------------------------------------------------------------
// Entering Python from runtime threads, safely around interpreter shutdown.
//
// A non-Python thread that takes the GIL while the interpreter finalizes is terminated by CPython
// (pthread_exit) in the middle of Rust code, which crashes. So runtime threads enter Python only through
// `with_python`, and an `atexit` hook (`shutdown`) first stops new entries, then waits (GIL released,
// bounded) until those already inside are done.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
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
}
