//! Native (napi-rs) layer of the `confirma-sdk` npm package: a translation table over `confirma::ffi`.
//!
//! The public API is the hand-written JavaScript layer in `bindings-node/lib/`, which wraps these exports.
//! Every asynchronous export resolves to a plain result object (`{ ok, aborted, created | status | renewed,
//! error }`) instead of rejecting, because a napi error carries only a message, not the structured fields
//! (status, request id, field errors, recovered token, ...) the JS error classes need.
//!
//! Policy — option parsing, defaults, bounds, the User-Agent, what an error exposes, timestamp clamping,
//! panic containment, cancellation — is the core's (`confirma::ffi`). What is left here, file by file:
//!
//! | file | concern |
//! |---|---|
//! | [`config`] | the JS options object → `ConfigInput` (milliseconds, camelCase names) |
//! | [`client`] | the native client and its three calls |
//! | [`error`] | `ErrorInfo` → the plain error object the JS error classes are built from |
//! | [`results`] | `CreatedData` / `StatusData` / `RenewedData` → plain result objects |
//! | [`runtime`] | starting a call on the core's runtime; its promise settles through the dispatcher |
//! | [`dispatch`] | the Node wake-up path: one thread-safe function per JS environment, batched |
//! | [`cancel`] | the `CancelHandle` an `AbortSignal` drives (wraps the core's `CallHandle`) |
//! | [`store`] | `SqliteStore` / `PostgresStore` / `MemoryStore` and their key (`SealerInput`), `checkStore` |
//! | [`manager`] | the native `TokenManager` (options → `ManagerInput`) and `createClient` with a store |
//! | [`events`] | forwarding a manager's events to an `EventEmitter` (a weak thread-safe function) |
//! | [`foreign`] | a partner's store written in JavaScript, as the core's `RowStore` |
//! | [`form`] | the form kit: schema, validation issues, missing fields, message catalogues |
//! | [`probes`] | private exports for the tests (panic probe, error samples, wake-up failures) |

#![deny(clippy::all)]
// An ErrorInfo is built once per failed call and handed over by value, as in `confirma::ffi`.
#![allow(clippy::result_large_err)]

// Public so that the exports (reached by Node-API, not by Rust) count as used.
pub mod cancel;
pub mod client;
pub mod config;
pub mod dispatch;
pub mod error;
pub mod events;
pub mod foreign;
pub mod form;
pub mod manager;
pub mod probes;
pub mod results;
pub mod runtime;
pub mod store;

use napi_derive::napi;

/// The core's version.
#[napi]
pub fn core_version() -> String {
    confirma::VERSION.to_string()
}
