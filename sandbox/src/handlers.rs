//! Request routing, the three CFIS endpoints, the admin API and RFC 9457 problem responses.

use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::TimeDelta;
use futures_util::FutureExt;
use http_body::Body;
use http_body_util::BodyExt;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CACHE_CONTROL, CONNECTION, CONTENT_LENGTH};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::faults::{canned_response, parse_faults, FaultKind};
use crate::http::{
    forbidden, json_response, method_not_allowed, no_content, normalize_path, problem_response, static_json,
    unauthorized, validation_problem, BoxError, CloseConnection, SBody, PATH_CLIENT, PATH_RENEW, PATH_VALIDATE,
};
use crate::shared::Shared;
use crate::state::{rfc3339, RenewShape, Renewal, TokenState, MAX_DURATION_SECS};
use confirma::ValidationMode;

/// Largest accepted request body.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_API_KEY: &str = "x-api-key";
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

const BODY_VALID: &[u8] = br#"{"isValid":true,"message":"Token is valid"}"#;
const BODY_EXPIRED: &[u8] = br#"{"isValid":false,"message":"Token has expired"}"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    CreateClient,
    Validate,
    Renew,
}

impl Endpoint {
    fn from_path(normalized: &str) -> Option<Self> {
        match normalized {
            PATH_CLIENT => Some(Endpoint::CreateClient),
            PATH_VALIDATE => Some(Endpoint::Validate),
            PATH_RENEW => Some(Endpoint::Renew),
            _ => None,
        }
    }
    fn path(self) -> &'static str {
        match self {
            Endpoint::CreateClient => PATH_CLIENT,
            Endpoint::Validate => PATH_VALIDATE,
            Endpoint::Renew => PATH_RENEW,
        }
    }
    fn method(self) -> Method {
        match self {
            Endpoint::CreateClient => Method::POST,
            Endpoint::Validate | Endpoint::Renew => Method::GET,
        }
    }
}

pub(crate) fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(v6.is_loopback(), |v4| v4.is_loopback()),
    }
}

fn request_id(headers: &HeaderMap) -> HeaderValue {
    if let Some(v) = headers.get(&X_REQUEST_ID) {
        let b = v.as_bytes();
        if !b.is_empty() && b.len() <= 128 && b.iter().all(u8::is_ascii_graphic) {
            return v.clone();
        }
    }
    let id = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("0"))
}

/// Entry point for every request. A panic anywhere in handling it is contained here and answered with a
/// 500 problem, so it never takes the connection (or the server) down with it.
pub(crate) async fn handle<B>(
    shared: Arc<Shared>,
    peer: SocketAddr,
    req: Request<B>,
    reset: Arc<AtomicBool>,
) -> Result<Response<SBody>, CloseConnection>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let rid = request_id(req.headers());
    let rid_str = rid.to_str().unwrap_or_default().to_string();
    // Unwind safety: the only state shared across requests sits behind mutexes whose poisoning is ignored
    // on purpose (every critical section leaves the state consistent), so a panic cannot leave it half-done.
    let result = match AssertUnwindSafe(route(shared, peer, req, &reset, &rid_str)).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(no message)");
            tracing::error!(request_id = %rid_str, panic = what, "a request handler panicked; answering 500");
            Ok(problem_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
                "The sandbox failed internally (a panic was contained). Please report this.",
                &rid_str,
                None,
            ))
        }
    };
    match result {
        Ok(mut resp) => {
            resp.headers_mut().insert(X_REQUEST_ID, rid);
            Ok(resp)
        }
        Err(e) => {
            tracing::debug!(request_id = %rid_str, "closing the connection without a response");
            Err(e)
        }
    }
}

async fn route<B>(
    shared: Arc<Shared>,
    peer: SocketAddr,
    req: Request<B>,
    reset: &AtomicBool,
    rid: &str,
) -> Result<Response<SBody>, CloseConnection>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let path = req.uri().path();
    #[cfg(test)]
    if path == TEST_PANIC_PATH {
        panic!("a deliberate panic (unit-test builds only)");
    }
    let starts = |prefix: &str| path.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix));
    if starts("/api/") {
        api(shared, req, reset, rid).await
    } else if starts("/_sandbox") {
        Ok(admin(&shared, peer, req, rid).await)
    } else {
        let (parts, body) = req.into_parts();
        match read_body(&parts, body).await? {
            ReadBody::TooLarge { drained } => Ok(too_large(rid, drained)),
            ReadBody::Bytes(_) => {
                Ok(problem_response(StatusCode::NOT_FOUND, "Not Found", "No such endpoint.", rid, None))
            }
        }
    }
}

