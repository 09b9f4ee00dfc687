//! Integration tests of the core against a real sandbox over loopback: what the scenario files cannot
//! express (log capture, foreign listeners, timing bounds, concurrency, configuration).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::Capture;
use confirma::{ClientConfig, Environment, ErrorKind, NewClient, OnboardingClient, SecretToken};
use confirma_sandbox::{valid_business_id, Sandbox, SandboxConfig};
use serde_json::{json, Value};

fn new_client(partner: &str, seed: u32) -> NewClient {
    let bid = valid_business_id(seed);
    let v = json!({
        "service": {"type": "LIFECYCLE", "partnerCode": partner},
        "client": {"name": "Canary Oy", "businessCode": bid, "vatRegNbr": format!("FI{}", bid.replace('-', "")),
                   "postalAddress": "Testikuja 7", "postalCode": "00100", "postalDistrict": "HELSINKI",
                   "countryCode": "FI", "email": "canary@example.fi", "languageCode": "FI"},
        "contacts": [{"role": "PRIMARY", "name": "Cathy Canary", "email": "cathy@example.fi"}]
    });
    serde_json::from_value(v).unwrap()
}

async fn fault(sb: &Sandbox, f: Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let r = reqwest::Client::new()
        .post(format!("{}/_sandbox/faults", sb.base_url()))
        .body(f.to_string())
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "fault rejected: {}", r.text().await.unwrap());
}

async fn state(sb: &Sandbox) -> Value {
    let _ = rustls::crypto::ring::default_provider().install_default();
    serde_json::from_str(
        &reqwest::get(format!("{}/_sandbox/state", sb.base_url())).await.unwrap().text().await.unwrap(),
    )
    .unwrap()
}

fn client(sb: &Sandbox) -> OnboardingClient {
    OnboardingClient::new(ClientConfig::with_base_url(sb.base_url())).unwrap()
}

/// A canary provisioning token and canary access tokens never appear in trace-level logs (ours, reqwest's,
/// hyper's), error messages or Debug output — including when the server echoes the token back.
///
/// A current-thread runtime: the sandbox, reqwest's connection tasks and the calls all run on this thread,
/// so the thread-local subscriber sees every event.
#[tokio::test(flavor = "current_thread")]
async fn canary_tokens_never_leak() {
    let canary = "CANARY-PROVISIONING-TOKEN-7f3a9c";
    let sb =
        Sandbox::start(SandboxConfig { provisioning_token: Some(canary.into()), ..Default::default() }).await.unwrap();
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let c = client(&sb);
    let pt = SecretToken::new(canary);
    let created = c.create_client(&pt, &new_client(sb.partner_code(), 1)).await.unwrap();
    let at = created.access_token.clone();
    let mut seen = vec![format!("{created:?}")];
    seen.push(format!("{:?}", c.validate_token(&at).await.unwrap()));
    let renewed = c.renew_token(&at).await.unwrap();
    seen.push(format!("{renewed:?} {}", renewed.access_token));
    // Error paths: duplicate, a server that echoes the key back, retries, outcome unknown.
    seen.push(format!("{}", c.create_client(&pt, &new_client(sb.partner_code(), 1)).await.unwrap_err()));
    let echo = format!("{{\"message\":\"key {} is not allowed\"}}", renewed.access_token.expose());
    fault(&sb, json!({"path": "/api/v1/partner/renew", "kind": "status", "status": 403, "body": echo, "contentType": "application/json"})).await;
    let e = c.renew_token(&renewed.access_token).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(e.to_string().contains("[REDACTED]"), "echoed token is scrubbed: {e}");
    seen.push(format!("{e} {e:?}"));
    fault(&sb, json!({"path": "/api/v1/partner/validate", "kind": "status", "status": 503, "times": 1})).await;
    c.validate_token(&renewed.access_token).await.unwrap();
    fault(&sb, json!({"path": "/api/v1/partner/renew", "kind": "commit_then_drop"})).await;
    let e = c.renew_token(&renewed.access_token).await.unwrap_err();
    seen.push(format!("{e} {e:?}"));
    drop(_guard);

    let logs = capture.text();
    assert!(logs.contains("CFIS response"), "trace capture works: {}", logs.chars().take(500).collect::<String>());
    assert!(logs.contains("hyper") || logs.contains("reqwest"), "events of the HTTP stack are captured too");
    for secret in [canary, at.expose(), renewed.access_token.expose()] {
        assert!(!logs.contains(secret), "token in logs");
        for s in &seen {
            assert!(!s.contains(secret), "token in output: {s}");
        }
    }
    sb.shutdown().await;
}

