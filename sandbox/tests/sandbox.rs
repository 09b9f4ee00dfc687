//! Loopback tests of the sandbox: the CFIS endpoints, the sandbox clock, renew rotation and grace,
//! every fault kind (connection-level ones over a raw TCP socket), the admin API and the binary.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use confirma_sandbox::{valid_business_id, RenewShape, Sandbox, SandboxConfig};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PPT: &str = "cfis_ppt_test_token_0123456789";
const CLIENT: &str = "/api/v1/partner/client";
const VALIDATE: &str = "/api/v1/partner/validate";
const RENEW: &str = "/api/v1/partner/renew";

struct T {
    sb: Sandbox,
    http: reqwest::Client,
}

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
    }
    fn content_type(&self) -> &str {
        self.header("content-type")
    }
}

fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn start(config: SandboxConfig) -> T {
    let sb = Sandbox::start(SandboxConfig { provisioning_token: Some(PPT.into()), ..config }).await.unwrap();
    T { sb, http: http_client() }
}

async fn start_default() -> T {
    start(SandboxConfig::default()).await
}

fn new_client(seed: u32) -> Value {
    let bid = valid_business_id(seed);
    json!({
        "service": {"type": "LIFECYCLE", "partnerCode": "QUICK3"},
        "client": {"name": format!("Test Customer {seed} Oy"), "businessCode": bid,
                   "vatRegNbr": format!("FI{}", bid.replace('-', "")), "postalAddress": "Testikuja 7",
                   "postalCode": "00100", "postalDistrict": "HELSINKI", "countryCode": "FI", "telephone": "",
                   "email": "email@testcustomer.fi", "website": "", "languageCode": "FI"},
        "contacts": [{"role": "PRIMARY", "name": "Maija Meikäläinen", "email": "maija@testcustomer.fi"}]
    })
}