/// In unit-test builds only, a request for this path panics inside the handler.
#[cfg(test)]
pub(crate) const TEST_PANIC_PATH: &str = "/_test/panic";

enum ReadBody {
    Bytes(Bytes),
    /// Over [`BODY_LIMIT`]; `drained` when the whole body was read anyway (the connection stays usable).
    TooLarge {
        drained: bool,
    },
}

/// Bodies over the limit but under this size are read to the end (and dropped), so that the client
/// finishes sending and reliably reads the 413 instead of running into a reset.
const DRAIN_LIMIT: u64 = 1024 * 1024;

async fn read_body<B>(parts: &Parts, body: B) -> Result<ReadBody, CloseConnection>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT) {
        return Ok(ReadBody::TooLarge { drained: false });
    }
    if declared == Some(0) || body.is_end_stream() {
        return Ok(ReadBody::Bytes(Bytes::new()));
    }
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut buf: Vec<u8> = Vec::new();
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|_| CloseConnection)?.into_data() else {
            continue;
        };
        total += data.len() as u64;
        if total > DRAIN_LIMIT {
            return Ok(ReadBody::TooLarge { drained: false });
        }
        if total > BODY_LIMIT as u64 {
            first = None;
            buf = Vec::new();
            continue;
        }
        match (&first, buf.is_empty()) {
            (None, true) => first = Some(data),
            _ => {
                if let Some(f) = first.take() {
                    buf.extend_from_slice(&f);
                }
                buf.extend_from_slice(&data);
            }
        }
    }
    if total > BODY_LIMIT as u64 {
        return Ok(ReadBody::TooLarge { drained: true });
    }
    Ok(ReadBody::Bytes(first.unwrap_or_else(|| Bytes::from(buf))))
}

// ------------------------------------------------------------------------------------------------------
// The CFIS API
// ------------------------------------------------------------------------------------------------------

async fn api<B>(
    shared: Arc<Shared>,
    req: Request<B>,
    reset: &AtomicBool,
    rid: &str,
) -> Result<Response<SBody>, CloseConnection>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let (parts, body) = req.into_parts();
    let (endpoint, fault) = {
        let norm = normalize_path(parts.uri.path());
        let endpoint = Endpoint::from_path(&norm);
        let counted: &str = match endpoint {
            Some(e) => e.path(),
            None => &norm,
        };
        let fault = shared.begin_api_request(counted, &norm);
        (endpoint, fault)
    };
    match fault {
        None => {
            let body = read_body(&parts, body).await?;
            Ok(perform(&shared, endpoint, &parts, body, rid, Answer::Contract))
        }
        Some(FaultKind::Reset) => {
            reset.store(true, Ordering::Relaxed);
            Err(CloseConnection)
        }
        Some(FaultKind::Respond(canned)) => {
            // Read (and drop) the body so that a keep-alive connection stays usable.
            let _ = read_body(&parts, body).await?;
            Ok(canned_response(&canned, rid))
        }
        Some(FaultKind::Delay { ms }) => {
            let body = read_body(&parts, body).await?;
            let rid = rid.to_string();
            // A spawned task finishes the operation even when the client gives up meanwhile.
            let task = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                perform(&shared, endpoint, &parts, body, &rid, Answer::Contract)
            });
            match task.await {
                Ok(resp) => Ok(resp),
                // A panic in the task is contained (as a 500) by `handle`, like one in this future.
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => Err(CloseConnection),
            }
        }
        Some(FaultKind::Truncate) => {
            let body = read_body(&parts, body).await?;
            let resp = perform(&shared, endpoint, &parts, body, rid, Answer::Contract);
            let (mut head, body) = resp.into_parts();
            let body = body.truncate();
            if let SBody::Truncated { full_len, .. } = &body {
                head.headers.insert(CONTENT_LENGTH, HeaderValue::from(*full_len));
            }
            Ok(Response::from_parts(head, body))
        }
        Some(FaultKind::CommitThenDrop) => {
            let body = read_body(&parts, body).await?;
            let _ = perform(&shared, endpoint, &parts, body, rid, Answer::Contract);
            Err(CloseConnection)
        }
        Some(FaultKind::PartialSuccess) => {
            let body = read_body(&parts, body).await?;
            Ok(perform(&shared, endpoint, &parts, body, rid, Answer::PartialSuccess))
        }
    }
}

