//! The TokenManager against a real sandbox over loopback, on real stores: rotation, the three server
//! behaviours for an ambiguous renewal (no grace; grace with "already renewed"; grace with the same new
//! token again), a crash at each step of the protocol (simulated by leaving the store as a killed process
//! would), a renew endpoint that is down, and two instances sharing one SQLite file.
#![cfg(feature = "sqlite")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use confirma::store::{
    CredentialKey, CredentialState, CredentialStore, EventKind, MemoryStore, RenewalAttempt, Sealer, SqliteStore,
    StoreKey,
};
use confirma::{ClientConfig, ErrorKind, Health, ManagerOptions, OnboardingClient, SecretToken, TokenManager};
use confirma_sandbox::{Sandbox, SandboxConfig};
use serde_json::json;

mod common;
use common::*;

const HOUR: i64 = 3_600_000;

struct World {
    sb: Sandbox,
    client: OnboardingClient,
    clock: TestClock,
    sealer: Sealer,
    key: StoreKey,
}

async fn world(config: SandboxConfig) -> World {
    let sb = Sandbox::start(SandboxConfig { token_ttl: None, ..config }).await.unwrap();
    let client = OnboardingClient::new(ClientConfig::with_base_url(sb.base_url())).unwrap();
    let key = StoreKey::generate().unwrap();
    World { sb, client, clock: TestClock::default(), sealer: Sealer::encrypted(key.clone()), key }
}

impl World {
    fn manager(&self, store: Arc<dyn CredentialStore>, owner: &str) -> TokenManager {
        test_manager(&self.client, store, &self.sealer, &self.clock, owner)
    }

    /// Creates a client in the sandbox and saves it through `m`; returns (client id, first token).
    async fn created(&self, m: &TokenManager, seed: u32) -> (String, SecretToken) {
        create_and_save(&self.sb, &self.client, m, seed).await
    }

    async fn is_valid(&self, t: &SecretToken) -> bool {
        self.client.validate_token(t).await.unwrap().is_valid
    }
}

