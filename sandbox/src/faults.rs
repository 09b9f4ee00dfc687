//! Fault injection: parsing fault definitions and building the responses of the faults that answer
//! without performing the operation.

use std::collections::VecDeque;

use bytes::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use hyper::{Response, StatusCode};
use serde_json::Value;

use crate::http::{normalize_path, problem_response, raw, SBody, PATH_CLIENT, PATH_RENEW};

/// One pending fault.
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    /// Normalized endpoint path; `None` = any `/api/` path.
    pub path: Option<String>,
    pub times: u32,
    pub kind: FaultKind,
}

#[derive(Debug, Clone)]
pub(crate) enum FaultKind {
    /// Answer without performing the operation (`status`, `garbage`, `html`, `redirect`).
    Respond(Canned),
    Delay {
        ms: u64,
    },
    Reset,
    Truncate,
    CommitThenDrop,
    /// Perform the operation, but answer a success in an unexpected shape that still carries the new token:
    /// create → 201 `{"accessToken": NEW}` (no `clientId`/`customerCode`), renew → 200
    /// `{"result": {"newKey": NEW}}`. Only for the create and renew paths.
    PartialSuccess,
}

/// A response a fault answers with, instead of performing the operation.
#[derive(Debug, Clone)]
pub(crate) struct Canned {
    pub kind: CannedKind,
    pub status: StatusCode,
    pub body: Option<String>,
    pub content_type: Option<String>,
    pub retry_after: Option<HeaderValue>,
    pub location: Option<HeaderValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CannedKind {
    Status,
    Garbage,
    Html,
    Redirect,
}

/// The body of a `garbage` fault: promises JSON, is not JSON.
pub(crate) const GARBAGE_BODY: &str = "{\"isValid\": tru, \"clientId\": <<garbage>> \u{fffd}";

const KNOWN_KEYS: [&str; 9] =
    ["path", "kind", "times", "status", "retryAfter", "ms", "body", "contentType", "location"];
const MAX_DELAY_MS: u64 = 600_000;

impl Fault {
    pub fn matches(&self, endpoint_path: &str) -> bool {
        self.path.as_deref().is_none_or(|p| p == endpoint_path)
    }
}

/// The pending faults, in the order they were queued.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue(VecDeque<Fault>);

impl FaultQueue {
    /// Takes the first pending fault that applies to a (normalized) path.
    pub fn take(&mut self, endpoint_path: &str) -> Option<FaultKind> {
        let idx = self.0.iter().position(|f| f.matches(endpoint_path))?;
        let fault = self.0.get_mut(idx)?;
        fault.times = fault.times.saturating_sub(1);
        if fault.times == 0 {
            self.0.remove(idx).map(|f| f.kind)
        } else {
            Some(fault.kind.clone())
        }
    }

    pub fn add(&mut self, faults: Vec<Fault>) -> u64 {
        self.0.extend(faults);
        self.pending()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Pending fault definitions (a fault with `times` left counts once).
    pub fn pending(&self) -> u64 {
        self.0.len() as u64
    }
}

/// Parses one fault object or an array of them. The error names the problem, for a 400 answer.
pub(crate) fn parse_faults(value: &Value) -> Result<Vec<Fault>, (String, String)> {
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(("$".into(), "must be a fault object or a non-empty array of them".into()));
            }
            items.iter().enumerate().map(|(i, v)| parse_fault(v, &format!("$[{i}]"))).collect()
        }
        other => Ok(vec![parse_fault(other, "$")?]),
    }
}