/// How a successful create or renew answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// The contract's shape.
    Contract,
    /// The `partial_success` fault: an unexpected shape that still carries the new token.
    PartialSuccess,
}

fn perform(
    shared: &Shared,
    endpoint: Option<Endpoint>,
    parts: &Parts,
    body: ReadBody,
    rid: &str,
    answer: Answer,
) -> Response<SBody> {
    let Some(endpoint) = endpoint else {
        return problem_response(StatusCode::NOT_FOUND, "Not Found", "No such endpoint.", rid, None);
    };
    if parts.method != endpoint.method() {
        return method_not_allowed(endpoint.method().as_str(), rid);
    }
    let body = match body {
        ReadBody::Bytes(b) => b,
        ReadBody::TooLarge { drained } => return too_large(rid, drained),
    };
    let key = match parts.headers.get(X_API_KEY) {
        None => return unauthorized("The X-Api-Key header is missing.", rid),
        Some(v) => match v.to_str() {
            Ok(s) if !s.trim().is_empty() => s.trim(),
            Ok(_) => return unauthorized("The X-Api-Key header is empty.", rid),
            Err(_) => return unauthorized("Invalid token", rid),
        },
    };
    let mut resp = match endpoint {
        Endpoint::CreateClient => create_client(shared, key, &body, rid, answer),
        Endpoint::Validate => validate(shared, key, rid),
        Endpoint::Renew => renew(shared, key, rid, answer),
    };
    resp.headers_mut().insert(CACHE_CONTROL, NO_STORE);
    resp
}

fn create_client(shared: &Shared, key: &str, body: &[u8], rid: &str, answer: Answer) -> Response<SBody> {
    let mode = {
        let mut st = shared.lock();
        if key != shared.provisioning_token {
            return match st.token_state(key) {
                TokenState::Unknown => {
                    drop(st);
                    unauthorized("Invalid token", rid)
                }
                _ => {
                    drop(st);
                    forbidden("client tokens cannot create clients; use the Partner Provisioning Token", rid)
                }
            };
        }
        st.cfg.validation
    };
    let value = match parse_json(body) {
        Ok(v) => v,
        Err(errors) => return validation_problem(errors, rid),
    };
    let new_client = match confirma::validation::parse_new_client(&value, mode) {
        Ok(c) => c,
        Err(errors) => return validation_problem(json!(errors), rid),
    };
    if !new_client.service.partner_code.trim().eq_ignore_ascii_case(&shared.partner_code) {
        return validation_problem(
            json!({"service.partnerCode": ["does not match the partner of the provisioning token"]}),
            rid,
        );
    }
    let created = shared.lock().create_client(&new_client.client.business_code);
    let Some(c) = created else {
        return problem_response(
            StatusCode::CONFLICT,
            "Client already exists",
            "A client with this business code already exists in this environment.",
            rid,
            None,
        );
    };
    if answer == Answer::PartialSuccess {
        return json_response(StatusCode::CREATED, &json!({"accessToken": c.access_token}));
    }
    let mut out = json!({
        "clientId": c.client_id,
        "customerCode": c.customer_code,
        "paymentReferencePrefix": c.payment_reference_prefix,
        "accessToken": c.access_token,
    });
    if let Some(exp) = c.token_expires_at {
        out["tokenExpiresAt"] = json!(rfc3339(exp));
    }
    json_response(StatusCode::CREATED, &out)
}

fn validate(shared: &Shared, key: &str, rid: &str) -> Response<SBody> {
    if key == shared.provisioning_token {
        return forbidden("The provisioning token cannot be validated here; use a client access token.", rid);
    }
    let mut st = shared.lock();
    let state = st.token_state(key);
    let expired_status = st.cfg.expired_status;
    drop(st);
    match state {
        TokenState::Unknown => unauthorized("Invalid token", rid),
        TokenState::Valid => static_json(StatusCode::OK, BODY_VALID),
        TokenState::Expired if expired_status == 401 => unauthorized("Token has expired", rid),
        TokenState::Expired => static_json(StatusCode::OK, BODY_EXPIRED),
    }
}

