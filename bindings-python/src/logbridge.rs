//! Forwards the core's `tracing` events (targets `confirma*`) to the Python `logging` logger `confirma`.
//! The core never puts a token in an event; this bridge adds nothing but the fields it is given.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

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
        let disable: i64 = logger.getattr(pyo3::intern!(py, "manager"))?.getattr(pyo3::intern!(py, "disable"))?.extract()?;
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
            return; // disabled: no GIL on the runtime thread
        }
        // Never blocks interpreter shutdown: try_attach gives up when Python is finalizing.
        let _ = crate::runtime::with_python(|py| -> PyResult<()> {
            let logger = logger(py)?;
            if !logger.call_method1("isEnabledFor", (level,))?.is_truthy()? {
                return Ok(());
            }
            let mut fields = Fields::default();
            event.record(&mut fields);
            let mut text = fields.message.clone();
            let extra_fields = PyDict::new(py);
            for (i, (k, v)) in fields.pairs.iter().enumerate() {
                let _ = write!(text, "{}{k}={v}", if i == 0 { " (" } else { ", " });
                extra_fields.set_item(*k, v)?;
            }
            if !fields.pairs.is_empty() {
                text.push(')');
            }
            let extra = PyDict::new(py);
            extra.set_item("confirma_target", event.metadata().target())?;
            extra.set_item("confirma_fields", extra_fields)?;
            let kw = PyDict::new(py);
            kw.set_item("extra", extra)?;
            logger.call_method("log", (level, text), Some(&kw))?;
            Ok(())
        });
    }
}

/// Installs the bridge as the process-wide subscriber of this extension's copy of `tracing`.
pub fn install() {
    let subscriber = tracing_subscriber::registry().with(PyLogLayer);
    let _ = tracing::subscriber::set_global_default(subscriber);
}
