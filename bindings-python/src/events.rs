//! `confirma._native.NativeEvents`: one subscriber's stream of the manager's events (the core's broadcast:
//! a slow reader skips what it missed, counted in `missed`, and never blocks the manager). Each event
//! becomes a `confirma.TokenEvent` (a frozen dataclass: fingerprints only, never a token). The stream ends
//! when the manager is closed or gone.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use confirma::ffi::EventStream;
use confirma::ManagerEvent;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;
use tokio::sync::watch;

use crate::results::to_datetime;
use crate::runtime::{block_on, contain, spawn_async};

static EVENT_CLASS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A `confirma.TokenEvent`, or `None` at the end of the stream / on a timeout.
fn event_object(py: Python<'_>, e: Next) -> PyResult<Py<PyAny>> {
    let e = match e {
        Next::Event(e) => e,
        Next::End => return Ok(py.None()),
        Next::Timeout => return Ok(pyo3::types::PyBool::new(py, false).to_owned().into_any().unbind()),
    };
    let class = EVENT_CLASS.import(py, "confirma._lifecycle", "TokenEvent")?;
    let kw = PyDict::new(py);
    kw.set_item("kind", e.kind.as_str())?;
    kw.set_item("environment", e.environment)?;
    kw.set_item("client_id", e.client_id)?;
    kw.set_item("token_version", e.token_version)?;
    kw.set_item("fingerprint", e.fingerprint)?;
    kw.set_item("attempt_id", e.attempt_id)?;
    kw.set_item("detail", e.detail)?;
    kw.set_item("at", to_datetime(py, Some(e.at)))?;
    Ok(class.call((), Some(&kw))?.unbind())
}

enum Next {
    Event(ManagerEvent),
    End,
    Timeout,
}

struct Shared {
    rx: tokio::sync::Mutex<(EventStream, watch::Receiver<bool>)>,
    missed: AtomicU64,
}

impl Shared {
    async fn next(&self, timeout: Option<Duration>) -> Next {
        let mut guard = self.rx.lock().await;
        let (rx, closed) = &mut *guard;
        let wait = async {
            loop {
                if *closed.borrow() {
                    return Next::End;
                }
                tokio::select! {
                    e = rx.next() => {
                        self.missed.store(rx.missed(), SeqCst);
                        return match e {
                            Some(e) => Next::Event(e),
                            None => Next::End,
                        };
                    }
                    r = closed.changed() => {
                        if r.is_err() {
                            return Next::End;
                        }
                    }
                }
            }
        };
        match timeout {
            None => wait.await,
            Some(t) => tokio::time::timeout(t, wait).await.unwrap_or(Next::Timeout),
        }
    }
}

/// A stream of a manager's events.
#[pyclass(frozen, module = "confirma._native", name = "NativeEvents")]
pub struct NativeEvents {
    shared: Arc<Shared>,
}

impl NativeEvents {
    pub fn new(rx: EventStream, closed: watch::Receiver<bool>) -> Self {
        NativeEvents {
            shared: Arc::new(Shared { rx: tokio::sync::Mutex::new((rx, closed)), missed: AtomicU64::new(0) }),
        }
    }
}

#[pymethods]
impl NativeEvents {
    /// The next event (GIL released while waiting): a `TokenEvent`, `None` once the manager is closed or
    /// gone, `False` after `timeout` seconds without one.
    #[pyo3(signature = (timeout=None))]
    fn next(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        contain(py, || {
            let t = timeout.map(|s| Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::MAX));
            let shared = self.shared.clone();
            block_on(py, async move { Ok(shared.next(t).await) }, event_object)
        })
    }

    /// `next` as an asyncio awaitable (no timeout: use `asyncio.wait_for`).
    fn next_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        contain(py, || {
            let shared = self.shared.clone();
            spawn_async(py, async move { Ok(shared.next(None).await) }, event_object)
        })
    }

    /// How many events this reader skipped because it was too slow.
    #[getter]
    fn missed(&self) -> u64 {
        self.shared.missed.load(SeqCst)
    }
}
