//! Kotlin's wake-up path: a uniffi future over the core's runtime.
//!
//! Every async export awaits [`run`], which spawns the core's future with
//! `confirma::ffi::runtime::spawn_awaitable` (one process-wide runtime, panic containment) and aborts it when
//! the uniffi future is dropped — which is what happens when the Kotlin coroutine is cancelled, so cancelling
//! a coroutine cancels the HTTP request. Synchronous exports run their body through [`contain`]; the `…Blocking`
//! exports run the core's future on the caller's thread through [`block`].

use std::future::Future;

use confirma as cfis;
use confirma::ffi::{runtime as core_runtime, ErrorInfo};

use crate::error::NativeError;

/// Runs a core future on the core's runtime; its error (a panic in it included) is the native error.
pub(crate) async fn run<T, F>(fut: F) -> Result<T, NativeError>
where
    F: Future<Output = Result<T, cfis::Error>> + Send + 'static,
    T: Send + 'static,
{
    Ok(core_runtime::spawn_awaitable(fut)?.await?)
}

/// Runs a core future to completion on the calling (foreign) thread: the `…Blocking` exports. The future is
/// polled right there, its I/O driven by the runtime's workers; called from a runtime worker it is the
/// `internal` error, never a deadlock.
pub(crate) fn block<T, F>(fut: F) -> Result<T, NativeError>
where
    F: Future<Output = Result<T, cfis::Error>>,
{
    Ok(core_runtime::block_on(fut)?)
}

/// Runs the body of a synchronous export, a panic in it becoming the `internal` error. (uniffi also catches
/// panics, but reports them as its own `InternalException`; this keeps every failure typed.)
pub(crate) fn contain<T>(body: impl FnOnce() -> Result<T, ErrorInfo>) -> Result<T, NativeError> {
    Ok(core_runtime::contain(body)?)
}

/// The number of SDK calls currently running on the native runtime (diagnostics; cancelled calls leave this
/// count as soon as their request is dropped).
#[uniffi::export]
pub fn native_active_calls() -> u64 {
    u64::try_from(core_runtime::active_calls()).unwrap_or(u64::MAX)
}

/// The version of the native SDK core.
#[uniffi::export]
pub fn native_sdk_version() -> String {
    cfis::VERSION.to_string()
}

/// Diagnostics for the SDK's own tests, never called by the SDK: panics on purpose in a synchronous export, to
/// prove that such a panic is contained as the `Internal` error (and never aborts the process).
#[uniffi::export]
pub fn native_panic_probe() -> Result<(), NativeError> {
    contain(|| probe_panic("sync"))
}

/// [native_panic_probe] for async exports: the panic happens inside a task on the native runtime.
#[uniffi::export]
pub async fn native_panic_probe_async() -> Result<(), NativeError> {
    run(async { probe_panic("runtime") }).await
}

#[allow(clippy::panic)]
fn probe_panic<T>(site: &str) -> T {
    panic!("panic probe ({site})")
}