/// A redirect to another origin is not followed: the foreign listener never sees a connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_origin_redirect_never_carries_the_key() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let foreign = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let foreign_addr = foreign.local_addr().unwrap();
    let hits = Arc::new(Mutex::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((_s, _)) = foreign.accept().await {
            *h.lock().unwrap() += 1;
        }
    });
    let c = client(&sb);
    let created =
        c.create_client(&SecretToken::new(sb.provisioning_token()), &new_client(sb.partner_code(), 2)).await.unwrap();
    for (path, call) in [("/api/v1/partner/validate", 0), ("/api/v1/partner/renew", 1)] {
        fault(&sb, json!({"path": path, "kind": "redirect", "status": 307, "location": format!("http://{foreign_addr}{path}")})).await;
        let e = if call == 0 {
            c.validate_token(&created.access_token).await.unwrap_err()
        } else {
            c.renew_token(&created.access_token).await.unwrap_err()
        };
        // For renew a redirect is a definite (non-2xx) answer: not ambiguous.
        assert_eq!(e.kind(), ErrorKind::UnexpectedResponse, "{e}");
        assert_eq!(e.status(), Some(307));
        assert!(e.to_string().contains(&foreign_addr.port().to_string()), "names the target origin: {e}");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(*hits.lock().unwrap(), 0, "the foreign origin was contacted");
    // The token still works: nothing was rotated.
    assert!(c.validate_token(&created.access_token).await.unwrap().is_valid);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_and_deadline_bounds_the_call() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let c = client(&sb);
    let created =
        c.create_client(&SecretToken::new(sb.provisioning_token()), &new_client(sb.partner_code(), 3)).await.unwrap();
    fault(&sb, json!({"path": "/api/v1/partner/validate", "kind": "status", "status": 429, "retryAfter": 1})).await;
    let t = Instant::now();
    assert!(c.validate_token(&created.access_token).await.unwrap().is_valid);
    assert!(t.elapsed() >= Duration::from_millis(950), "waited {:?}", t.elapsed());

    // A Retry-After longer than the remaining deadline is not slept through: the error comes back at once.
    let short = OnboardingClient::new(ClientConfig::with_base_url(sb.base_url()).total_timeout(Duration::from_secs(2)))
        .unwrap();
    fault(&sb, json!({"path": "/api/v1/partner/validate", "kind": "status", "status": 503, "retryAfter": 30})).await;
    let t = Instant::now();
    let e = short.validate_token(&created.access_token).await.unwrap_err();
    assert_eq!((e.kind(), e.retry_after()), (ErrorKind::ServiceUnavailable, Some(Duration::from_secs(30))));
    assert!(t.elapsed() < Duration::from_secs(1), "returned without sleeping: {:?}", t.elapsed());

    let tight = OnboardingClient::new(
        ClientConfig::with_base_url(sb.base_url())
            .timeout(Duration::from_millis(300))
            .total_timeout(Duration::from_millis(800))
            .max_retries(10),
    )
    .unwrap();
    fault(&sb, json!({"path": "/api/v1/partner/validate", "kind": "delay", "ms": 3000, "times": 20})).await;
    let t = Instant::now();
    let e = tight.validate_token(&created.access_token).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(t.elapsed() < Duration::from_millis(1500), "total deadline respected: {:?}", t.elapsed());
    sb.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn connect_failures_are_retried_even_for_create_and_never_outcome_unknown() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c =
        OnboardingClient::new(ClientConfig::with_base_url(format!("http://127.0.0.1:{port}")).max_retries(2)).unwrap();
    let t = Instant::now();
    let e = c.create_client(&SecretToken::new("ppt"), &new_client("QUICK3", 4)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network, "{e}");
    assert!(e.is_retryable());
    assert!(e.request_id().is_some());
    assert!(t.elapsed() < Duration::from_secs(3));
    let e = c.renew_token(&SecretToken::new("tok")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network);
    let logs = capture.text();
    let retries = |op: &str| logs.lines().filter(|l| l.contains("retrying") && l.contains(op)).count();
    assert_eq!((retries("create_client"), retries("renew_token")), (2, 2), "two retries each: {logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_shared_by_many_tasks() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let c = client(&sb);
    let pt = SecretToken::new(sb.provisioning_token());
    let mut creates = Vec::new();
    for seed in 10..40 {
        let (c, pt, nc) = (c.clone(), pt.clone(), new_client(sb.partner_code(), seed));
        creates.push(tokio::spawn(async move { c.create_client(&pt, &nc).await }));
    }
    let mut tokens = Vec::new();
    for h in creates {
        tokens.push(h.await.unwrap().unwrap().access_token);
    }
    let mut checks = Vec::new();
    for i in 0..300 {
        let (c, t) = (c.clone(), tokens[i % tokens.len()].clone());
        checks.push(tokio::spawn(async move { c.validate_token(&t).await }));
    }
    for h in checks {
        assert!(h.await.unwrap().unwrap().is_valid);
    }
    let st = state(&sb).await;
    assert_eq!(st["clients"], 30);
    assert_eq!(st["requestsServed"], 330);
    sb.shutdown().await;
}

#[test]
fn configuration_errors() {
    let bad = |cfg: ClientConfig| OnboardingClient::new(cfg).unwrap_err();
    assert_eq!(bad(ClientConfig::with_base_url("http://cfis.example.com")).kind(), ErrorKind::Configuration);
    assert_eq!(
        bad(ClientConfig::new(Environment::Staging).extra_root_certificates_pem("not a pem")).kind(),
        ErrorKind::Configuration
    );
    assert_eq!(bad(ClientConfig::new(Environment::Staging).timeout(Duration::ZERO)).kind(), ErrorKind::Configuration);
    assert_eq!(bad(ClientConfig::new(Environment::Staging).proxy("::not a url::")).kind(), ErrorKind::Configuration);
    let c = OnboardingClient::new(ClientConfig::new(Environment::Production).user_agent_suffix("python/3.11")).unwrap();
    assert_eq!(c.base_url().as_str(), "https://integrations.confirmafinance.com/");
    assert_eq!(c.user_agent(), format!("confirma-sdk/{} python/3.11", confirma::VERSION));
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<OnboardingClient>();
    assert_send_sync::<SecretToken>();
    fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}
    assert_error::<confirma::Error>();
}

