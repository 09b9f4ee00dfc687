//! Shared by the core's integration test binaries.
#![allow(dead_code)] // each test binary uses its own part

use std::io::Write;
use std::sync::{Arc, Mutex};

/// A `tracing` writer that keeps everything written, for log assertions.
#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// -------------------------------------------------------------------------------------------------------
// The sandbox and the clock, for the lifecycle tests (manager, create, postgres, durability).

/// A valid onboarding form for business id number `seed`.
pub fn new_client(partner: &str, seed: u32) -> confirma::NewClient {
    let bid = confirma_sandbox::valid_business_id(seed);
    serde_json::from_value(serde_json::json!({
        "service": {"type": "LIFECYCLE", "partnerCode": partner},
        "client": {"name": "Kestävä Oy", "businessCode": bid, "vatRegNbr": format!("FI{}", bid.replace('-', "")),
                   "postalAddress": "Testikuja 7", "postalCode": "00100", "postalDistrict": "HELSINKI",
                   "countryCode": "FI", "email": "kestava@example.fi", "languageCode": "FI"},
        "contacts": [{"role": "PRIMARY", "name": "Kaisa Kestävä", "email": "kaisa@example.fi"}]
    }))
    .unwrap()
}

/// POSTs to the sandbox's admin API (`/_sandbox/faults`, `/_sandbox/config`, `/_sandbox/clock`); asserts
/// success; the JSON answer (or null).
pub async fn admin(sb: &confirma_sandbox::Sandbox, path: &str, body: serde_json::Value) -> serde_json::Value {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let r = reqwest::Client::new()
        .post(format!("{}{path}", sb.base_url()))
        .body(body.to_string())
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path} refused: {}", r.text().await.unwrap());
    serde_json::from_str(&r.text().await.unwrap()).unwrap_or(serde_json::Value::Null)
}

/// The sandbox's `/_sandbox/state`.
pub async fn sandbox_state(sb: &confirma_sandbox::Sandbox) -> serde_json::Value {
    let _ = rustls::crypto::ring::default_provider().install_default();
    serde_json::from_str(
        &reqwest::get(format!("{}/_sandbox/state", sb.base_url())).await.unwrap().text().await.unwrap(),
    )
    .unwrap()
}

/// How many renew requests the sandbox received.
pub async fn renew_requests(sb: &confirma_sandbox::Sandbox) -> u64 {
    sandbox_state(sb).await["requestsByPath"]["/api/v1/partner/renew"].as_u64().unwrap_or(0)
}

/// A manual clock for a `TokenManager`: the system clock plus an offset the test moves.
#[cfg(feature = "store")]
#[derive(Clone, Default)]
pub struct TestClock(Arc<std::sync::atomic::AtomicI64>);

#[cfg(feature = "store")]
impl TestClock {
    /// Moves the clock forward.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }

    /// The clock, for `ManagerOptions::clock`.
    pub fn clock(&self) -> confirma::manager::Clock {
        let off = self.0.clone();
        Arc::new(move || confirma::store::now_ms() + off.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// A `TokenManager` for the tests: renews every hour of `clock`, polls every 20 ms.
#[cfg(feature = "store")]
pub fn test_manager(
    client: &confirma::OnboardingClient,
    store: Arc<dyn confirma::store::CredentialStore>,
    sealer: &confirma::store::Sealer,
    clock: &TestClock,
    owner: &str,
) -> confirma::TokenManager {
    let options = confirma::ManagerOptions {
        renew_every: std::time::Duration::from_secs(3600),
        owner: Some(owner.into()),
        clock: Some(clock.clock()),
        poll_interval: std::time::Duration::from_millis(20),
        ..Default::default()
    };
    confirma::TokenManager::new(client.clone(), store, sealer.clone(), options).unwrap()
}

/// Creates a client in the sandbox and saves it through `m`; returns (client id, first token).
#[cfg(feature = "store")]
pub async fn create_and_save(
    sb: &confirma_sandbox::Sandbox,
    client: &confirma::OnboardingClient,
    m: &confirma::TokenManager,
    seed: u32,
) -> (String, confirma::SecretToken) {
    let c = client
        .create_client(&confirma::SecretToken::new(sb.provisioning_token()), &new_client(sb.partner_code(), seed))
        .await
        .unwrap();
    m.save_created(&c).await.unwrap();
    (c.client_id.clone(), c.access_token)
}

/// `each` increments of the record `staging/shared` through compare-and-set (re-read on a lost race), each
/// with one event: what the many-writers tests run in every process.
#[cfg(feature = "store")]
pub async fn cas_increments(store: &dyn confirma::store::CredentialStore, each: u64) {
    use confirma::store::{CredentialEvent, CredentialKey, EventKind};
    let key = CredentialKey::new("staging", "shared");
    let mut done = 0;
    while done < each {
        let current = store.load(&key).await.unwrap().unwrap();
        let mut next = current.clone();
        next.revision += 1;
        next.token_version = next.revision;
        let ev = CredentialEvent {
            seq: 0,
            at: 0,
            environment: "staging".into(),
            client_id: "shared".into(),
            kind: EventKind::Validated,
            token_version: next.revision,
            fingerprint: String::new(),
            attempt_id: None,
            owner: std::process::id().to_string(),
            detail: String::new(),
        };
        if store.compare_and_swap(current.revision, &next, &[ev]).await.unwrap() {
            done += 1;
        }
    }
}
