//! Reading what the service answered: error bodies in every shape the contract names, and success bodies
//! with tolerant, case-insensitive field names.

use serde_json::{Map, Value};

use crate::error::{Error, ResponseMeta, ValidationSource};
use crate::secret::scrub;
use crate::validation::FieldErrors;

/// Longest body excerpt kept in an error.
pub const EXCERPT_LIMIT: usize = 512;

/// Looks up the first of `keys` present in `obj`, comparing keys case-insensitively.
pub fn get_ci<'a>(obj: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|want| {
        obj.get(*want)
            .or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(want)).map(|(_, v)| v))
            .filter(|v| !v.is_null())
    })
}

/// A string-ish value: strings as they are, numbers and booleans in their JSON form.
pub fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Cuts text to at most `limit` bytes on a character boundary, marking the cut.
pub fn truncate(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Normalises a server field path to the SDK's shape: `$.Client.Email` → `client.email`,
/// `Contacts[0].Name` → `contacts[0].name`.
pub fn normalize_field_path(path: &str) -> String {
    let p = path.trim();
    let p = p.strip_prefix("$.").unwrap_or(p);
    if p.is_empty() {
        return "$".into();
    }
    p.split('.')
        .map(|seg| {
            let mut chars = seg.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// What an error body said.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    /// The best human-readable message found.
    pub message: Option<String>,
    /// Field errors, normalised.
    pub field_errors: FieldErrors,
    /// A trace id from the body (problem details `traceId`).
    pub trace_id: Option<String>,
    /// Whether the shape was recognised (problem details, `{message}`, plain text or HTML).
    pub recognized: bool,
    /// A bounded excerpt of the raw body.
    pub excerpt: String,
}

fn html_text(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    for tag in ["title", "h1"] {
        if let Some(start) = lower.find(&format!("<{tag}")) {
            let after = lower[start..].find('>').map(|i| start + i + 1)?;
            if let Some(end) = lower[after..].find(&format!("</{tag}")) {
                let text = html[after..after + end].split_whitespace().collect::<Vec<_>>().join(" ");
                if !text.is_empty() {
                    return Some(text);
                }
            }
        }
    }
    None
}

fn collect_field_errors(v: &Value, out: &mut FieldErrors) {
    match v {
        Value::Object(map) => {
            for (field, msgs) in map {
                let key = normalize_field_path(field);
                let list = out.entry(key).or_default();
                match msgs {
                    Value::Array(items) => list.extend(items.iter().filter_map(as_text)),
                    other => list.extend(as_text(other)),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                if let Value::Object(m) = item {
                    let field = get_ci(m, &["field", "propertyName", "name", "path", "pointer"]).and_then(as_text);
                    let msg = get_ci(m, &["message", "errorMessage", "detail", "reason"]).and_then(as_text);
                    if let Some(f) = field {
                        out.entry(normalize_field_path(&f)).or_default().extend(msg);
                    }
                }
            }
        }
        _ => {}
    }
    out.retain(|_, v| {
        v.retain(|m| !m.trim().is_empty());
        true
    });
}

/// Parses an error body of any shape. `secret` (the token sent) is scrubbed from everything kept.
pub fn parse_error_body(content_type: Option<&str>, body: &[u8], secret: &str) -> ErrorBody {
    let text = String::from_utf8_lossy(body);
    let text = scrub(&text, secret);
    let trimmed = text.trim();
    let mut out = ErrorBody { excerpt: truncate(trimmed, EXCERPT_LIMIT), ..Default::default() };
    if trimmed.is_empty() {
        return out;
    }
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let looks_json = ct.contains("json") || trimmed.starts_with('{') || trimmed.starts_with('"');
    if looks_json {
        match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Object(obj)) => {
                let pick = |keys: &[&str]| get_ci(&obj, keys).and_then(as_text).filter(|s| !s.trim().is_empty());
                let detail = pick(&["detail"]);
                let title = pick(&["title"]);
                let message = pick(&["message", "error_description", "errorMessage", "error"]);
                out.message = match (title, detail, message) {
                    (Some(t), Some(d), _) if t != d => Some(format!("{t}: {d}")),
                    (_, Some(d), _) => Some(d),
                    (Some(t), None, Some(m)) if t != m => Some(format!("{t}: {m}")),
                    (Some(t), None, _) => Some(t),
                    (None, None, m) => m,
                };
                if let Some(errors) = get_ci(&obj, &["errors", "fieldErrors", "validationErrors"]) {
                    collect_field_errors(errors, &mut out.field_errors);
                }
                out.trace_id = get_ci(&obj, &["traceId", "requestId", "correlationId"]).and_then(as_text);
                out.recognized = out.message.is_some() || !out.field_errors.is_empty();
                return out;
            }
            Ok(Value::String(s)) => {
                out.message = Some(truncate(s.trim(), 300));
                out.recognized = true;
                return out;
            }
            _ => {}
        }
    }
    if ct.contains("html") || trimmed.starts_with('<') {
        out.message = html_text(trimmed).map(|t| truncate(&t, 300));
        out.recognized = out.message.is_some();
        return out;
    }
    if !looks_json && (ct.is_empty() || ct.starts_with("text/")) {
        let first_line = trimmed.lines().next().unwrap_or("").trim();
        out.message = Some(truncate(first_line, 300));
        out.recognized = true;
    }
    out
}

/// The canonical reason phrase of a status code.
pub fn http_reason(status: u16) -> Option<&'static str> {
    reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason())
}

