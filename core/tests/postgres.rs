//! The PostgreSQL credential store against a real server. `./scripts/test` runs the Rust tests under
//! `scripts/postgres.sh`, which starts a throwaway cluster and exports `CONFIRMA_TEST_POSTGRES_URL`, with
//! `CONFIRMA_REQUIRE_POSTGRES=1`: there (and whenever `CI` is set) a missing URL FAILS every test here.
//! A plain `cargo test` without a server says on stderr that it skipped them.
//!
//! Each test works in a database of its own, created fresh from the URL's role. Covered: the store
//! conformance suite; many writers with separate pools (stand-ins for hosts) on one record — no lost update,
//! exactly one winner per revision, sequence order = commit order; concurrent migrations; out-of-range values
//! read as `Corrupt`, never a panic; a newer schema refused; an unreachable server is `Unavailable` and no
//! password is ever shown; no advisory lock outlives its transaction; and the TokenManager on PostgreSQL
//! against the in-process sandbox (rotation; two managers with separate pools renewing at once → one renew
//! request; a fleet of managers across rotation windows; an ambiguous renewal and a crash after the claim
//! reconciled).
#![cfg(feature = "postgres")]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use confirma::store::{
    conformance, open_store, CredentialEvent, CredentialKey, CredentialState, CredentialStore, EventKind,
    PostgresStore, RenewalAttempt, Sealer, StoreError, StoreKey,
};
use confirma::{ClientConfig, OnboardingClient, SecretToken, TokenManager};
use confirma_sandbox::{Sandbox, SandboxConfig};
use serde_json::json;

mod common;
use common::*;

const URL_ENV: &str = "CONFIRMA_TEST_POSTGRES_URL";
const HOUR: i64 = 3_600_000;

/// The server's URL; `None` (the test returns) only outside `./scripts/test` and CI.
fn server() -> Option<url::Url> {
    let required = std::env::var_os("CONFIRMA_REQUIRE_POSTGRES").is_some_and(|v| v != "0")
        || std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
    match std::env::var(URL_ENV) {
        Ok(raw) => Some(url::Url::parse(&raw).unwrap_or_else(|_| panic!("{URL_ENV} is not a URL"))),
        Err(_) if required => {
            panic!("{URL_ENV} is not set: these tests need a PostgreSQL server (run them under scripts/postgres.sh)")
        }
        Err(_) => {
            // Straight to stderr (not the harness's captured output), so that the skip is seen.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: no {URL_ENV} (./scripts/test runs these under scripts/postgres.sh)"
            );
            None
        }
    }
}

fn base_url() -> url::Url {
    server().unwrap_or_else(|| panic!("{URL_ENV} is not set"))
}

fn password() -> String {
    base_url().password().unwrap_or_default().to_string()
}

/// A fresh, empty database for one test; returns its URL.
async fn fresh_db(name: &str) -> String {
    let base = base_url();
    let db = format!("confirma_t_{name}_{}", std::process::id());
    let (client, conn) = tokio_postgres::connect(base.as_str(), tokio_postgres::NoTls).await.unwrap();
    let task = tokio::spawn(conn);
    client.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await.unwrap();
    client.batch_execute(&format!("CREATE DATABASE {db}")).await.unwrap();
    drop(client);
    let _ = task.await;
    let mut url = base;
    url.set_path(&format!("/{db}"));
    url.to_string()
}

/// A plain connection to run SQL behind the store's back.
async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_conforms() {
    let Some(_) = server() else { return };
    let url = fresh_db("conformance").await;
    let store = PostgresStore::connect(&url).await.unwrap();
    let report = conformance::run(&store).await.unwrap();
    assert_eq!(report.passed.len(), 9, "{:?}", report.passed);
    // Reconnecting applies no migration twice and sees the same data.
    drop(store);
    let again = PostgresStore::connect(&url).await.unwrap();
    assert_eq!(again.list(None).await.unwrap().len(), 2);
    assert_eq!(again.schema_version().await.unwrap(), PostgresStore::SCHEMA_VERSION);
    // open_store picks it for postgres:// and postgresql:// URLs; never shows the password.
    for u in [url.clone(), url.replacen("postgres://", "postgresql://", 1)] {
        let s = open_store(&u).await.unwrap();
        let d = s.describe();
        assert!(d.starts_with("postgres://confirma@127.0.0.1:") && d.contains("/confirma_t_conformance_"), "{d}");
        assert!(!d.contains(&password()), "{d}");
        assert!(!format!("{again:?}").contains(&password()));
        assert_eq!(s.list(None).await.unwrap().len(), 2);
    }
}

