//! `TokenManager::create_client` against a real sandbox over loopback, on MemoryStore and on SQLite: the
//! pending-create record is durable before the POST; success commits the credentials and removes it; an
//! ambiguous create (the server created the client, the answer was lost) stays visible and the next call for
//! that business code finds out (409 → lost, with the advice) — never a second client; a create that failed
//! before creating leaves nothing behind; two instances creating one business code at once make one client.
#![cfg(feature = "sqlite")]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use confirma::store::{
    CredentialKey, CredentialRecord, CredentialState, CredentialStore, EventKind, MemoryStore, RenewalAttempt, Sealer,
    SqliteStore, StoreKey, PENDING_CREATE_PREFIX,
};
use confirma::{
    ClientConfig, ErrorKind, Health, ManagerOptions, NewClient, OnboardingClient, SecretToken, TokenManager,
};
use confirma_sandbox::{valid_business_id, Sandbox, SandboxConfig};
use serde_json::json;

mod common;
use common::*;

const CREATE_PATH: &str = "/api/v1/partner/client";

fn new_client(partner: &str, seed: u32) -> NewClient {
    let bid = valid_business_id(seed);
    serde_json::from_value(json!({
        "service": {"type": "LIFECYCLE", "partnerCode": partner},
        // Padded with blanks: the pending record is keyed by the normalised business code.
        "client": {"name": "Luova Oy", "businessCode": format!("  {bid} "), "vatRegNbr": format!("FI{}", bid.replace('-', "")),
                   "postalAddress": "Testikuja 7", "postalCode": "00100", "postalDistrict": "HELSINKI",
                   "countryCode": "fi", "email": "luova@example.fi", "languageCode": "FI"},
        "contacts": [{"role": "PRIMARY", "name": "Liisa Luova", "email": "liisa@example.fi"}]
    }))
    .unwrap()
}

/// (clients in the sandbox, create requests it received).
async fn sandbox_counts(sb: &Sandbox) -> (u64, u64) {
    let s = sandbox_state(sb).await;
    (s["clients"].as_u64().unwrap(), s["requestsByPath"][CREATE_PATH].as_u64().unwrap_or(0))
}

struct World {
    sb: Sandbox,
    client: OnboardingClient,
    clock: TestClock,
    sealer: Sealer,
    dir: PathBuf,
}