fn parse_fault(value: &Value, at: &str) -> Result<Fault, (String, String)> {
    let err = |field: &str, msg: &str| {
        (if field.is_empty() { at.to_string() } else { format!("{at}.{field}") }, msg.to_string())
    };
    let Value::Object(obj) = value else {
        return Err(err("", "must be a fault object"));
    };
    if let Some(k) = obj.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
        return Err(err(k, &format!("is not a known fault field (known: {})", KNOWN_KEYS.join(", "))));
    }
    let path = match obj.get("path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => {
            let p = normalize_path(p.split('?').next().unwrap_or_default()).into_owned();
            if !p.starts_with("/api/") {
                return Err(err("path", "must be a path under /api/ (e.g. /api/v1/partner/validate)"));
            }
            Some(p)
        }
        Some(_) => return Err(err("path", "must be a string")),
    };
    let times = match obj.get("times") {
        None | Some(Value::Null) => 1,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=u64::from(u32::MAX)).contains(&n) => n as u32,
            _ => return Err(err("times", "must be a positive integer")),
        },
    };
    let status = match obj.get("status") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64().and_then(|n| u16::try_from(n).ok()).and_then(|n| StatusCode::from_u16(n).ok()) {
            Some(s) if (200..=599).contains(&s.as_u16()) => Some(s),
            _ => return Err(err("status", "must be an HTTP status between 200 and 599")),
        },
    };
    let retry_after = match obj.get("retryAfter") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_f64().is_some_and(|f| f >= 0.0) => {
            Some(HeaderValue::from_str(&n.to_string()).expect("digits"))
        }
        // A string is sent verbatim (an HTTP date, or something malformed on purpose).
        Some(Value::String(s)) => {
            Some(HeaderValue::from_str(s).map_err(|_| err("retryAfter", "must be a valid header value"))?)
        }
        Some(_) => {
            return Err(err("retryAfter", "must be a non-negative number of seconds (or a string sent verbatim)"))
        }
    };
    let string = |key: &str| -> Result<Option<String>, (String, String)> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(err(key, "must be a string")),
        }
    };
    let body = string("body")?;
    let content_type = string("contentType")?;
    if let Some(ct) = &content_type {
        if HeaderValue::from_str(ct).is_err() {
            return Err(err("contentType", "must be a valid header value"));
        }
    }
    let location = match string("location")? {
        Some(l) => Some(HeaderValue::from_str(&l).map_err(|_| err("location", "must be a valid header value"))?),
        None => None,
    };
    let kind_name = match obj.get("kind") {
        Some(Value::String(k)) => k.to_ascii_lowercase().replace(['_', '-'], ""),
        None | Some(Value::Null) => return Err(err("kind", "is required")),
        Some(_) => return Err(err("kind", "must be a string")),
    };
    let canned = |kind: CannedKind, status: StatusCode| Canned {
        kind,
        status,
        body: body.clone(),
        content_type: content_type.clone(),
        retry_after: retry_after.clone(),
        location: location.clone(),
    };
    let kind = match kind_name.as_str() {
        "status" => match status {
            Some(s) => FaultKind::Respond(canned(CannedKind::Status, s)),
            None => return Err(err("status", "is required for kind status")),
        },
        "garbage" => FaultKind::Respond(canned(CannedKind::Garbage, status.unwrap_or(StatusCode::OK))),
        "html" => FaultKind::Respond(canned(CannedKind::Html, status.unwrap_or(StatusCode::BAD_GATEWAY))),
        "redirect" => {
            let s = status.unwrap_or(StatusCode::TEMPORARY_REDIRECT);
            if !s.is_redirection() {
                return Err(err("status", "must be a 3xx status for kind redirect"));
            }
            if location.is_none() {
                return Err(err("location", "is required for kind redirect"));
            }
            FaultKind::Respond(canned(CannedKind::Redirect, s))
        }
        "delay" => match obj.get("ms").map(|v| v.as_u64()) {
            Some(Some(ms)) if ms <= MAX_DELAY_MS => FaultKind::Delay { ms },
            Some(_) => return Err(err("ms", "must be an integer number of milliseconds, at most 600000")),
            None => return Err(err("ms", "is required for kind delay")),
        },
        "reset" => FaultKind::Reset,
        "truncate" => FaultKind::Truncate,
        "committhendrop" => FaultKind::CommitThenDrop,
        "partialsuccess" => {
            if !matches!(path.as_deref(), Some(PATH_CLIENT | PATH_RENEW)) {
                return Err(err("path", &format!("must be {PATH_CLIENT} or {PATH_RENEW} for kind partial_success")));
            }
            FaultKind::PartialSuccess
        }
        _ => return Err(err(
            "kind",
            "must be one of status, delay, reset, truncate, garbage, html, commit_then_drop, redirect, partial_success",
        )),
    };
    Ok(Fault { path, times, kind })
}

fn reason(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Unknown Status")
}

/// The response of a fault that answers instead of the service.
pub(crate) fn canned_response(c: &Canned, request_id: &str) -> Response<SBody> {
    let mut resp = match (&c.body, c.kind) {
        (Some(body), _) => {
            let guessed = if serde_json::from_str::<Value>(body).is_ok() {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            };
            let ct = c.content_type.as_deref().unwrap_or(guessed);
            raw(c.status, ct, Bytes::from(body.clone()))
        }
        (None, CannedKind::Status) | (None, CannedKind::Redirect) => {
            let mut r =
                problem_response(c.status, reason(c.status), "Fault injected by the sandbox.", request_id, None);
            if let Some(ct) = &c.content_type {
                r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_str(ct).expect("checked"));
            }
            r
        }
        (None, CannedKind::Garbage) => raw(
            c.status,
            c.content_type.as_deref().unwrap_or("application/json"),
            Bytes::from_static(GARBAGE_BODY.as_bytes()),
        ),
        (None, CannedKind::Html) => {
            let line = format!("{} {}", c.status.as_u16(), reason(c.status));
            let page = format!(
                "<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n<center><h1>{line}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            );
            raw(c.status, c.content_type.as_deref().unwrap_or("text/html"), Bytes::from(page))
        }
    };
    if let Some(ra) = &c.retry_after {
        resp.headers_mut().insert(RETRY_AFTER, ra.clone());
    }
    if let Some(loc) = &c.location {
        resp.headers_mut().insert(LOCATION, loc.clone());
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_defaults_and_rejects_bad_faults() {
        let f = parse_faults(&json!({"kind": "status", "status": 503, "retryAfter": 2})).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].times, 1);
        assert!(f[0].path.is_none());
        let f = parse_faults(
            &json!([{"kind": "reset", "path": "/api/v1/partner/validate/", "times": 3}, {"kind": "commit-then-drop"}]),
        )
        .unwrap();
        assert_eq!(f[0].path.as_deref(), Some("/api/v1/partner/validate"));
        assert!(matches!(f[1].kind, FaultKind::CommitThenDrop));
        for path in ["/api/v1/partner/client", "/API/v1/partner/renew/"] {
            let f = parse_faults(&json!({"kind": "partial_success", "path": path})).unwrap();
            assert!(matches!(f[0].kind, FaultKind::PartialSuccess));
        }
        for bad in [
            json!({"kind": "status"}),
            json!({"kind": "nope"}),
            json!({"kind": "delay"}),
            json!({"kind": "redirect"}),
            json!({"kind": "redirect", "location": "http://x", "status": 200}),
            json!({"kind": "reset", "times": 0}),
            json!({"kind": "reset", "path": "/_sandbox/state"}),
            json!({"kind": "reset", "colour": "red"}),
            json!({"kind": "partial_success"}),
            json!({"kind": "partial_success", "path": "/api/v1/partner/validate"}),
            json!({"kind": "status", "status": 99}),
            json!([]),
            json!(5),
        ] {
            assert!(parse_faults(&bad).is_err(), "{bad}");
        }
    }
}
