//! The one error type of the SDK.

use std::fmt;
use std::time::Duration;

use crate::form::{FieldIssue, Language};
use crate::secret::SecretToken;
use crate::validation::{field_errors_of, FieldErrors};

/// The stable set of error kinds. Bindings map each to an exception class / error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request was rejected as invalid, by this SDK before sending or by the service (400/402/413/422).
    Validation,
    /// The token is missing, unknown or for another environment (401).
    Authentication,
    /// The token may not do this (403), e.g. a client token used to create a client.
    PermissionDenied,
    /// The client already exists (409): switch to the existing-client path.
    Conflict,
    /// Too many requests (429); see `retry_after`.
    RateLimited,
    /// The service failed or is unavailable (5xx).
    ServiceUnavailable,
    /// The call did not finish within its time limit.
    Timeout,
    /// The connection failed or broke.
    Network,
    /// A state-changing call (create, renew) failed after the request may have reached the service: it
    /// may or may not have taken effect. Do not blindly repeat it.
    OutcomeUnknown,
    /// The service answered something this SDK could not understand.
    UnexpectedResponse,
    /// The client was configured wrongly (bad base URL, plain http to a remote host, bad certificate...).
    Configuration,
    /// The SDK itself failed (a contained panic, a lost task). Never the service's fault; please report it.
    Internal,
    /// The credential store failed: unreachable, unreadable data, or a missing or wrong encryption key.
    Storage,
    /// A client's token was rotated and the new token is gone (or no stored token is accepted any more):
    /// the client needs a new token from Confirma Finance. Never a dead token served silently.
    CredentialsLost,
}

impl ErrorKind {
    /// Every kind, in a stable order.
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::Validation,
        ErrorKind::Authentication,
        ErrorKind::PermissionDenied,
        ErrorKind::Conflict,
        ErrorKind::RateLimited,
        ErrorKind::ServiceUnavailable,
        ErrorKind::Timeout,
        ErrorKind::Network,
        ErrorKind::OutcomeUnknown,
        ErrorKind::UnexpectedResponse,
        ErrorKind::Configuration,
        ErrorKind::Internal,
        ErrorKind::Storage,
        ErrorKind::CredentialsLost,
    ];

    /// snake_case name, as used in the scenario files (`permission_denied`).
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorKind::Validation => "validation",
            ErrorKind::Authentication => "authentication",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Conflict => "conflict",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::ServiceUnavailable => "service_unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Network => "network",
            ErrorKind::OutcomeUnknown => "outcome_unknown",
            ErrorKind::UnexpectedResponse => "unexpected_response",
            ErrorKind::Configuration => "configuration",
            ErrorKind::Internal => "internal",
            ErrorKind::Storage => "storage",
            ErrorKind::CredentialsLost => "credentials_lost",
        }
    }

    /// Stable machine-readable code (`CONFIRMA_PERMISSION_DENIED`).
    pub fn code(&self) -> String {
        format!("CONFIRMA_{}", self.as_str().to_ascii_uppercase())
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which side found a validation problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValidationSource {
    /// This SDK, before anything was sent.
    Client,
    /// The service.
    Server,
}

impl ValidationSource {
    /// `"client"` or `"server"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ValidationSource::Client => "client",
            ValidationSource::Server => "server",
        }
    }
}

/// The operation an error happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `POST /api/v1/partner/client`.
    CreateClient,
    /// `GET /api/v1/partner/validate`.
    ValidateToken,
    /// `GET /api/v1/partner/renew`.
    RenewToken,
}

impl Operation {
    /// snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Operation::CreateClient => "create_client",
            Operation::ValidateToken => "validate_token",
            Operation::RenewToken => "renew_token",
        }
    }

    /// Whether repeating the operation is harmless (only validation is).
    pub fn is_idempotent(&self) -> bool {
        matches!(self, Operation::ValidateToken)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// HTTP facts attached to an error, where there was a response (or at least a request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseMeta {
    /// HTTP status code, if a response arrived.
    pub status: Option<u16>,
    /// The request id: the service's `X-Request-Id` / problem `traceId`, else the id this SDK sent.
    pub request_id: Option<String>,
}

