//! Starting a call: its future runs on the core's runtime (`confirma::ffi::runtime::spawn_guarded`, which
//! contains panics and arbitrates cancellation), and its promise settles through this environment's
//! [`Dispatcher`].

use std::future::Future;

use confirma::ffi::runtime::{contain, spawn_guarded};
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
        spawn_guarded(async move { fut.await.map(Into::into) }, move |r| {
            settle.settle(r.unwrap_or_else(|e| NativeOutcome::error(&e)))
        })
    });
    match started {
        Ok(handle) => {
            if let Some(c) = cancel {
                c.attach(handle, pending);
            }
        }
        // Nothing was started: the handle stays unattached (`cancel()` says the call completed).
        Err(e) => pending.settle(NativeOutcome::error(&e)),
    }
    Ok(PromiseRaw::new(env.raw(), promise))
}