/// Several stores with pools of their own (hosts) × tasks increment one record through compare-and-set:
/// every increment lands exactly once, one winner per revision, and event sequence order is commit order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_writers_on_one_record_lose_no_update() {
    let Some(_) = server() else { return };
    const HOSTS: usize = 6;
    const TASKS: usize = 4;
    const EACH: u64 = 15;
    let url = fresh_db("writers").await;
    let first = PostgresStore::connect(&url).await.unwrap();
    let key = CredentialKey::new("staging", "shared");
    assert!(first.insert(&conformance::sample_record("staging", "shared"), &[]).await.unwrap());
    let losses = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for h in 0..HOSTS {
        let store = Arc::new(PostgresStore::connect_with_pool_size(&url, TASKS).await.unwrap());
        for t in 0..TASKS {
            let (store, key, losses) = (store.clone(), key.clone(), losses.clone());
            handles.push(tokio::spawn(async move {
                let mut done = 0;
                while done < EACH {
                    let current = store.load(&key).await.unwrap().unwrap();
                    let mut next = current.clone();
                    next.revision += 1;
                    next.token_version = next.revision;
                    next.fingerprint = format!("host{h}/task{t}");
                    let ev = CredentialEvent {
                        seq: 0,
                        at: 0,
                        environment: key.environment.clone(),
                        client_id: key.client_id.clone(),
                        kind: EventKind::Validated,
                        token_version: next.revision,
                        fingerprint: next.fingerprint.clone(),
                        attempt_id: None,
                        owner: format!("host{h}/task{t}"),
                        detail: String::new(),
                    };
                    if store.compare_and_swap(current.revision, &next, &[ev]).await.unwrap() {
                        done += 1;
                    } else {
                        losses.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
    }
    let t0 = Instant::now();
    for h in handles {
        h.await.unwrap();
    }
    let total = (HOSTS * TASKS) as u64 * EACH;
    let r = first.load(&key).await.unwrap().unwrap();
    assert_eq!(r.revision, 1 + total, "every increment landed exactly once");
    let events = first.events(Some(&key), 0, 100_000).await.unwrap();
    assert_eq!(events.len() as u64, total, "one event per successful write");
    let versions: Vec<u64> = events.iter().map(|e| e.token_version).collect();
    let expected: Vec<u64> = (2..=1 + total).collect();
    assert_eq!(versions, expected, "one winner per revision, and sequence order is commit order");
    eprintln!(
        "{total} writes by {HOSTS} pools x {TASKS} tasks in {:?}; {} compare-and-sets lost a race",
        t0.elapsed(),
        losses.load(Ordering::Relaxed)
    );
    assert!(losses.load(Ordering::Relaxed) > 0, "the writers never contended: the test proves nothing");
    assert_eq!(advisory_locks(&url).await, 0);
}

/// Writers on different records, and a reader paging through the event log with `after_seq` meanwhile:
/// the reader sees every event exactly once (a sequence number is never committed behind one already read).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_paging_the_event_log_never_skips_an_event() {
    let Some(_) = server() else { return };
    const WRITERS: usize = 8;
    const EACH: u64 = 30;
    let url = fresh_db("paging").await;
    let reader_store = PostgresStore::connect(&url).await.unwrap();
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = PostgresStore::connect_with_pool_size(&url, 1).await.unwrap();
        writers.push(tokio::spawn(async move {
            let mut r = conformance::sample_record("staging", &format!("client-{w}"));
            assert!(store.insert(&r, &[]).await.unwrap());
            for _ in 0..EACH {
                let mut next = r.clone();
                next.revision += 1;
                let ev = CredentialEvent {
                    seq: 0,
                    at: 0,
                    environment: next.environment.clone(),
                    client_id: next.client_id.clone(),
                    kind: EventKind::Validated,
                    token_version: next.revision,
                    fingerprint: String::new(),
                    attempt_id: None,
                    owner: format!("w{w}"),
                    detail: String::new(),
                };
                // Three events per write: the widest window between a sequence number and its commit.
                let evs: Vec<CredentialEvent> = (0..3).map(|i| CredentialEvent { at: i, ..ev.clone() }).collect();
                assert!(store.compare_and_swap(r.revision, &next, &evs).await.unwrap());
                r = next;
            }
        }));
    }
    let total = WRITERS as u64 * EACH * 3;
    let mut seen: Vec<(String, u64, i64)> = Vec::new();
    let mut after = 0;
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        // Checked before the read: once every writer is done, one more read gets the rest.
        let writers_done = writers.iter().all(|w| w.is_finished());
        let page = reader_store.events(None, after, 7).await.unwrap();
        for e in &page {
            after = e.seq;
            seen.push((e.client_id.clone(), e.token_version, e.at));
        }
        if page.is_empty() {
            if writers_done {
                break;
            }
            assert!(Instant::now() < until, "the writers do not finish");
            tokio::task::yield_now().await;
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "an event was read twice");
    assert_eq!(seen.len() as u64, total, "the paging reader skipped {} events", total - seen.len() as u64);
}

/// The same property, deterministically: another instance is paused between appending its event (its
/// sequence number drawn) and its commit. This store's write of an event waits for it, so it cannot commit a
/// later sequence number first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_never_commits_ahead_of_an_earlier_sequence_number() {
    let Some(_) = server() else { return };
    // The store's transaction-scoped lock for appending events (`confirma` + 2), as another SDK takes it.
    const EVENTS_LOCK: i64 = 0x636f_6e66_6972_6d02;
    let url = fresh_db("seqorder").await;
    let store = Arc::new(PostgresStore::connect(&url).await.unwrap());
    let r = conformance::sample_record("staging", "mine");
    assert!(store.insert(&r, &[]).await.unwrap());
    let mut other = raw(&url).await;
    let tx = other.transaction().await.unwrap();
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&EVENTS_LOCK]).await.unwrap();
    tx.execute(
        "INSERT INTO confirma_credential_events (at, environment, client_id, kind, token_version, fingerprint, \
         owner, detail) VALUES (1, 'staging', 'theirs', 'validated', 1, '', 'other', '')",
        &[],
    )
    .await
    .unwrap();
    let mut next = r.clone();
    next.revision = 2;
    let ev = CredentialEvent {
        seq: 0,
        at: 2,
        environment: "staging".into(),
        client_id: "mine".into(),
        kind: EventKind::Validated,
        token_version: 1,
        fingerprint: String::new(),
        attempt_id: None,
        owner: "me".into(),
        detail: String::new(),
    };
    let write = {
        let (store, next) = (store.clone(), next.clone());
        tokio::spawn(async move { store.compare_and_swap(1, &next, &[ev]).await })
    };
    // While the other instance has not committed, this write does not complete, and nothing is readable.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!write.is_finished(), "the write committed ahead of an earlier sequence number");
    assert!(store.events(None, 0, 10).await.unwrap().is_empty());
    tx.commit().await.unwrap();
    assert!(write.await.unwrap().unwrap());
    let events = store.events(None, 0, 10).await.unwrap();
    let order: Vec<&str> = events.iter().map(|e| e.client_id.as_str()).collect();
    assert_eq!(order, ["theirs", "mine"]);
}

