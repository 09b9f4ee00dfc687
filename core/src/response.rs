//! Reading what the service answered: error bodies in every shape the contract names, and success bodies
//! with tolerant, case-insensitive field names.

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::error::{Error, ResponseMeta};
use crate::models::{parse_timestamp, CreatedClient, RenewedToken, TokenStatus};
use crate::redact;
use crate::secret::{scrub, SecretToken};
use crate::validation::token_problem;
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
    let mut out = String::with_capacity(limit.saturating_add(3));
    for c in text.chars() {
        if out.len().saturating_add(c.len_utf8()) > limit {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
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

/// The text of the first `<title>` or `<h1>` element. ASCII lower-casing keeps byte offsets, and every
/// cut is made with `get`, so no input can split a character.
fn html_text(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    for tag in ["title", "h1"] {
        let Some(start) = lower.find(&format!("<{tag}")) else { continue };
        let Some(open_end) = lower.get(start..).and_then(|rest| rest.find('>')) else { continue };
        let after = start.saturating_add(open_end).saturating_add(1);
        let Some(len) = lower.get(after..).and_then(|rest| rest.find(&format!("</{tag}"))) else { continue };
        let inner = html.get(after..after.saturating_add(len)).unwrap_or("");
        let text = inner.split_whitespace().collect::<Vec<_>>().join(" ");
        if !text.is_empty() {
            return Some(text);
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

/// Parses an error body of any shape. `secret` (the token sent) is scrubbed from everything kept, and so
/// is anything else that may be a token: values under credential keys (`accessToken`, `apiKey`, …) and
/// token-shaped text (see [`crate::redact`]).
pub fn parse_error_body(content_type: Option<&str>, body: &[u8], secret: &str) -> ErrorBody {
    let mut out = parse_error_body_unscrubbed(content_type, body, secret);
    // Decoding (JSON escapes such as `\u0061` or `\/`) and normalising field paths can re-create the secret
    // from text that did not contain it literally: scrub everything kept, after every transformation.
    let clean = |t: &str| scrub(t, secret);
    out.message = out.message.as_deref().map(clean);
    out.trace_id = out.trace_id.as_deref().map(clean);
    // Scrubbing can lengthen the excerpt (a marker next to text that forms the secret again is replaced
    // again): bound it once more, after the last transformation.
    out.excerpt = truncate(&clean(&out.excerpt), EXCERPT_LIMIT);
    out.field_errors = std::mem::take(&mut out.field_errors)
        .into_iter()
        .map(|(k, v)| (clean(&k), v.iter().map(|m| clean(m)).collect()))
        .fold(FieldErrors::new(), |mut acc, (k, v): (String, Vec<String>)| {
            acc.entry(k).or_default().extend(v);
            acc
        });
    out
}

fn parse_error_body_unscrubbed(content_type: Option<&str>, body: &[u8], secret: &str) -> ErrorBody {
    let text = String::from_utf8_lossy(body);
    let text = scrub(&text, secret);
    let trimmed = text.trim();
    let mut out = ErrorBody::default();
    if trimmed.is_empty() {
        return out;
    }
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let looks_json = ct.contains("json") || trimmed.starts_with('{') || trimmed.starts_with('"');
    let parsed = if looks_json { serde_json::from_str::<Value>(trimmed).ok() } else { None };
    let trace_id = match &parsed {
        Some(Value::Object(obj)) => get_ci(obj, &["traceId", "requestId", "correlationId"])
            .and_then(as_text)
            .map(|t| truncate(t.trim(), 128))
            .filter(|t| !t.is_empty()),
        _ => None,
    };
    let parsed = parsed.map(|mut v| {
        redact::redact_json(&mut v);
        v
    });
    out.excerpt = match &parsed {
        Some(v) => truncate(&v.to_string(), EXCERPT_LIMIT),
        None => truncate(&redact::redact_text(trimmed), EXCERPT_LIMIT),
    };
    if looks_json {
        match parsed {
            Some(Value::Object(obj)) => {
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
                out.trace_id = trace_id;
                out.recognized = out.message.is_some() || !out.field_errors.is_empty();
                return out;
            }
            Some(Value::String(s)) => {
                out.message = Some(truncate(s.trim(), 300));
                out.recognized = true;
                return out;
            }
            _ => {}
        }
    }
    if ct.contains("html") || trimmed.starts_with('<') {
        out.message = html_text(trimmed).map(|t| truncate(&redact::redact_text(&t), 300));
        out.recognized = out.message.is_some();
        return out;
    }
    if !looks_json && (ct.is_empty() || ct.starts_with("text/")) {
        let first_line = trimmed.lines().next().unwrap_or("").trim();
        out.message = Some(truncate(&redact::redact_text(first_line), 300));
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
    let message =
        body.message.clone().unwrap_or_else(|| format!("HTTP {status} {}", http_reason(status).unwrap_or("error")));
    match status {
        400 | 402 | 413 | 422 => {
            Error::server_validation(format!("the service rejected the request: {message}"), body.field_errors, meta)
        }
        401 => Error::Authentication { message, meta },
        403 => Error::PermissionDenied { message, meta },
        409 => Error::Conflict { message, meta },
        429 => Error::RateLimited { message, retry_after, meta },
        500..=599 => Error::ServiceUnavailable { message, retry_after, meta },
        300..=399 => {
            Error::unexpected("the service answered with a redirect that was not followed", body.excerpt, meta)
        }
        404 => Error::unexpected(format!("{message} (check the base URL and API version)"), body.excerpt, meta),
        _ => Error::unexpected(message, body.excerpt, meta),
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
        let delta = t.with_timezone(&chrono::Utc).signed_duration_since(chrono::Utc::now());
        delta.to_std().unwrap_or_default()
    };
    Some(d.min(std::time::Duration::from_secs(3600)))
}

/// Why a success (2xx) answer could not be used. Never holds the body; a token found in it is kept as a
/// secret.
#[doc(hidden)]
#[derive(Debug)]
pub struct Unreadable {
    /// What was wrong, with the answer's shape (keys, never values).
    pub why: String,
    /// A usable access token the answer carried even though it could not be read completely.
    pub recovered_token: Option<SecretToken>,
}

impl Unreadable {
    fn new(why: impl Into<String>) -> Self {
        Unreadable { why: why.into(), recovered_token: None }
    }
}

/// Describes a body's shape without any of its values: "a JSON object with keys a, b", "HTML", ….
#[doc(hidden)]
pub fn describe_shape(body: &[u8]) -> String {
    if body.iter().all(u8::is_ascii_whitespace) {
        return "an empty body".into();
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) if m.is_empty() => "an empty JSON object".into(),
        Ok(Value::Object(m)) => {
            let mut keys: Vec<String> = m.keys().take(12).map(|k| truncate(&redact::redact_text(k), 40)).collect();
            if m.len() > 12 {
                keys.push("…".into());
            }
            format!("a JSON object with keys {}", keys.join(", "))
        }
        Ok(Value::Array(a)) => format!("a JSON array of {} items", a.len()),
        Ok(Value::String(_)) => "a JSON string".into(),
        Ok(_) => "a JSON scalar".into(),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let t = text.trim_start();
            if t.starts_with('<') {
                "HTML or XML".into()
            } else if std::str::from_utf8(body).is_err() {
                format!("{} bytes that are not UTF-8", body.len())
            } else {
                format!("{} bytes of text that is not JSON", body.len())
            }
        }
    }
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, Unreadable> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Unreadable::new(format!("expected a JSON object, got {}", describe_shape(body)))),
        Err(e) => Err(Unreadable::new(format!(
            "invalid JSON at line {} column {} ({})",
            e.line(),
            e.column(),
            describe_shape(body)
        ))),
    }
}

/// The key under which `obj` holds the first of `keys` (case-insensitive), if its value is not null.
fn key_ci(obj: &Map<String, Value>, want: &str) -> Option<String> {
    if obj.get(want).is_some_and(|v| !v.is_null()) {
        return Some(want.to_string());
    }
    obj.iter().find(|(k, v)| k.eq_ignore_ascii_case(want) && !v.is_null()).map(|(k, _)| k.clone())
}

/// Removes and returns the first of `keys` as text, moving a string out rather than copying it (tokens
/// are not left behind in copies).
fn take_text(obj: &mut Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|want| {
        let key = key_ci(obj, want)?;
        match obj.remove(&key)? {
            Value::String(s) => Some(s),
            other => as_text(&other),
        }
    })
}

/// A string read from an answer that may be a token: wiped when dropped (also when the read fails halfway).
struct Wiped(Zeroizing<String>);

impl<'de> serde::Deserialize<'de> for Wiped {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| Wiped(Zeroizing::new(s)))
    }
}

