//! `confirma::ffi::ErrorInfo` → the plain object the JS layer turns into its error classes (`fromNative`
//! in `lib/index.js`). The one place an error field is mapped.

use std::collections::BTreeMap;

use confirma::ffi::ErrorInfo;
use napi_derive::napi;

use crate::form::NativeIssue;

/// An SDK error as plain data.
#[napi(object)]
pub struct NativeError {
    /// snake_case kind (`permission_denied`).
    pub kind: String,
    /// Stable code (`CONFIRMA_PERMISSION_DENIED`).
    pub code: String,
    /// The full human-readable text (the core's Display; never contains a token).
    pub message: String,
    /// The error's own message, without the kind prefix.
    pub detail: String,
    pub status: Option<u32>,
    pub request_id: Option<String>,
    pub retryable: bool,
    /// Whole milliseconds, rounded up by the core.
    pub retry_after_ms: Option<f64>,
    /// Field path → problems (empty unless a validation error).
    pub field_errors: BTreeMap<String, Vec<String>>,
    /// The same problems with codes, parameters and end-user texts (empty unless a validation error).
    pub issues: Vec<NativeIssue>,
    /// `client` | `server` for validation errors.
    pub source: Option<String>,
    pub body_excerpt: Option<String>,
    /// For outcome_unknown: `create_client` | `renew_token`.
    pub operation: Option<String>,
    /// For network errors: whether the failure happened while connecting (nothing was sent).
    pub connect: Option<bool>,
    /// For outcome_unknown: the failure that made the outcome unknown (zero or one element).
    pub cause: Option<Vec<NativeError>>,
    /// A new access token recovered from a partially readable create answer (wrapped in a `SecretToken` by
    /// the JS layer at once).
    pub recovered_token: Option<String>,
    /// A 2xx create/renew answer that could not be read, whole (wrapped in a `SecretToken` at once).
    pub raw_response: Option<String>,
}

impl From<&ErrorInfo> for NativeError {
    fn from(e: &ErrorInfo) -> Self {
        NativeError {
            kind: e.kind_name.to_string(),
            code: e.code.clone(),
            message: e.display.clone(),
            detail: e.message.clone(),
            status: e.status.map(u32::from),
            request_id: e.request_id.clone(),
            retryable: e.retryable,
            retry_after_ms: e.retry_after_ms.map(|ms| ms as f64),
            field_errors: e.field_errors.clone(),
            issues: e.issues.iter().map(NativeIssue::from).collect(),
            source: e.source.map(str::to_string),
            body_excerpt: e.body_excerpt.clone(),
            operation: e.operation.map(str::to_string),
            connect: e.connect,
            cause: e.cause.as_deref().map(|c| vec![NativeError::from(c)]),
            recovered_token: e.recovered_token.as_ref().map(|t| t.expose().to_string()),
            raw_response: e.raw_response.as_ref().map(|t| t.expose().to_string()),
        }
    }
}
