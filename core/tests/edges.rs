//! The core at its edges, against a tiny raw HTTP server over loopback that answers exactly what a test
//! needs (shapes the sandbox would never produce): oversized bodies, partial successes, tokens in unknown
//! places, absurd timestamps, a request that never gets an answer.

use std::sync::OnceLock;
use std::time::Duration;

mod common;
use common::Capture;
use confirma::models::MAX_TIMESTAMP;
use confirma::{ClientConfig, ErrorKind, NewClient, OnboardingClient, SecretToken, ValidationSource};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A token the test never sends: it may only ever come back inside a `SecretToken`.
const CANARY: &str = "cfis_at_Ed9eCanaryTokenNeverSent0123456789abcdEF";

/// Serves `response` (raw HTTP/1.1 bytes) to every connection, after reading the request; `None` never
/// answers. Returns the base URL.
async fn serve(response: Option<Vec<u8>>) -> String {
    serve_with(|_| response).await
}

/// Like [`serve`], with a response built from the server's own address.
async fn serve_with(make: impl FnOnce(std::net::SocketAddr) -> Option<Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let response = make(addr);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut seen = Vec::new();
                loop {
                    let n = sock.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if seen.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                match response {
                    Some(r) => {
                        let _ = sock.write_all(&r).await;
                        let _ = sock.shutdown().await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    format!("http://{addr}")
}

fn reply(status: &str, content_type: &str, body: &[u8], content_length: bool) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\nconnection: close\r\n");
    if content_length {
        r.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    r.push_str("\r\n");
    let mut r = r.into_bytes();
    r.extend_from_slice(body);
    r
}

fn client(base: &str) -> OnboardingClient {
    OnboardingClient::new(ClientConfig::with_base_url(base).max_retries(0).timeout(Duration::from_secs(5))).unwrap()
}

fn new_client() -> NewClient {
    serde_json::from_value(json!({
        "service": {"type": "LIFECYCLE", "partnerCode": "QUICK3"},
        "client": {"name": "Reuna Oy", "businessCode": "1572860-0", "vatRegNbr": "FI15728600",
                   "postalAddress": "Testikuja 7", "postalCode": "00100", "postalDistrict": "HELSINKI",
                   "countryCode": "FI", "email": "reuna@example.fi", "languageCode": "FI"},
        "contacts": [{"role": "PRIMARY", "name": "Riikka Reuna", "email": "riikka@example.fi"}]
    }))
    .unwrap()
}

/// Everything an error shows, its cause chain included.
fn shown(e: &confirma::Error) -> String {
    let mut out = format!("{e} | {e:?} | {} | {:?}", e.message(), e.body_excerpt());
    let mut cause = e.cause();
    while let Some(c) = cause {
        out.push_str(&format!(" | {c} | {c:?} | {:?}", c.body_excerpt()));
        cause = c.cause();
    }
    out
}

fn assert_no_token(e: &confirma::Error) {
    let text = shown(e);
    assert!(!text.contains(CANARY), "token shown: {text}");
    assert!(!text.contains("cfis_at_"), "token-shaped text shown: {text}");
}

#[tokio::test]
async fn oversized_success_bodies_are_refused_by_operation() {
    let big = format!(r#"{{"isValid":true,"message":"{}"}}"#, "x".repeat(2 * 1024 * 1024));
    for content_length in [true, false] {
        let base = serve(Some(reply("200 OK", "application/json", big.as_bytes(), content_length))).await;
        let c = client(&base);
        let e = c.validate_token(&SecretToken::new("tok-1")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnexpectedResponse, "{e}");
        assert!(e.message().contains("limit"), "{e}");
        let e = c.renew_token(&SecretToken::new("tok-1")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e}");
        assert_eq!(e.cause().map(|c| c.kind()), Some(ErrorKind::UnexpectedResponse));
        let e = c.create_client(&SecretToken::new("ppt-1"), &new_client()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e}");
    }
    // A smaller configured cap applies too; an error answer over the cap is cut, not refused: its status
    // still decides.
    let mid = format!(r#"{{"title":"Bad","errors":{{"client.email":["{}"]}}}}"#, "y".repeat(4096));
    let base = serve(Some(reply("400 Bad Request", "application/problem+json", mid.as_bytes(), true))).await;
    let c = OnboardingClient::new(ClientConfig::with_base_url(&base).max_response_bytes(2048)).unwrap();
    let e = c.create_client(&SecretToken::new("ppt-1"), &new_client()).await.unwrap_err();
    assert_eq!((e.kind(), e.validation_source()), (ErrorKind::Validation, Some(ValidationSource::Server)), "{e}");
}

#[tokio::test]
async fn partial_create_hands_the_token_over() {
    let body = json!({"accessToken": CANARY, "paymentReferencePrefix": "77"}).to_string();
    let base = serve(Some(reply("201 Created", "application/json", body.as_bytes(), true))).await;
    let e = client(&base).create_client(&SecretToken::new("ppt-1"), &new_client()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e}");
    assert_eq!(e.status(), Some(201));
    assert_eq!(e.recovered_token().map(SecretToken::expose), Some(CANARY));
    assert!(e.message().contains("recovered token: store it"), "{e}");
    let cause = e.cause().unwrap();
    assert!(cause.message().contains("clientId and customerCode"), "{cause}");
    assert_eq!(cause.body_excerpt(), Some(""), "no success body in an excerpt");
    assert_no_token(&e);
}

#[tokio::test]
async fn renew_answer_in_an_unknown_shape_is_kept_as_a_secret() {
    let body = json!({"result": {"newKey": CANARY}}).to_string();
    let base = serve(Some(reply("200 OK", "application/json", body.as_bytes(), true))).await;
    let e = client(&base).renew_token(&SecretToken::new("tok-1")).await.unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::OutcomeUnknown, Some(200)), "{e}");
    assert!(e.recovered_token().is_none());
    let raw = e.raw_response().expect("raw answer kept");
    assert!(raw.expose().contains(CANARY));
    assert!(shown(&e).contains("keys result"), "the shape is described: {}", shown(&e));
    assert!(e.message().contains("raw response"), "{e}");
    assert_no_token(&e);
}

#[tokio::test]
async fn tokens_the_sdk_never_sent_are_redacted_from_error_bodies() {
    let cases = [
        ("400 Bad Request", "application/json", json!({"message": "bad", "accessToken": CANARY}).to_string()),
        ("401 Unauthorized", "application/json", json!({"Message": CANARY}).to_string()),
        ("500 Internal Server Error", "text/plain", format!("token {CANARY} exploded")),
        ("502 Bad Gateway", "text/html", format!("<html><title>{CANARY}</title></html>")),
        ("418 I'm a teapot", "application/octet-stream", format!("\u{1}{CANARY}")),
    ];
    for (status, ct, body) in cases {
        let base = serve(Some(reply(status, ct, body.as_bytes(), true))).await;
        let c = client(&base);
        let e = c.create_client(&SecretToken::new("ppt-1"), &new_client()).await.unwrap_err();
        assert_no_token(&e);
        let e = c.renew_token(&SecretToken::new("tok-1")).await.unwrap_err();
        assert_no_token(&e);
        match c.validate_token(&SecretToken::new("tok-1")).await {
            Ok(status) => assert!(!status.message.contains("cfis_at_"), "{status:?}"),
            Err(e) => assert_no_token(&e),
        }
    }
}

#[tokio::test]
async fn timestamps_no_host_can_hold_are_clamped() {
    let body = json!({"clientId": "1", "customerCode": "C1", "accessToken": "tok-new",
                      "tokenExpiresAt": "+10000-01-01T00:00:00"})
    .to_string();
    let base = serve(Some(reply("201 Created", "application/json", body.as_bytes(), true))).await;
    let created = client(&base).create_client(&SecretToken::new("ppt-1"), &new_client()).await.unwrap();
    assert_eq!(created.token_expires_at, Some(MAX_TIMESTAMP));
}

#[tokio::test]
async fn absurd_configuration_and_multibyte_input_are_typed_errors() {
    for config in [
        ClientConfig::with_base_url("http://127.0.0.1:1").total_timeout(Duration::MAX),
        ClientConfig::with_base_url("http://127.0.0.1:1").timeout(Duration::from_secs(u64::MAX)),
        ClientConfig::with_base_url("http://127.0.0.1:1").connect_timeout(Duration::ZERO),
        ClientConfig::with_base_url("http://127.0.0.1:1").max_response_bytes(usize::MAX),
    ] {
        assert_eq!(OnboardingClient::new(config).unwrap_err().kind(), ErrorKind::Configuration);
    }
    let c = client("http://127.0.0.1:1");
    let mut form = serde_json::to_value(new_client()).unwrap();
    form["client"]["vatRegNbr"] = json!("€1234567");
    let e = c.create_client_from_value(&SecretToken::new("ppt-1"), &form).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation);
    assert_eq!(e.field_errors().keys().collect::<Vec<_>>(), ["client.vatRegNbr"]);
}

/// One process-wide subscriber (events from every runtime thread are captured).
fn logs() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        capture
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_sent_renew_is_never_silent() {
    let capture = logs();
    let base = serve(None).await;
    let c = client(&base);
    let token = SecretToken::new(CANARY);
    let cancelled = tokio::time::timeout(Duration::from_millis(300), c.renew_token(&token)).await;
    assert!(cancelled.is_err(), "the server never answers");
    // A cancelled validate is harmless and says nothing.
    let _ = tokio::time::timeout(Duration::from_millis(300), c.validate_token(&token)).await;
    let text = capture.text();
    let warnings: Vec<&str> = text.lines().filter(|l| l.contains("cancelled after the request was sent")).collect();
    assert_eq!(warnings.len(), 1, "{text}");
    assert!(warnings[0].contains("WARN") && warnings[0].contains("renew_token"), "{}", warnings[0]);
    assert!(!text.contains(CANARY), "token in logs");
}

#[tokio::test]
async fn a_redirect_that_would_turn_the_create_into_a_get_is_not_followed() {
    for (status, followed) in [("302 Found", false), ("303 See Other", false), ("307 Temporary Redirect", true)] {
        let base = serve_with(|addr| {
            let head = format!("HTTP/1.1 {status}\r\nlocation: http://{addr}/elsewhere\r\ncontent-length: 0\r\n\r\n");
            Some(head.into_bytes())
        })
        .await;
        let e = client(&base).create_client(&SecretToken::new("ppt-1"), &new_client()).await.unwrap_err();
        if followed {
            // Followed to the same origin (and redirected again until the limit): never a 307 answer.
            assert_ne!(e.status(), Some(307), "{e}");
        } else {
            assert_eq!(e.kind(), ErrorKind::UnexpectedResponse, "{e}");
            assert_eq!(e.status().map(|s| s.to_string()), status.split(' ').next().map(str::to_string), "{e}");
        }
    }
}