/// Maps a non-success response to an error of the right kind.
pub fn error_for_status(
    status: u16,
    body: ErrorBody,
    retry_after: Option<std::time::Duration>,
    meta: ResponseMeta,
) -> Error {
    let message = body.message.clone().unwrap_or_else(|| format!("HTTP {status} {}", http_reason(status).unwrap_or("error")));
    match status {
        400 | 402 | 413 | 422 => Error::Validation {
            message: format!("the service rejected the request: {message}"),
            field_errors: body.field_errors,
            source_side: ValidationSource::Server,
            meta,
        },
        401 => Error::Authentication { message, meta },
        403 => Error::PermissionDenied { message, meta },
        409 => Error::Conflict { message, meta },
        429 => Error::RateLimited { message, retry_after, meta },
        500..=599 => Error::ServiceUnavailable { message, retry_after, meta },
        300..=399 => Error::UnexpectedResponse {
            message: "the service answered with a redirect that was not followed".into(),
            body_excerpt: body.excerpt,
            meta,
        },
        404 => Error::UnexpectedResponse {
            message: format!("{message} (check the base URL and API version)"),
            body_excerpt: body.excerpt,
            meta,
        },
        _ => Error::UnexpectedResponse { message, body_excerpt: body.excerpt, meta },
    }
}

/// Parses `Retry-After` (delta seconds or an HTTP date), capped at one hour.
pub fn parse_retry_after(value: &str) -> Option<std::time::Duration> {
    let v = value.trim();
    let d = if let Ok(secs) = v.parse::<f64>() {
        if !secs.is_finite() || secs < 0.0 {
            return None;
        }
        std::time::Duration::from_secs_f64(secs.min(3600.0))
    } else {
        let t = chrono::DateTime::parse_from_rfc2822(v).ok()?;
        let delta = t.with_timezone(&chrono::Utc) - chrono::Utc::now();
        delta.to_std().unwrap_or_default()
    };
    Some(d.min(std::time::Duration::from_secs(3600)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_details_with_field_errors() {
        let body = br#"{"type":"https://tools.ietf.org/html/rfc9110#section-15.5.1","title":"One or more validation errors occurred.","status":400,"traceId":"00-abc-01","errors":{"$.Client.Email":["bad e-mail"],"Contacts[0].Name":["is required"]}}"#;
        let b = parse_error_body(Some("application/problem+json"), body, "tok");
        assert_eq!(b.message.as_deref(), Some("One or more validation errors occurred."));
        assert_eq!(b.trace_id.as_deref(), Some("00-abc-01"));
        assert_eq!(b.field_errors["client.email"], ["bad e-mail"]);
        assert_eq!(b.field_errors["contacts[0].name"], ["is required"]);
        assert!(b.recognized);
    }

    #[test]
    fn message_shapes() {
        assert_eq!(parse_error_body(None, br#"{"Message":"Invalid key"}"#, "x").message.as_deref(), Some("Invalid key"));
        assert_eq!(parse_error_body(Some("application/json"), br#"{"message":"nope"}"#, "x").message.as_deref(), Some("nope"));
        assert_eq!(parse_error_body(Some("text/plain"), b"Service down\nmore", "x").message.as_deref(), Some("Service down"));
        let html = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad</h1></body></html>";
        assert_eq!(parse_error_body(Some("text/html"), html, "x").message.as_deref(), Some("502 Bad Gateway"));
        let arr = br#"{"title":"Bad","errors":[{"propertyName":"Client.PostalCode","errorMessage":"wrong"}]}"#;
        assert_eq!(parse_error_body(None, arr, "x").field_errors["client.postalCode"], ["wrong"]);
        let unknown = parse_error_body(Some("application/octet-stream"), &[0xff, 0xfe, 1, 2], "x");
        assert!(!unknown.recognized);
        assert!(!unknown.excerpt.is_empty());
    }

    #[test]
    fn secrets_scrubbed_and_excerpt_bounded() {
        let body = format!(r#"{{"message":"key canary-token-123 is unknown","junk":"{}"}}"#, "x".repeat(5000));
        let b = parse_error_body(None, body.as_bytes(), "canary-token-123");
        assert_eq!(b.message.as_deref(), Some("key [REDACTED] is unknown"));
        assert!(!b.excerpt.contains("canary-token-123"));
        assert!(b.excerpt.len() <= EXCERPT_LIMIT + 3);
    }

    #[test]
    fn status_mapping() {
        let kind = |s| error_for_status(s, ErrorBody::default(), None, ResponseMeta::default()).kind();
        use crate::ErrorKind::*;
        assert_eq!([kind(400), kind(401), kind(402), kind(413), kind(403), kind(404), kind(409), kind(422), kind(429), kind(500), kind(503), kind(302), kind(418)],
            [Validation, Authentication, Validation, Validation, PermissionDenied, UnexpectedResponse, Conflict, Validation, RateLimited, ServiceUnavailable, ServiceUnavailable, UnexpectedResponse, UnexpectedResponse]);
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("2"), Some(std::time::Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(std::time::Duration::from_millis(500)));
        assert_eq!(parse_retry_after("99999"), Some(std::time::Duration::from_secs(3600)));
        assert_eq!(parse_retry_after("-1"), None);
        assert!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT").is_some());
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn paths_normalised() {
        assert_eq!(normalize_field_path("$.Client.Email"), "client.email");
        assert_eq!(normalize_field_path("contacts[0].name"), "contacts[0].name");
        assert_eq!(normalize_field_path("Contacts[1].Email"), "contacts[1].email");
        assert_eq!(normalize_field_path("$."), "$");
    }
}