/// The server drops every connection of the pool (a restart, a failover, an idle timeout): the store
/// replaces them without surfacing an error (a read is repeated once; a write only when BEGIN failed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_recovers_when_the_server_drops_its_connections() {
    let Some(_) = server() else { return };
    let url = fresh_db("dropped").await;
    let store = PostgresStore::connect_with_pool_size(&url, 3).await.unwrap();
    let key = CredentialKey::new("staging", "c");
    assert!(store.insert(&conformance::sample_record("staging", "c"), &[]).await.unwrap());
    // Fill the pool with open connections.
    let loads = (0..3).map(|_| store.load(&key));
    assert!(futures_util::future::join_all(loads).await.into_iter().all(|r| r.unwrap().is_some()));
    let db = raw(&url).await;
    let killed: i64 = db
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(killed >= 1, "no pooled connection to drop");
    // The next write and the next reads find dead connections in the pool: each is replaced, once.
    let mut results = Vec::new();
    let r = store.load(&key).await;
    results.push(r.is_ok());
    let current = match r {
        Ok(r) => r.unwrap(),
        Err(e) => {
            assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
            store.load(&key).await.unwrap().unwrap()
        }
    };
    let mut next = current.clone();
    next.revision += 1;
    let w = store.compare_and_swap(current.revision, &next, &[]).await;
    results.push(w.is_ok());
    if let Err(e) = &w {
        assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    }
    for _ in 0..3 {
        results.push(store.load(&key).await.is_ok());
    }
    eprintln!("{killed} connections dropped; calls after: {results:?}");
    assert!(results.iter().all(|ok| *ok), "a dropped connection surfaced as an error: {results:?}");
    assert_eq!(store.load(&key).await.unwrap().unwrap().revision, current.revision + 1);
}