impl std::ops::Deref for Wiped {
    type Target = str;
    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

/// A create answer in exactly the contract's shape (see [`ExactStatus`]).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExactCreated {
    client_id: String,
    customer_code: String,
    #[serde(default)]
    payment_reference_prefix: Option<String>,
    access_token: Wiped,
    #[serde(default)]
    token_expires_at: Option<String>,
}

/// The contract's shape, complete and usable; `None` sends the answer to the tolerant path (which gives the
/// same result for it, and the precise error otherwise).
fn exact_created(body: &[u8]) -> Option<CreatedClient> {
    let c = serde_json::from_slice::<ExactCreated>(body).ok()?;
    let token = c.access_token.trim();
    let (client_id, customer_code) = (c.client_id.trim(), c.customer_code.trim());
    if token_problem(token).is_some() || client_id.is_empty() || customer_code.is_empty() {
        return None;
    }
    Some(CreatedClient {
        client_id: client_id.to_string(),
        customer_code: customer_code.to_string(),
        payment_reference_prefix: c.payment_reference_prefix.map(|p| p.trim().to_string()).unwrap_or_default(),
        access_token: SecretToken::new(token),
        token_expires_at: c
            .token_expires_at
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .and_then(parse_timestamp),
    })
}

/// Reads a create answer: `{clientId, customerCode, paymentReferencePrefix?, accessToken, tokenExpiresAt?}`.
/// When the identifiers are missing but a usable token is there, the token is handed back in
/// [`Unreadable::recovered_token`]: the client exists and that is its only token.
#[doc(hidden)]
pub fn parse_created(body: &[u8]) -> Result<CreatedClient, Unreadable> {
    if let Some(created) = exact_created(body) {
        return Ok(created);
    }
    let mut obj = json_object(body)?;
    // The shape is described only on the error paths (it parses the body again).
    let shape = || describe_shape(body);
    let token = take_text(&mut obj, &["accessToken", "token", "apiKey"]).map(|t| SecretToken::new(t.trim()));
    let token = match token {
        Some(t) if token_problem(t.expose()).is_none() => t,
        Some(_) => return Err(Unreadable::new(format!("field `accessToken` is not a usable token ({})", shape()))),
        None => return Err(Unreadable::new(format!("field `accessToken` missing ({})", shape()))),
    };
    let mut text = |keys: &[&str]| take_text(&mut obj, keys).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let client_id = text(&["clientId", "id"]);
    let customer_code = text(&["customerCode"]);
    let prefix = text(&["paymentReferencePrefix"]).unwrap_or_default();
    let expires = text(&["tokenExpiresAt", "expiresAt", "expires"]).and_then(|s| parse_timestamp(&s));
    match (client_id, customer_code) {
        (Some(client_id), Some(customer_code)) => Ok(CreatedClient {
            client_id,
            customer_code,
            payment_reference_prefix: prefix,
            access_token: token,
            token_expires_at: expires,
        }),
        (id, code) => {
            let missing: Vec<&str> = [("clientId", id.is_none()), ("customerCode", code.is_none())]
                .iter()
                .filter(|(_, m)| *m)
                .map(|(k, _)| *k)
                .collect();
            Err(Unreadable {
                why: format!(
                    "the client was created and its access token issued, but the answer lacks {} ({}); the token is kept in the error's recovered token: store it",
                    missing.join(" and "),
                    shape()
                ),
                recovered_token: Some(token),
            })
        }
    }
}