/// An SDK error. Messages never contain a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is invalid. `field_errors` maps field paths (`client.email`) to problems.
    #[error("{}", validation_text(.message, .field_errors))]
    Validation {
        /// Summary.
        message: String,
        /// Field path → problems.
        field_errors: FieldErrors,
        /// The same problems, each with a stable code and parameters (see [`crate::form`]).
        issues: Vec<FieldIssue>,
        /// The end-user language of the issues' `user_message` (the client's [`ClientConfig::language`](crate::ClientConfig::language)).
        language: Language,
        /// Who found the problems.
        source_side: ValidationSource,
        /// HTTP facts (server-side validation).
        meta: ResponseMeta,
    },
    /// 401: the token is missing, unknown, revoked, or for another environment.
    #[error("authentication failed{}: {message}", status_text(.meta))]
    Authentication {
        /// The service's message.
        message: String,
        /// HTTP facts.
        meta: ResponseMeta,
    },
    /// 403: the token is not allowed to do this.
    #[error("permission denied{}: {message}", status_text(.meta))]
    PermissionDenied {
        /// The service's message.
        message: String,
        /// HTTP facts.
        meta: ResponseMeta,
    },
    /// 409: the client already exists.
    #[error("conflict{}: {message}", status_text(.meta))]
    Conflict {
        /// The service's message.
        message: String,
        /// HTTP facts.
        meta: ResponseMeta,
    },
    /// 429: too many requests.
    #[error("rate limited{}: {message}{}", status_text(.meta), retry_text(.retry_after))]
    RateLimited {
        /// The service's message.
        message: String,
        /// How long the service asked to wait (`Retry-After`).
        retry_after: Option<Duration>,
        /// HTTP facts.
        meta: ResponseMeta,
    },
    /// 5xx: the service failed or is unavailable.
    #[error("service unavailable{}: {message}{}", status_text(.meta), retry_text(.retry_after))]
    ServiceUnavailable {
        /// The service's message.
        message: String,
        /// How long the service asked to wait (`Retry-After`), if it said.
        retry_after: Option<Duration>,
        /// HTTP facts.
        meta: ResponseMeta,
    },
    /// The call did not finish in time.
    #[error("timed out: {message}")]
    Timeout {
        /// What timed out.
        message: String,
        /// HTTP facts.
        meta: ResponseMeta,
    },
    /// The connection could not be made or broke.
    #[error("network error: {message}")]
    Network {
        /// What failed.
        message: String,
        /// Whether the failure happened while connecting (the request was certainly not sent).
        connect: bool,
        /// HTTP facts.
        meta: ResponseMeta,
    },
    /// A create or renew failed after the request may have reached the service.
    #[error("outcome of {operation} unknown: {message} (cause: {cause})")]
    OutcomeUnknown {
        /// Which operation.
        operation: Operation,
        /// What to do about it.
        message: String,
        /// The failure that made the outcome unknown.
        #[source]
        cause: Box<Error>,
        /// HTTP facts.
        meta: ResponseMeta,
    },
    /// The response could not be understood.
    #[error("unexpected response{}: {message}", status_text(.meta))]
    UnexpectedResponse {
        /// What was wrong.
        message: String,
        /// A bounded, redacted excerpt of an error body. Always empty for a success (2xx) body, which may
        /// hold a token.
        body_excerpt: String,
        /// HTTP facts.
        meta: ResponseMeta,
        /// A new access token found in a success answer that could not be read completely (a create
        /// answered 2xx with a token but without the client's identifiers). The client exists: store it.
        recovered_token: Option<Box<SecretToken>>,
        /// A success answer of a create or renew that could not be read, kept whole as a secret: it may
        /// hold a new token in a shape this SDK does not know.
        raw_response: Option<Box<SecretToken>>,
    },
    /// The client configuration is invalid.
    #[error("configuration error: {message}")]
    Configuration {
        /// What is wrong.
        message: String,
    },
    /// The SDK failed internally (a contained panic, a lost task). Please report it.
    #[error("internal error: {message}")]
    Internal {
        /// What failed.
        message: String,
    },
    /// The credential store failed.
    #[error("credential store error: {message}")]
    Storage {
        /// What failed (never a token).
        message: String,
        /// Whether trying again later may help (the database was unreachable), as opposed to data or a key
        /// that will stay wrong.
        retryable: bool,
    },
    /// A client's credentials are lost: the token was rotated and the new one is gone.
    #[error("credentials lost for client {client_id}: {message}")]
    CredentialsLost {
        /// The CFIS client id.
        client_id: String,
        /// What happened and what to do.
        message: String,
    },
}

fn status_text(meta: &ResponseMeta) -> String {
    meta.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
}

fn retry_text(retry_after: &Option<Duration>) -> String {
    retry_after.map(|d| format!("; retry after {:.1}s", d.as_secs_f64())).unwrap_or_default()
}

fn validation_text(message: &str, fields: &FieldErrors) -> String {
    if fields.is_empty() {
        return message.to_string();
    }
    let details: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {}", v.join("; "))).collect();
    format!("{message}: {}", details.join(", "))
}

impl Error {
    /// A client-side validation error from field texts; each gets the code its text is recognised as
    /// (else `invalid`). Prefer [`client_issues`](Self::client_issues), which keeps the rules' codes.
    pub fn client_validation(field_errors: FieldErrors) -> Self {
        let issues = field_errors
            .iter()
            .flat_map(|(field, msgs)| {
                msgs.iter().map(move |m| FieldIssue::from_text(field.clone(), m.clone(), "invalid"))
            })
            .collect();
        Error::client_issues(issues)
    }