/// Real processes as hosts: 4 processes, each with its own pool, increment one record 25 times each
/// through compare-and-set: every increment lands exactly once, with exactly one event.
#[test]
fn many_processes_share_one_postgres_database() {
    const PROCESSES: u64 = 4;
    const EACH: u64 = 25;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    if let Ok(url) = std::env::var("CONFIRMA_PG_CHILD") {
        rt.block_on(child_increments(&url, EACH));
        return;
    }
    let Some(_) = server() else { return };
    let url = rt.block_on(fresh_db("processes"));
    let key = CredentialKey::new("staging", "shared");
    rt.block_on(async {
        let store = PostgresStore::connect(&url).await.unwrap();
        assert!(store.insert(&conformance::sample_record("staging", "shared"), &[]).await.unwrap());
    });
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["--exact", "many_processes_share_one_postgres_database", "--test-threads", "1"])
                .env("CONFIRMA_PG_CHILD", &url)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a child failed");
    }
    rt.block_on(async {
        let store = PostgresStore::connect(&url).await.unwrap();
        let r = store.load(&key).await.unwrap().unwrap();
        assert_eq!(r.revision, 1 + PROCESSES * EACH, "every increment landed exactly once");
        let events = store.events(Some(&key), 0, 10_000).await.unwrap();
        let versions: Vec<u64> = events.iter().map(|e| e.token_version).collect();
        assert_eq!(versions, (2..=1 + PROCESSES * EACH).collect::<Vec<_>>(), "one event per revision, in order");
        let owners: BTreeSet<&str> = events.iter().map(|e| e.owner.as_str()).collect();
        assert_eq!(owners.len() as u64, PROCESSES, "every process wrote");
    });
}

async fn child_increments(url: &str, each: u64) {
    let store = PostgresStore::connect_with_pool_size(url, 2).await.unwrap();
    cas_increments(&store, each).await;
}

/// Least privilege: once the database is migrated, an application role with only SELECT/INSERT/UPDATE
/// (no CREATE on the schema) connects, reads and writes; connecting runs no DDL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_role_without_ddl_rights_connects_to_a_migrated_database() {
    let Some(_) = server() else { return };
    let url = fresh_db("leastpriv").await;
    drop(PostgresStore::connect(&url).await.unwrap()); // migrated by the owner
    let role = format!("confirma_app_{}", std::process::id());
    let db = raw(&url).await;
    db.batch_execute(&format!(
        "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN PASSWORD 'app-pw-123'; \
         REVOKE CREATE ON SCHEMA public FROM PUBLIC; \
         GRANT SELECT, INSERT, UPDATE ON confirma_credentials, confirma_credential_events, confirma_schema_version \
         TO {role}; GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}"
    ))
    .await
    .unwrap();
    let mut app = url::Url::parse(&url).unwrap();
    app.set_username(&role).unwrap();
    app.set_password(Some("app-pw-123")).unwrap();
    let store = PostgresStore::connect(app.as_str()).await.unwrap();
    let r = conformance::sample_record("staging", "c");
    assert!(store.insert(&r, &[]).await.unwrap());
    let mut next = r.clone();
    next.revision = 2;
    assert!(store.compare_and_swap(1, &next, &[]).await.unwrap());
    // It really cannot run DDL.
    let denied = raw(app.as_str()).await.batch_execute("CREATE TABLE nope (x INT)").await;
    assert!(denied.is_err());
    // (The role goes with the throwaway cluster.)
}

