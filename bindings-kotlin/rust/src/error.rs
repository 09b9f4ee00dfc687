//! Errors as Kotlin receives them: the core's `ErrorKind`, and `confirma::ffi::ErrorInfo` field for field
//! (`NativeErrorInfo`), which the Kotlin layer turns into a `ConfirmaException`.

use std::collections::HashMap;
use std::sync::Arc;

use confirma as cfis;
use confirma::ffi::ErrorInfo;
use confirma::ErrorKind;

use crate::token::SecretToken;

/// The kind of an SDK error.
// The core's enum is `#[non_exhaustive]`, so uniffi adds a wildcard arm: a kind a newer core adds would reach
// Kotlin as a contained panic (`ConfirmaException.Internal`) until it is listed here.
#[uniffi::remote(Enum)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request was rejected as invalid, by the SDK before sending or by the service.
    Validation,
    /// The token is missing, unknown or for another environment (401).
    Authentication,
    /// The token may not do this (403).
    PermissionDenied,
    /// The client already exists (409).
    Conflict,
    /// Too many requests (429).
    RateLimited,
    /// The service failed or is unavailable (5xx).
    ServiceUnavailable,
    /// The call did not finish within its time limit.
    Timeout,
    /// The connection failed or broke.
    Network,
    /// A create or renew failed after the request may have reached the service.
    OutcomeUnknown,
    /// The service answered something the SDK could not understand.
    UnexpectedResponse,
    /// The client was configured wrongly.
    Configuration,
    /// The SDK itself failed (a contained panic): a bug, please report it.
    Internal,
    /// The credential store failed (unreachable, unreadable data, a missing or wrong key).
    Storage,
    /// A client's token was rotated and the new one is gone: ask Confirma Finance support for a new token.
    CredentialsLost,
}

/// Everything the core says about one error: `confirma::ffi::ErrorInfo` (plumbing for `ConfirmaException`).
#[derive(uniffi::Record, Clone, Debug)]
pub struct NativeErrorInfo {
    /// The kind.
    pub kind: ErrorKind,
    /// `validation`, `permission_denied`, ... (the core's `ErrorKind::as_str`).
    pub kind_name: String,
    /// `CONFIRMA_VALIDATION`, ...
    pub code: String,
    /// The core's full Display text (never contains a token).
    pub display: String,
    /// The core's message without the kind prefix.
    pub detail: String,
    /// HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// The request id, where there is one.
    pub request_id: Option<String>,
    /// Whether the same call may succeed later.
    pub retryable: bool,
    /// `Retry-After`, in milliseconds (rounded up).
    pub retry_after_ms: Option<u64>,
    /// Field path → problems (validation errors).
    pub field_errors: HashMap<String, Vec<String>>,
    /// `client` or `server` (validation errors).
    pub validation_source: Option<String>,
    /// `create_client` or `renew_token` (outcome-unknown errors).
    pub operation: Option<String>,
    /// A bounded, token-scrubbed excerpt of an unexpected body.
    pub body_excerpt: Option<String>,
    /// For network errors: whether it failed while connecting (nothing was sent).
    #[uniffi(default)]
    pub connect: Option<bool>,
    /// The failure that made an outcome unknown (the cause chain, one level per record).
    #[uniffi(default)]
    pub cause: Option<Box<NativeErrorInfo>>,
    /// The new access token of a partially successful create (the core's `Error::recovered_token`).
    #[uniffi(default)]
    pub recovered_token: Option<Arc<SecretToken>>,
    /// A 2xx create/renew answer that could not be read, whole, as a secret (`Error::raw_response`).
    #[uniffi(default)]
    pub raw_response: Option<Arc<SecretToken>>,
    /// The validation problems with stable codes and the end-user message in the client's language.
    #[uniffi(default = [])]
    pub issues: Vec<crate::form::NativeFieldIssue>,
}

impl From<ErrorInfo> for NativeErrorInfo {
    fn from(e: ErrorInfo) -> Self {
        // Destructured whole: a field the core adds to ErrorInfo fails this build until it is mapped.
        let ErrorInfo {
            kind,
            kind_name,
            code,
            message,
            display,
            status,
            request_id,
            retryable,
            retry_after_ms,
            field_errors,
            issues,
            source,
            operation,
            connect,
            body_excerpt,
            cause,
            recovered_token,
            raw_response,
        } = e;
        NativeErrorInfo {
            kind,
            kind_name: kind_name.to_string(),
            code,
            display,
            detail: message,
            status,
            request_id,
            retryable,
            retry_after_ms,
            field_errors: field_errors.into_iter().collect(),
            validation_source: source.map(str::to_string),
            operation: operation.map(str::to_string),
            body_excerpt,
            connect,
            cause: cause.map(|c| Box::new(NativeErrorInfo::from(*c))),
            recovered_token: recovered_token.map(SecretToken::wrap),
            raw_response: raw_response.map(SecretToken::wrap),
            issues: issues.into_iter().map(crate::form::NativeFieldIssue::from).collect(),
        }
    }
}

/// The error every native call fails with (plumbing: the Kotlin layer turns it into a `ConfirmaException`).
#[derive(uniffi::Error, Debug)]
pub enum NativeError {
    /// A failure.
    Failure {
        /// The error, with its cause chain and the secrets it carries.
        info: NativeErrorInfo,
    },
}

impl std::fmt::Display for NativeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NativeError::Failure { info } => f.write_str(&info.display),
        }
    }
}

impl From<ErrorInfo> for NativeError {
    fn from(e: ErrorInfo) -> Self {
        NativeError::Failure { info: e.into() }
    }
}

impl From<cfis::Error> for NativeError {
    fn from(e: cfis::Error) -> Self {
        ErrorInfo::of(&e).into()
    }
}

/// One sample error of the core's `confirma::ffi::samples::errors()`.
#[derive(uniffi::Record)]
pub struct NativeSampleError {
    /// The sample's name (`validation_client`, `internal_panic`, ...).
    pub name: String,
    /// The error.
    pub info: NativeErrorInfo,
}

/// Diagnostics for the SDK's own tests (the cross-language parity runner), never called by the SDK: one error of
/// every kind, built by the core, as the Kotlin layer receives errors.
#[uniffi::export]
pub fn native_sample_errors() -> Vec<NativeSampleError> {
    confirma::ffi::samples::errors()
        .into_iter()
        .map(|(name, e)| NativeSampleError { name: name.to_string(), info: ErrorInfo::of(&e).into() })
        .collect()
}

/// The core's validation error for an input the Kotlin layer cannot hand over (a string that is not valid Unicode,
/// a service type its enum cannot hold): the same error, in the core's words, as any other input problem.
#[uniffi::export]
pub fn native_invalid_input(field: String, problem: String) -> NativeErrorInfo {
    ErrorInfo::of(&cfis::Error::invalid_input(&field, problem)).into()
}

/// The core's `internal` error for a panic that uniffi contained itself (its `InternalException`, e.g. in argument
/// conversion), with uniffi's text redacted and bounded as the core does for every contained panic.
#[uniffi::export]
pub fn native_contained_panic(detail: String) -> NativeErrorInfo {
    ErrorInfo::from_panic(&detail).into()
}