/// A validate answer in exactly the contract's shape: these keys in this case, each at most once, no other
/// key, each of its JSON type or null. Anything else is read by the tolerant path, which gives the same
/// result for this shape.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ExactStatus {
    #[serde(rename = "isValid")]
    is_valid: bool,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    expired: Option<bool>,
}

/// [`truncate`] of an owned text: the text itself when it is short enough (no allocation).
fn truncate_owned(text: String, limit: usize) -> String {
    if text.len() <= limit {
        text
    } else {
        truncate(&text, limit)
    }
}

fn status_of(is_valid: bool, message: String, expired: Option<bool>) -> TokenStatus {
    let message = truncate_owned(redact::redact_owned(message), 1000);
    let expired = expired.unwrap_or_else(|| !is_valid && message.to_ascii_lowercase().contains("expired"));
    TokenStatus { is_valid, expired, message }
}

/// Reads a validate answer: `{isValid, message, expired?}`.
#[doc(hidden)]
pub fn parse_status(body: &[u8]) -> Result<TokenStatus, Unreadable> {
    // The answer as the contract gives it, straight into a struct (no `Value` tree, no key copies).
    if let Ok(s) = serde_json::from_slice::<ExactStatus>(body) {
        return Ok(status_of(s.is_valid, s.message.unwrap_or_default(), s.expired));
    }
    let obj = json_object(body)?;
    let is_valid = match get_ci(&obj, &["isValid", "valid"]) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        _ => {
            return Err(Unreadable::new(format!("field `isValid` missing or not a boolean ({})", describe_shape(body))))
        }
    };
    let message = get_ci(&obj, &["message"]).and_then(as_text).unwrap_or_default();
    let expired = match get_ci(&obj, &["expired", "isExpired"]) {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    };
    Ok(status_of(is_valid, message, expired))
}