    /// A client-side validation error from coded issues.
    pub fn client_issues(issues: Vec<FieldIssue>) -> Self {
        let n = issues.len();
        Error::Validation {
            message: format!("request is invalid ({n} problem{})", if n == 1 { "" } else { "s" }),
            field_errors: field_errors_of(&issues),
            issues,
            language: Language::default(),
            source_side: ValidationSource::Client,
            meta: ResponseMeta::default(),
        }
    }

    /// A server-side validation error: the server's texts are kept, each with the code it is recognised
    /// as (else `server`).
    pub fn server_validation(message: String, field_errors: FieldErrors, meta: ResponseMeta) -> Self {
        let issues = field_errors
            .iter()
            .flat_map(|(field, msgs)| {
                msgs.iter().map(move |m| FieldIssue::from_text(field.clone(), m.clone(), "server"))
            })
            .collect();
        Error::Validation {
            message,
            field_errors,
            issues,
            language: Language::default(),
            source_side: ValidationSource::Server,
            meta,
        }
    }

    /// A client-side validation error on one argument.
    pub fn invalid_input(field: &str, problem: impl Into<String>) -> Self {
        Error::client_issues(vec![FieldIssue::from_text(field, problem, "invalid")])
    }

    /// The same error with its issues' end-user language set (validation errors only; others unchanged).
    pub fn with_language(mut self, lang: Language) -> Self {
        if let Error::Validation { language, .. } = &mut self {
            *language = lang;
        }
        self
    }

    /// A configuration error.
    pub fn configuration(message: impl Into<String>) -> Self {
        Error::Configuration { message: message.into() }
    }

    /// An unexpected-response error without any recovered secret.
    pub fn unexpected(message: impl Into<String>, body_excerpt: impl Into<String>, meta: ResponseMeta) -> Self {
        Error::UnexpectedResponse {
            message: message.into(),
            body_excerpt: body_excerpt.into(),
            meta,
            recovered_token: None,
            raw_response: None,
        }
    }

    /// A credential-store error.
    pub fn storage(message: impl Into<String>, retryable: bool) -> Self {
        Error::Storage { message: message.into(), retryable }
    }

    /// Lost credentials of `client_id`.
    pub fn credentials_lost(client_id: impl Into<String>, message: impl Into<String>) -> Self {
        Error::CredentialsLost { client_id: client_id.into(), message: message.into() }
    }

