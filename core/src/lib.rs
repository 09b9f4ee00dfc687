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
#![warn(missing_docs)]

mod client;
mod config;
mod error;
pub mod models;
pub mod response;
mod secret;
pub mod validation;

pub use client::{outcome_ambiguous, retry_safe, OnboardingClient, VERSION};
pub use config::{is_loopback, ClientConfig, Environment, RetryPolicy, PRODUCTION_URL, STAGING_URL};
pub use error::{Error, ErrorKind, Operation, ResponseMeta, Result, ValidationSource};
pub use models::{Contact, ContactRole, ClientDetails, CreatedClient, NewClient, RenewedToken, Service, ServiceType, TokenStatus};
pub use secret::{SecretToken, REDACTED};
pub use validation::{FieldErrors, ValidationMode};
