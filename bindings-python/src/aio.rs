//! The asyncio bridge: completions are handed to the event loop in batches, never by taking the GIL on a
//! runtime thread.
//!
//! Each event loop gets one `LoopBridge` (cached on the loop as `_confirma_bridge`). A finished Rust task
//! pushes its plain-Rust result into the bridge's queue and, only if no wake-up is pending yet, writes one
//! byte to a socket pair whose read end is registered once with `loop.add_reader`. The reader callback
//! (`_drain`, on the loop thread) emits queued log records, takes the whole queue and converts + settles
//! every future in it (the conversion contains panics: a future always settles). So a
//! runtime thread never enters Python (no GIL hand-off, safe during interpreter shutdown), and a loop wakes
//! at most once per batch. Loops without `add_reader` (Windows' proactor) or that cannot take the attribute
//! (possibly uvloop; untested) use the per-completion `call_soon_threadsafe` path.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;

/// Turns a finished task's result into (ok, value) on the loop thread.
pub type Completion = Box<dyn FnOnce(Python<'_>) -> (bool, Py<PyAny>) + Send>;

/// The part shared with runtime threads: plain Rust only.
pub struct Shared {
    queue: Mutex<Vec<(u64, Completion)>>,
    wake_pending: AtomicBool,
    tx: UnixStream,
    rx: UnixStream,
}

impl Shared {
    /// Called on a runtime thread when a task finishes.
    pub fn complete(&self, id: u64, c: Completion) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).push((id, c));
        self.wake();
    }

    /// Wakes the loop (at most one pending wake-up): it then emits queued log records and settles every
    /// queued completion.
    pub fn wake(&self) {
        if !self.wake_pending.swap(true, SeqCst) {
            // Non-blocking: a full buffer means wake-ups are pending already.
            let _ = (&self.tx).write(&[1]);
        }
    }
}

#[pyclass(frozen, module = "confirma._native")]
pub struct LoopBridge {
    pub shared: Arc<Shared>,
    pid: u32,
    futures: Mutex<HashMap<u64, Py<PyAny>>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl LoopBridge {
    /// Registers a pending asyncio future; returns its id.
    pub fn register(&self, fut: Py<PyAny>) -> u64 {
        let id = self.next_id.fetch_add(1, SeqCst);
        self.futures.lock().unwrap_or_else(|p| p.into_inner()).insert(id, fut);
        id
    }

    pub fn forget(&self, id: u64) -> Option<Py<PyAny>> {
        self.futures.lock().unwrap_or_else(|p| p.into_inner()).remove(&id)
    }
}

#[pymethods]
impl LoopBridge {
    /// The `add_reader` callback: drains the wake-up bytes, then settles every queued completion.
    fn _drain(&self, py: Python<'_>) {
        let mut buf = [0u8; 256];
        while let Ok(n) = (&self.shared.rx).read(&mut buf) {
            if n < buf.len() {
                break;
            }
        }
        // Clear the flag after reading and before taking the queue: a completion pushed after the take
        // writes a fresh byte.
        self.shared.wake_pending.store(false, SeqCst);
        let batch = std::mem::take(&mut *self.shared.queue.lock().unwrap_or_else(|p| p.into_inner()));
        // What the calls logged comes out before their results.
        crate::logbridge::drain(py);
        for (id, completion) in batch {
            let Some(fut) = self.forget(id) else { continue }; // cancelled meanwhile
            let (ok, value) = completion(py);
            let _ = settle(fut.bind(py), ok, value.bind(py));
        }
        // ... and what the conversions logged.
        crate::logbridge::drain(py);
    }
}

/// Settles an asyncio future unless it is done already (cancelled).
pub fn settle(fut: &Bound<'_, PyAny>, ok: bool, value: &Bound<'_, PyAny>) -> PyResult<()> {
    if fut.call_method0(pyo3::intern!(fut.py(), "done"))?.is_truthy()? {
        return Ok(());
    }
    if ok {
        fut.call_method1(pyo3::intern!(fut.py(), "set_result"), (value,))?;
    } else {
        fut.call_method1(pyo3::intern!(fut.py(), "set_exception"), (value,))?;
    }
    Ok(())
}

/// Off only for A/B measurements (`confirma._native._use_loop_bridge(False)`): every loop takes the fallback.
pub static ENABLED: AtomicBool = AtomicBool::new(true);

/// Private: switches the batched bridge on or off (benchmark comparisons only).
#[pyfunction]
pub fn _use_loop_bridge(on: bool) {
    ENABLED.store(on, SeqCst);
}

/// Loop types that cannot take the `_confirma_bridge` attribute (checked once per type): they use the fallback.
static NO_BRIDGE: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// The bridge of `event_loop`, created and registered on first use; `None` if this loop cannot have one.
pub fn bridge_for<'py>(event_loop: &Bound<'py, PyAny>) -> Option<Bound<'py, LoopBridge>> {
    if !ENABLED.load(SeqCst) {
        return None;
    }
    let py = event_loop.py();
    let attr = pyo3::intern!(py, "_confirma_bridge");
    let pid = std::process::id();
    if let Ok(b) = event_loop.getattr(attr) {
        if b.is_none() {
            return None; // this loop cannot have a bridge
        }
        if let Ok(b) = b.cast_into::<LoopBridge>() {
            if b.get().pid == pid {
                return Some(b);
            }
            // Forked child: the parent's socket pair is shared with the parent; start afresh.
            let _ = event_loop.call_method1("remove_reader", (b.get().shared.rx.as_raw_fd(),));
        }
    }
    let ty = event_loop.get_type().as_ptr() as usize;
    if NO_BRIDGE.lock().unwrap_or_else(|p| p.into_inner()).contains(&ty) {
        return None;
    }
    let made = (|| -> PyResult<Bound<'py, LoopBridge>> {
        let (tx, rx) = UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        rx.set_nonblocking(true)?;
        let fd = rx.as_raw_fd();
        let bridge = Bound::new(
            py,
            LoopBridge {
                shared: Arc::new(Shared {
                    queue: Mutex::new(Vec::new()),
                    wake_pending: AtomicBool::new(false),
                    tx,
                    rx,
                }),
                pid,
                futures: Mutex::new(HashMap::new()),
                next_id: std::sync::atomic::AtomicU64::new(0),
            },
        )?;
        event_loop.call_method1("add_reader", (fd, bridge.getattr("_drain")?))?;
        if let Err(e) = event_loop.setattr(attr, &bridge) {
            let _ = event_loop.call_method1("remove_reader", (fd,));
            return Err(e);
        }
        Ok(bridge)
    })();
    match made {
        Ok(b) => Some(b),
        Err(_) => {
            if event_loop.setattr(attr, py.None()).is_err() {
                NO_BRIDGE.lock().unwrap_or_else(|p| p.into_inner()).push(ty);
            }
            None
        }
    }
}
