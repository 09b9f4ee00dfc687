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

/// An asynchronous export whose future usually completes without waiting (`TokenManager::token` on the hot
/// path: the token from memory). The future is polled once on the JS thread, inside the runtime's context
/// (so that a background renewal it starts lands on the runtime) and under panic containment: ready, its
/// outcome is returned at once, with no hop through the runtime; pending, the same future is handed to the
/// runtime and settles through the dispatcher like every other call.
pub fn call_fast<'env, T, F>(
    env: &'env Env,
    cancel: Option<&CancelHandle>,
    make: impl FnOnce() -> F,
) -> Result<Either<NativeOutcome, PromiseRaw<'env, NativeOutcome>>>
where
    T: Into<NativeOutcome> + Send + 'static,
    F: Future<Output = confirma::Result<T>> + Send + 'static,
{
    let polled = contain(|| {
        let rt = confirma::ffi::runtime::runtime()?;
        let _context = rt.enter();
        let mut fut = Box::pin(make());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        Ok(match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(r) => Ok(r),
            std::task::Poll::Pending => Err(fut),
        })
    });
    match polled {
        Ok(Ok(Ok(v))) => Ok(Either::A(v.into())),
        Ok(Ok(Err(e))) => Ok(Either::A(NativeOutcome::error(&confirma::ffi::ErrorInfo::of(&e)))),
        Err(e) => Ok(Either::A(NativeOutcome::error(&e))),
        Ok(Err(fut)) => call(env, cancel, move || fut).map(Either::B),
    }
}