async fn wait_for_version(m: &TokenManager, client_id: &str, version: u64) {
    let until = Instant::now() + Duration::from_secs(20);
    while m.status(client_id).await.unwrap().token_version < version {
        assert!(Instant::now() < until, "no rotation to version {version}: {:?}", m.status(client_id).await);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn kinds(store: &dyn CredentialStore, key: &CredentialKey) -> Vec<EventKind> {
    store.events(Some(key), 0, 1000).await.unwrap().into_iter().map(|e| e.kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotates_when_due_and_persists_before_serving() {
    let w = world(SandboxConfig::default()).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let m = w.manager(store.clone(), "a");
    let (id, first) = w.created(&m, 101).await;
    assert_eq!(m.token(&id).await.unwrap(), first, "served from memory");
    let st = m.status(&id).await.unwrap();
    assert_eq!(
        (st.state, st.health, st.token_version, st.encrypted),
        (CredentialState::Active, Health::Healthy, 1, true)
    );
    let planned = st.next_renew_at.unwrap() - st.last_renewed_at.unwrap();
    assert!((54 * 60_000..=66 * 60_000).contains(&planned), "renewal planned at 1 h ± 10 %: {planned}");

    w.clock.advance(2 * HOUR);
    // Due: the first call renews before serving (never a token that is about to be, or already was, rotated).
    let second = m.token(&id).await.unwrap();
    assert_ne!(second, first);
    assert_eq!(m.status(&id).await.unwrap().token_version, 2);
    assert!(w.is_valid(&second).await && !w.is_valid(&first).await);
    assert_eq!(renew_requests(&w.sb).await, 1, "exactly one renew request");
    let key = CredentialKey::new(m.environment(), &id);
    assert_eq!(kinds(&*store, &key).await, [EventKind::Created, EventKind::RenewStarted, EventKind::Rotated]);
    let rec = store.load(&key).await.unwrap().unwrap();
    assert_eq!(w.sealer.open(&key, &rec.sealed_token).unwrap(), second, "what is served is what is stored");

    // The hot path costs no I/O: many calls, still one renew request, one record revision.
    let rev = rec.revision;
    for _ in 0..10_000 {
        m.token(&id).await.unwrap();
    }
    assert_eq!(store.load(&key).await.unwrap().unwrap().revision, rev);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ambiguous_renewal_without_grace_is_lost_loudly() {
    let w = world(SandboxConfig::default()).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let m = w.manager(store.clone(), "a");
    let mut events = m.subscribe();
    let (id, first) = w.created(&m, 102).await;
    admin(&w.sb, "/_sandbox/faults", json!({"path": "/api/v1/partner/renew", "kind": "commit_then_drop"})).await;
    let err = m.renew_now(&id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CredentialsLost, "{err}");
    assert!(err.to_string().contains("support"), "says what to do: {err}");
    assert!(!err.to_string().contains(first.expose()));
    let st = m.status(&id).await.unwrap();
    assert_eq!((st.state, st.health), (CredentialState::Lost, Health::Lost));
    // token() never serves the dead token.
    assert_eq!(m.token(&id).await.unwrap_err().kind(), ErrorKind::CredentialsLost);
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(e.kind);
    }
    assert!(seen.contains(&EventKind::Ambiguous) && seen.contains(&EventKind::Lost), "{seen:?}");
    assert_eq!(renew_requests(&w.sb).await, 1, "never renewed twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ambiguous_renewal_is_recovered_when_the_service_hands_out_the_same_token_again() {
    let w = world(SandboxConfig { grace_period: Duration::from_secs(300), ..Default::default() }).await;
    admin(&w.sb, "/_sandbox/config", json!({"renewReplaced": "same_token"})).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let m = w.manager(store.clone(), "a");
    let (id, first) = w.created(&m, 103).await;
    admin(&w.sb, "/_sandbox/faults", json!({"path": "/api/v1/partner/renew", "kind": "commit_then_drop"})).await;
    let st = m.renew_now(&id).await.unwrap();
    assert_eq!((st.state, st.health, st.token_version), (CredentialState::Active, Health::Healthy, 2));
    let t = m.token(&id).await.unwrap();
    assert_ne!(t, first);
    assert!(w.is_valid(&t).await);
    let key = CredentialKey::new(m.environment(), &id);
    let k = kinds(&*store, &key).await;
    assert!(
        k.contains(&EventKind::Ambiguous) && k.contains(&EventKind::Reconciled) && !k.contains(&EventKind::Lost),
        "{k:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn already_renewed_in_a_grace_period_is_lost_but_the_old_token_is_served_while_it_works() {
    let w = world(SandboxConfig { grace_period: Duration::from_secs(300), ..Default::default() }).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let m = w.manager(store.clone(), "a");
    let (id, first) = w.created(&m, 104).await;
    admin(&w.sb, "/_sandbox/faults", json!({"path": "/api/v1/partner/renew", "kind": "commit_then_drop"})).await;
    let err = m.renew_now(&id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CredentialsLost);
    assert_eq!(m.status(&id).await.unwrap().state, CredentialState::Lost);
    // The old token still works for the grace period: it is served (and the loss reported).
    assert_eq!(m.token(&id).await.unwrap(), first);
    // After the grace period it is not.
    admin(&w.sb, "/_sandbox/clock", json!({"advanceSeconds": 301})).await;
    w.clock.advance(2 * 60_000);
    assert_eq!(m.token(&id).await.unwrap_err().kind(), ErrorKind::CredentialsLost);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renew_endpoint_that_is_down_keeps_the_current_token_in_service() {
    let w = world(SandboxConfig::default()).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let m = w.manager(store.clone(), "a");
    let (id, first) = w.created(&m, 105).await;
    admin(
        &w.sb,
        "/_sandbox/faults",
        json!({"path": "/api/v1/partner/renew", "kind": "status", "status": 503, "times": 100}),
    )
    .await;
    w.clock.advance(2 * HOUR);
    assert_eq!(m.token(&id).await.unwrap(), first);
    let until = Instant::now() + Duration::from_secs(20);
    while m.status(&id).await.unwrap().consecutive_failures == 0 {
        assert!(Instant::now() < until, "the failure is never recorded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let st = m.status(&id).await.unwrap();
    assert_eq!((st.state, st.health, st.token_version), (CredentialState::Active, Health::Degraded, 1));
    assert_eq!(st.last_error.as_deref(), Some("CONFIRMA_SERVICE_UNAVAILABLE"));
    assert!(st.next_renew_at.unwrap() > w.clock.clock()(), "backed off");
    assert_eq!(m.token(&id).await.unwrap(), first, "still served");
    assert!(w.is_valid(&first).await);
    // The service recovers: the next due renewal succeeds and health is good again.
    let _ = reqwest::Client::new().delete(format!("{}/_sandbox/faults", w.sb.base_url())).send().await.unwrap();
    w.clock.advance(2 * HOUR);
    m.token(&id).await.unwrap();
    wait_for_version(&m, &id, 2).await;
    assert_eq!(m.status(&id).await.unwrap().health, Health::Healthy);
}

/// A process killed after writing its intent but before sending: the lease expires, the next instance
/// reconciles — the old token is still valid, so it renews it, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_claim_is_reconciled_by_the_next_instance() {
    let w = world(SandboxConfig::default()).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let m = w.manager(store.clone(), "a");
    let (id, first) = w.created(&m, 106).await;
    let key = CredentialKey::new(m.environment(), &id);
    dead_claim(&*store, &key, w.clock.clock()()).await;
    let m2 = w.manager(store.clone(), "b");
    // Within the lease, the new instance waits rather than renewing on top of the holder.
    let t = tokio::time::timeout(Duration::from_millis(300), m2.token(&id)).await;
    assert!(t.is_err(), "waits for the lease holder");
    w.clock.advance(10 * 60_000); // the lease is over
    let t = m2.token(&id).await.unwrap();
    assert_ne!(t, first);
    assert!(w.is_valid(&t).await);
    assert_eq!(renew_requests(&w.sb).await, 1);
    let k = kinds(&*store, &key).await;
    assert!(k.contains(&EventKind::Ambiguous) && k.contains(&EventKind::Reconciled), "{k:?}");
}

/// A process killed after the service rotated the token but before the commit: the new token is gone.
/// Without grace the record is `lost`; with an idempotent service it is recovered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_rotation_and_the_commit() {
    for same in [false, true] {
        let w = world(SandboxConfig {
            grace_period: if same { Duration::from_secs(300) } else { Duration::ZERO },
            ..Default::default()
        })
        .await;
        if same {
            admin(&w.sb, "/_sandbox/config", json!({"renewReplaced": "same_token"})).await;
        }
        let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
        let m = w.manager(store.clone(), "a");
        let (id, first) = w.created(&m, 107 + u32::from(same)).await;
        let key = CredentialKey::new(m.environment(), &id);
        dead_claim(&*store, &key, w.clock.clock()()).await;
        let lost_answer = w.client.renew_token(&first).await.unwrap(); // the answer the dead process never stored
        w.clock.advance(10 * 60_000);
        let m2 = w.manager(store.clone(), "b");
        let got = m2.token(&id).await;
        if same {
            assert_eq!(got.unwrap(), lost_answer.access_token, "the same new token, recovered");
            assert_eq!(m2.status(&id).await.unwrap().state, CredentialState::Active);
        } else {
            assert_eq!(got.unwrap_err().kind(), ErrorKind::CredentialsLost);
            assert_eq!(m2.status(&id).await.unwrap().state, CredentialState::Lost);
        }
    }
}

/// Leaves the store as a process killed right after its claim would: `renewing`, with a lease.
async fn dead_claim(store: &dyn CredentialStore, key: &CredentialKey, now: i64) {
    let r = store.load(key).await.unwrap().unwrap();
    let mut c = r.clone();
    c.revision += 1;
    c.state = CredentialState::Renewing;
    c.fence += 1;
    c.attempt = Some(RenewalAttempt {
        id: "dead".into(),
        owner: "killed".into(),
        lease_expires_at: now + 90_000,
        fence: c.fence,
    });
    assert!(store.compare_and_swap(r.revision, &c, &[]).await.unwrap());
}

/// Two instances on one SQLite file, both finding the token due at once: one renew request, both end on
/// the new token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_sqlite_file_renew_once() {
    let w = world(SandboxConfig::default()).await;
    let dir = std::env::temp_dir().join(format!("confirma-manager-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("credentials.db");
    let s1: Arc<dyn CredentialStore> = Arc::new(SqliteStore::open(&path).unwrap());
    let s2: Arc<dyn CredentialStore> = Arc::new(SqliteStore::open(&path).unwrap());
    let a = w.manager(s1, "a");
    let b = w.manager(s2, "b");
    let (id, first) = w.created(&a, 109).await;
    assert_eq!(b.token(&id).await.unwrap(), first, "the second instance reads the first one's save");
    w.clock.advance(2 * HOUR);
    let (ra, rb) = tokio::join!(a.renew_now(&id), b.renew_now(&id));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.token_version, 2);
    assert_eq!(rb.token_version, 2);
    assert_eq!(renew_requests(&w.sb).await, 1, "one renew for the fleet");
    let (ta, tb) = (a.token(&id).await.unwrap(), b.token(&id).await.unwrap());
    assert_eq!(ta, tb);
    assert!(w.is_valid(&ta).await);
    // The file never holds a token in clear.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
    for t in [&first, &ta] {
        assert!(!bytes.windows(24).any(|win| win == &t.expose().as_bytes()[..24]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_validates_first_and_a_wrong_key_is_a_clear_error() {
    let w = world(SandboxConfig::default()).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let m = w.manager(store.clone(), "a");
    let bad =
        m.import_credentials("c-1", &SecretToken::new("cfis_at_not_a_real_token_000000000000000000"), None, None).await;
    assert_eq!(bad.unwrap_err().kind(), ErrorKind::Validation);
    let (id, first) = w.created(&m, 110).await;
    let st = m.import_credentials(&id, &first, None, None).await.unwrap();
    assert_eq!(st.token_version, 2);
    let other = TokenManager::new(
        w.client.clone(),
        store.clone(),
        Sealer::encrypted(StoreKey::generate().unwrap()),
        ManagerOptions::default(),
    )
    .unwrap();
    let err = other.token(&id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(err.to_string().contains("CONFIRMA_STORE_KEY"), "{err}");
    let missing = m.token("no-such-client").await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::Configuration);
}

/// Key rotation: a manager with a new key and the old one as a previous key serves the stored token and
/// re-seals it under the new key; afterwards the new key alone opens it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_store_key_re_seals_tokens_sealed_under_the_previous_one() {
    let w = world(SandboxConfig::default()).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let m = w.manager(store.clone(), "a");
    let (id, first) = w.created(&m, 111).await;
    let new_key = StoreKey::generate().unwrap();
    let old_sealer = w.sealer.clone();
    let rotating = TokenManager::new(
        w.client.clone(),
        store.clone(),
        Sealer::encrypted(new_key.clone()).with_previous_keys([w.key.clone()]),
        ManagerOptions { clock: Some(w.clock.clock()), ..Default::default() },
    )
    .unwrap();
    assert_eq!(rotating.token(&id).await.unwrap(), first);
    let key = CredentialKey::new(m.environment(), &id);
    let rec = store.load(&key).await.unwrap().unwrap();
    let only_new = Sealer::encrypted(new_key);
    assert_eq!(only_new.open(&key, &rec.sealed_token).unwrap(), first, "re-sealed under the new key");
    assert!(old_sealer.open(&key, &rec.sealed_token).is_err(), "the old key no longer opens it");
}

/// The other two ambiguous answers: a reset connection (the service did not act) and a timeout (the
/// service acts after the caller gave up). Both are reconciled: the old token is still known, so it is
/// renewed again, once, and the record ends active on a token the service accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_or_a_timeout_during_the_renewal_is_reconciled() {
    for (fault, seed) in [(json!({"kind": "reset"}), 112), (json!({"kind": "delay", "ms": 1500}), 113)] {
        let sb = Sandbox::start(SandboxConfig { token_ttl: None, ..Default::default() }).await.unwrap();
        let client = OnboardingClient::new(
            ClientConfig::with_base_url(sb.base_url()).timeout(Duration::from_millis(400)).max_retries(0),
        )
        .unwrap();
        let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
        let clock = TestClock::default();
        let sealer = Sealer::encrypted(StoreKey::generate().unwrap());
        let m = test_manager(&client, store.clone(), &sealer, &clock, "a");
        let (id, first) = create_and_save(&sb, &client, &m, seed).await;
        let mut f = fault.clone();
        f["path"] = json!("/api/v1/partner/renew");
        admin(&sb, "/_sandbox/faults", f).await;
        let st = m.renew_now(&id).await.unwrap();
        assert_eq!((st.state, st.health, st.token_version), (CredentialState::Active, Health::Healthy, 2), "{fault}");
        let t = m.token(&id).await.unwrap();
        assert_ne!(t, first);
        assert!(client.validate_token(&t).await.unwrap().is_valid, "{fault}: the stored token works");
        let k = kinds(&*store, &CredentialKey::new(m.environment(), &id)).await;
        assert!(k.contains(&EventKind::Ambiguous) && k.contains(&EventKind::Reconciled), "{fault}: {k:?}");
        assert!(!k.contains(&EventKind::Lost), "{fault}: {k:?}");
    }
}

/// A caller that stops waiting (a dropped future: what an asyncio cancel, an `AbortSignal` or a cancelled
/// coroutine does through the bindings) never abandons a rotation half way: it runs on to its commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_caller_never_abandons_a_rotation() {
    let w = world(SandboxConfig::default()).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let m = w.manager(store.clone(), "a");
    let (id, first) = w.created(&m, 114).await;
    admin(&w.sb, "/_sandbox/faults", json!({"path": "/api/v1/partner/renew", "kind": "delay", "ms": 600})).await;
    // The caller gives up while the renew request is in flight.
    let gave_up = tokio::time::timeout(Duration::from_millis(150), m.renew_now(&id)).await;
    assert!(gave_up.is_err(), "the renewal should still have been running");
    wait_for_version(&m, &id, 2).await;
    let st = m.status(&id).await.unwrap();
    assert_eq!((st.state, st.health), (CredentialState::Active, Health::Healthy));
    let t = m.token(&id).await.unwrap();
    assert_ne!(t, first);
    assert!(w.is_valid(&t).await, "the persisted token is the one the service issued");
    assert_eq!(renew_requests(&w.sb).await, 1);
}

/// The synchronous hot path: `cached_token` serves from memory once `token()` has loaded the record, is
/// `None` before (or for an unknown client) and from the planned renewal time on, when `token()` renews first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_token_is_the_memory_fast_path_until_the_renewal_is_due() {
    let w = world(SandboxConfig::default()).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let m = w.manager(store.clone(), "a");
    assert!(m.cached_token("nobody").is_none());
    let (id, first) = w.created(&m, 115).await;
    assert_eq!(m.cached_token(&id), Some(first.clone()), "save_created caches the token");
    let other = w.manager(store, "b");
    assert!(other.cached_token(&id).is_none(), "not loaded in this instance yet");
    assert_eq!(other.token(&id).await.unwrap(), first);
    assert_eq!(other.cached_token(&id), Some(first.clone()));
    w.clock.advance(2 * HOUR);
    assert!(other.cached_token(&id).is_none(), "due: token() renews first");
    assert!(m.cached_token(&id).is_none());
    let renewed = other.token(&id).await.unwrap();
    assert_ne!(renewed, first);
    assert_eq!(other.cached_token(&id), Some(renewed.clone()));
    // The other instance adopts that renewal instead of serving the token it rotated away.
    assert_eq!(m.token(&id).await.unwrap(), renewed);
    assert_eq!(renew_requests(&w.sb).await, 1);
    assert!(w.is_valid(&renewed).await);
}

/// Two instances serving token() when the renewal falls due never serve the token the other one rotated away
/// (the fleet race a background renewal would lose), and renew once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_never_serves_a_token_rotated_away_when_the_renewal_falls_due() {
    let w = world(SandboxConfig::default()).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let (a, b) = (w.manager(store.clone(), "a"), w.manager(store, "b"));
    let (id, first) = w.created(&a, 116).await;
    assert_eq!(b.token(&id).await.unwrap(), first);
    w.clock.advance(2 * HOUR);
    let mut tasks = Vec::new();
    for m in [a.clone(), b.clone(), a.clone(), b.clone()] {
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            let mut served = Vec::new();
            for _ in 0..50 {
                served.push(m.token(&id).await.unwrap());
            }
            served
        }));
    }
    let mut distinct = Vec::new();
    for t in tasks {
        for token in t.await.unwrap() {
            if !distinct.contains(&token) {
                distinct.push(token);
            }
        }
    }
    assert_eq!(renew_requests(&w.sb).await, 1, "one renewal for the fleet");
    assert_eq!(distinct.len(), 1, "every call after the due time got the new token");
    assert_ne!(distinct[0], first);
    assert!(w.is_valid(&distinct[0]).await);
}

/// A real store behind a switch that takes it down (fault injection: an outage of the database).
struct Outage {
    inner: MemoryStore,
    down: std::sync::atomic::AtomicBool,
}

impl Outage {
    fn check(&self) -> Result<(), confirma::store::StoreError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(confirma::store::StoreError::Unavailable("connection refused".into()));
        }
        Ok(())
    }
}

impl CredentialStore for Outage {
    fn load<'a>(
        &'a self,
        key: &'a CredentialKey,
    ) -> confirma::store::StoreFuture<'a, Option<confirma::store::CredentialRecord>> {
        Box::pin(async move {
            self.check()?;
            self.inner.load(key).await
        })
    }
    fn insert<'a>(
        &'a self,
        r: &'a confirma::store::CredentialRecord,
        e: &'a [confirma::store::CredentialEvent],
    ) -> confirma::store::StoreFuture<'a, bool> {
        Box::pin(async move {
            self.check()?;
            self.inner.insert(r, e).await
        })
    }
    fn compare_and_swap<'a>(
        &'a self,
        rev: u64,
        r: &'a confirma::store::CredentialRecord,
        e: &'a [confirma::store::CredentialEvent],
    ) -> confirma::store::StoreFuture<'a, bool> {
        Box::pin(async move {
            self.check()?;
            self.inner.compare_and_swap(rev, r, e).await
        })
    }
    fn delete<'a>(
        &'a self,
        k: &'a CredentialKey,
        rev: u64,
        e: &'a [confirma::store::CredentialEvent],
    ) -> confirma::store::StoreFuture<'a, bool> {
        Box::pin(async move {
            self.check()?;
            self.inner.delete(k, rev, e).await
        })
    }
    fn list<'a>(
        &'a self,
        env: Option<&'a str>,
    ) -> confirma::store::StoreFuture<'a, Vec<confirma::store::CredentialRecord>> {
        Box::pin(async move {
            self.check()?;
            self.inner.list(env).await
        })
    }
    fn events<'a>(
        &'a self,
        k: Option<&'a CredentialKey>,
        after: u64,
        limit: u32,
    ) -> confirma::store::StoreFuture<'a, Vec<confirma::store::CredentialEvent>> {
        Box::pin(async move {
            self.check()?;
            self.inner.events(k, after, limit).await
        })
    }
    fn describe(&self) -> String {
        "outage".into()
    }
}