async fn advisory_locks(url: &str) -> i64 {
    raw(url)
        .await
        .query_one(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
             WHERE l.locktype = 'advisory' AND d.datname = current_database()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_connects_migrate_once() {
    let Some(_) = server() else { return };
    let url = fresh_db("migrate").await;
    let connects = (0..8).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { PostgresStore::connect_with_pool_size(&url, 1).await })
    });
    for c in futures_util::future::join_all(connects).await {
        let store = c.unwrap().unwrap();
        assert_eq!(store.schema_version().await.unwrap(), PostgresStore::SCHEMA_VERSION);
    }
    let db = raw(&url).await;
    let rows: i64 = db.query_one("SELECT count(*) FROM confirma_schema_version", &[]).await.unwrap().get(0);
    assert_eq!(rows, 1, "migration 1 applied once");
    drop(PostgresStore::connect(&url).await.unwrap());
    let rows: i64 = db.query_one("SELECT count(*) FROM confirma_schema_version", &[]).await.unwrap().get(0);
    assert_eq!(rows, 1, "and not again");
    assert_eq!(advisory_locks(&url).await, 0, "no advisory lock outlives its transaction");

    // A database migrated by a newer SDK is refused, clearly.
    db.batch_execute("INSERT INTO confirma_schema_version (version) VALUES (99)").await.unwrap();
    let err = PostgresStore::connect(&url).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)) && err.to_string().contains("newer than this SDK"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_values_are_corrupt_not_panics() {
    let Some(_) = server() else { return };
    let url = fresh_db("corrupt").await;
    let store = PostgresStore::connect(&url).await.unwrap();
    let key = CredentialKey::new("staging", "c");
    let r = conformance::sample_record("staging", "c");
    let ev = CredentialEvent {
        seq: 0,
        at: 1,
        environment: "staging".into(),
        client_id: "c".into(),
        kind: EventKind::Created,
        token_version: 1,
        fingerprint: "fp".into(),
        attempt_id: None,
        owner: "t".into(),
        detail: String::new(),
    };
    assert!(store.insert(&r, &[ev]).await.unwrap());
    let db = raw(&url).await;
    for (set, what) in [
        ("revision = -1", "revision"),
        ("token_version = -5", "token_version"),
        ("fence = -1", "fence"),
        ("attempt_id = 'a', attempt_fence = -2", "attempt_fence"),
        ("consecutive_failures = 4294967296", "consecutive_failures"),
        ("consecutive_failures = -1", "consecutive_failures"),
        ("state = 'exploded'", "state"),
    ] {
        db.batch_execute(&format!("UPDATE confirma_credentials SET {set}")).await.unwrap();
        let err = store.load(&key).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)) && err.to_string().contains(what), "{set}: {err}");
        assert!(matches!(store.list(None).await.unwrap_err(), StoreError::Corrupt(_)));
        // Put it back.
        db.batch_execute(
            "UPDATE confirma_credentials SET revision = 1, token_version = 1, fence = 0, attempt_id = NULL, \
             attempt_fence = NULL, consecutive_failures = 0, state = 'active'",
        )
        .await
        .unwrap();
        assert_eq!(store.load(&key).await.unwrap().as_ref(), Some(&r));
    }
    // A u64 that does not fit a BIGINT is refused before anything is written.
    let mut huge = r.clone();
    huge.revision = 2;
    huge.fence = u64::MAX;
    assert!(matches!(store.compare_and_swap(1, &huge, &[]).await.unwrap_err(), StoreError::Configuration(_)));
    assert_eq!(store.load(&key).await.unwrap().unwrap().revision, 1);
    assert!(matches!(store.compare_and_swap(u64::MAX, &r, &[]).await.unwrap_err(), StoreError::Configuration(_)));
    for (set, what) in [("token_version = -1", "token_version"), ("kind = 'nope'", "event kind")] {
        db.batch_execute(&format!("UPDATE confirma_credential_events SET {set}")).await.unwrap();
        let err = store.events(None, 0, 10).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)) && err.to_string().contains(what), "{set}: {err}");
        db.batch_execute("UPDATE confirma_credential_events SET token_version = 1, kind = 'created'").await.unwrap();
    }
    assert_eq!(store.events(None, 0, 10).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_unavailable_and_no_password_is_shown() {
    let Some(_) = server() else { return };
    // A port with nothing listening.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let pw = password();
    let url = format!("postgres://confirma:{pw}@127.0.0.1:{port}/nowhere");
    let t0 = Instant::now();
    let err = PostgresStore::connect(&url).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    eprintln!("nothing listening: {err}");
    assert!(t0.elapsed() < Duration::from_secs(20));
    assert!(!err.to_string().contains(&pw) && err.to_string().contains("127.0.0.1"), "{err}");
    let err = open_store(&url).await.err().unwrap();
    assert!(!err.to_string().contains(&pw));
    // A wrong password: refused by the server, and neither password is in the error.
    let mut wrong = base_url();
    wrong.set_password(Some("not-the-password-42")).unwrap();
    let err = PostgresStore::connect(wrong.as_str()).await.unwrap_err();
    assert!(matches!(err, StoreError::Configuration(_)), "refused credentials are not retryable: {err:?}");
    let msg = format!("{err} {err:?}");
    eprintln!("wrong password: {err}");
    assert!(msg.contains("password authentication failed"), "says why: {msg}");
    assert!(!msg.contains(&pw) && !msg.contains("not-the-password-42"), "{msg}");
    assert!(!confirma::Error::from(err).is_retryable());
    // A database that does not exist: a configuration error too.
    let mut missing = base_url();
    missing.set_path("/no_such_database_here");
    let err = PostgresStore::connect(missing.as_str()).await.unwrap_err();
    assert!(matches!(err, StoreError::Configuration(_)) && err.to_string().contains("does not exist"), "{err:?}");
    // Unreachable is retryable, as the SDK's error.
    let err = PostgresStore::connect(&url).await.unwrap_err();
    assert!(confirma::Error::from(err).is_retryable());
}

// ---------------------------------------------------------------------------------------------------------
// The TokenManager on PostgreSQL, against the in-process sandbox.

struct World {
    sb: Sandbox,
    client: OnboardingClient,
    clock: TestClock,
    sealer: Sealer,
    url: String,
}

async fn world(name: &str, config: SandboxConfig) -> World {
    let sb = Sandbox::start(SandboxConfig { token_ttl: None, ..config }).await.unwrap();
    let client = OnboardingClient::new(ClientConfig::with_base_url(sb.base_url())).unwrap();
    let url = fresh_db(name).await;
    World { sb, client, clock: TestClock::default(), sealer: Sealer::encrypted(StoreKey::generate().unwrap()), url }
}

impl World {
    /// A store with a pool of its own: a stand-in for another host.
    async fn host(&self) -> Arc<dyn CredentialStore> {
        Arc::new(PostgresStore::connect_with_pool_size(&self.url, 4).await.unwrap())
    }

    fn manager(&self, store: Arc<dyn CredentialStore>, owner: &str) -> TokenManager {
        test_manager(&self.client, store, &self.sealer, &self.clock, owner)
    }

    async fn created(&self, m: &TokenManager, seed: u32) -> (String, SecretToken) {
        create_and_save(&self.sb, &self.client, m, seed).await
    }

    async fn is_valid(&self, t: &SecretToken) -> bool {
        self.client.validate_token(t).await.unwrap().is_valid
    }
}

async fn kinds(store: &dyn CredentialStore, key: &CredentialKey) -> Vec<EventKind> {
    store.events(Some(key), 0, 1000).await.unwrap().into_iter().map(|e| e.kind).collect()
}

async fn wait_for_version(m: &TokenManager, client_id: &str, version: u64) {
    let until = Instant::now() + Duration::from_secs(30);
    while m.status(client_id).await.unwrap().token_version < version {
        assert!(Instant::now() < until, "no rotation to version {version}: {:?}", m.status(client_id).await);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manager_rotates_on_postgres_and_the_database_never_holds_a_token() {
    let Some(_) = server() else { return };
    let w = world("mgr_rotate", SandboxConfig::default()).await;
    let store = w.host().await;
    let m = w.manager(store.clone(), "a");
    let (id, first) = w.created(&m, 201).await;
    assert_eq!(m.token(&id).await.unwrap(), first);
    w.clock.advance(2 * HOUR);
    // Due: the first call renews, commits, then serves the new token.
    assert_ne!(m.token(&id).await.unwrap(), first, "renewed before it is served");
    wait_for_version(&m, &id, 2).await;
    // Committed in the store first, published in memory right after.
    let until = Instant::now() + Duration::from_secs(30);
    let second = loop {
        let t = m.token(&id).await.unwrap();
        if t != first {
            break t;
        }
        assert!(Instant::now() < until, "the committed token is never served");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(w.is_valid(&second).await && !w.is_valid(&first).await);
    assert_eq!(renew_requests(&w.sb).await, 1);
    let key = CredentialKey::new(m.environment(), &id);
    assert_eq!(kinds(&*store, &key).await, [EventKind::Created, EventKind::RenewStarted, EventKind::Rotated]);
    let rec = store.load(&key).await.unwrap().unwrap();
    assert_eq!(w.sealer.open(&key, &rec.sealed_token).unwrap(), second, "what is served is what is stored");
    // A fresh instance on another pool reads the rotated token.
    let other = w.manager(w.host().await, "b");
    assert_eq!(other.token(&id).await.unwrap(), second);
    // No table holds a token in clear: neither as text nor inside a BYTEA (which dumps as hex).
    let db = raw(&w.url).await;
    for table in ["confirma_credentials", "confirma_credential_events"] {
        let dump: String =
            db.query_one(&format!("SELECT string_agg(t::text, '|') FROM {table} t"), &[]).await.unwrap().get(0);
        if table == "confirma_credentials" {
            assert!(dump.contains("\\x"), "the dump shows BYTEA columns as hex");
        }
        for t in [&first, &second] {
            let head = &t.expose().as_bytes()[..24];
            let hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
            assert!(
                !dump.contains(std::str::from_utf8(head).unwrap()) && !dump.contains(&hex),
                "{table} holds a token"
            );
        }
    }
}

/// Two managers with separate pools (hosts) find the token due at once, three times: one renew request and
/// one winning claim each time, and both end on the new token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_renewing_at_once_send_one_renew_request() {
    let Some(_) = server() else { return };
    let w = world("mgr_two", SandboxConfig::default()).await;
    let a = w.manager(w.host().await, "host-a");
    let b = w.manager(w.host().await, "host-b");
    let (id, first) = w.created(&a, 202).await;
    assert_eq!(b.token(&id).await.unwrap(), first, "b reads a's save");
    let key = CredentialKey::new(a.environment(), &id);
    let mut previous = first;
    for round in 1..=3u64 {
        w.clock.advance(2 * HOUR);
        // Both find the token due at once: one claims and renews, the other waits for and adopts its token;
        // neither serves the token being rotated away.
        let (ta, tb) = tokio::join!(a.token(&id), b.token(&id));
        let (ta, tb) = (ta.unwrap(), tb.unwrap());
        assert_eq!(ta, tb, "round {round}: both serve the new token");
        assert_ne!(ta, previous, "round {round}: never the rotated one");
        wait_for_version(&a, &id, round + 1).await;
        // Both end on the new token (the loser of the claim adopts the winner's).
        let until = Instant::now() + Duration::from_secs(30);
        let newest = loop {
            let (ta, tb) = (a.token(&id).await.unwrap(), b.token(&id).await.unwrap());
            if ta == tb && ta != previous {
                break ta;
            }
            assert!(Instant::now() < until, "the two hosts do not converge in round {round}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(renew_requests(&w.sb).await, round, "one renew for the fleet in round {round}");
        assert_eq!(a.status(&id).await.unwrap().token_version, round + 1);
        let claims = kinds(&**a.store(), &key).await.iter().filter(|k| **k == EventKind::RenewStarted).count();
        assert_eq!(claims as u64, round, "one claim won per round");
        assert!(w.is_valid(&newest).await && !w.is_valid(&previous).await);
        previous = newest;
    }
}

/// A fleet: 4 hosts (pools) × 8 tasks calling token() across 3 rotation windows: exactly one renew
/// request per window, no failed call, everyone ends on the newest token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_on_postgres_renews_once_per_window() {
    let Some(_) = server() else { return };
    let w = world("mgr_fleet", SandboxConfig::default()).await;
    let mut managers = Vec::new();
    for h in 0..4 {
        managers.push(Arc::new(w.manager(w.host().await, &format!("host-{h}"))));
    }
    let (id, _) = w.created(&managers[0], 203).await;
    let failures = Arc::new(AtomicU64::new(0));
    for window in 1..=3u64 {
        w.clock.advance(2 * HOUR);
        let mut tasks = Vec::new();
        for m in &managers {
            for _ in 0..8 {
                let (m, id, failures) = (m.clone(), id.clone(), failures.clone());
                tasks.push(tokio::spawn(async move {
                    let until = Instant::now() + Duration::from_secs(30);
                    loop {
                        if m.token(&id).await.is_err() {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                        if m.status(&id).await.map(|s| s.token_version).unwrap_or(0) > window || Instant::now() > until
                        {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }));
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(renew_requests(&w.sb).await, window, "one renew request in window {window}");
    }
    assert_eq!(failures.load(Ordering::Relaxed), 0, "no failed token() call");
    let key = CredentialKey::new(managers[0].environment(), &id);
    let stored = managers[0].store().load(&key).await.unwrap().unwrap();
    assert_eq!(stored.token_version, 4);
    let newest = w.sealer.open(&key, &stored.sealed_token).unwrap();
    assert!(w.is_valid(&newest).await);
    // Every host ends on the newest token (each publishes it right after reading it from the store).
    let until = Instant::now() + Duration::from_secs(30);
    for m in &managers {
        while m.token(&id).await.unwrap() != newest {
            assert!(Instant::now() < until, "{} never serves the newest token", m.owner());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A renewal whose answer is lost (`commit_then_drop`) with a service that hands out the same new token
/// again within its grace period: reconciled on PostgreSQL, nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ambiguous_renewal_is_reconciled_on_postgres() {
    let Some(_) = server() else { return };
    let w =
        world("mgr_ambiguous", SandboxConfig { grace_period: Duration::from_secs(300), ..Default::default() }).await;
    admin(&w.sb, "/_sandbox/config", json!({"renewReplaced": "same_token"})).await;
    let store = w.host().await;
    let m = w.manager(store.clone(), "a");
    let (id, first) = w.created(&m, 204).await;
    admin(&w.sb, "/_sandbox/faults", json!({"path": "/api/v1/partner/renew", "kind": "commit_then_drop"})).await;
    let st = m.renew_now(&id).await.unwrap();
    assert_eq!((st.state, st.token_version), (CredentialState::Active, 2));
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

/// A host killed after its claim: the lease expires, another host reconciles and renews once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_claim_is_reconciled_by_another_host() {
    let Some(_) = server() else { return };
    let w = world("mgr_crash", SandboxConfig::default()).await;
    let store = w.host().await;
    let m = w.manager(store.clone(), "a");
    let (id, first) = w.created(&m, 205).await;
    let key = CredentialKey::new(m.environment(), &id);
    let r = store.load(&key).await.unwrap().unwrap();
    let mut c = r.clone();
    c.revision += 1;
    c.state = CredentialState::Renewing;
    c.fence += 1;
    c.attempt = Some(RenewalAttempt {
        id: "dead".into(),
        owner: "killed".into(),
        lease_expires_at: w.clock.clock()() + 90_000,
        fence: c.fence,
    });
    assert!(store.compare_and_swap(r.revision, &c, &[]).await.unwrap());
    let m2 = w.manager(w.host().await, "b");
    assert!(tokio::time::timeout(Duration::from_millis(300), m2.token(&id)).await.is_err(), "waits for the lease");
    w.clock.advance(10 * 60_000);
    let t = m2.token(&id).await.unwrap();
    assert_ne!(t, first);
    assert!(w.is_valid(&t).await);
    assert_eq!(renew_requests(&w.sb).await, 1);
    let k = kinds(&*store, &key).await;
    assert!(k.contains(&EventKind::Ambiguous) && k.contains(&EventKind::Reconciled), "{k:?}");
}

/// TLS, verified: database `confirma_tls` of the throwaway cluster accepts TLS connections only, with a
/// certificate from a throwaway CA (`scripts/postgres.sh`, `CONFIRMA_TEST_POSTGRES_CA`). `sslmode=require`
/// with that CA as `sslrootcert` connects (and works: the conformance suite); without the CA the certificate
/// is refused (never accepted unverified, unlike libpq's `require`); a plain connection is turned away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_verified_against_sslrootcert() {
    let Some(mut url) = server() else { return };
    let Ok(ca) = std::env::var("CONFIRMA_TEST_POSTGRES_CA") else {
        assert!(std::env::var_os("CI").is_none(), "no CONFIRMA_TEST_POSTGRES_CA: scripts/postgres.sh found no openssl");
        return;
    };
    url.set_path("/confirma_tls");
    let plain = PostgresStore::connect(url.as_str()).await.unwrap_err();
    assert!(matches!(plain, StoreError::Configuration(_)), "a plain connection is refused: {plain}");

    let mut unverified = url.clone();
    unverified.set_query(Some("sslmode=require"));
    let err = PostgresStore::connect(unverified.as_str()).await.unwrap_err();
    assert!(err.to_string().to_lowercase().contains("certificate"), "an unknown CA is refused: {err}");
    assert!(!err.to_string().contains(&password()), "{err}");

    let mut verified = url.clone();
    verified.query_pairs_mut().append_pair("sslmode", "require").append_pair("sslrootcert", &ca);
    let store = PostgresStore::connect(verified.as_str()).await.unwrap();
    assert!(store.describe().ends_with("(TLS)"), "{}", store.describe());
    conformance::run(&store).await.unwrap();

    // verify-full, and libpq's key=value form, mean the same.
    let kv = format!(
        "host=localhost port={} user={} password={} dbname=confirma_tls sslmode=verify-full sslrootcert={ca}",
        url.port().unwrap(),
        url.username(),
        password()
    );
    let again = PostgresStore::connect(&kv).await.unwrap();
    assert!(again.load(&CredentialKey::new("https://conformance.example/", "nobody")).await.unwrap().is_none());
}
