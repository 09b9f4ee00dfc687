//! The asyncio bridge: completions are handed to the event loop in batches, never by taking the GIL on a
//! runtime thread.
//!
//! Each event loop gets one `LoopBridge` (cached on the loop as `_confirma_bridge`). A finished Rust task
//! pushes its plain-Rust result into the bridge's queue and, only if no wake-up is pending yet, signals one
//! file descriptor registered once with `loop.add_reader` (an `eventfd` on Linux: one 8-byte counter write,
//! no socket buffer; a socket pair elsewhere). The reader callback (`_drain`, on the loop thread) emits
//! queued log records, takes the whole queue and converts + settles every future in it (the conversion
//! contains panics: a future always settles). So a runtime thread never enters Python (no GIL hand-off,
//! safe during interpreter shutdown), and a loop wakes at most once per batch. A future settled this way
//! has its cancel-on-done callback removed first: it would only find the call finished, and running it
//! costs the loop one more callback per call. Loops without `add_reader` (Windows' proactor) or that cannot take the attribute
//! (possibly uvloop; untested) use the per-completion `call_soon_threadsafe` path.

use std::collections::HashMap;
use std::os::unix::io::RawFd;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;

/// The loop's wake-up file descriptor: readable once [`signal`](Self::signal) was called, until
/// [`clear`](Self::clear). Linux: one non-blocking `eventfd` (a write adds to a counter, a read resets it).
#[cfg(target_os = "linux")]
struct WakeFd {
    fd: std::os::fd::OwnedFd,
}

#[cfg(target_os = "linux")]
impl WakeFd {
    fn new() -> std::io::Result<Self> {
        use std::os::fd::FromRawFd;
        // SAFETY: plain syscall; a valid descriptor is owned from here on.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nobody else.
        Ok(WakeFd { fd: unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) } })
    }

    fn raw(&self) -> RawFd {
        use std::os::fd::AsRawFd;
        self.fd.as_raw_fd()
    }

    fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64. It cannot block (EFD_NONBLOCK); a counter at its maximum
        // (EAGAIN) is readable already.
        unsafe { libc::write(self.raw(), (&one as *const u64).cast(), 8) };
    }

    fn clear(&self) {
        let mut n: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64; EAGAIN (nothing pending) is fine.
        unsafe { libc::read(self.raw(), (&mut n as *mut u64).cast(), 8) };
    }
}

/// Elsewhere: a non-blocking socket pair (one byte per signal).
#[cfg(not(target_os = "linux"))]
struct WakeFd {
    tx: std::os::unix::net::UnixStream,
    rx: std::os::unix::net::UnixStream,
}

#[cfg(not(target_os = "linux"))]
impl WakeFd {
    fn new() -> std::io::Result<Self> {
        let (tx, rx) = std::os::unix::net::UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        rx.set_nonblocking(true)?;
        Ok(WakeFd { tx, rx })
    }

    fn raw(&self) -> RawFd {
        use std::os::unix::io::AsRawFd;
        self.rx.as_raw_fd()
    }

    fn signal(&self) {
        use std::io::Write;
        // Non-blocking: a full buffer means wake-ups are pending already.
        let _ = (&self.tx).write(&[1]);
    }

    fn clear(&self) {
        use std::io::Read;
        let mut buf = [0u8; 256];
        while let Ok(n) = (&self.rx).read(&mut buf) {
            if n < buf.len() {
                break;
            }
        }
    }
}

/// Turns a finished task's result into (ok, value) on the loop thread.
pub type Completion = Box<dyn FnOnce(Python<'_>) -> (bool, Py<PyAny>) + Send>;

/// The part shared with runtime threads: plain Rust only.
pub struct Shared {
    queue: Mutex<Vec<(u64, Completion)>>,
    wake_pending: AtomicBool,
    fd: WakeFd,
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
            self.fd.signal();
        }
    }
}

#[pyclass(frozen, module = "confirma._native")]
pub struct LoopBridge {
    pub shared: Arc<Shared>,
    pid: u32,
    futures: Mutex<HashMap<u64, Pending>>,
    next_id: std::sync::atomic::AtomicU64,
}

/// A registered asyncio future and, once attached, its cancel-on-done callback.
struct Pending {
    fut: Py<PyAny>,
    on_done: Option<Py<PyAny>>,
}

impl LoopBridge {
    /// Registers a pending asyncio future; returns its id.
    pub fn register(&self, fut: Py<PyAny>) -> u64 {
        let id = self.next_id.fetch_add(1, SeqCst);
        self.futures.lock().unwrap_or_else(|p| p.into_inner()).insert(id, Pending { fut, on_done: None });
        id
    }

    /// Remembers the done-callback attached to the future `id`, so that settling it can remove it first.
    pub fn set_on_done(&self, id: u64, on_done: Py<PyAny>) {
        if let Some(p) = self.futures.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&id) {
            p.on_done = Some(on_done);
        }
    }

    /// Forgets the future `id` (settled, or cancelled); returns it and its done-callback if still registered.
    fn take(&self, id: u64) -> Option<Pending> {
        self.futures.lock().unwrap_or_else(|p| p.into_inner()).remove(&id)
    }

    pub fn forget(&self, id: u64) {
        drop(self.take(id));
    }
}

#[pymethods]
impl LoopBridge {
    /// The `add_reader` callback: clears the wake-up descriptor, then settles every queued completion.
    fn _drain(&self, py: Python<'_>) {
        self.shared.fd.clear();
        // Clear the flag after reading and before taking the queue: a completion pushed after the take
        // signals afresh.
        self.shared.wake_pending.store(false, SeqCst);
        let batch = std::mem::take(&mut *self.shared.queue.lock().unwrap_or_else(|p| p.into_inner()));
        // What the calls logged comes out before their results.
        crate::logbridge::drain(py);
        for (id, completion) in batch {
            let Some(Pending { fut, on_done }) = self.take(id) else { continue }; // cancelled meanwhile
            let (ok, value) = completion(py);
            let fut = fut.bind(py);
            match fut.call_method0(pyo3::intern!(py, "done")).and_then(|d| d.is_truthy()) {
                Ok(false) => {}
                _ => continue, // cancelled meanwhile: its callbacks are scheduled already
            }
            if let Some(cb) = on_done {
                // Settled here, so the cancel callback has nothing to do (the call is finished and forgotten):
                // remove it rather than have the loop schedule and run it.
                let _ = fut.call_method1(pyo3::intern!(py, "remove_done_callback"), (cb,));
            }
            let method = if ok { pyo3::intern!(py, "set_result") } else { pyo3::intern!(py, "set_exception") };
            let _ = fut.call_method1(method, (value,));
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
            // Forked child: the parent's wake-up descriptor is shared with the parent; start afresh.
            let _ = event_loop.call_method1("remove_reader", (b.get().shared.fd.raw(),));
        }
    }
    let ty = event_loop.get_type().as_ptr() as usize;
    if NO_BRIDGE.lock().unwrap_or_else(|p| p.into_inner()).contains(&ty) {
        return None;
    }
    let made = (|| -> PyResult<Bound<'py, LoopBridge>> {
        let wake = WakeFd::new()?;
        let fd = wake.raw();
        let bridge = Bound::new(
            py,
            LoopBridge {
                shared: Arc::new(Shared {
                    queue: Mutex::new(Vec::new()),
                    wake_pending: AtomicBool::new(false),
                    fd: wake,
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