/// The store is unreachable at the planned renewal time: the cached token is served (nobody can rotate it
/// without the store) without retrying the store on every call, and renewal resumes once the store is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_store_at_renewal_time_keeps_the_cached_token_in_service() {
    let w = world(SandboxConfig::default()).await;
    let store = Arc::new(Outage { inner: MemoryStore::new(), down: false.into() });
    let m = w.manager(store.clone(), "a");
    let (id, first) = w.created(&m, 117).await;
    store.down.store(true, std::sync::atomic::Ordering::SeqCst);
    w.clock.advance(2 * HOUR);
    for _ in 0..100 {
        assert_eq!(m.token(&id).await.unwrap(), first, "the cached token is served");
    }
    assert_eq!(m.cached_token(&id), Some(first.clone()), "served from memory until the back-off ends");
    assert_eq!(renew_requests(&w.sb).await, 0, "no renewal without the store");
    assert!(w.is_valid(&first).await);
    // The store is back: after the back-off, the renewal happens.
    store.down.store(false, std::sync::atomic::Ordering::SeqCst);
    w.clock.advance(2 * HOUR);
    let renewed = m.token(&id).await.unwrap();
    assert_ne!(renewed, first);
    assert_eq!(renew_requests(&w.sb).await, 1);
}

/// token()'s future stays small (its slow path is boxed): the bindings that hold it per call (uniffi's
/// futures) pay for its size on every call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_future_is_small() {
    let w = world(SandboxConfig::default()).await;
    let m = w.manager(Arc::new(MemoryStore::new()), "a");
    let size = std::mem::size_of_val(&m.token("x"));
    assert!(size <= 256, "token() future is {size} bytes");
}