fn renew(shared: &Shared, key: &str, rid: &str, answer: Answer) -> Response<SBody> {
    if key == shared.provisioning_token {
        return forbidden("The provisioning token cannot be renewed; use a client access token.", rid);
    }
    let mut st = shared.lock();
    let outcome = st.renew(key);
    let shape = st.cfg.renew_shape;
    drop(st);
    match outcome {
        Renewal::Unknown => unauthorized("Invalid token", rid),
        Renewal::Replaced => unauthorized("Invalid token: it was already renewed and can no longer be renewed.", rid),
        Renewal::Renewed { token, expires_at } => {
            let body = match shape {
                _ if answer == Answer::PartialSuccess => json!({"result": {"newKey": token}}),
                RenewShape::AccessToken => {
                    let mut b = json!({"accessToken": token, "message": "Token renewed"});
                    if let Some(exp) = expires_at {
                        b["tokenExpiresAt"] = json!(rfc3339(exp));
                    }
                    b
                }
                RenewShape::Message => json!({"Message": token}),
            };
            json_response(StatusCode::OK, &body)
        }
    }
}

// ------------------------------------------------------------------------------------------------------
// The admin API
// ------------------------------------------------------------------------------------------------------

async fn admin<B>(shared: &Shared, peer: SocketAddr, req: Request<B>, rid: &str) -> Response<SBody>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    if !is_loopback(peer.ip()) {
        return forbidden("The sandbox admin API answers only loopback clients.", rid);
    }
    let path = normalize_path(req.uri().path()).into_owned();
    let (parts, body) = req.into_parts();
    let m = &parts.method;
    let allow = match path.as_str() {
        "/_sandbox/faults" => "POST, DELETE",
        "/_sandbox/clock" | "/_sandbox/config" => "GET, POST",
        "/_sandbox/reset" => "POST",
        "/_sandbox/state" | "/_sandbox/health" => "GET",
        _ => return problem_response(StatusCode::NOT_FOUND, "Not Found", "No such sandbox endpoint.", rid, None),
    };
    if !allow.split(", ").any(|a| a == m.as_str()) {
        return method_not_allowed(allow, rid);
    }
    let body = match read_body(&parts, body).await {
        Ok(ReadBody::Bytes(b)) => b,
        Ok(ReadBody::TooLarge { drained }) => return too_large(rid, drained),
        Err(_) => return validation_problem(json!({"$": ["The request body could not be read."]}), rid),
    };
    let raw: &[u8] = &body;
    match (path.as_str(), m.as_str()) {
        ("/_sandbox/faults", "POST") => {
            let value = match parse_json(raw) {
                Ok(v) => v,
                Err(errors) => return validation_problem(errors, rid),
            };
            match parse_faults(&value) {
                Ok(faults) => {
                    let pending = shared.faults().add(faults);
                    json_response(StatusCode::CREATED, &json!({"pending": pending}))
                }
                Err((field, msg)) => validation_problem(json!({ field: [msg] }), rid),
            }
        }
        ("/_sandbox/faults", _) => {
            shared.faults().clear();
            no_content()
        }
        ("/_sandbox/clock", "POST") => {
            let value = match parse_json(raw) {
                Ok(v) => v,
                Err(errors) => return validation_problem(errors, rid),
            };
            let seconds = match &value {
                Value::Object(o) if o.len() == 1 => o.get("advanceSeconds").and_then(Value::as_f64),
                _ => None,
            };
            match seconds {
                Some(s) if s.is_finite() && s.abs() <= MAX_DURATION_SECS => {
                    let now = shared.lock().advance_clock(TimeDelta::milliseconds((s * 1000.0).round() as i64));
                    json_response(StatusCode::OK, &json!({"now": rfc3339(now)}))
                }
                _ => validation_problem(
                    json!({"advanceSeconds": ["is required: a number of seconds (at most 100 years), and the only field"]}),
                    rid,
                ),
            }
        }
        ("/_sandbox/clock", _) => json_response(StatusCode::OK, &json!({"now": rfc3339(shared.lock().now())})),
        ("/_sandbox/state", _) => {
            let state = shared.state_json();
            json_response(StatusCode::OK, &state)
        }
        ("/_sandbox/reset", _) => {
            shared.reset();
            no_content()
        }
        ("/_sandbox/config", "POST") => {
            let value = match parse_json(raw) {
                Ok(v) => v,
                Err(errors) => return validation_problem(errors, rid),
            };
            match update_config(shared, &value) {
                Ok(effective) => json_response(StatusCode::OK, &effective),
                Err(errors) => validation_problem(Value::Object(errors), rid),
            }
        }
        ("/_sandbox/config", _) => json_response(StatusCode::OK, &config_json(shared)),
        _ => json_response(StatusCode::OK, &json!({"ok": true})),
    }
}

