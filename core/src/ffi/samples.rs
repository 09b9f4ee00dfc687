//! One error of every kind, built the way the core builds them, for the cross-language tests: every
//! binding exposes these (through a private export) as its own exceptions, and `tests/parity` checks that
//! all three show the same code, fields and values. Not part of the public API.

use std::time::Duration;

use crate::error::{Error, Operation, ResponseMeta};
use crate::secret::SecretToken;
use crate::validation::FieldErrors;

fn meta(status: u16, request_id: &str) -> ResponseMeta {
    ResponseMeta { status: Some(status), request_id: Some(request_id.to_string()) }
}

/// `(name, error)` for every kind, plus the interesting variants (a cause chain, the two carried secrets,
/// a contained panic). The tokens in them are fake (`tok_...`).
pub fn errors() -> Vec<(&'static str, Error)> {
    let mut fields = FieldErrors::new();
    fields.insert("client.businessCode".into(), vec!["must be a valid Finnish Business ID (1234567-8)".into()]);
    fields
        .insert("contacts".into(), vec!["a PRIMARY contact is required".into(), "at most one contact per role".into()]);
    let mut server_fields = FieldErrors::new();
    server_fields.insert("client.email".into(), vec!["The Email field is not a valid e-mail address.".into()]);
    // The payload a panic would carry, without panicking (which would print to stderr every time).
    let payload: Box<dyn std::any::Any + Send> = Box::new("sample panic (contained)");
    let panic = Error::from_panic(&*payload);
    vec![
        ("validation_client", Error::client_validation(fields)),
        (
            "validation_server",
            Error::server_validation(
                "One or more validation errors occurred.".into(),
                server_fields,
                meta(400, "req-400"),
            ),
        ),
        ("authentication", Error::Authentication { message: "Invalid API key".into(), meta: meta(401, "req-401") }),
        (
            "permission_denied",
            Error::PermissionDenied {
                message: "Client tokens cannot create clients".into(),
                meta: meta(403, "req-403"),
            },
        ),
        ("conflict", Error::Conflict { message: "Client already exists".into(), meta: meta(409, "req-409") }),
        (
            "rate_limited",
            Error::RateLimited {
                message: "slow down".into(),
                retry_after: Some(Duration::from_millis(2500)),
                meta: meta(429, "req-429"),
            },
        ),
        (
            "service_unavailable",
            Error::ServiceUnavailable {
                message: "maintenance".into(),
                retry_after: Some(Duration::from_secs(30)),
                meta: meta(503, "req-503"),
            },
        ),
        (
            "service_error_500",
            Error::ServiceUnavailable {
                message: "internal server error".into(),
                retry_after: None,
                meta: meta(500, "req-500"),
            },
        ),
        (
            "timeout",
            Error::Timeout {
                message: "no answer within 30s".into(),
                meta: ResponseMeta { status: None, request_id: Some("req-timeout".into()) },
            },
        ),
        (
            "network_connect",
            Error::Network { message: "connection refused".into(), connect: true, meta: ResponseMeta::default() },
        ),
        (
            "network_broken",
            Error::Network {
                message: "connection reset".into(),
                connect: false,
                meta: ResponseMeta { status: None, request_id: Some("req-reset".into()) },
            },
        ),
        (
            "outcome_unknown_renew",
            Error::OutcomeUnknown {
                operation: Operation::RenewToken,
                message: "the renewal may have happened: validate the old token before retrying".into(),
                cause: Box::new(Error::ServiceUnavailable {
                    message: "bad gateway".into(),
                    retry_after: None,
                    meta: meta(502, "req-502"),
                }),
                meta: meta(502, "req-502"),
            },
        ),
        (
            "outcome_unknown_recovered",
            Error::OutcomeUnknown {
                operation: Operation::CreateClient,
                message: "the client was created, but the answer was incomplete: store the recovered token".into(),
                cause: Box::new(Error::UnexpectedResponse {
                    message: "the answer lacks clientId".into(),
                    body_excerpt: String::new(),
                    meta: meta(201, "req-201"),
                    recovered_token: Some(Box::new(SecretToken::new("tok_recovered_0123456789"))),
                    raw_response: Some(Box::new(SecretToken::new(r#"{"accessToken":"tok_recovered_0123456789"}"#))),
                }),
                meta: meta(201, "req-201"),
            },
        ),
        (
            "unexpected_response",
            Error::unexpected("the answer is not JSON", "<html>Bad gateway</html>", meta(418, "req-418")),
        ),
        ("configuration", Error::configuration("timeout must be at most 24 hours")),
        ("storage", Error::storage("credential store unavailable: sqlite: database is locked", true)),
        (
            "credentials_lost",
            Error::credentials_lost(
                "client-7",
                "a renewal's answer was lost: ask Confirma Finance support for a new token for this client",
            ),
        ),
        ("internal_panic", panic),
    ]
}