/// TLS is verified: an https connection to a server whose certificate is not trusted fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_a_plain_server_fails_cleanly() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let url = sb.base_url().replace("http://", "https://");
    let c = OnboardingClient::new(ClientConfig::with_base_url(url).max_retries(0)).unwrap();
    let e = c.validate_token(&SecretToken::new("tok")).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Network | ErrorKind::Timeout), "{e}");
    sb.shutdown().await;
}

/// A minimal HTTPS server with a self-signed certificate for `localhost`, answering validate with 200.
async fn tls_server() -> (u16, String) {
    use hyper::service::service_fn;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let pem = cert.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else { return };
                let svc = service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(
                        hyper::Response::builder()
                            .header("content-type", "application/json")
                            .body(http_body_util::Full::new(bytes::Bytes::from_static(
                                br#"{"isValid":true,"message":"Token is valid"}"#,
                            )))
                            .unwrap(),
                    )
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (port, pem)
}

/// Certificates are verified; an extra trusted root (e.g. a corporate proxy's CA) makes the same server work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_verified_and_extra_roots_are_trusted() {
    let (port, pem) = tls_server().await;
    let url = format!("https://localhost:{port}");
    let untrusted = OnboardingClient::new(ClientConfig::with_base_url(&url).max_retries(0)).unwrap();
    let e = untrusted.validate_token(&SecretToken::new("tok")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network, "{e}");
    assert!(e.to_string().to_lowercase().contains("certificate"), "says why: {e}");
    let trusted = OnboardingClient::new(ClientConfig::with_base_url(&url).extra_root_certificates_pem(pem)).unwrap();
    assert!(trusted.validate_token(&SecretToken::new("tok")).await.unwrap().is_valid);
}