/// A renew answer in exactly the contract's shape (see [`ExactStatus`]).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExactRenewed {
    access_token: Wiped,
    #[serde(default)]
    token_expires_at: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // read only to accept the shape
    message: Option<String>,
}

/// Reads a renew answer: the new token from the first of `accessToken`, `token`, `Message`, `message`
/// (case-insensitive) that looks like a token; a bare JSON string or plain-text token is accepted too.
#[doc(hidden)]
pub fn parse_renewed(body: &[u8]) -> Result<RenewedToken, Unreadable> {
    let usable = |s: &str| token_problem(s.trim()).is_none();
    if let Ok(r) = serde_json::from_slice::<ExactRenewed>(body) {
        if usable(&r.access_token) {
            let expires = r.token_expires_at.as_deref().and_then(parse_timestamp);
            return Ok(RenewedToken { access_token: SecretToken::new(r.access_token.trim()), expires_at: expires });
        }
    }
    let (token, expires) = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut obj)) => {
            let mut token = None;
            for k in ["accessToken", "token", "Message", "message"] {
                let Some(key) = key_ci(&obj, k) else { continue };
                if obj.get(&key).and_then(as_text).is_some_and(|s| usable(&s)) {
                    token = take_text(&mut obj, &[key.as_str()]);
                    break;
                }
            }
            let expires =
                take_text(&mut obj, &["tokenExpiresAt", "expiresAt", "expires"]).and_then(|s| parse_timestamp(&s));
            (token, expires)
        }
        Ok(Value::String(s)) => (Some(s).filter(|s| usable(s)), None),
        Ok(_) => (None, None),
        Err(_) => {
            let t = std::str::from_utf8(body).map(str::trim).unwrap_or("");
            (Some(t.to_string()).filter(|s| usable(s) && !s.starts_with('<') && !s.starts_with('{')), None)
        }
    };
    match token {
        Some(t) => Ok(RenewedToken { access_token: SecretToken::new(t.trim()), expires_at: expires }),
        None => Err(Unreadable::new(format!(
            "no new token found in the answer (looked for accessToken, token, Message, message; got {}); the whole answer is kept in the error's raw response",
            describe_shape(body)
        ))),
    }
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
        assert_eq!(
            parse_error_body(None, br#"{"Message":"Invalid key"}"#, "x").message.as_deref(),
            Some("Invalid key")
        );
        assert_eq!(
            parse_error_body(Some("application/json"), br#"{"message":"nope"}"#, "x").message.as_deref(),
            Some("nope")
        );
        assert_eq!(
            parse_error_body(Some("text/plain"), b"Service down\nmore", "x").message.as_deref(),
            Some("Service down")
        );
        let html = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad</h1></body></html>";
        assert_eq!(parse_error_body(Some("text/html"), html, "x").message.as_deref(), Some("502 Bad Gateway"));
        let arr = br#"{"title":"Bad","errors":[{"propertyName":"Client.PostalCode","errorMessage":"wrong"}]}"#;
        assert_eq!(parse_error_body(None, arr, "x").field_errors["client.postalCode"], ["wrong"]);
        let unknown = parse_error_body(Some("application/octet-stream"), &[0xff, 0xfe, 1, 2], "x");
        assert!(!unknown.recognized);
        assert!(!unknown.excerpt.is_empty());
    }

    #[test]
    fn an_excerpt_stays_bounded_when_scrubbing_lengthens_it() {
        // Found by the `error_body` fuzz target: "[REDACTED]" followed by "]]]]]" is the secret "]]]]]]" again,
        // so the final scrub replaced it a second time and the excerpt grew past its bound.
        let body = "x ]]]]]]]]]]] ".repeat(50);
        let b = parse_error_body(Some("text/plain"), body.as_bytes(), "]]]]]]");
        assert!(b.excerpt.len() <= EXCERPT_LIMIT + 3, "excerpt of {} bytes", b.excerpt.len());
        assert!(b.excerpt.starts_with("x [REDACTED"), "{}", b.excerpt);
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
        assert_eq!(
            [
                kind(400),
                kind(401),
                kind(402),
                kind(413),
                kind(403),
                kind(404),
                kind(409),
                kind(422),
                kind(429),
                kind(500),
                kind(503),
                kind(302),
                kind(418)
            ],
            [
                Validation,
                Authentication,
                Validation,
                Validation,
                PermissionDenied,
                UnexpectedResponse,
                Conflict,
                Validation,
                RateLimited,
                ServiceUnavailable,
                ServiceUnavailable,
                UnexpectedResponse,
                UnexpectedResponse
            ]
        );
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
    fn error_bodies_never_keep_unknown_tokens() {
        let canary = "cfis_at_Q2xpZW50VG9rZW5DYW5hcnkxMjM0NTY3ODkwYWJj";
        for body in [
            format!(r#"{{"message":"bad","accessToken":"{canary}"}}"#),
            format!(r#"{{"Message":"{canary}"}}"#),
            format!(r#"{{"errors":{{"x":["token {canary} rejected"]}}}}"#),
            format!("<html><title>{canary}</title></html>"),
            format!("denied {canary}"),
            format!(r#"{{"{canary}":1}}"#),
        ] {
            let b = parse_error_body(None, body.as_bytes(), "other-secret");
            let all = format!("{:?}", b);
            assert!(!all.contains(canary), "{body} -> {all}");
        }
    }

    #[test]
    fn created_partial_success_recovers_the_token() {
        let e = parse_created(br#"{"accessToken":"cfis_at_abc123","customerCode":"C1"}"#).unwrap_err();
        assert_eq!(e.recovered_token.as_ref().map(SecretToken::expose), Some("cfis_at_abc123"));
        assert!(e.why.contains("clientId") && !e.why.contains("cfis_at_abc123"), "{}", e.why);
        let e = parse_created(br#"{"clientId":"1","customerCode":"C"}"#).unwrap_err();
        assert!(e.recovered_token.is_none());
        let e = parse_created(br#"{"accessToken":"a b","clientId":"1","customerCode":"C"}"#).unwrap_err();
        assert!(e.recovered_token.is_none() && !e.why.contains("a b"));
    }

    #[test]
    fn renew_shapes_and_descriptions() {
        let e = parse_renewed(br#"{"result":{"newKey":"cfis_at_zzz999"}}"#).unwrap_err();
        assert!(e.why.contains("keys result") && !e.why.contains("zzz999"), "{}", e.why);
        assert_eq!(
            parse_renewed(br#"{"accessToken":"abc","Message":"Token renewed"}"#).unwrap().access_token.expose(),
            "abc"
        );
        assert_eq!(parse_renewed(br#"{"Message":"newtok123"}"#).unwrap().access_token.expose(), "newtok123");
        assert_eq!(parse_renewed(br#"{"message":"newtok456"}"#).unwrap().access_token.expose(), "newtok456");
        assert_eq!(
            parse_renewed(br#"{"TOKEN":"t","expiresAt":"2030-01-01T00:00:00Z"}"#)
                .unwrap()
                .expires_at
                .map(|t| t.to_rfc3339())
                .as_deref(),
            Some("2030-01-01T00:00:00+00:00")
        );
        assert!(parse_renewed(br#"{"message":"Token renewed"}"#).is_err());
        assert!(parse_renewed(b"<html>oops</html>").is_err());
        assert_eq!(parse_renewed(b"rawtoken").unwrap().access_token.expose(), "rawtoken");
        assert_eq!(parse_renewed(&[0xff, 0xfe]).unwrap_err().recovered_token.map(|_| ()), None);
    }

    #[test]
    fn status_and_created_shapes() {
        let s = parse_status(br#"{"IsValid":false,"Message":"Token has expired"}"#).unwrap();
        assert!(!s.is_valid && s.expired);
        assert!(parse_status(br#"{"message":"hi"}"#).is_err());
        let c = parse_created(
            br#"{"clientId":42,"customerCode":"C1","paymentReferencePrefix":"77","accessToken":"tok","extra":1}"#,
        )
        .unwrap();
        assert_eq!(c.client_id, "42");
    }

    #[test]
    fn paths_normalised() {
        assert_eq!(normalize_field_path("$.Client.Email"), "client.email");
        assert_eq!(normalize_field_path("contacts[0].name"), "contacts[0].name");
        assert_eq!(normalize_field_path("Contacts[1].Email"), "contacts[1].email");
        assert_eq!(normalize_field_path("$."), "$");
    }

    /// The same body with a key the exact shapes do not know, so the tolerant path reads it.
    fn with_extra_key(body: &str) -> String {
        body.replacen('{', r#"{"extra":1,"#, 1)
    }

    #[test]
    fn exact_shapes_read_like_the_tolerant_path() {
        for body in [
            r#"{"isValid":true,"message":"Token is valid"}"#,
            r#"{"isValid":false,"message":"Token has expired"}"#,
            r#"{"isValid":false,"message":null,"expired":true}"#,
            r#"{"isValid":false}"#,
            r#"{"isValid":true,"message":"key cfisAbc123Def456Ghi789 is fine"}"#,
        ] {
            let (a, b) =
                (parse_status(body.as_bytes()).unwrap(), parse_status(with_extra_key(body).as_bytes()).unwrap());
            assert_eq!((a.is_valid, a.expired, &a.message), (b.is_valid, b.expired, &b.message), "{body}");
        }
        let s = parse_status(br#"{"isValid":true,"message":"key cfisAbc123Def456Ghi789 is fine"}"#).unwrap();
        assert_eq!(s.message, "key [REDACTED] is fine");
        // Not the exact shape (a duplicate key, a wrong type): the tolerant path decides.
        assert!(parse_status(br#"{"isValid":true,"isValid":false}"#).is_ok_and(|s| !s.is_valid));
        assert!(parse_status(br#"{"isValid":"true","message":7}"#).is_ok_and(|s| s.is_valid && s.message == "7"));

        for body in [
            r#"{"accessToken":" cfis_at_abc123XYZ456def789 ","message":"Token renewed","tokenExpiresAt":"2030-01-01T00:00:00Z"}"#,
            r#"{"accessToken":"cfis_at_abc123XYZ456def789","tokenExpiresAt":null}"#,
            r#"{"accessToken":"not usable","message":"cfis_at_abc123XYZ456def789"}"#,
        ] {
            let (a, b) =
                (parse_renewed(body.as_bytes()).unwrap(), parse_renewed(with_extra_key(body).as_bytes()).unwrap());
            assert_eq!(a.access_token.expose(), "cfis_at_abc123XYZ456def789", "{body}");
            assert_eq!((&a.access_token, a.expires_at), (&b.access_token, b.expires_at), "{body}");
        }

        for body in [
            r#"{"clientId":" c-1 ","customerCode":"K1","paymentReferencePrefix":" 12 ","accessToken":"cfis_at_abc123XYZ456def789","tokenExpiresAt":"2030-01-01T00:00:00Z"}"#,
            r#"{"clientId":"c-1","customerCode":"K1","paymentReferencePrefix":null,"accessToken":"cfis_at_abc123XYZ456def789"}"#,
        ] {
            let (a, b) =
                (parse_created(body.as_bytes()).unwrap(), parse_created(with_extra_key(body).as_bytes()).unwrap());
            assert_eq!(
                (&a.client_id, &a.customer_code, &a.payment_reference_prefix, &a.access_token, a.token_expires_at),
                (&b.client_id, &b.customer_code, &b.payment_reference_prefix, &b.access_token, b.token_expires_at),
                "{body}"
            );
        }
        // The exact shape with an empty id, or an unusable token: the tolerant path's errors (token recovered).
        let e = parse_created(br#"{"clientId":" ","customerCode":"K1","accessToken":"cfis_at_abc123XYZ456def789"}"#)
            .unwrap_err();
        assert!(e.recovered_token.is_some() && e.why.contains("clientId"));
        assert!(parse_created(br#"{"clientId":"c","customerCode":"K1","accessToken":"a b"}"#).is_err());
    }
}