/// A JSON request body, or the field errors (`$`) of a 400 answer.
fn parse_json(b: &[u8]) -> Result<Value, Value> {
    if b.iter().all(u8::is_ascii_whitespace) {
        return Err(json!({"$": ["A JSON request body is required."]}));
    }
    serde_json::from_slice(b).map_err(|e| json!({"$": [format!("The request body is not valid JSON: {e}.")]}))
}

fn duration_json(d: Duration) -> Value {
    if d.subsec_nanos() == 0 {
        json!(d.as_secs())
    } else {
        json!(d.as_secs_f64())
    }
}

fn config_json(shared: &Shared) -> Value {
    let cfg = shared.lock().cfg.clone();
    json!({
        "partnerCode": shared.partner_code,
        "expiredStatus": cfg.expired_status,
        "renewShape": cfg.renew_shape.as_str(),
        "graceSeconds": duration_json(cfg.grace),
        "renewReplaced": if cfg.renew_replaced_same { "same_token" } else { "reject" },
        "tokenTtlSeconds": duration_json(cfg.token_ttl.unwrap_or_default()),
        "validation": cfg.validation.as_str(),
    })
}

fn seconds(v: &Value) -> Option<Duration> {
    v.as_f64().filter(|s| s.is_finite() && (0.0..=MAX_DURATION_SECS).contains(s)).map(Duration::from_secs_f64)
}

