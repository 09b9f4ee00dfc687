//! Forwards the core's `tracing` events (targets `confirma*`) to the Python `logging` logger `confirma`.
//! The core never puts a token in an event; this bridge adds nothing but the fields it is given.
//!
//! A runtime thread never takes the GIL for an event: it formats the event into plain Rust data and queues
//! it; a Python thread emits the queue (`drain`) at the end of a blocking call, when the asyncio bridge
//! wakes its loop, and at the start of every call.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The lowest Python level the `confirma` logger had enabled when the last call started (0 = unknown).
/// Events below it are dropped on the runtime thread without entering Python; events at or above it are
/// checked by `isEnabledFor` itself. Refreshed by `refresh_level` on every API call (on the caller's
/// thread, GIL held), so a level change applies to calls started after it.
static THRESHOLD: AtomicU8 = AtomicU8::new(0);

fn logger(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    Ok(LOGGER
        .get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            Ok(py.import("logging")?.call_method1("getLogger", ("confirma",))?.unbind())
        })?
        .bind(py))
}

/// Re-reads the `confirma` logger's effective level (and `logging.disable`).
pub fn refresh_level(py: Python<'_>) {
    let read = || -> PyResult<u8> {
        let logger = logger(py)?;
        let effective: i64 = logger.call_method0(pyo3::intern!(py, "getEffectiveLevel"))?.extract()?;
        let disable: i64 =
            logger.getattr(pyo3::intern!(py, "manager"))?.getattr(pyo3::intern!(py, "disable"))?.extract()?;
        Ok(effective.max(disable.saturating_add(1)).clamp(0, 255) as u8)
    };
    THRESHOLD.store(read().unwrap_or(0), Relaxed);
}

struct PyLogLayer;

#[derive(Default)]
struct Fields {
    message: String,
    pairs: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.pairs.push((field.name(), format!("{value:?}")));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.pairs.push((field.name(), value.to_string()));
        }
    }
}

fn python_level(level: &Level) -> u8 {
    match *level {
        Level::TRACE => 5,
        Level::DEBUG => 10,
        Level::INFO => 20,
        Level::WARN => 30,
        Level::ERROR => 40,
    }
}

impl<S: Subscriber> Layer<S> for PyLogLayer {
    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        metadata.target().starts_with("confirma")
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = python_level(event.metadata().level());
        if level < THRESHOLD.load(Relaxed) {
            return; // disabled: not even formatted
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        queue().push(Record { level, target: event.metadata().target(), message: fields.message, pairs: fields.pairs });
    }
}

/// One event, formatted on the thread that emitted it (plain Rust data), emitted to Python later.
struct Record {
    level: u8,
    target: &'static str,
    message: String,
    pairs: Vec<(&'static str, String)>,
}

/// At most this many records wait for a Python thread; beyond it they are counted and dropped.
const MAX_QUEUED: usize = 10_000;

#[derive(Default)]
struct Queue {
    records: Mutex<(VecDeque<Record>, u64)>,
}

impl Queue {
    fn push(&self, r: Record) {
        let mut q = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if q.0.len() >= MAX_QUEUED {
            q.1 = q.1.saturating_add(1);
        } else {
            q.0.push_back(r);
        }
    }

    fn take(&self) -> (VecDeque<Record>, u64) {
        std::mem::take(&mut *self.records.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The queue of records waiting for a Python thread. Reached through a pointer (a leaked box, never freed)
/// so that a forked child can start with a fresh queue even if a runtime thread held the lock at fork time.
static QUEUE: AtomicPtr<Queue> = AtomicPtr::new(std::ptr::null_mut());

fn queue() -> &'static Queue {
    let current = QUEUE.load(SeqCst);
    // SAFETY: a non-null pointer in QUEUE comes from `Box::leak` and is never freed.
    if let Some(q) = unsafe { current.as_ref() } {
        return q;
    }
    let fresh: *mut Queue = Box::leak(Box::default());
    match QUEUE.compare_exchange(current, fresh, SeqCst, SeqCst) {
        // SAFETY: just leaked, never freed.
        Ok(_) => unsafe { &*fresh },
        Err(winner) => {
            // SAFETY: `fresh` was never published; `winner` is a leaked, never-freed queue.
            drop(unsafe { Box::from_raw(fresh) });
            unsafe { &*winner }
        }
    }
}

/// In a forked child: abandon the parent's queue (its lock may be held by a thread that does not exist
/// here, and its records were the parent's).
pub fn after_fork_child() {
    let fresh: *mut Queue = Box::leak(Box::default());
    QUEUE.store(fresh, SeqCst);
}

/// Emits every queued record to the `confirma` logger, on the calling (Python) thread. Called at the end of
/// every blocking call, by the asyncio bridge before it settles futures, and at the start of every call.
/// Runtime threads never take the GIL for logging.
pub fn drain(py: Python<'_>) {
    let (records, dropped) = queue().take();
    if records.is_empty() && dropped == 0 {
        return;
    }
    let Ok(logger) = logger(py) else { return };
    for r in records {
        let _ = emit(py, logger, r);
    }
    if dropped > 0 {
        let _ = emit(
            py,
            logger,
            Record {
                level: 30,
                target: "confirma::python",
                message: format!(
                    "{dropped} log records were dropped (more than {MAX_QUEUED} waited for a Python thread)"
                ),
                pairs: Vec::new(),
            },
        );
    }
}

fn emit(py: Python<'_>, logger: &Bound<'_, PyAny>, r: Record) -> PyResult<()> {
    if !logger.call_method1(pyo3::intern!(py, "isEnabledFor"), (r.level,))?.is_truthy()? {
        return Ok(());
    }
    let mut text = r.message;
    let extra_fields = PyDict::new(py);
    for (i, (k, v)) in r.pairs.iter().enumerate() {
        let _ = write!(text, "{}{k}={v}", if i == 0 { " (" } else { ", " });
        extra_fields.set_item(*k, v)?;
    }
    if !r.pairs.is_empty() {
        text.push(')');
    }
    let extra = PyDict::new(py);
    extra.set_item("confirma_target", r.target)?;
    extra.set_item("confirma_fields", extra_fields)?;
    let kw = PyDict::new(py);
    kw.set_item("extra", extra)?;
    logger.call_method("log", (r.level, text), Some(&kw))?;
    Ok(())
}

/// Installs the bridge as the process-wide subscriber of this extension's copy of `tracing`.
pub fn install() {
    let subscriber = tracing_subscriber::registry().with(PyLogLayer);
    let _ = tracing::subscriber::set_global_default(subscriber);
}
