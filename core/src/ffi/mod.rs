//! The layer every language binding shares (feature `ffi`).
//!
//! A binding is a translation table: it turns its language's values into the inputs below, calls the
//! core through [`runtime`], and turns the outputs below into its language's objects. Everything that is
//! policy — which spellings of an environment are accepted, the defaults, the bounds, the User-Agent, what
//! an error exposes, how timestamps are clamped, how a panic is contained, how a call is cancelled — is
//! decided here, once.
//!
//! | concern | here | each binding keeps |
//! |---|---|---|
//! | errors | [`ErrorInfo`]: every field of an error, the cause chain, the secrets it carries | the exception classes |
//! | form kit | [`form`]: schema, validate, missing fields, catalogue; [`IssueData`] with the end-user message | the function names |
//! | configuration | [`ConfigInput`] → [`ClientConfig`](crate::ClientConfig), [`describe_config`] | the option names and units |
//! | results | [`CreatedData`], [`StatusData`], [`RenewedData`]: timestamps as clamped epoch milliseconds | the result classes |
//! | token lifecycle | [`ManagerInput`] → `ManagerOptions`, [`SealerInput`] → `Sealer`, [`EventStream`], [`run_conformance`] (statuses and events are plain data already) | its `TokenManager` class |
//! | partner stores | [`RowStore`] + [`foreign_store`]: the record's encoding and checks stay in the core | calling the partner's object |
//! | runtime | [`runtime::runtime`] (one per process, fork-aware), [`runtime::spawn_guarded`], [`runtime::contain`] | its wake-up path |
//!
//! Units at the boundary are decided once: [`ConfigInput`] takes durations in the binding's
//! [`TimeUnit`]; outputs carry durations and timestamps as milliseconds ([`ErrorInfo::retry_after_ms`],
//! `*_at_ms`), which each binding turns into its idiom (Python seconds as `float` and `datetime`,
//! JavaScript milliseconds and `Date`, Kotlin `Duration` and `Instant`).

// An ErrorInfo is built once per failed call and handed across the boundary by value: its size does not matter.
#![allow(clippy::result_large_err)]

mod config;
mod error;
pub mod form;
#[cfg(feature = "store")]
mod lifecycle;
mod results;
pub mod runtime;
#[doc(hidden)]
pub mod samples;

#[cfg(feature = "store")]
pub use crate::store::{foreign_store, EventRow, RowFuture, RowStore, RowStoreError, StoreRow};
pub use config::{describe_config, BindingInfo, ConfigInput, OptionNaming, TimeUnit};
pub use error::ErrorInfo;
pub use form::IssueData;
#[cfg(feature = "store")]
pub use lifecycle::{cached_token, run_conformance, EventStream, ManagerInput, SealerInput};
pub use results::{timestamp_ms, CreatedData, RenewedData, StatusData};