impl T {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sb.base_url())
    }

    async fn req(&self, method: Method, path: &str, key: Option<&str>, body: Option<&Value>) -> Reply {
        let mut rb = self.http.request(method, self.url(path));
        if let Some(k) = key {
            rb = rb.header("X-Api-Key", k);
        }
        if let Some(b) = body {
            rb = rb.header("content-type", "application/json").body(b.to_string());
        }
        let resp = rb.send().await.unwrap();
        Reply { status: resp.status(), headers: resp.headers().clone(), text: resp.text().await.unwrap() }
    }

    async fn try_req(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Result<Reply> {
        let mut rb = self.http.request(method, self.url(path));
        if let Some(k) = key {
            rb = rb.header("X-Api-Key", k);
        }
        if let Some(b) = body {
            rb = rb.header("content-type", "application/json").body(b.to_string());
        }
        let resp = rb.send().await?;
        Ok(Reply { status: resp.status(), headers: resp.headers().clone(), text: resp.text().await? })
    }

    async fn create(&self, seed: u32) -> Value {
        let r = self.req(Method::POST, CLIENT, Some(PPT), Some(&new_client(seed))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json()
    }

    async fn validate(&self, token: &str) -> Reply {
        self.req(Method::GET, VALIDATE, Some(token), None).await
    }

    async fn renew(&self, token: &str) -> Reply {
        self.req(Method::GET, RENEW, Some(token), None).await
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.req(method, &format!("/_sandbox/{path}"), None, body.as_ref()).await
    }

    async fn state(&self) -> Value {
        self.admin(Method::GET, "state", None).await.json()
    }

    async fn fault(&self, fault: Value) {
        let r = self.admin(Method::POST, "faults", Some(fault)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }

    async fn config(&self, cfg: Value) -> Value {
        let r = self.admin(Method::POST, "config", Some(cfg)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json()
    }

    async fn advance(&self, seconds: i64) {
        let r = self.admin(Method::POST, "clock", Some(json!({"advanceSeconds": seconds}))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
}

fn assert_problem(r: &Reply, status: u16) -> Value {
    assert_eq!(r.status.as_u16(), status, "{}", r.text);
    assert_eq!(r.content_type(), "application/problem+json");
    let p = r.json();
    assert_eq!(p["status"], status);
    assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(p["type"].is_string() && p["detail"].is_string());
    assert_eq!(p["traceId"], r.header("x-request-id"));
    p
}

fn field_keys(p: &Value) -> Vec<String> {
    p["errors"].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

/// Sends raw bytes on a fresh connection and reads until the server closes it (or 5 s pass).
/// Returns what was read and whether the connection ended with an error (a reset) rather than EOF.
async fn raw_exchange(addr: SocketAddr, request: &str) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline.into(), s.read(&mut buf)).await {
            Err(_) => panic!("the server neither answered nor closed the connection"),
            Ok(Ok(0)) => return (out, false),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Ok(Err(_)) => return (out, true),
        }
    }
}

fn raw_get(path: &str, key: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: sandbox\r\nX-Api-Key: {key}\r\nAccept: application/json\r\n\r\n")
}

fn raw_post(path: &str, key: &str, body: &Value) -> String {
    let b = body.to_string();
    format!(
        "POST {path} HTTP/1.1\r\nHost: sandbox\r\nX-Api-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
        b.len()
    )
}

// ------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn create_validate_renew_and_conflict() {
    let t = start_default().await;
    let created = t.create(1).await;
    assert!(created["clientId"].as_str().unwrap().starts_with("cl_"));
    let code = created["customerCode"].as_str().unwrap();
    assert!(code.starts_with("CF") && code.len() == 8 && code[2..].bytes().all(|b| b.is_ascii_digit()));
    let prefix = created["paymentReferencePrefix"].as_str().unwrap();
    assert!((4..=6).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_digit()));
    let token = created["accessToken"].as_str().unwrap().to_string();
    assert!(
        token.starts_with("cfis_at_") && token.len() == 48 && token[8..].bytes().all(|b| b.is_ascii_alphanumeric())
    );
    let expires = chrono::DateTime::parse_from_rfc3339(created["tokenExpiresAt"].as_str().unwrap()).unwrap();
    let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
    assert!((89..=90).contains(&days), "{days}");

    // Same business code again, padded: 409, no second client.
    let mut dup = new_client(1);
    dup["client"]["businessCode"] = json!(format!("  {}  ", valid_business_id(1)));
    dup["service"]["partnerCode"] = json!("quick3");
    let r = t.req(Method::POST, CLIENT, Some(PPT), Some(&dup)).await;
    let p = assert_problem(&r, 409);
    assert_eq!(p["title"], "Client already exists");

    let r = t.validate(&token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type(), "application/json");
    assert_eq!(r.json(), json!({"isValid": true, "message": "Token is valid"}));

    let r = t.renew(&token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = r.json();
    let new_token = body["accessToken"].as_str().unwrap().to_string();
    assert_eq!(body["message"], "Token renewed");
    assert!(body["tokenExpiresAt"].is_string());
    assert!(new_token.starts_with("cfis_at_") && new_token != token);

    // Without a grace period the old token is gone at once.
    assert_eq!(assert_problem(&t.validate(&token).await, 401)["detail"], "Invalid token");
    assert_problem(&t.renew(&token).await, 401);
    assert_eq!(t.validate(&new_token).await.json()["isValid"], true);

    let st = t.state().await;
    assert_eq!(st["clients"], 1);
    assert_eq!(st["liveTokens"], 1);
    assert_eq!(st["requestsServed"], 7);
    assert_eq!(st["requestsByPath"], json!({CLIENT: 2, VALIDATE: 3, RENEW: 2}));
    assert_eq!(st["faultsPending"], 0);
    assert!(chrono::DateTime::parse_from_rfc3339(st["now"].as_str().unwrap()).is_ok());
    t.sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn authentication_and_permissions() {
    let t = start_default().await;
    let token = t.create(2).await["accessToken"].as_str().unwrap().to_string();
    for (m, path) in [(Method::POST, CLIENT), (Method::GET, VALIDATE), (Method::GET, RENEW)] {
        let body = (m == Method::POST).then(|| new_client(3));
        assert_problem(&t.req(m.clone(), path, None, body.as_ref()).await, 401);
        assert_eq!(
            assert_problem(&t.req(m.clone(), path, Some("cfis_at_nope"), body.as_ref()).await, 401)["detail"],
            "Invalid token"
        );
    }
    let p = assert_problem(&t.req(Method::POST, CLIENT, Some(&token), Some(&new_client(3))).await, 403);
    assert!(p["detail"].as_str().unwrap().contains("client tokens cannot create clients"));
    assert_problem(&t.validate(PPT).await, 403);
    assert_problem(&t.renew(PPT).await, 403);
    // None of that created a client or rotated a token.
    let st = t.state().await;
    assert_eq!((st["clients"].as_u64(), st["liveTokens"].as_u64()), (Some(1), Some(1)));
    assert_eq!(t.validate(&token).await.json()["isValid"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn validation_errors_and_http_errors() {
    let t = start_default().await;
    let mut bad = new_client(4);
    bad["client"]["email"] = json!("not-an-email");
    bad["client"]["businessCode"] = json!("123456-7");
    bad["contacts"][0]["name"] = json!(" ");
    let r = t.req(Method::POST, CLIENT, Some(PPT), Some(&bad)).await;
    let p = assert_problem(&r, 400);
    assert_eq!(p["title"], "One or more validation errors occurred.");
    assert_eq!(field_keys(&p), ["client.businessCode", "client.email", "contacts[0].name"]);

    // Malformed JSON.
    let r = t.http.post(t.url(CLIENT)).header("X-Api-Key", PPT).body("{\"service\": ").send().await.unwrap();
    let r = Reply { status: r.status(), headers: r.headers().clone(), text: r.text().await.unwrap() };
    assert_eq!(field_keys(&assert_problem(&r, 400)), ["$"]);

    // Another partner's code.
    let mut other = new_client(5);
    other["service"]["partnerCode"] = json!("OTHER1");
    let p = assert_problem(&t.req(Method::POST, CLIENT, Some(PPT), Some(&other)).await, 400);
    assert_eq!(p["errors"], json!({"service.partnerCode": ["does not match the partner of the provisioning token"]}));

    // The portal's own example passes only in lenient mode.
    let mut portal = new_client(6);
    portal["client"]["businessCode"] = json!("123456-7");
    portal["client"]["vatRegNbr"] = json!("FI1234567");
    portal["client"]["postalCode"] = json!("12345");
    assert_problem(&t.req(Method::POST, CLIENT, Some(PPT), Some(&portal)).await, 400);
    assert_eq!(t.config(json!({"validation": "lenient"})).await["validation"], "lenient");
    assert_eq!(t.req(Method::POST, CLIENT, Some(PPT), Some(&portal)).await.status, StatusCode::CREATED);

    // 413, 404, 405.
    let big = "x".repeat(70 * 1024);
    let r = t.http.post(t.url(CLIENT)).header("X-Api-Key", PPT).body(big).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.headers().get("connection").is_none(), "a drained body keeps the connection usable");
    // Far too large: answered at once from the Content-Length, and the connection is closed.
    let head = format!("POST {CLIENT} HTTP/1.1\r\nHost: x\r\nX-Api-Key: {PPT}\r\nContent-Length: 5000000\r\n\r\n");
    let (bytes, _) = raw_exchange(t.sb.addr(), &head).await;
    let text = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 413") && text.contains("connection: close"), "{text}");
    // Chunked, over the limit.
    let chunk = "y".repeat(40 * 1024);
    let chunked = format!(
        "POST {CLIENT} HTTP/1.1\r\nHost: x\r\nX-Api-Key: {PPT}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len(),
        chunk.len()
    );
    let (bytes, _) = raw_exchange(t.sb.addr(), &chunked).await;
    assert!(String::from_utf8_lossy(&bytes).starts_with("HTTP/1.1 413"));
    assert_problem(&t.req(Method::GET, "/api/v1/partner/nothing", Some(PPT), None).await, 404);
    assert_problem(&t.req(Method::GET, "/", None, None).await, 404);
    let r = t.req(Method::GET, CLIENT, Some(PPT), None).await;
    assert_problem(&r, 405);
    assert_eq!(r.header("allow"), "POST");
    let r = t.req(Method::POST, VALIDATE, Some(PPT), None).await;
    assert_problem(&r, 405);
    assert_eq!(r.header("allow"), "GET");
    let st = t.state().await;
    assert_eq!(st["clients"], 1);
    assert_eq!(st["requestsByPath"]["/api/v1/partner/nothing"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn request_ids_are_echoed_or_generated() {
    let t = start_default().await;
    let r = t.http.get(t.url(VALIDATE)).header("X-Request-Id", "my-req-42").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "my-req-42");
    let p: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(p["traceId"], "my-req-42");
    let long = "a".repeat(129);
    let r = t.http.get(t.url("/_sandbox/health")).header("X-Request-Id", &long).send().await.unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(!id.is_empty() && id != long);
    let r2 = t.http.get(t.url("/_sandbox/health")).send().await.unwrap();
    assert_ne!(r2.headers()["x-request-id"].to_str().unwrap(), id);
}

#[tokio::test(flavor = "multi_thread")]
async fn expiry_follows_the_sandbox_clock() {
    let t = start(SandboxConfig { token_ttl: Some(Duration::from_secs(60)), ..Default::default() }).await;
    let created = t.create(7).await;
    let token = created["accessToken"].as_str().unwrap().to_string();
    t.advance(59).await;
    assert_eq!(t.validate(&token).await.json()["isValid"], true);
    t.advance(2).await;
    let r = t.validate(&token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"isValid": false, "message": "Token has expired"}));
    assert_eq!(t.state().await["liveTokens"], 0);

    t.config(json!({"expiredStatus": 401})).await;
    assert_eq!(assert_problem(&t.validate(&token).await, 401)["detail"], "Token has expired");

    // An expired token can still be renewed; the new expiry counts from the sandbox clock.
    let r = t.renew(&token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = r.json();
    let new_token = body["accessToken"].as_str().unwrap();
    let exp = chrono::DateTime::parse_from_rfc3339(body["tokenExpiresAt"].as_str().unwrap()).unwrap();
    let now = chrono::DateTime::parse_from_rfc3339(t.state().await["now"].as_str().unwrap()).unwrap();
    let left = (exp - now).num_seconds();
    assert!((58..=60).contains(&left), "{left}");
    assert_eq!(t.validate(new_token).await.json()["isValid"], true);
    assert_eq!(t.state().await["liveTokens"], 1);

    // Tokens that never expire.
    t.config(json!({"tokenTtlSeconds": 0})).await;
    let created = t.create(8).await;
    assert!(created.get("tokenExpiresAt").is_none());
    t.advance(10 * 365 * 24 * 3600).await;
    assert_eq!(t.validate(created["accessToken"].as_str().unwrap()).await.json()["isValid"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn renew_grace_period_and_message_shape() {
    let t = start(SandboxConfig { grace_period: Duration::from_secs(30), ..Default::default() }).await;
    let token = t.create(9).await["accessToken"].as_str().unwrap().to_string();
    let new_token = t.renew(&token).await.json()["accessToken"].as_str().unwrap().to_string();
    // During grace the old token validates but cannot be renewed again.
    assert_eq!(t.validate(&token).await.json()["isValid"], true);
    assert_problem(&t.renew(&token).await, 401);
    assert_eq!(t.state().await["liveTokens"], 2);
    t.advance(31).await;
    assert_problem(&t.validate(&token).await, 401);
    assert_eq!(t.validate(&new_token).await.json()["isValid"], true);
    assert_eq!(t.state().await["liveTokens"], 1);

    let cfg = t.config(json!({"renewShape": "message", "graceSeconds": 0})).await;
    assert_eq!(cfg["renewShape"], "message");
    assert_eq!(cfg["graceSeconds"], 0);
    let r = t.renew(&new_token).await;
    let body = r.json();
    let obj = body.as_object().unwrap();
    assert_eq!(obj.len(), 1, "{body}");
    let third = obj["Message"].as_str().unwrap();
    assert!(third.starts_with("cfis_at_"));
    assert_eq!(t.validate(third).await.json()["isValid"], true);
    assert_problem(&t.validate(&new_token).await, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn library_config_is_honoured() {
    let t = start(SandboxConfig {
        partner_code: "PARTNER9".into(),
        token_ttl: None,
        expired_status: 401,
        renew_shape: RenewShape::Message,
        validation: confirma::ValidationMode::Lenient,
        ..Default::default()
    })
    .await;
    assert_eq!(t.sb.partner_code(), "PARTNER9");
    assert_eq!(t.sb.provisioning_token(), PPT);
    let cfg = t.admin(Method::GET, "config", None).await.json();
    assert_eq!(
        cfg,
        json!({"partnerCode": "PARTNER9", "expiredStatus": 401, "renewShape": "message", "graceSeconds": 0,
               "renewReplaced": "reject", "tokenTtlSeconds": 0, "validation": "lenient"})
    );
    let mut c = new_client(10);
    c["service"]["partnerCode"] = json!("partner9");
    let r = t.req(Method::POST, CLIENT, Some(PPT), Some(&c)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(r.json().get("tokenExpiresAt").is_none());
    // Random provisioning tokens have the documented shape.
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let ppt = sb.provisioning_token();
    assert!(ppt.starts_with("cfis_ppt_") && ppt.len() == 41 && ppt[9..].bytes().all(|b| b.is_ascii_alphanumeric()));
    let info: Value = serde_json::from_str(&sb.info_json()).unwrap();
    assert_eq!(info, json!({"baseUrl": sb.base_url(), "provisioningToken": ppt, "partnerCode": "QUICK3"}));
    assert_eq!(sb.base_url(), format!("http://127.0.0.1:{}", sb.addr().port()));
    assert!(!sb.info_json().contains('\n'));
    sb.shutdown().await;
    assert!(Sandbox::start(SandboxConfig { expired_status: 500, ..Default::default() }).await.is_err());
    assert!(Sandbox::start(SandboxConfig { partner_code: " ".into(), ..Default::default() }).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_config_rejects_bad_input_atomically() {
    let t = start_default().await;
    let before = t.admin(Method::GET, "config", None).await.json();
    for bad in [
        json!({"expiredStatus": 500}),
        json!({"renewShape": "xml"}),
        json!({"graceSeconds": -1}),
        json!({"tokenTtlSeconds": "soon"}),
        json!({"validation": "paranoid"}),
        json!({"colour": "red"}),
        json!({"validation": "lenient", "expiredStatus": 302}),
        json!([1]),
    ] {
        assert_problem(&t.admin(Method::POST, "config", Some(bad.clone())).await, 400);
    }
    assert_eq!(t.admin(Method::GET, "config", None).await.json(), before);
    assert_problem(&t.admin(Method::POST, "clock", Some(json!({"advance": 5}))).await, 400);
    assert_problem(&t.admin(Method::POST, "faults", Some(json!({"kind": "explode"}))).await, 400);
    assert_problem(&t.admin(Method::GET, "nothing", None).await, 404);
    assert_problem(&t.admin(Method::GET, "reset", None).await, 405);
    assert_eq!(t.admin(Method::GET, "health", None).await.json(), json!({"ok": true}));
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_forgets_everything_and_restores_the_startup_config() {
    let t = start_default().await;
    let token = t.create(11).await["accessToken"].as_str().unwrap().to_string();
    t.config(json!({"expiredStatus": 401, "renewShape": "message", "graceSeconds": 5, "tokenTtlSeconds": 10})).await;
    t.advance(3600).await;
    t.fault(json!({"kind": "status", "status": 500, "times": 4})).await;
    t.fault(json!({"kind": "reset", "path": RENEW})).await;
    assert_eq!(t.state().await["faultsPending"], 2, "pending fault definitions, not activations");
    let r = t.admin(Method::POST, "reset", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let st = t.state().await;
    assert_eq!(st["clients"], 0);
    assert_eq!(st["liveTokens"], 0);
    assert_eq!(st["requestsServed"], 0);
    assert_eq!(st["requestsByPath"], json!({}));
    assert_eq!(st["faultsPending"], 0);
    let now = chrono::DateTime::parse_from_rfc3339(st["now"].as_str().unwrap()).unwrap();
    assert!((now.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds().abs() < 5);
    let cfg = t.admin(Method::GET, "config", None).await.json();
    assert_eq!(cfg["expiredStatus"], 200);
    assert_eq!(cfg["renewShape"], "accessToken");
    assert_eq!(cfg["tokenTtlSeconds"], 90 * 24 * 3600);
    assert_problem(&t.validate(&token).await, 401);
    // Same provisioning token and partner code; the business code is free again.
    t.create(11).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn status_faults_answer_without_performing() {
    let t = start_default().await;
    t.fault(json!({"path": CLIENT, "kind": "status", "status": 503, "retryAfter": 2, "times": 2})).await;
    let r = t
        .admin(
            Method::POST,
            "faults",
            Some(json!([
                {"kind": "status", "status": 429, "body": "slow down", "contentType": "text/plain"},
                {"path": VALIDATE, "kind": "status", "status": 500, "body": "{\"Message\":\"An error has occurred.\"}"}
            ])),
        )
        .await;
    assert_eq!(r.json(), json!({"pending": 3}));

    // The first pending fault whose path matches applies.
    let r = t.req(Method::POST, CLIENT, Some(PPT), Some(&new_client(12))).await;
    let p = assert_problem(&r, 503);
    assert_eq!(p["title"], "Service Unavailable");
    assert_eq!(r.header("retry-after"), "2");
    let r = t.validate("whatever").await;
    assert_eq!(r.status.as_u16(), 429);
    assert_eq!(r.content_type(), "text/plain");
    assert_eq!(r.text, "slow down");
    let r = t.validate("whatever").await;
    assert_eq!(r.status.as_u16(), 500);
    assert_eq!(r.content_type(), "application/json");
    assert_eq!(r.json(), json!({"Message": "An error has occurred."}));
    assert_eq!(t.state().await["faultsPending"], 1);
    assert_problem(&t.validate("whatever").await, 401); // no fault left for validate
    assert_problem(&t.req(Method::POST, CLIENT, Some(PPT), Some(&new_client(12))).await, 503);
    assert_eq!(t.state().await["clients"], 0, "status faults do not perform the operation");
    t.create(12).await;

    // Clearing.
    t.fault(json!({"kind": "status", "status": 502, "times": 3})).await;
    assert_eq!(t.admin(Method::DELETE, "faults", None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(t.state().await["faultsPending"], 0);
    let st = t.state().await;
    assert_eq!(st["requestsServed"], 6, "faulted requests count, admin requests do not");
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_html_and_redirect_faults() {
    let t = start_default().await;
    let token = t.create(13).await["accessToken"].as_str().unwrap().to_string();
    t.fault(json!({"path": RENEW, "kind": "garbage"})).await;
    let r = t.renew(&token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type(), "application/json");
    assert!(serde_json::from_str::<Value>(&r.text).is_err());
    assert_eq!(t.validate(&token).await.json()["isValid"], true, "garbage did not rotate the token");

    t.fault(json!([{"kind": "html"}, {"kind": "html", "status": 504, "retryAfter": 1}])).await;
    let r = t.validate(&token).await;
    assert_eq!(r.status.as_u16(), 502);
    assert!(r.content_type().starts_with("text/html"));
    assert!(
        r.text.contains("<html><head><title>502 Bad Gateway</title>")
            || r.text.contains("<title>502 Bad Gateway</title>")
    );
    let r = t.validate(&token).await;
    assert_eq!(r.status.as_u16(), 504);
    assert!(r.text.contains("504 Gateway Timeout"));
    assert_eq!(r.header("retry-after"), "1");

    t.fault(json!({"kind": "redirect", "location": "http://127.0.0.1:9/elsewhere"})).await;
    let r = t.renew(&token).await;
    assert_eq!(r.status.as_u16(), 307);
    assert_eq!(r.header("location"), "http://127.0.0.1:9/elsewhere");
    t.fault(json!({"kind": "redirect", "status": 301, "location": "/api/v1/partner/validate"})).await;
    assert_eq!(t.renew(&token).await.status.as_u16(), 301);
    assert_eq!(t.validate(&token).await.json()["isValid"], true, "redirects did not rotate the token");
}

#[tokio::test(flavor = "multi_thread")]
async fn delay_fault_commits_even_when_the_client_gives_up() {
    let t = start_default().await;
    t.fault(json!({"path": CLIENT, "kind": "delay", "ms": 600})).await;
    let started = Instant::now();
    let res = t
        .http
        .post(t.url(CLIENT))
        .header("X-Api-Key", PPT)
        .header("content-type", "application/json")
        .body(new_client(14).to_string())
        .timeout(Duration::from_millis(80))
        .send()
        .await;
    assert!(res.unwrap_err().is_timeout());
    assert_eq!(t.state().await["clients"], 0);
    // The operation completes after the delay although the client is gone.
    let mut clients = Value::Null;
    while started.elapsed() < Duration::from_secs(5) {
        clients = t.state().await["clients"].clone();
        if clients == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(clients, 1, "the delayed request still created the client");
    assert!(started.elapsed() >= Duration::from_millis(600));

    // A delay the client waits for is an ordinary, slower answer.
    t.fault(json!({"kind": "delay", "ms": 100})).await;
    let started = Instant::now();
    let r = t.req(Method::POST, CLIENT, Some(PPT), Some(&new_client(15))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_fault_closes_without_a_response_and_keep_alive_clients_recover() {
    let t = start_default().await;
    let token = t.create(16).await["accessToken"].as_str().unwrap().to_string();
    t.fault(json!({"path": RENEW, "kind": "reset"})).await;
    let (bytes, was_reset) = raw_exchange(t.sb.addr(), &raw_get(RENEW, &token)).await;
    assert!(bytes.is_empty(), "got {:?}", String::from_utf8_lossy(&bytes));
    assert!(was_reset, "a TCP reset, not a plain close");
    assert_eq!(t.validate(&token).await.json()["isValid"], true, "reset did not rotate the token");

    // A pooled keep-alive client: warm the connection, fail once, then recover.
    assert_eq!(t.validate(&token).await.status, StatusCode::OK);
    t.fault(json!({"kind": "reset"})).await;
    let err = t.try_req(Method::GET, VALIDATE, Some(&token), None).await.err().expect("no response expected");
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    assert_eq!(t.validate(&token).await.json()["isValid"], true);
    t.fault(json!({"kind": "reset", "path": CLIENT})).await;
    assert!(t.try_req(Method::POST, CLIENT, Some(PPT), Some(&new_client(17))).await.is_err());
    assert_eq!(t.state().await["clients"], 1, "reset did not create the client");
}

#[tokio::test(flavor = "multi_thread")]
async fn commit_then_drop_performs_then_closes() {
    let t = start_default().await;
    t.fault(json!({"path": CLIENT, "kind": "commit_then_drop"})).await;
    let (bytes, was_reset) = raw_exchange(t.sb.addr(), &raw_post(CLIENT, PPT, &new_client(18))).await;
    assert!(bytes.is_empty(), "got {:?}", String::from_utf8_lossy(&bytes));
    assert!(!was_reset, "a plain close");
    assert_eq!(t.state().await["clients"], 1);
    assert_problem(&t.req(Method::POST, CLIENT, Some(PPT), Some(&new_client(18))).await, 409);

    // Through a pooled client too; the renew rotated the token although nobody saw the new one.
    let token = t.create(19).await["accessToken"].as_str().unwrap().to_string();
    t.fault(json!({"path": RENEW, "kind": "commit-then-drop"})).await;
    assert!(t.try_req(Method::GET, RENEW, Some(&token), None).await.is_err());
    assert_problem(&t.validate(&token).await, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn partial_success_create_performs_and_answers_only_the_token() {
    let t = start_default().await;
    t.fault(json!({"path": CLIENT, "kind": "partial_success"})).await;
    let r = t.req(Method::POST, CLIENT, Some(PPT), Some(&new_client(40))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.content_type(), "application/json");
    let body = r.json();
    let obj = body.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["accessToken"], "{body}");
    let token = body["accessToken"].as_str().unwrap();
    assert!(token.starts_with("cfis_at_"));
    // The client and its token really exist.
    assert_eq!(t.validate(token).await.json()["isValid"], true);
    assert_eq!(t.state().await["clients"], 1);
    assert_eq!(t.state().await["faultsPending"], 0);
    assert_problem(&t.req(Method::POST, CLIENT, Some(PPT), Some(&new_client(40))).await, 409);
    // A failing create passes through unchanged (and uses the fault up).
    t.fault(json!({"path": CLIENT, "kind": "partial_success"})).await;
    assert_problem(&t.req(Method::POST, CLIENT, Some(PPT), Some(&new_client(40))).await, 409);
    assert_eq!(t.state().await["faultsPending"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn partial_success_renew_rotates_and_answers_an_unexpected_shape() {
    let t = start_default().await;
    let old = t.create(41).await["accessToken"].as_str().unwrap().to_string();
    t.fault(json!({"path": RENEW, "kind": "partial-success"})).await;
    let r = t.renew(&old).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = r.json();
    assert_eq!(body.as_object().unwrap().keys().collect::<Vec<_>>(), ["result"], "{body}");
    let new = body["result"]["newKey"].as_str().unwrap();
    assert!(new.starts_with("cfis_at_") && new != old);
    assert_eq!(t.validate(new).await.json()["isValid"], true);
    assert_problem(&t.validate(&old).await, 401);
    // Not for validate, and not without a path.
    for bad in [json!({"kind": "partial_success"}), json!({"kind": "partial_success", "path": VALIDATE})] {
        let r = t.admin(Method::POST, "faults", Some(bad)).await;
        assert_eq!(field_keys(&assert_problem(&r, 400)), ["$.path"]);
    }
}

/// A multi-byte character where the VAT number's ASCII prefix is checked: the sandbox answers a clean
/// 4xx/2xx in both validation modes, on a connection that stays usable (it used to kill the handler task).
#[tokio::test(flavor = "multi_thread")]
async fn multibyte_vat_number_gets_a_clean_answer_in_both_modes() {
    let t = start_default().await;
    let mut body = new_client(42);
    body["client"]["vatRegNbr"] = json!("€1234567");
    let r = t.try_req(Method::POST, CLIENT, Some(PPT), Some(&body)).await.expect("an answer, not a dropped connection");
    assert_eq!(field_keys(&assert_problem(&r, 400)), ["client.vatRegNbr"]);
    t.config(json!({"validation": "lenient"})).await;
    for (i, vat) in ["€1234567", "FI€", "€", "FI12345€7", "ＦＩ12345678"].into_iter().enumerate() {
        let mut body = new_client(43 + i as u32);
        body["client"]["vatRegNbr"] = json!(vat);
        let r = t.try_req(Method::POST, CLIENT, Some(PPT), Some(&body)).await.expect("an answer");
        assert!(r.status.as_u16() < 500, "{vat}: {} {}", r.status, r.text);
        if r.status != StatusCode::CREATED {
            assert_problem(&r, r.status.as_u16());
        }
    }
    assert_eq!(t.admin(Method::GET, "health", None).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn truncate_sends_half_the_body_after_performing() {
    let t = start_default().await;
    t.fault(json!({"path": CLIENT, "kind": "truncate"})).await;
    let (bytes, _) = raw_exchange(t.sb.addr(), &raw_post(CLIENT, PPT, &new_client(20))).await;
    let text = String::from_utf8_lossy(&bytes).to_string();
    assert!(text.starts_with("HTTP/1.1 201 Created\r\n"), "{text}");
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.trim().parse().unwrap()))
        .expect("content-length");
    assert!(!body.is_empty() && body.len() < len, "body {} of {len}", body.len());
    assert!(body.len() >= len / 2 - 1);
    assert_eq!(t.state().await["clients"], 1, "truncate performs the operation");

    // reqwest sees a broken body.
    let token = t.create(21).await["accessToken"].as_str().unwrap().to_string();
    t.fault(json!({"path": RENEW, "kind": "truncate"})).await;
    let resp = t.http.get(t.url(RENEW)).header("X-Api-Key", &token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.bytes().await.is_err());
    assert_problem(&t.validate(&token).await, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn keep_alive_and_pipelining_on_one_connection() {
    let t = start_default().await;
    let token = t.create(22).await["accessToken"].as_str().unwrap().to_string();
    let mut s = TcpStream::connect(t.sb.addr()).await.unwrap();
    let one = raw_get(VALIDATE, &token);
    s.write_all(format!("{one}{one}{one}").as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while String::from_utf8_lossy(&got).matches("Token is valid").count() < 3 {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "closed early");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(String::from_utf8_lossy(&got).matches("HTTP/1.1 200 OK").count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests() {
    let t = start_default().await;
    let token = t.create(23).await["accessToken"].as_str().unwrap().to_string();
    let mut tasks = Vec::new();
    for i in 0..8u32 {
        let http = t.http.clone();
        let base = t.sb.base_url();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..50u32 {
                let r = http.get(format!("{base}{VALIDATE}")).header("X-Api-Key", &token).send().await.unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                r.bytes().await.unwrap();
                if j % 10 == 0 {
                    let seed = 1000 + i * 100 + j;
                    let r = http
                        .post(format!("{base}{CLIENT}"))
                        .header("X-Api-Key", PPT)
                        .body(new_client(seed).to_string())
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), StatusCode::CREATED);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let st = t.state().await;
    assert_eq!(st["clients"], 1 + 8 * 5);
    assert_eq!(st["requestsByPath"][VALIDATE], 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sdk_works_against_the_sandbox() {
    use confirma::{ClientConfig, ErrorKind, OnboardingClient, SecretToken};
    let t = start_default().await;
    let sdk = OnboardingClient::new(ClientConfig::with_base_url(t.sb.base_url()).max_retries(0)).unwrap();
    let ppt = SecretToken::new(PPT);
    let created = sdk.create_client_from_value(&ppt, &new_client(30)).await.unwrap();
    assert!(created.token_expires_at.is_some());
    let status = sdk.validate_token(&created.access_token).await.unwrap();
    assert!(status.is_valid && !status.expired);
    let renewed = sdk.renew_token(&created.access_token).await.unwrap();
    assert!(sdk.validate_token(&renewed.access_token).await.unwrap().is_valid);
    let err = sdk.create_client_from_value(&ppt, &new_client(30)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    t.advance(91 * 24 * 3600).await;
    let status = sdk.validate_token(&renewed.access_token).await.unwrap();
    assert!(!status.is_valid && status.expired);
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_stops_accepting() {
    let t = start_default().await;
    let addr = t.sb.addr();
    assert_eq!(t.admin(Method::GET, "health", None).await.status, StatusCode::OK);
    let started = Instant::now();
    t.sb.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(2), "idle keep-alive connections do not hold shutdown up");
    assert!(TcpStream::connect(addr).await.is_err());
}

#[test]
fn binary_prints_one_line_and_exits_cleanly_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_confirma-sandbox"))
        .args(["--host", "127.0.0.1", "--port", "0", "--partner-code", "BIN1", "--token-ttl-seconds", "0"])
        .args([
            "--renew-replaced-same-token",
            "--grace-seconds",
            "5",
            "--validation",
            "lenient",
            "--expired-status",
            "401",
            "--renew-shape",
            "message",
        ])
        .env("CONFIRMA_SANDBOX_PROVISIONING_TOKEN", "cfis_ppt_from_env")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let info: Value = serde_json::from_str(line.trim_end()).unwrap();
    assert_eq!(info["provisioningToken"], "cfis_ppt_from_env");
    assert_eq!(info["partnerCode"], "BIN1");
    let base = info["baseUrl"].as_str().unwrap().to_string();
    assert!(base.starts_with("http://127.0.0.1:"));

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let cfg: Value = rt.block_on(async {
        let text = http_client().get(format!("{base}/_sandbox/config")).send().await.unwrap().text().await.unwrap();
        serde_json::from_str(&text).unwrap()
    });
    assert_eq!(
        cfg,
        json!({"partnerCode": "BIN1", "expiredStatus": 401, "renewShape": "message", "graceSeconds": 5,
               "renewReplaced": "same_token", "tokenTtlSeconds": 0, "validation": "lenient"})
    );

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(exit.success(), "{exit:?}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "exactly one line on stdout");
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(err, "", "quiet by default");
}

#[test]
fn binary_rejects_bad_arguments() {
    for args in
        [&["--expired-status", "500"][..], &["--renew-shape", "xml"], &["--validation", "paranoid"], &["--port", "x"]]
    {
        let out =
            Command::new(env!("CARGO_BIN_EXE_confirma-sandbox")).args(args).stdin(Stdio::null()).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty());
    }
}
