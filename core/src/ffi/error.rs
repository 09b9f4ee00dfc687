//! [`ErrorInfo`]: everything a binding shows of an [`Error`], as plain data.

use std::collections::BTreeMap;

use crate::error::{Error, ErrorKind};
use crate::secret::SecretToken;

/// Every field of an SDK error, flattened once for all bindings. Never holds a token in clear: the two
/// secrets an error may carry ([`recovered_token`](Self::recovered_token), [`raw_response`](Self::raw_response))
/// stay [`SecretToken`]s, and every text has been redacted by the core.
#[derive(Clone, PartialEq, Eq)]
pub struct ErrorInfo {
    /// The kind (`Internal` for a contained panic).
    pub kind: ErrorKind,
    /// snake_case kind name (`permission_denied`).
    pub kind_name: &'static str,
    /// Stable code (`CONFIRMA_PERMISSION_DENIED`).
    pub code: String,
    /// The error's own message, without the kind prefix (`"slow down"`).
    pub message: String,
    /// The full human-readable text (`"rate limited (HTTP 429): slow down; retry after 2.0s"`).
    pub display: String,
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The service's request id (or the one this SDK sent).
    pub request_id: Option<String>,
    /// Whether the same call may succeed later.
    pub retryable: bool,
    /// How long the service asked to wait, in milliseconds (rounded up).
    pub retry_after_ms: Option<u64>,
    /// Field path → problems, for validation errors (empty otherwise).
    pub field_errors: BTreeMap<String, Vec<String>>,
    /// The same problems with stable codes, parameters and the end-user message in the client's language
    /// (empty for other kinds).
    pub issues: Vec<super::form::IssueData>,
    /// `client` or `server`, for validation errors.
    pub source: Option<&'static str>,
    /// `create_client` or `renew_token`, for outcome-unknown errors.
    pub operation: Option<&'static str>,
    /// For network errors: whether the failure happened while connecting (nothing was sent).
    pub connect: Option<bool>,
    /// A bounded, redacted excerpt of an unexpected error body.
    pub body_excerpt: Option<String>,
    /// The failure that made an outcome unknown.
    pub cause: Option<Box<ErrorInfo>>,
    /// A new access token recovered from a partially readable create answer (the client exists).
    pub recovered_token: Option<SecretToken>,
    /// A create/renew success answer that could not be read, kept whole as a secret.
    pub raw_response: Option<SecretToken>,
}

impl ErrorInfo {
    /// Flattens an error (and its cause).
    pub fn of(e: &Error) -> Self {
        let kind = e.kind();
        let (operation, cause) = match e {
            Error::OutcomeUnknown { operation, cause, .. } => {
                (Some(operation.as_str()), Some(Box::new(ErrorInfo::of(cause))))
            }
            _ => (None, None),
        };
        let connect = match e {
            Error::Network { connect, .. } => Some(*connect),
            _ => None,
        };
        ErrorInfo {
            kind,
            kind_name: kind.as_str(),
            code: kind.code(),
            message: e.message().to_string(),
            display: e.to_string(),
            status: e.status(),
            request_id: e.request_id().map(str::to_string),
            retryable: e.is_retryable(),
            retry_after_ms: e.retry_after().map(duration_ms_ceil),
            field_errors: e.field_errors().clone(),
            issues: e.issues().iter().map(|i| super::form::IssueData::of(i, e.language())).collect(),
            source: e.validation_source().map(|s| s.as_str()),
            operation,
            connect,
            body_excerpt: e.body_excerpt().map(str::to_string),
            cause,
            recovered_token: e.recovered_token().cloned(),
            raw_response: e.raw_response().cloned(),
        }
    }

    /// The `internal` error of a contained panic.
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        ErrorInfo::of(&Error::from_panic(payload))
    }

    /// The new access token this error carries, if any: the recovered token, else the raw answer.
    pub fn carried_secret(&self) -> Option<&SecretToken> {
        self.recovered_token.as_ref().or(self.raw_response.as_ref())
    }
}

impl From<&Error> for ErrorInfo {
    fn from(e: &Error) -> Self {
        ErrorInfo::of(e)
    }
}

impl From<Error> for ErrorInfo {
    fn from(e: Error) -> Self {
        ErrorInfo::of(&e)
    }
}

impl std::fmt::Debug for ErrorInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorInfo")
            .field("code", &self.code)
            .field("display", &self.display)
            .field("cause", &self.cause)
            .field("recovered_token", &self.recovered_token)
            .field("raw_response", &self.raw_response)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Display for ErrorInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

/// Milliseconds, rounded up (a `Retry-After` of 1.0001 s must not become 1 s), saturating.
fn duration_ms_ceil(d: std::time::Duration) -> u64 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_flattens_and_keeps_its_secrets() {
        for (name, e) in crate::ffi::samples::errors() {
            let info = ErrorInfo::of(&e);
            assert_eq!(info.code, e.kind().code(), "{name}");
            assert!(!format!("{info:?}").contains("tok_"), "{name}: Debug leaks");
            assert!(!info.display.contains("tok_"), "{name}: display leaks");
        }
        assert_eq!(duration_ms_ceil(std::time::Duration::from_micros(1_000_100)), 1001);
    }
}