/// Applies a partial config: all keys are checked first, and nothing changes when one is wrong.
fn update_config(shared: &Shared, value: &Value) -> Result<Value, Map<String, Value>> {
    let mut errors = Map::new();
    let Value::Object(obj) = value else {
        errors.insert("$".into(), json!(["must be a JSON object"]));
        return Err(errors);
    };
    let mut cfg = shared.lock().cfg.clone();
    for (key, v) in obj {
        let problem = match key.as_str() {
            "expiredStatus" => match v.as_u64() {
                Some(s @ (200 | 401)) => {
                    cfg.expired_status = s as u16;
                    None
                }
                _ => Some("must be 200 or 401"),
            },
            "renewShape" => match v.as_str().map(|s| s.to_ascii_lowercase().replace(['-', '_'], "")).as_deref() {
                Some("accesstoken") => {
                    cfg.renew_shape = RenewShape::AccessToken;
                    None
                }
                Some("message") => {
                    cfg.renew_shape = RenewShape::Message;
                    None
                }
                _ => Some("must be \"accessToken\" or \"message\""),
            },
            "graceSeconds" => match seconds(v) {
                Some(d) => {
                    cfg.grace = d;
                    None
                }
                None => Some("must be a non-negative number of seconds (at most 100 years)"),
            },
            "renewReplaced" => match v.as_str().map(|s| s.to_ascii_lowercase().replace('-', "_")).as_deref() {
                Some("reject") => {
                    cfg.renew_replaced_same = false;
                    None
                }
                Some("same_token") => {
                    cfg.renew_replaced_same = true;
                    None
                }
                _ => Some("must be \"reject\" or \"same_token\""),
            },
            "tokenTtlSeconds" => match seconds(v) {
                Some(d) => {
                    cfg.token_ttl = Some(d).filter(|d| !d.is_zero());
                    None
                }
                None => Some("must be a non-negative number of seconds (0 = tokens never expire)"),
            },
            "validation" => match v.as_str().map(ValidationMode::from_str) {
                Some(Ok(mode)) => {
                    cfg.validation = mode;
                    None
                }
                _ => Some("must be \"strict\" or \"lenient\""),
            },
            _ => Some("is not a known setting (expiredStatus, renewShape, graceSeconds, renewReplaced, tokenTtlSeconds, validation)"),
        };
        if let Some(p) = problem {
            errors.insert(key.clone(), json!([p]));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    shared.lock().cfg = cfg;
    Ok(config_json(shared))
}

fn too_large(rid: &str, drained: bool) -> Response<SBody> {
    let detail = format!("The request body is larger than {BODY_LIMIT} bytes.");
    let mut r = problem_response(StatusCode::PAYLOAD_TOO_LARGE, "Content Too Large", &detail, rid, None);
    if !drained {
        // The rest of the body was not read: the connection cannot carry another request.
        r.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::RuntimeConfig;
    use http_body_util::Full;
    use hyper::header::CONTENT_TYPE;

    fn shared() -> Arc<Shared> {
        Arc::new(Shared::new(
            "cfis_ppt_test".into(),
            "QUICK3".into(),
            RuntimeConfig {
                token_ttl: None,
                grace: Duration::ZERO,
                validation: ValidationMode::Strict,
                expired_status: 200,
                renew_shape: RenewShape::AccessToken,
                renew_replaced_same: false,
            },
        ))
    }

    async fn call(shared: &Arc<Shared>, peer: &str, method: Method, path: &str) -> Response<SBody> {
        let req = Request::builder().method(method).uri(path).body(Full::new(Bytes::new())).unwrap();
        handle(shared.clone(), peer.parse().unwrap(), req, Arc::new(AtomicBool::new(false))).await.unwrap()
    }

    #[tokio::test]
    async fn admin_api_answers_loopback_peers_only() {
        let s = shared();
        for peer in ["10.1.2.3:4000", "192.0.2.7:80", "[2001:db8::1]:443", "[::ffff:10.0.0.1]:1"] {
            for path in ["/_sandbox/state", "/_sandbox/reset", "/_sandbox/nope"] {
                let r = call(&s, peer, Method::GET, path).await;
                assert_eq!(r.status(), StatusCode::FORBIDDEN, "{peer} {path}");
                assert!(r.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("application/problem+json"));
            }
        }
        for peer in ["127.0.0.1:1", "127.8.9.10:2", "[::1]:3", "[::ffff:127.0.0.1]:4"] {
            assert_eq!(call(&s, peer, Method::GET, "/_sandbox/health").await.status(), StatusCode::OK, "{peer}");
        }
        // The CFIS API itself answers anyone.
        let r = call(&s, "10.1.2.3:4000", Method::GET, "/api/v1/partner/validate").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn routing_is_case_insensitive_and_tolerates_a_trailing_slash() {
        let s = shared();
        let r = call(&s, "127.0.0.1:1", Method::GET, "/API/v1/Partner/Validate/").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let body: Value = serde_json::from_slice(&r.body().bytes()).unwrap();
        assert_eq!(body["traceId"], r.headers()["x-request-id"].to_str().unwrap());
        let st = s.state_json();
        assert_eq!(st["requestsByPath"][PATH_VALIDATE], 1);
    }

    #[tokio::test]
    async fn a_panic_in_a_handler_becomes_a_500_problem() {
        let s = shared();
        let r = call(&s, "127.0.0.1:1", Method::GET, TEST_PANIC_PATH).await;
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/problem+json");
        let body: Value = serde_json::from_slice(&r.body().bytes()).unwrap();
        assert_eq!(body["status"], 500);
        assert_eq!(body["traceId"], r.headers()["x-request-id"].to_str().unwrap());
        // The state is still usable afterwards.
        assert_eq!(call(&s, "127.0.0.1:1", Method::GET, "/_sandbox/state").await.status(), StatusCode::OK);
    }

    #[test]
    fn request_ids_are_echoed_only_when_sane() {
        let mut h = HeaderMap::new();
        h.insert(X_REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&h), "abc-123");
        h.insert(X_REQUEST_ID, HeaderValue::from_static("has space"));
        assert_ne!(request_id(&h), "has space");
        h.insert(X_REQUEST_ID, HeaderValue::from_str(&"x".repeat(129)).unwrap());
        assert_eq!(request_id(&h).len(), 32);
    }
}
