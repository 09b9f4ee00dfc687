//! `confirma._native`: the private extension module behind the `confirma` Python package.
//!
//! A translation table over the core's binding layer (`confirma::ffi`): everything that is policy
//! (option parsing, defaults, bounds, the User-Agent, error fields, timestamp clamping, panic containment,
//! the runtime, cancellation) is the core's. Here, one file per concern:
//!
//! | file | maps |
//! |---|---|
//! | `config.rs` | `Client(...)` options → `ConfigInput` (seconds, snake_case, `python/<version>`) |
//! | `client.rs` | `NativeClient`: the calls, fork safety, `close` |
//! | `error.rs` | `ErrorInfo` → the exception classes of `confirma/_errors.py` |
//! | `results.rs` | `CreatedData`/`StatusData`/`RenewedData` → `CreatedClient`/`TokenStatus`/`RenewedToken` |
//! | `store.rs` | `SqliteStore`/`PostgresStore`/`MemoryStore` → the core's stores + `SealerInput` (the key) |
//! | `manager.rs` | `TokenManager`/`AsyncTokenManager` → the core's `TokenManager` (`ManagerInput`: seconds) |
//! | `events.rs` | the manager's events → `TokenEvent`, blocking and asyncio |
//! | `foreign.rs` | a partner's `CredentialStore` (Python object) → the core's `RowStore` (`foreign_store`) |
//! | `token.rs` | `SecretToken`, token arguments |
//! | `convert.rs` | a new client (dict, mapping, `NewClient`) → JSON |
//! | `runtime.rs` | blocking calls (GIL released, Ctrl-C), asyncio calls, interpreter shutdown |
//! | `aio.rs` | the asyncio wake-up path (batched per event loop) |
//! | `logbridge.rs` | `tracing` → `logging` |
//! | `form.rs` | the form kit (`confirma.form_schema`, …) → `confirma::ffi::form` |

use pyo3::prelude::*;

mod aio;
mod client;
mod config;
mod convert;
mod error;
mod events;
mod foreign;
mod form;
mod logbridge;
mod manager;
mod results;
mod runtime;
mod store;
mod token;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", config::BINDING_VERSION)?;
    m.add("CORE_VERSION", confirma::VERSION)?;
    m.add_class::<token::PySecretToken>()?;
    m.add_class::<results::PyCreatedClient>()?;
    m.add_class::<results::PyTokenStatus>()?;
    m.add_class::<results::PyRenewedToken>()?;
    m.add_class::<client::NativeClient>()?;
    m.add_class::<store::NativeStore>()?;
    m.add_class::<manager::NativeManager>()?;
    m.add_class::<events::NativeEvents>()?;
    foreign::register(m)?;
    form::register(m)?;
    m.add_function(wrap_pyfunction!(runtime::_shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::_after_fork_child, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::_active_async_calls, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::_test_panic, m)?)?;
    m.add_function(wrap_pyfunction!(aio::_use_loop_bridge, m)?)?;
    m.add_function(wrap_pyfunction!(error::_sample_errors, m)?)?;
    logbridge::install();
    Ok(())
}
