//! # confirma — the CFIS onboarding SDK core
//!
//! Creates client accounts in the Confirma Finance Integrations API (CFIS) with the Partner Provisioning
//! Token, validates client access tokens and renews them. Validation happens before sending, errors are
//! typed ([`Error`], [`ErrorKind`]), retries never duplicate a client or lose a rotated token, and tokens
//! are [`SecretToken`]s that never appear in logs, errors or `Debug` output.
//!
//! ```no_run
//! # async fn run() -> Result<(), confirma::Error> {
//! use confirma::{ClientConfig, Environment, OnboardingClient, SecretToken};
//! let client = OnboardingClient::new(ClientConfig::new(Environment::Staging))?;
//! let status = client.validate_token(&SecretToken::new(std::env::var("CFIS_TOKEN").unwrap())).await?;
//! if status.expired {
//!     let renewed = client.renew_token(&SecretToken::new(std::env::var("CFIS_TOKEN").unwrap())).await?;
//!     // store renewed.access_token.expose() in your database
//! }
//! # Ok(()) }
//! ```
//!
//! ## Retries
//! | failure | validate | create / renew |
//! |---|---|---|
//! | connect failure | retried | retried (nothing was sent) |
//! | 429, 503 | retried (honouring `Retry-After`) | retried (the service did not process it) |
//! | 502, 504, timeout, connection broken after sending | retried | `OutcomeUnknown` |
//! | 500 | `ServiceUnavailable` | `OutcomeUnknown` |
//! | unreadable 2xx body | `UnexpectedResponse` | `OutcomeUnknown` |
//!
//! Backoff is exponential with full jitter, within `max_retries` and the total deadline.
//!
//! ## Edges
//! - **Never a panic.** The crate is built with clippy's `indexing_slicing`, `string_slice`,
//!   `arithmetic_side_effects`, `unwrap_used`, `expect_used` and `panic` lints denied; bindings still contain
//!   any panic at their boundary as [`ErrorKind::Internal`].
//! - **Never a dropped token.** A create answered 2xx with an access token but without the client's
//!   identifiers fails with [`ErrorKind::OutcomeUnknown`] whose [`Error::recovered_token`] is the new token
//!   (the client exists: store it). Any other unreadable create/renew success answer is kept whole, as a
//!   secret, in [`Error::raw_response`].
//! - **Never a leak.** Error excerpts never contain a success body; error bodies are redacted (values under
//!   credential keys, anything token-shaped) before anything is kept.
//! - **Bounded.** Bodies are read in chunks up to [`ClientConfig::max_response_bytes`] (1 MiB by default);
//!   durations are bounded by [`ClientConfig::check`]; timestamps are clamped to 1970..=9999.
//! - **Cancellation.** Dropping a create or renew future after its request was sent cannot undo it: the
//!   SDK logs a warning (target `confirma`) and the outcome is unknown, exactly as for
//!   [`ErrorKind::OutcomeUnknown`]. Let such calls finish where you can.
#![warn(missing_docs)]
#![deny(
    clippy::string_slice,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

mod client;
mod config;
mod error;
#[cfg(feature = "ffi")]
pub mod ffi;
pub mod form;
#[cfg(feature = "store")]
pub mod manager;
pub mod models;
pub mod redact;
pub mod response;
mod secret;
#[cfg(feature = "store")]
pub mod store;
pub mod validation;

pub use client::{outcome_ambiguous, retry_safe, OnboardingClient, VERSION};
pub use config::{
    duration_from_millis, duration_from_secs_f64, is_loopback, ClientConfig, Environment, RetryPolicy,
    DEFAULT_MAX_RESPONSE_BYTES, MAX_BACKOFF, MAX_TIMEOUT, PRODUCTION_URL, STAGING_URL,
};
pub use error::{Error, ErrorKind, Operation, ResponseMeta, Result, ValidationSource};
pub use form::{FieldIssue, Language};
#[cfg(feature = "store")]
pub use manager::{CredentialStatus, Health, ManagerEvent, ManagerOptions, TokenManager};
pub use models::{
    ClientDetails, Contact, ContactRole, CreatedClient, NewClient, RenewedToken, Service, ServiceType, TokenStatus,
};
pub use secret::{constant_time_eq, SecretToken, REDACTED};
pub use validation::{FieldErrors, ValidationMode};
