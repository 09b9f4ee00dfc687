//! Private exports for the tests, not part of the public API: a panic probe (a panic becomes an
//! `InternalError`), the core's error samples (the parity runner), the number of calls alive on the core's
//! runtime (cancellation drops them) and a way to make the dispatcher's wake-ups fail (its retry path).

use std::sync::atomic::Ordering;

use confirma::Error;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::dispatch::FAIL_WAKEUPS;
use crate::error::NativeError;
use crate::results::NativeOutcome;
use crate::runtime::call;

/// Panics on purpose inside the binding's containment: `mode` is `sync` (a panic in the export itself)
/// or `async` (a panic in the spawned call).
#[napi(catch_unwind)]
#[allow(clippy::panic)]
pub fn panic_probe<'env>(env: &'env Env, mode: String) -> Result<PromiseRaw<'env, NativeOutcome>> {
    call(env, None, move || {
        if mode == "sync" {
            panic!("panic probe: sync");
        }
        async move {
            if mode == "async" {
                panic!("panic probe: async");
            }
            Err::<NativeOutcome, _>(Error::configuration(format!("unknown probe mode `{mode}`")))
        }
    })
}

#[napi(object)]
pub struct NativeSample {
    pub name: String,
    pub error: NativeError,
}

/// One error of every kind (`confirma::ffi::samples::errors()`), for the parity runner.
#[napi(catch_unwind)]
pub fn sample_errors() -> Vec<NativeSample> {
    confirma::ffi::samples::errors()
        .into_iter()
        .map(|(name, e)| NativeSample { name: name.to_string(), error: NativeError::from(&e.into()) })
        .collect()
}

/// The calls alive on the core's runtime (a cancelled call leaves at once: its request future is dropped).
#[napi]
pub fn active_calls() -> u32 {
    u32::try_from(confirma::ffi::runtime::active_calls()).unwrap_or(u32::MAX)
}

/// Makes the next `n` attempts to wake a JS thread fail as if Node-API had refused them.
#[napi]
pub fn fail_next_wakeups(n: u32) {
    FAIL_WAKEUPS.store(n as usize, Ordering::Release);
}