    /// An internal error (a contained panic or a lost task).
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal { message: message.into() }
    }

    /// An internal error for a contained panic, with the panic's text when it is a string (panic
    /// messages in this SDK never hold a token).
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        let detail = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned());
        let mut message = String::from("the SDK failed internally (a panic was contained); please report this");
        if let Some(d) = detail {
            message.push_str(": ");
            message.push_str(&crate::response::truncate(&crate::redact::redact_text(&d), 300));
        }
        Error::Internal { message }
    }

    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Validation { .. } => ErrorKind::Validation,
            Error::Authentication { .. } => ErrorKind::Authentication,
            Error::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::RateLimited { .. } => ErrorKind::RateLimited,
            Error::ServiceUnavailable { .. } => ErrorKind::ServiceUnavailable,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Network { .. } => ErrorKind::Network,
            Error::OutcomeUnknown { .. } => ErrorKind::OutcomeUnknown,
            Error::UnexpectedResponse { .. } => ErrorKind::UnexpectedResponse,
            Error::Configuration { .. } => ErrorKind::Configuration,
            Error::Internal { .. } => ErrorKind::Internal,
            Error::Storage { .. } => ErrorKind::Storage,
            Error::CredentialsLost { .. } => ErrorKind::CredentialsLost,
        }
    }

    fn meta(&self) -> Option<&ResponseMeta> {
        match self {
            Error::Validation { meta, .. }
            | Error::Authentication { meta, .. }
            | Error::PermissionDenied { meta, .. }
            | Error::Conflict { meta, .. }
            | Error::RateLimited { meta, .. }
            | Error::ServiceUnavailable { meta, .. }
            | Error::Timeout { meta, .. }
            | Error::Network { meta, .. }
            | Error::OutcomeUnknown { meta, .. }
            | Error::UnexpectedResponse { meta, .. } => Some(meta),
            Error::Configuration { .. }
            | Error::Internal { .. }
            | Error::Storage { .. }
            | Error::CredentialsLost { .. } => None,
        }
    }

    /// The HTTP status, if a response arrived.
    pub fn status(&self) -> Option<u16> {
        self.meta().and_then(|m| m.status)
    }

    /// The request id (the service's, else the one this SDK sent), where there is one.
    pub fn request_id(&self) -> Option<&str> {
        self.meta().and_then(|m| m.request_id.as_deref())
    }

    /// How long the service asked to wait before retrying.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } | Error::ServiceUnavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Field errors of a validation error (empty for other kinds).
    pub fn field_errors(&self) -> &FieldErrors {
        static EMPTY: FieldErrors = FieldErrors::new();
        match self {
            Error::Validation { field_errors, .. } => field_errors,
            _ => &EMPTY,
        }
    }

    /// The problems of a validation error, each with a stable code and parameters (empty for other kinds).
    /// Client-side issues always carry a rule's code; server-side ones keep the server's text and carry
    /// the code it is recognised as, else `server`.
    pub fn issues(&self) -> &[FieldIssue] {
        match self {
            Error::Validation { issues, .. } => issues,
            _ => &[],
        }
    }

    /// The end-user language set on a validation error (the default, English, for other kinds).
    pub fn language(&self) -> Language {
        match self {
            Error::Validation { language, .. } => *language,
            _ => Language::default(),
        }
    }

    /// Who found a validation problem (`None` for other kinds).
    pub fn validation_source(&self) -> Option<ValidationSource> {
        match self {
            Error::Validation { source_side, .. } => Some(*source_side),
            _ => None,
        }
    }

    /// Whether the same call may succeed if made again later (after `retry_after`, if given).
    /// The SDK has already retried within its budget when this is returned.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. } | Error::Timeout { .. } | Error::Network { .. } => true,
            Error::Storage { retryable, .. } => *retryable,
            Error::ServiceUnavailable { meta, .. } => matches!(meta.status, None | Some(502..=504)),
            _ => false,
        }
    }

    /// The error's own message, without the kind prefix Display adds.
    pub fn message(&self) -> &str {
        match self {
            Error::Validation { message, .. }
            | Error::Authentication { message, .. }
            | Error::PermissionDenied { message, .. }
            | Error::Conflict { message, .. }
            | Error::RateLimited { message, .. }
            | Error::ServiceUnavailable { message, .. }
            | Error::Timeout { message, .. }
            | Error::Network { message, .. }
            | Error::OutcomeUnknown { message, .. }
            | Error::UnexpectedResponse { message, .. }
            | Error::Configuration { message }
            | Error::Internal { message }
            | Error::Storage { message, .. }
            | Error::CredentialsLost { message, .. } => message,
        }
    }

    /// The error that made a create/renew outcome unknown.
    pub fn cause(&self) -> Option<&Error> {
        match self {
            Error::OutcomeUnknown { cause, .. } => Some(cause),
            _ => None,
        }
    }

    /// A new access token recovered from a success answer that could not be read completely (a create
    /// answered 2xx with a token but without the client's identifiers): the client exists and this is its
    /// token. Looks through an [`OutcomeUnknown`](Error::OutcomeUnknown)'s cause.
    pub fn recovered_token(&self) -> Option<&SecretToken> {
        match self {
            Error::UnexpectedResponse { recovered_token, .. } => recovered_token.as_deref(),
            Error::OutcomeUnknown { cause, .. } => cause.recovered_token(),
            _ => None,
        }
    }

    /// A create or renew success answer that could not be read, kept whole as a secret (it may hold a
    /// new token in an unknown shape). Looks through an [`OutcomeUnknown`](Error::OutcomeUnknown)'s cause.
    pub fn raw_response(&self) -> Option<&SecretToken> {
        match self {
            Error::UnexpectedResponse { raw_response, .. } => raw_response.as_deref(),
            Error::OutcomeUnknown { cause, .. } => cause.raw_response(),
            _ => None,
        }
    }

    /// The excerpt of an unexpected body.
    pub fn body_excerpt(&self) -> Option<&str> {
        match self {
            Error::UnexpectedResponse { body_excerpt, .. } => Some(body_excerpt),
            _ => None,
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_display() {
        assert_eq!(ErrorKind::PermissionDenied.code(), "CONFIRMA_PERMISSION_DENIED");
        let mut fe = FieldErrors::new();
        fe.insert("client.email".into(), vec!["must be a valid e-mail address".into()]);
        let e = Error::client_validation(fe);
        assert_eq!(e.to_string(), "request is invalid (1 problem): client.email: must be a valid e-mail address");
        assert!(!e.is_retryable());
        let e = Error::RateLimited {
            message: "slow down".into(),
            retry_after: Some(Duration::from_secs(2)),
            meta: ResponseMeta { status: Some(429), request_id: Some("r1".into()) },
        };
        assert_eq!(e.to_string(), "rate limited (HTTP 429): slow down; retry after 2.0s");
        assert!(e.is_retryable());
        assert_eq!(e.request_id(), Some("r1"));
    }
}
