//! uniffi exports of the Confirma CFIS onboarding SDK core, for Kotlin/JVM and Android.
//!
//! A translation table over the core's shared binding layer, `confirma::ffi`: every rule (validation,
//! retries, error parsing, redaction, configuration parsing, defaults, bounds, the User-Agent, timestamp
//! clamping, panic containment, cancellation) lives in the core. This crate only says how each value
//! crosses to Kotlin. The generated Kotlin (package `com.confirmafinance.sdk`) is wrapped by a small
//! hand-written Kotlin layer (`OnboardingClient`, `ClientConfig`, `ConfirmaException`) that gives the public
//! API its Kotlin shape; the `Native*` types are its plumbing.
//!
//! | file | what crosses there |
//! |---|---|
//! | [`models`] | the request models: the core's own `NewClient`, `Service`, `ClientDetails`, `Contact`, `ContactRole`, `ServiceType`, `ValidationMode`; the results `CreatedClient`, `TokenStatus`, `RenewedToken` |
//! | [`error`] | `ErrorKind` (the core's), `NativeErrorInfo` (= `confirma::ffi::ErrorInfo`), `NativeError` |
//! | [`config`] | `NativeClientConfig` → `confirma::ffi::ConfigInput` |
//! | [`client`] | `NativeClient`: the three calls, and the effective configuration for the tests |
//! | [`token`] | `SecretToken` (a uniffi object over the core's) and its UTF-8 input |
//! | [`queue`] | the completion queue of the client's calls (validate, renew, create): started by id through plain C exports, drained in batches by one JVM thread (or, at concurrency 1, handed to the waiting caller) |
//! | [`runtime`] | the uniffi future over `confirma::ffi::runtime::spawn_awaitable`, panic containment, diagnostics |
//! | [`store`] | `NativeStore`: the core's SQLite / PostgreSQL / memory store with its `Sealer` (`confirma::ffi::SealerInput`) |
//! | [`manager`] | `NativeTokenManager`: the core's `TokenManager` (options via `confirma::ffi::ManagerInput`), statuses, the hot path |
//! | [`events`] | `NativeEventStream` over `confirma::ffi::EventStream` |
//! | [`form`] | the form kit: `FormSchema` (schema, validate, missing fields, messages), `NativeFieldIssue` |
//! | [`foreign`] | a partner's store written in Kotlin/Java: a uniffi callback interface as the core's `RowStore` |
//!
//! # How the core's models cross without a mirror
//!
//! The request models are the core's own types. They are not derived in the core (a
//! `#[derive(uniffi::Record)]` there needs the core's own `setup_scaffolding!`, and the Kotlin files
//! generated for two uniffi crates cannot share the package `com.confirmafinance.sdk`: both define the
//! top-level `RustBuffer`, `FfiConverter`, ...; a second package behind typealiases would hide the types
//! from Java callers and force the core's field order onto Kotlin's constructors). Instead [`models`] uses
//! uniffi's remote types (`#[uniffi::remote(Record)]`): the FFI impls for the core's types are generated
//! in this crate from a restatement of their fields. There is no conversion code, and the compiler checks
//! the restatement against the core: the generated lift builds the core's struct with a struct literal, so
//! a field added to, renamed in or retyped in the core fails this crate's build. The restatement only
//! chooses what Kotlin sees: the field order of the constructors (optional fields last, with `= null`) and
//! the docs. `ServiceType` (whose `Other(String)` Kotlin's enum cannot hold) crosses as its wire string,
//! lifted into the hand-written Kotlin `enum class ServiceType` (a uniffi custom type, see `uniffi.toml`).

// `NativeError` carries the whole `ErrorInfo` by value (uniffi lowers it from there), and one is built per failed
// call, so its size does not matter.
#![allow(clippy::result_large_err)]
// Panic-free by construction, as the core (the one deliberate panic is `probe_panic`, for the tests).
#![deny(
    clippy::string_slice,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

uniffi::setup_scaffolding!("confirma");

pub mod client;
pub mod config;
pub mod error;
pub mod events;
pub mod foreign;
pub mod form;
pub mod manager;
pub mod models;
pub mod queue;
pub mod runtime;
pub mod store;
pub mod token;
