//! Shared HTTP building blocks for the layers above (faults, handlers, server): the response body type,
//! the error that closes a connection without an answer, path normalization and the response builders
//! (RFC 9457 problem details in the ASP.NET shape, JSON). Depends on nothing else in the crate.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

/// How long a truncated body waits after its first half before aborting, so that the half is flushed.
const TRUNCATE_PAUSE: Duration = Duration::from_millis(30);

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const PROBLEM_JSON: HeaderValue = HeaderValue::from_static("application/problem+json");
const VALIDATION_TITLE: &str = "One or more validation errors occurred.";

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body: complete, or (for the `truncate` fault) half of it followed by an error, while the
/// headers promise the full length.
pub(crate) enum SBody {
    Full(Option<Bytes>),
    Truncated { first: Option<Bytes>, full_len: u64, pause: Option<Pin<Box<tokio::time::Sleep>>> },
}

impl SBody {
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let b = bytes.into();
        SBody::Full(if b.is_empty() { None } else { Some(b) })
    }

    pub fn empty() -> Self {
        SBody::Full(None)
    }

    /// The same body, cut after about half.
    pub fn truncate(self) -> Self {
        match self {
            SBody::Full(b) => {
                let b = b.unwrap_or_default();
                let full_len = b.len() as u64;
                let half = b.slice(..b.len() / 2);
                SBody::Truncated { first: Some(half).filter(|h| !h.is_empty()), full_len, pause: None }
            }
            t => t,
        }
    }

    /// The complete bytes of a full body.
    #[cfg(test)]
    pub fn bytes(&self) -> Bytes {
        match self {
            SBody::Full(b) => b.clone().unwrap_or_default(),
            SBody::Truncated { .. } => Bytes::new(),
        }
    }
}

#[derive(Debug)]
struct Truncated;

impl std::fmt::Display for Truncated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("response body truncated by fault injection")
    }
}
impl std::error::Error for Truncated {}

impl Body for SBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            SBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            SBody::Truncated { first, pause, .. } => {
                if let Some(b) = first.take() {
                    return Poll::Ready(Some(Ok(Frame::data(b))));
                }
                // Pending for a moment makes hyper flush what it has before the abort.
                let sleep = pause.get_or_insert_with(|| Box::pin(tokio::time::sleep(TRUNCATE_PAUSE)));
                ready!(sleep.as_mut().poll(cx));
                Poll::Ready(Some(Err(Box::new(Truncated))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, SBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            SBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            SBody::Truncated { full_len, .. } => SizeHint::with_exact(*full_len),
        }
    }
}

/// The error a handler returns to make hyper close the connection without answering.
#[derive(Debug)]
pub(crate) struct CloseConnection;

impl std::fmt::Display for CloseConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection closed without a response (fault injection)")
    }
}
impl std::error::Error for CloseConnection {}

/// The three CFIS endpoints (normalized).
pub(crate) const PATH_CLIENT: &str = "/api/v1/partner/client";
pub(crate) const PATH_VALIDATE: &str = "/api/v1/partner/validate";
pub(crate) const PATH_RENEW: &str = "/api/v1/partner/renew";

/// Lower case, without a trailing slash (routing is case-insensitive, as on ASP.NET).
pub(crate) fn normalize_path(path: &str) -> Cow<'_, str> {
    let trimmed = if path.len() > 1 { path.strip_suffix('/').unwrap_or(path) } else { path };
    if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(trimmed.to_ascii_lowercase())
    } else {
        Cow::Borrowed(trimmed)
    }
}

fn problem_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        401 => "https://tools.ietf.org/html/rfc9110#section-15.5.2",
        403 => "https://tools.ietf.org/html/rfc9110#section-15.5.4",
        404 => "https://tools.ietf.org/html/rfc9110#section-15.5.5",
        405 => "https://tools.ietf.org/html/rfc9110#section-15.5.6",
        408 => "https://tools.ietf.org/html/rfc9110#section-15.5.9",
        409 => "https://tools.ietf.org/html/rfc9110#section-15.5.10",
        413 => "https://tools.ietf.org/html/rfc9110#section-15.5.14",
        415 => "https://tools.ietf.org/html/rfc9110#section-15.5.16",
        422 => "https://tools.ietf.org/html/rfc9110#section-15.5.21",
        429 => "https://tools.ietf.org/html/rfc6585#section-4",
        500 => "https://tools.ietf.org/html/rfc9110#section-15.6.1",
        502 => "https://tools.ietf.org/html/rfc9110#section-15.6.3",
        503 => "https://tools.ietf.org/html/rfc9110#section-15.6.4",
        504 => "https://tools.ietf.org/html/rfc9110#section-15.6.5",
        _ => "about:blank",
    }
}

/// An RFC 9457 problem details response in the ASP.NET shape.
pub(crate) fn problem_response(
    status: StatusCode,
    title: &str,
    detail: &str,
    rid: &str,
    errors: Option<Value>,
) -> Response<SBody> {
    let mut body = json!({
        "type": problem_type(status),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
        "traceId": rid,
    });
    if let Some(e) = errors {
        body["errors"] = e;
    }
    let mut r = Response::new(SBody::full(serde_json::to_vec(&body).expect("json")));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, PROBLEM_JSON);
    r
}

pub(crate) fn validation_problem(errors: Value, rid: &str) -> Response<SBody> {
    problem_response(StatusCode::BAD_REQUEST, VALIDATION_TITLE, "See the errors for details.", rid, Some(errors))
}

pub(crate) fn unauthorized(detail: &str, rid: &str) -> Response<SBody> {
    problem_response(StatusCode::UNAUTHORIZED, "Unauthorized", detail, rid, None)
}

pub(crate) fn forbidden(detail: &str, rid: &str) -> Response<SBody> {
    problem_response(StatusCode::FORBIDDEN, "Forbidden", detail, rid, None)
}

pub(crate) fn method_not_allowed(allow: &str, rid: &str) -> Response<SBody> {
    let mut r = problem_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed",
        &format!("This endpoint allows {allow}."),
        rid,
        None,
    );
    r.headers_mut().insert(ALLOW, HeaderValue::from_str(allow).expect("static"));
    r
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response<SBody> {
    let mut r = Response::new(SBody::full(serde_json::to_vec(body).expect("json")));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, JSON);
    r
}

pub(crate) fn static_json(status: StatusCode, body: &'static [u8]) -> Response<SBody> {
    let mut r = Response::new(SBody::full(Bytes::from_static(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, JSON);
    r
}

pub(crate) fn no_content() -> Response<SBody> {
    let mut r = Response::new(SBody::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}
pub(crate) fn raw(status: StatusCode, content_type: &str, body: Bytes) -> Response<SBody> {
    let mut r = Response::new(SBody::full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("text/plain")));
    r
}
