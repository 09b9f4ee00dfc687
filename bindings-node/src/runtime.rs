//! Starting a call: its future runs on the core's runtime (`confirma::ffi::runtime::spawn_guarded`, which
//! contains panics and arbitrates cancellation; `spawn_detached` when no cancel handle was passed), and its promise settles through this environment's
//! [`Dispatcher`].

use std::future::Future;

use confirma::ffi::runtime::{contain, spawn_detached, spawn_guarded};
use confirma::ffi::ErrorInfo;
use napi::bindgen_prelude::*;

use crate::cancel::CancelHandle;
use crate::dispatch::Dispatcher;
use crate::results::NativeOutcome;

/// One asynchronous export. `make` (the synchronous part, run under the core's panic containment) builds
/// the call's future; its result becomes a [`NativeOutcome`] on the runtime, so a panic anywhere — in
/// `make`, in the future, in the conversion — settles the promise with the core's `internal` error.
pub fn call<'env, T, F>(
    env: &'env Env,
    cancel: Option<&CancelHandle>,
    make: impl FnOnce() -> F,
) -> Result<PromiseRaw<'env, NativeOutcome>>
where
    T: Into<NativeOutcome> + Send + 'static,
    F: Future<Output = confirma::Result<T>> + Send + 'static,
{
    let (pending, promise) = Dispatcher::current(env)?.begin()?;
    let settle = pending.clone();
    let started = contain(|| {
        let fut = make();
        let task = async move { fut.await.map(Into::into) };
        let done = move |r: std::result::Result<NativeOutcome, ErrorInfo>| {
            settle.settle(r.unwrap_or_else(|e| NativeOutcome::error(&e)))
        };
        match cancel {
            Some(c) => spawn_guarded(task, done).map(|handle| c.attach(handle, pending.clone())),
            // Nothing can cancel it: no cancel/complete arbitration state for this call.
            None => spawn_detached(task, done),
        }
    });
    if let Err(e) = started {
        // Nothing was started: a handle stays unattached (`cancel()` says the call completed).
        pending.settle(NativeOutcome::error(&e));
    }
    Ok(PromiseRaw::new(env.raw(), promise))
}