async fn world(name: &str) -> World {
    let sb = Sandbox::start(SandboxConfig { token_ttl: None, ..Default::default() }).await.unwrap();
    let client = OnboardingClient::new(ClientConfig::with_base_url(sb.base_url())).unwrap();
    let dir = std::env::temp_dir().join(format!("confirma-create-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    World { sb, client, clock: TestClock::default(), sealer: Sealer::encrypted(StoreKey::generate().unwrap()), dir }
}

/// The two stores every scenario runs on: memory, and a SQLite file (with its path, to open a second
/// connection on it).
#[derive(Clone, Copy, Debug)]
enum Kind {
    Memory,
    Sqlite,
}

impl World {
    fn store(&self, kind: Kind) -> (Arc<dyn CredentialStore>, Option<PathBuf>) {
        match kind {
            Kind::Memory => (Arc::new(MemoryStore::new()), None),
            Kind::Sqlite => {
                let path = self.dir.join(format!("c-{}.db", fastrand::u32(..)));
                (Arc::new(SqliteStore::open(&path).unwrap()), Some(path))
            }
        }
    }

    fn manager(&self, store: Arc<dyn CredentialStore>, owner: &str) -> TokenManager {
        let options = ManagerOptions {
            owner: Some(owner.into()),
            clock: Some(self.clock.clock()),
            poll_interval: Duration::from_millis(20),
            ..Default::default()
        };
        TokenManager::new(self.client.clone(), store, self.sealer.clone(), options).unwrap()
    }

    fn provisioning(&self) -> SecretToken {
        SecretToken::new(self.sb.provisioning_token())
    }
}

fn pending_key(m: &TokenManager, seed: u32) -> CredentialKey {
    CredentialKey::new(m.environment(), format!("{PENDING_CREATE_PREFIX}{}", valid_business_id(seed)))
}

async fn wait_for_pending(store: &dyn CredentialStore, key: &CredentialKey) -> CredentialRecord {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(r) = store.load(key).await.unwrap() {
            return r;
        }
        assert!(Instant::now() < until, "no pending record for {key}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pending_record_is_durable_before_the_post_and_success_replaces_it_with_the_credentials() {
    let w = world("durable").await;
    for (i, kind) in [Kind::Memory, Kind::Sqlite].into_iter().enumerate() {
        let seed = 301 + i as u32;
        let (store, path) = w.store(kind);
        let m = w.manager(store.clone(), "a");
        let key = pending_key(&m, seed);
        admin(&w.sb, "/_sandbox/faults", json!({"path": CREATE_PATH, "kind": "delay", "ms": 1500})).await;
        let (before_clients, before_requests) = sandbox_counts(&w.sb).await;
        let task = {
            let (m, token, nc) = (m.clone(), w.provisioning(), new_client(w.sb.partner_code(), seed));
            tokio::spawn(async move { m.create_client(&token, &nc).await })
        };
        // Read the store while the POST is in flight — for SQLite through another connection to the file.
        let reader: Arc<dyn CredentialStore> = match &path {
            Some(p) => Arc::new(SqliteStore::open(p).unwrap()),
            None => store.clone(),
        };
        let pending = wait_for_pending(&*reader, &key).await;
        assert_eq!(pending.state, CredentialState::Creating, "{kind:?}");
        let a = pending.attempt.clone().expect("an operation id, owner and lease");
        assert_eq!(a.owner, "a");
        assert!(a.lease_expires_at > w.clock.clock()());
        assert!(pending.sealed_token.is_empty() && pending.fingerprint.is_empty(), "no token in a pending record");
        assert_eq!(sandbox_counts(&w.sb).await.0, before_clients, "the service has not created it yet");
        // Visible while in flight.
        let st = m.statuses().await.unwrap();
        assert!(st.iter().any(|s| s.client_id == key.client_id && s.state == CredentialState::Creating), "{st:?}");
        assert_eq!(m.token(&key.client_id).await.unwrap_err().kind(), ErrorKind::Configuration);

        let created = task.await.unwrap().unwrap();
        assert_eq!(sandbox_counts(&w.sb).await, (before_clients + 1, before_requests + 1), "one client, one POST");
        assert!(reader.load(&key).await.unwrap().is_none(), "the pending record is gone");
        let ckey = CredentialKey::new(m.environment(), &created.client_id);
        let rec = reader.load(&ckey).await.unwrap().expect("committed before create_client returned");
        assert_eq!(rec.state, CredentialState::Active);
        assert_eq!(w.sealer.open(&ckey, &rec.sealed_token).unwrap(), created.access_token);
        // The log tells the story in order: intent, credentials, pending removed.
        let log: Vec<(String, EventKind)> =
            reader.events(None, 0, 1000).await.unwrap().into_iter().map(|e| (e.client_id, e.kind)).collect();
        assert_eq!(
            log,
            [
                (key.client_id.clone(), EventKind::CreateStarted),
                (created.client_id.clone(), EventKind::Created),
                (key.client_id.clone(), EventKind::CreateFinished)
            ],
            "{kind:?}"
        );
        assert!(m.statuses().await.unwrap().iter().all(|s| !s.client_id.starts_with(PENDING_CREATE_PREFIX)));
        assert_eq!(m.token(&created.client_id).await.unwrap(), created.access_token);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ambiguous_create_stays_visible_and_the_next_call_finds_it_lost_never_a_second_client() {
    let w = world("ambiguous").await;
    for (i, kind) in [Kind::Memory, Kind::Sqlite].into_iter().enumerate() {
        let seed = 311 + i as u32;
        let (store, _) = w.store(kind);
        let m = w.manager(store.clone(), "a");
        let key = pending_key(&m, seed);
        let nc = new_client(w.sb.partner_code(), seed);
        let (clients0, posts0) = sandbox_counts(&w.sb).await;
        admin(&w.sb, "/_sandbox/faults", json!({"path": CREATE_PATH, "kind": "commit_then_drop"})).await;
        let err = m.create_client(&w.provisioning(), &nc).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err}");
        assert_eq!(sandbox_counts(&w.sb).await, (clients0 + 1, posts0 + 1), "the service did create it");
        let pending = store.load(&key).await.unwrap().expect("left as a visible pending record");
        assert_eq!(pending.state, CredentialState::Ambiguous);
        assert!(pending.attempt.is_none());
        // statuses() and reconcile() show it; token() for it is a clear error.
        let st = m.statuses().await.unwrap();
        let s = st.iter().find(|s| s.client_id == key.client_id).expect("listed");
        assert_eq!((s.state, s.health), (CredentialState::Ambiguous, Health::Degraded));
        let rec = m.reconcile().await.unwrap();
        assert!(rec.iter().any(|s| s.client_id == key.client_id && s.state == CredentialState::Ambiguous), "{rec:?}");
        let te = m.token(&key.client_id).await.unwrap_err();
        assert_eq!(te.kind(), ErrorKind::Configuration);
        assert!(te.to_string().contains("pending create"), "{te}");

        // The next call for that business code (another instance) is its reconciliation: 409 → lost.
        let m2 = w.manager(store.clone(), "b");
        let err = m2.create_client(&w.provisioning(), &nc).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::CredentialsLost, "{err}");
        let text = err.to_string();
        assert!(text.contains("support") && text.contains("import"), "says what to do: {text}");
        assert_eq!(sandbox_counts(&w.sb).await, (clients0 + 1, posts0 + 2), "still exactly one client");
        let lost = store.load(&key).await.unwrap().unwrap();
        assert_eq!(lost.state, CredentialState::Lost);
        assert!(lost.last_error.as_deref().unwrap_or("").contains("support"));
        let s = m2.statuses().await.unwrap().into_iter().find(|s| s.client_id == key.client_id).unwrap();
        assert_eq!(s.health, Health::Lost);
        // Asking again changes nothing and creates nothing.
        assert_eq!(m2.create_client(&w.provisioning(), &nc).await.unwrap_err().kind(), ErrorKind::CredentialsLost);
        assert_eq!(sandbox_counts(&w.sb).await.0, clients0 + 1);
        let kinds: Vec<EventKind> =
            store.events(Some(&key), 0, 100).await.unwrap().into_iter().map(|e| e.kind).collect();
        // Once dealt with (its token obtained from support and imported), the record can be discarded.
        assert!(m2.discard_pending_create(&valid_business_id(seed)).await.unwrap());
        assert!(store.load(&key).await.unwrap().is_none());
        assert!(!m2.discard_pending_create(&valid_business_id(seed)).await.unwrap());
        assert_eq!(
            kinds,
            [
                EventKind::CreateStarted,
                EventKind::Ambiguous,
                EventKind::CreateStarted,
                EventKind::Lost,
                EventKind::CreateStarted,
                EventKind::Lost
            ]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ambiguous_create_that_did_not_happen_is_created_by_the_next_call() {
    let w = world("notcreated").await;
    let (store, _) = w.store(Kind::Sqlite);
    let m = w.manager(store.clone(), "a");
    let key = pending_key(&m, 321);
    let nc = new_client(w.sb.partner_code(), 321);
    // A reset before the service performed the create: outcome unknown for the client, nothing created.
    admin(&w.sb, "/_sandbox/faults", json!({"path": CREATE_PATH, "kind": "reset"})).await;
    assert_eq!(m.create_client(&w.provisioning(), &nc).await.unwrap_err().kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(store.load(&key).await.unwrap().unwrap().state, CredentialState::Ambiguous);
    assert_eq!(sandbox_counts(&w.sb).await.0, 0);
    // The next call: 201 → the earlier attempt never created it; saved, pending gone.
    let created = m.create_client(&w.provisioning(), &nc).await.unwrap();
    assert!(store.load(&key).await.unwrap().is_none());
    assert_eq!(m.token(&created.client_id).await.unwrap(), created.access_token);
    assert_eq!(sandbox_counts(&w.sb).await.0, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_failed_before_creating_leaves_nothing_and_the_next_call_creates() {
    let w = world("failed").await;
    for (i, kind) in [Kind::Memory, Kind::Sqlite].into_iter().enumerate() {
        let seed = 331 + i as u32;
        let (store, _) = w.store(kind);
        let m = w.manager(store.clone(), "a");
        let key = pending_key(&m, seed);
        let nc = new_client(w.sb.partner_code(), seed);
        let clients0 = sandbox_counts(&w.sb).await.0;
        // 503 on every attempt (the client retries 503: the service said it did not process it).
        admin(&w.sb, "/_sandbox/faults", json!({"path": CREATE_PATH, "kind": "status", "status": 503, "times": 3}))
            .await;
        let err = m.create_client(&w.provisioning(), &nc).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ServiceUnavailable, "{err}");
        assert!(store.load(&key).await.unwrap().is_none(), "a definite failure leaves no pending record");
        // Connection refused: a manager whose client points at a closed port (same environment key).
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let dead_client =
            OnboardingClient::new(ClientConfig::with_base_url(format!("http://127.0.0.1:{closed}/"))).unwrap();
        let dead = TokenManager::new(dead_client, store.clone(), w.sealer.clone(), ManagerOptions::default()).unwrap();
        let err = dead.create_client(&w.provisioning(), &nc).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Network, "{err}");
        let dead_key = CredentialKey::new(dead.environment(), &key.client_id);
        assert!(store.load(&dead_key).await.unwrap().is_none());
        // Client-side validation failures write nothing at all.
        let mut bad = nc.clone();
        bad.client.email = "not-an-email".into();
        assert_eq!(m.create_client(&w.provisioning(), &bad).await.unwrap_err().kind(), ErrorKind::Validation);
        assert_eq!(
            m.create_client(&SecretToken::new(" "), &nc).await.unwrap_err().kind(),
            ErrorKind::Validation,
            "a blank provisioning token"
        );
        assert!(store.list(None).await.unwrap().is_empty(), "nothing written");
        // The next call creates normally.
        let created = m.create_client(&w.provisioning(), &nc).await.unwrap();
        assert_eq!(m.token(&created.client_id).await.unwrap(), created.access_token);
        assert_eq!(sandbox_counts(&w.sb).await.0, clients0 + 1);
        let kinds: Vec<(EventKind, String)> =
            store.events(Some(&key), 0, 100).await.unwrap().into_iter().map(|e| (e.kind, e.detail)).collect();
        assert!(
            matches!(kinds.get(1), Some((EventKind::CreateFinished, d)) if d.contains("CONFIRMA_SERVICE_UNAVAILABLE")),
            "{kinds:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_creating_one_business_code_make_one_client() {
    let w = world("concurrent").await;
    let path = w.dir.join("shared.db");
    let a = w.manager(Arc::new(SqliteStore::open(&path).unwrap()), "a");
    let b = w.manager(Arc::new(SqliteStore::open(&path).unwrap()), "b");
    // While A's POST is in flight, B is refused without sending anything.
    let nc = new_client(w.sb.partner_code(), 341);
    admin(&w.sb, "/_sandbox/faults", json!({"path": CREATE_PATH, "kind": "delay", "ms": 1500})).await;
    let task = {
        let (a, token, nc) = (a.clone(), w.provisioning(), nc.clone());
        tokio::spawn(async move { a.create_client(&token, &nc).await })
    };
    wait_for_pending(&**b.store(), &pending_key(&b, 341)).await;
    let err = b.create_client(&w.provisioning(), &nc).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("another instance (a)"), "{err}");
    let created = task.await.unwrap().unwrap();
    assert_eq!(sandbox_counts(&w.sb).await, (1, 1), "one client, one POST");
    assert_eq!(b.token(&created.client_id).await.unwrap(), created.access_token, "B reads A's credentials");

    // Truly at once, repeatedly: always exactly one success and one conflict, one client each time.
    for seed in 342..347 {
        let nc = new_client(w.sb.partner_code(), seed);
        let (t1, t2) = (w.provisioning(), w.provisioning());
        let (ra, rb) = tokio::join!(a.create_client(&t1, &nc), b.create_client(&t2, &nc));
        let oks = [&ra, &rb].iter().filter(|r| r.is_ok()).count();
        assert_eq!(oks, 1, "{ra:?} / {rb:?}");
        let e = ra.as_ref().err().or(rb.as_ref().err()).unwrap();
        assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
        assert!(a.store().load(&pending_key(&a, seed)).await.unwrap().is_none(), "no pending record left");
    }
    assert_eq!(sandbox_counts(&w.sb).await.0, 6);
}

/// A create answered with the token but without the client id (partial success): the error carries the token,
/// the pending record stays ambiguous and says so (never the token), and the next call finds it lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_success_hands_back_the_token_and_stays_ambiguous() {
    let w = world("partial").await;
    let (store, path) = w.store(Kind::Sqlite);
    let m = w.manager(store.clone(), "a");
    let key = pending_key(&m, 361);
    let nc = new_client(w.sb.partner_code(), 361);
    admin(&w.sb, "/_sandbox/faults", json!({"path": CREATE_PATH, "kind": "partial_success"})).await;
    let err = m.create_client(&w.provisioning(), &nc).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err}");
    let token = err.recovered_token().expect("the token is handed back").clone();
    assert!(w.client.validate_token(&token).await.unwrap().is_valid);
    let r = store.load(&key).await.unwrap().unwrap();
    assert_eq!(r.state, CredentialState::Ambiguous);
    let why = r.last_error.unwrap();
    assert!(why.contains("recovered token") && !why.contains(token.expose()), "{why}");
    let path = path.unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
    assert!(!bytes.windows(24).any(|win| win == &token.expose().as_bytes()[..24]), "never stored in clear");
    assert_eq!(m.create_client(&w.provisioning(), &nc).await.unwrap_err().kind(), ErrorKind::CredentialsLost);
    assert_eq!(sandbox_counts(&w.sb).await.0, 1);
}

/// A process killed mid-create (the pending record `creating`, its lease over) after the service created the
/// client: the next call finds it lost. Killed after the commit but before the pending record was removed:
/// the next call finds the committed credentials and says so (Conflict), removing the leftover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_create_is_resolved_by_the_next_call() {
    let w = world("crash").await;
    let (store, _) = w.store(Kind::Sqlite);
    let m = w.manager(store.clone(), "a");
    // Killed during the POST, after the service created the client.
    let nc = new_client(w.sb.partner_code(), 351);
    let key = pending_key(&m, 351);
    dead_pending(&*store, &key, w.clock.clock()()).await;
    w.client.create_client(&w.provisioning(), &nc).await.unwrap(); // the answer the dead process never stored
    let err = m.create_client(&w.provisioning(), &nc).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "within the lease, the holder may still be alive: {err}");
    w.clock.advance(10 * 60_000);
    let err = m.create_client(&w.provisioning(), &nc).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CredentialsLost, "{err}");
    assert_eq!(sandbox_counts(&w.sb).await.0, 1);

    // Killed after committing the credentials, before removing the pending record.
    let nc = new_client(w.sb.partner_code(), 352);
    let key = pending_key(&m, 352);
    let created = m.create_client(&w.provisioning(), &nc).await.unwrap();
    dead_pending(&*store, &key, w.clock.clock()()).await;
    w.clock.advance(10 * 60_000);
    let err = m.create_client(&w.provisioning(), &nc).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains(&created.client_id), "names the stored client: {err}");
    assert!(store.load(&key).await.unwrap().is_none(), "the leftover is removed");
    assert_eq!(m.token(&created.client_id).await.unwrap(), created.access_token);
    assert_eq!(sandbox_counts(&w.sb).await.0, 2);
}

/// Leaves the store as a process killed during its create's POST would: a `creating` pending record.
async fn dead_pending(store: &dyn CredentialStore, key: &CredentialKey, now: i64) {
    let attempt =
        RenewalAttempt { id: "dead".into(), owner: "killed".into(), lease_expires_at: now + 90_000, fence: 1 };
    let r = CredentialRecord::pending_create(key, attempt, now);
    assert!(store.insert(&r, &[]).await.unwrap());
}
