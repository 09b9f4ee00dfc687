//! Durability of the token lifecycle with real processes, a real SQLite file and a real sandbox over
//! loopback (issue 11, "Tests"):
//!
//! - **kill -9**: a child process renews in a loop (`TokenManager::renew_now`) and is killed with SIGKILL at
//!   random points of the claim, the renew call and the commit, in the three server behaviours (no grace;
//!   grace with "already renewed"; grace with the same new token again). After every kill a fresh manager
//!   runs `reconcile()` then `token()`: the token it serves is one the sandbox accepts, or the record is
//!   `lost` and says so — and `lost` only when the kill fell after the renew request went out (the server may
//!   have rotated) and before the commit. With the idempotent server, never `lost`. Every other time a kill
//!   leaves an abandoned intent, the restart that reconciles it (a fresh process) is killed in turn at a
//!   random step of the reconciliation, before the final check.
//! - **fleet**: 8 processes × 16 tasks call `token()` continuously across several rotation windows on one
//!   store: one renew request per window, no failed call, every process ends on the newest token. Then the
//!   same with the renewing process killed mid-call in one window (server: same new token again within a
//!   grace period): the fleet keeps serving, reconciles after the lease, and recovers the dead process's token.
//!
//! Each test re-invokes this test binary as its child processes (environment variable `CONFIRMA_DURABILITY_CHILD`).
//! The figures are printed (run with `--nocapture` to see them); `CONFIRMA_DURABILITY_KILLS` sets the kills per
//! server mode (default 70, so 210 in all).
#![cfg(feature = "sqlite")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use confirma::store::{
    open_store, CredentialEvent, CredentialKey, CredentialRecord, CredentialState, CredentialStore, EventKind, Sealer,
    SqliteStore, StoreFuture, StoreKey,
};
use confirma::{ClientConfig, ErrorKind, ManagerOptions, OnboardingClient, SecretToken, TokenManager};
use confirma_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};

mod common;
use common::*;

const CHILD_ENV: &str = "CONFIRMA_DURABILITY_CHILD";
const MARK: &str = "@@";

/// The tests spawn many processes: one at a time in this binary.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

// ---------------------------------------------------------------------------------------------------------
// Shared helpers

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("confirma-durability-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn admin(base: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut req = http().request(method, format!("{base}{path}"));
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    let r = req.send().await.unwrap();
    let ok = r.status().is_success();
    let text = r.text().await.unwrap();
    assert!(ok, "{path} refused: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn renew_requests(base: &str) -> u64 {
    requests(base, "/api/v1/partner/renew").await
}

/// The sandbox's count of requests to one endpoint.
async fn requests(base: &str, path: &str) -> u64 {
    let s = admin(base, reqwest::Method::GET, "/_sandbox/state", None).await;
    s["requestsByPath"][path].as_u64().unwrap_or(0)
}

fn client_for(base: &str) -> OnboardingClient {
    OnboardingClient::new(ClientConfig::with_base_url(base)).unwrap()
}

/// Creates a client in the sandbox and saves it through `m`; returns its id.
async fn provision(sb: &Sandbox, m: &TokenManager, seed: u32) -> String {
    let c = m
        .client()
        .create_client(&SecretToken::new(sb.provisioning_token()), &new_client(sb.partner_code(), seed))
        .await
        .unwrap();
    m.save_created(&c).await.unwrap();
    c.client_id.clone()
}

/// A child process and the `@@` lines it prints, as they arrive.
struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    reader: Option<std::thread::JoinHandle<()>>,
    stderr: PathBuf,
}

fn spawn_child(test: &str, role: &str, env: &[(&str, String)], stderr: PathBuf) -> Proc {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, role)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let stdin = child.stdin.take();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // libtest's "test NAME ... " may precede the first marker on its line.
            if let Some(m) = line.find(MARK).and_then(|at| line.get(at + MARK.len()..)) {
                if tx.send(m.to_string()).is_err() {
                    break;
                }
            }
        }
    });
    Proc { child, stdin, lines: rx, reader: Some(reader), stderr }
}

impl Proc {
    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Every line still to come, up to the end of the output (the child must be gone or closing).
    fn drain(&mut self) -> Vec<String> {
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.lines.try_iter().collect()
    }
}

/// Prints a test's figures and keeps them in `target/tmp/durability-NAME.txt` (`target/<triple>/tmp` when a target is set; scripts/test shows them).
fn figures(name: &str, lines: &[String]) {
    let text = lines.join("\n") + "\n";
    print!("{text}");
    let _ = std::fs::write(Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("durability-{name}.txt")), text);
}

/// A child prints one marker line (unbuffered: a marker printed before a kill is always seen).
fn mark(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("{MARK}{text}\n").as_bytes());
    let _ = out.flush();
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set for the child"))
}

fn child_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

// ---------------------------------------------------------------------------------------------------------
// kill -9

/// A store that prints a marker before and after every operation of the store it wraps, so that the parent
/// knows which step of the protocol a kill interrupted. It changes nothing else.
struct Marked(Arc<dyn CredentialStore>);

impl CredentialStore for Marked {
    fn load<'a>(&'a self, key: &'a CredentialKey) -> StoreFuture<'a, Option<CredentialRecord>> {
        Box::pin(async move {
            mark("load>");
            let r = self.0.load(key).await;
            mark("load<");
            r
        })
    }

    fn insert<'a>(&'a self, record: &'a CredentialRecord, events: &'a [CredentialEvent]) -> StoreFuture<'a, bool> {
        self.0.insert(record, events)
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected_revision: u64,
        record: &'a CredentialRecord,
        events: &'a [CredentialEvent],
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let state = record.state.as_str();
            mark(&format!("cas> {state}"));
            let r = self.0.compare_and_swap(expected_revision, record, events).await;
            mark(&format!("cas< {state} {}", matches!(r, Ok(true))));
            r
        })
    }

    fn delete<'a>(
        &'a self,
        key: &'a CredentialKey,
        expected_revision: u64,
        events: &'a [CredentialEvent],
    ) -> StoreFuture<'a, bool> {
        self.0.delete(key, expected_revision, events)
    }

    fn list<'a>(&'a self, environment: Option<&'a str>) -> StoreFuture<'a, Vec<CredentialRecord>> {
        self.0.list(environment)
    }

    fn events<'a>(
        &'a self,
        key: Option<&'a CredentialKey>,
        after_seq: u64,
        limit: u32,
    ) -> StoreFuture<'a, Vec<CredentialEvent>> {
        self.0.events(key, after_seq, limit)
    }

    fn describe(&self) -> String {
        self.0.describe()
    }
}

/// The kill -9 child: renews in a loop, printing `iter>` before each renewal and `iter< …` after it.
fn kill_child() {
    child_runtime().block_on(async {
        let store = open_store(&env("DURABILITY_STORE_URL")).await.unwrap();
        let store: Arc<dyn CredentialStore> = Arc::new(Marked(store));
        let sealer = Sealer::encrypted(StoreKey::from_env().unwrap().unwrap());
        let options = ManagerOptions {
            owner: Some(format!("child-{}", std::process::id())),
            lease: Some(Duration::from_secs(90)),
            ..Default::default()
        };
        let m = TokenManager::new(client_for(&env("DURABILITY_BASE_URL")), store, sealer, options).unwrap();
        let id = env("DURABILITY_CLIENT_ID");
        loop {
            mark("iter>");
            match m.renew_now(&id).await {
                Ok(st) => mark(&format!("iter< ok {}", st.token_version)),
                Err(e) => {
                    mark(&format!("iter< error {}", e.kind().code()));
                    std::process::exit(3);
                }
            }
        }
    });
}

/// The restart child: a fresh manager (its clock past the killed child's lease) runs `reconcile()` then
/// `token()`, and is itself killed at a random point of that.
fn restart_child() {
    child_runtime().block_on(async {
        let store = open_store(&env("DURABILITY_STORE_URL")).await.unwrap();
        let store: Arc<dyn CredentialStore> = Arc::new(Marked(store));
        let sealer = Sealer::encrypted(StoreKey::from_env().unwrap().unwrap());
        let offset: i64 = env("DURABILITY_CLOCK_OFFSET_MS").parse().unwrap();
        let options = ManagerOptions {
            owner: Some(format!("restart-{}", std::process::id())),
            lease: Some(Duration::from_secs(90)),
            clock: Some(Arc::new(move || confirma::store::now_ms() + offset)),
            ..Default::default()
        };
        let m = TokenManager::new(client_for(&env("DURABILITY_BASE_URL")), store, sealer, options).unwrap();
        mark("reconcile>");
        let r = m.reconcile().await;
        mark(&format!("reconcile< {}", r.is_ok()));
        let t = m.token(&env("DURABILITY_CLIENT_ID")).await;
        mark(&format!("token< {}", t.map(|_| "ok".to_string()).unwrap_or_else(|e| e.kind().code())));
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Before the first renewal started (process start-up).
    Startup,
    /// From the start of a renewal until its claim (the intent) is durable.
    Claim,
    /// Reported apart: a kill in `Claim` whose intent turned out durable (it died before saying so).
    ClaimDurable,
    /// The claim is durable; the renew request is out (or about to go); no answer processed yet.
    Call,
    /// The answer is in hand: from the first store operation after the call until the commit is durable.
    Commit,
    /// Reported apart: a kill in `Commit` whose commit turned out durable (it died before saying so).
    CommitDurable,
    /// The commit is durable; the next renewal has not started.
    AfterCommit,
}

const TARGETS: [Phase; 3] = [Phase::Claim, Phase::Call, Phase::Commit];

/// Where a kill fell, from the markers the child printed before it died.
fn phase_of(marks: &[String]) -> Phase {
    let Some(start) = marks.iter().rposition(|m| m == "iter>") else { return Phase::Startup };
    let it = marks.get(start + 1..).unwrap_or_default();
    if it.iter().any(|m| m == "cas< active true") {
        return Phase::AfterCommit;
    }
    let Some(claimed) = it.iter().position(|m| m == "cas< renewing true") else { return Phase::Claim };
    let after = it.get(claimed + 1..).unwrap_or_default();
    if after.iter().any(|m| m.starts_with("load>") || m.starts_with("cas>")) {
        Phase::Commit
    } else {
        Phase::Call
    }
}

#[derive(Clone, Copy, Debug)]
struct ServerMode {
    name: &'static str,
    grace: Duration,
    same_token: bool,
}

const MODES: [ServerMode; 3] = [
    ServerMode { name: "no grace", grace: Duration::ZERO, same_token: false },
    ServerMode { name: "grace, renewReplaced=reject", grace: Duration::from_secs(300), same_token: false },
    ServerMode { name: "grace, renewReplaced=same_token", grace: Duration::from_secs(300), same_token: true },
];

#[derive(Debug, Default)]
struct ModeReport {
    kills: BTreeMap<Phase, u32>,
    lost: BTreeMap<Phase, u32>,
    /// Lost, but the old token is served while the service's grace period lasts.
    lost_served_in_grace: u32,
    renewals_completed: u64,
    /// Restarts (reconcile + token in a fresh process) killed in turn: how many, and how many of them had
    /// already sent the reconciliation's own renew request.
    restart_kills: u32,
    restart_kills_after_renew_sent: u32,
    restarts_finished: u32,
    /// Lost because a killed restart's own renew request rotated the token (the first kill alone could not).
    lost_by_killed_restart: u32,
    elapsed: Duration,
}

/// The checker's clock: far enough ahead that a killed child's lease is over (the kill child runs on the
/// system clock, the restart child 10 minutes ahead, the checker 20).
fn checker_manager(base: &str, path: &Path, sealer: &Sealer) -> TokenManager {
    let store: Arc<dyn CredentialStore> = Arc::new(SqliteStore::open(path).unwrap());
    let options = ManagerOptions {
        owner: Some("checker".into()),
        poll_interval: Duration::from_millis(20),
        clock: Some(Arc::new(|| confirma::store::now_ms() + 20 * 60_000)),
        ..Default::default()
    };
    TokenManager::new(client_for(base), store, sealer.clone(), options).unwrap()
}

fn run_mode(rt: &tokio::runtime::Handle, mode: ServerMode, index: u32, kills: u32) -> ModeReport {
    let t0 = Instant::now();
    let sb = rt
        .block_on(Sandbox::start(SandboxConfig {
            token_ttl: None,
            grace_period: mode.grace,
            renew_replaced_same: mode.same_token,
            ..Default::default()
        }))
        .unwrap();
    let base = sb.base_url();
    let dir = temp_dir(&format!("kill-{index}"));
    let path = dir.join("credentials.db");
    let key = StoreKey::generate().unwrap();
    let key_b64 = key.to_base64().to_string();
    let sealer = Sealer::encrypted(key);
    let checker_client = client_for(&base);
    let mut seed = 7_000 + index * 1_000;
    let mut client_id = rt.block_on(provision(&sb, &checker_manager(&base, &path, &sealer), seed));
    let mut report = ModeReport::default();

    for i in 0..kills {
        // Every renewal of this child is delayed by the sandbox (the operation happens after the delay, even
        // when the caller is gone), so that kills land in the call too.
        let delays: Vec<u64> = (0..8).map(|_| fastrand::u64(20..=80)).collect();
        rt.block_on(async {
            admin(&base, reqwest::Method::DELETE, "/_sandbox/faults", None).await;
            let faults: Vec<Value> =
                delays.iter().map(|ms| json!({"path": "/api/v1/partner/renew", "kind": "delay", "ms": ms})).collect();
            admin(&base, reqwest::Method::POST, "/_sandbox/faults", Some(Value::Array(faults))).await;
        });
        let version_at_spawn = rt.block_on(async {
            let store = SqliteStore::open(&path).unwrap();
            store.list(None).await.unwrap().into_iter().find(|r| r.client_id == client_id).unwrap().token_version
        });
        let target = TARGETS[(i as usize) % TARGETS.len()];
        let nth = fastrand::usize(1..=2); // which renewal of this child to interrupt
        let mut p = spawn_child(
            "kill_9_during_renewals_never_serves_a_dead_token",
            "kill",
            &[
                ("DURABILITY_STORE_URL", format!("sqlite:{}", path.display())),
                ("DURABILITY_BASE_URL", base.clone()),
                ("DURABILITY_CLIENT_ID", client_id.clone()),
                (confirma::store::KEY_ENV, key_b64.clone()),
            ],
            dir.join("child-stderr.log"),
        );
        // Wait for the nth start of the target phase, then kill after a random delay within it.
        let mut seen = Vec::new();
        let mut hits = 0;
        let mut claimed = false;
        let deadline = Instant::now() + Duration::from_secs(60);
        let wait = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = match p.lines.recv_timeout(left) {
                Ok(m) => m,
                Err(e) => {
                    let _ = p.child.kill();
                    panic!(
                        "{}: the child stopped or hung ({e:?}) after {seen:?}; stderr: {}",
                        mode.name,
                        p.stderr_text()
                    );
                }
            };
            seen.push(m.clone());
            let hit = match target {
                Phase::Claim => m == "iter>",
                Phase::Call => m == "cas< renewing true",
                _ => claimed && m == "load>",
            };
            if m == "iter>" {
                claimed = false;
            }
            if m == "cas< renewing true" {
                claimed = true;
            }
            if hit {
                claimed = false;
                hits += 1;
                if hits == nth {
                    break match target {
                        Phase::Call => Duration::from_micros(fastrand::u64(0..delays[nth - 1] * 1000)),
                        Phase::Claim => Duration::from_micros(fastrand::u64(0..3_000)),
                        // The commit is short (a load and a compare-and-set): aim early in it.
                        _ => Duration::from_micros(fastrand::u64(0..1_200)),
                    };
                }
            }
        };
        std::thread::sleep(wait);
        p.child.kill().unwrap();
        let status = p.child.wait().unwrap();
        seen.extend(p.drain());
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(
                status.signal(),
                Some(9),
                "{}: the child ended by itself: {seen:?}; {}",
                mode.name,
                p.stderr_text()
            );
        }
        report.renewals_completed += seen.iter().filter(|m| m.starts_with("iter< ok")).count() as u64;
        let phase = phase_of(&seen);

        // Every other time the kill left an abandoned intent, the restart that reconciles it is killed too.
        let abandoned = rt.block_on(async {
            let store = SqliteStore::open(&path).unwrap();
            let r = store.list(None).await.unwrap().into_iter().find(|r| r.client_id == client_id).unwrap();
            r.state == CredentialState::Renewing
        });
        let mut restart_renew_out = false;
        if abandoned && fastrand::bool() {
            // Its own renew request is delayed too, so that kills land in its call.
            let delay = fastrand::u64(20..=60);
            rt.block_on(async {
                admin(&base, reqwest::Method::DELETE, "/_sandbox/faults", None).await;
                let fault = json!({"path": "/api/v1/partner/renew", "kind": "delay", "ms": delay});
                admin(&base, reqwest::Method::POST, "/_sandbox/faults", Some(fault)).await;
            });
            let mut r = spawn_child(
                "kill_9_during_renewals_never_serves_a_dead_token",
                "restart",
                &[
                    ("DURABILITY_STORE_URL", format!("sqlite:{}", path.display())),
                    ("DURABILITY_BASE_URL", base.clone()),
                    ("DURABILITY_CLIENT_ID", client_id.clone()),
                    ("DURABILITY_CLOCK_OFFSET_MS", (10 * 60_000).to_string()),
                    (confirma::store::KEY_ENV, key_b64.clone()),
                ],
                dir.join("restart-stderr.log"),
            );
            // Kill it at a random step of the reconciliation: marking the intent ambiguous, its claim, its call.
            let (at, within) = match fastrand::u32(0..3) {
                0 => ("reconcile>", 3_000),
                1 => ("cas< ambiguous true", 3_000),
                _ => ("cas< renewing true", delay * 1000),
            };
            let mut marks = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                match r.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(m) => {
                        let hit = m == at;
                        marks.push(m);
                        if hit {
                            std::thread::sleep(Duration::from_micros(fastrand::u64(0..within)));
                            break;
                        }
                    }
                    // It finished (or failed: checked below) before reaching that step.
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    Err(e) => panic!("{}: restart child hung ({e:?}): {marks:?} {}", mode.name, r.stderr_text()),
                }
            }
            let _ = r.child.kill();
            let status = r.child.wait().unwrap();
            marks.extend(r.drain());
            {
                use std::os::unix::process::ExitStatusExt;
                if status.signal() == Some(9) {
                    report.restart_kills += 1;
                    // Its reconciliation claimed and may have sent a renew request; no commit followed.
                    let claimed = marks.iter().any(|m| m == "cas< renewing true");
                    let committed = marks.iter().any(|m| m == "cas< active true");
                    restart_renew_out = claimed && !committed;
                    if restart_renew_out {
                        report.restart_kills_after_renew_sent += 1;
                    }
                } else {
                    assert!(status.success(), "{}: restart child failed: {marks:?} {}", mode.name, r.stderr_text());
                    report.restarts_finished += 1;
                }
            }
        }

        // Restart: a fresh manager, reconcile, then token().
        let (lost, committed) = rt.block_on(async {
            admin(&base, reqwest::Method::DELETE, "/_sandbox/faults", None).await;
            let m = checker_manager(&base, &path, &sealer);
            // Did the killed child's last commit become durable before it died?
            let before = m.store().load(&CredentialKey::new(m.environment(), &client_id)).await.unwrap().unwrap();
            let completed = seen.iter().filter(|m| m.starts_with("iter< ok")).count() as u64;
            let committed = match phase {
                // The commit was durable before the child could say so.
                Phase::Commit => {
                    before.state == CredentialState::Active && before.token_version > version_at_spawn + completed
                }
                // The intent was durable before the child could say so.
                Phase::Claim => before.state == CredentialState::Renewing,
                _ => false,
            };
            m.reconcile().await.unwrap();
            let got = m.token(&client_id).await;
            let st = m.status(&client_id).await.unwrap();
            let key = CredentialKey::new(m.environment(), &client_id);
            let record = m.store().load(&key).await.unwrap().unwrap();
            match got {
                Ok(t) => {
                    let valid = checker_client.validate_token(&t).await.unwrap().is_valid;
                    assert!(valid, "{}: a dead token served silently after a kill in {phase:?} ({st:?})", mode.name);
                    if st.state == CredentialState::Lost {
                        // The old token, within the service's grace period; the record says lost.
                        assert!(!mode.grace.is_zero(), "{}: lost yet served without a grace period", mode.name);
                        report.lost_served_in_grace += 1;
                        // Once the grace period is over, a restart serves nothing and says why.
                        let secs = mode.grace.as_secs() + 1;
                        admin(&base, reqwest::Method::POST, "/_sandbox/clock", Some(json!({"advanceSeconds": secs})))
                            .await;
                        let after = checker_manager(&base, &path, &sealer).token(&client_id).await;
                        assert_eq!(
                            after.map(|_| ()).map_err(|e| e.kind()),
                            Err(ErrorKind::CredentialsLost),
                            "{}: the old token of a lost record served after the grace period",
                            mode.name
                        );
                        (true, committed)
                    } else {
                        assert_eq!(st.state, CredentialState::Active, "{}: {st:?}", mode.name);
                        assert_eq!(sealer.open(&key, &record.sealed_token).unwrap(), t, "served = stored");
                        (false, committed)
                    }
                }
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::CredentialsLost, "{}: after a kill in {phase:?}: {e}", mode.name);
                    assert!(e.to_string().contains("support"), "the error says what to do: {e}");
                    assert_eq!(st.state, CredentialState::Lost);
                    (true, committed)
                }
            }
        });
        if phase == Phase::Commit && committed {
            *report.kills.entry(Phase::CommitDurable).or_default() += 1;
        } else if phase == Phase::Claim && committed {
            *report.kills.entry(Phase::ClaimDurable).or_default() += 1;
        } else {
            *report.kills.entry(phase).or_default() += 1;
        }
        if phase == Phase::Commit && !committed && !mode.same_token {
            // The service rotated the token and its answer died with the child: nothing can recover it.
            assert!(lost, "{}: a rotation whose answer was never stored, yet not lost: {seen:?}", mode.name);
        }
        if lost {
            *report.lost.entry(phase).or_default() += 1;
            if restart_renew_out && !matches!(phase, Phase::Call | Phase::Commit) {
                report.lost_by_killed_restart += 1;
            }
            assert!(
                matches!(phase, Phase::Call | Phase::Commit) || restart_renew_out,
                "{}: lost after a kill in {phase:?}, before any renew request could have gone out: {seen:?}",
                mode.name
            );
            assert!(!mode.same_token, "{}: lost with a service that hands the same new token out again", mode.name);
            let events = rt.block_on(async {
                let m = checker_manager(&base, &path, &sealer);
                m.store().events(Some(&CredentialKey::new(m.environment(), &client_id)), 0, 10_000).await.unwrap()
            });
            assert!(events.iter().any(|e| e.kind == EventKind::Lost), "the loss is in the event log");
            // And the service had indeed rotated the stored token: it cannot be renewed any more (a refused
            // renewal changes nothing in the sandbox).
            let stale = rt.block_on(async {
                let m = checker_manager(&base, &path, &sealer);
                let key = CredentialKey::new(m.environment(), &client_id);
                let r = m.store().load(&key).await.unwrap().unwrap();
                let old = sealer.open(&key, &r.sealed_token).unwrap();
                checker_client.renew_token(&old).await
            });
            assert_eq!(
                stale.map(|_| ()).map_err(|e| e.kind()),
                Err(ErrorKind::Authentication),
                "{}: lost although the service had not rotated the stored token",
                mode.name
            );
            // Re-provision (what support would do), and go on.
            seed += 1;
            client_id = rt.block_on(provision(&sb, &checker_manager(&base, &path, &sealer), seed));
        }
    }
    rt.block_on(sb.shutdown());
    let _ = std::fs::remove_dir_all(&dir);
    report.elapsed = t0.elapsed();
    report
}

#[test]
fn kill_9_during_renewals_never_serves_a_dead_token() {
    match std::env::var(CHILD_ENV).as_deref() {
        Ok("kill") => return kill_child(),
        Ok("restart") => return restart_child(),
        _ => {}
    }
    let _serial = serial();
    let kills: u32 = std::env::var("CONFIRMA_DURABILITY_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(70);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let t0 = Instant::now();
    // The three server modes side by side (each its own sandbox and SQLite file).
    let reports: Vec<(ServerMode, ModeReport)> = std::thread::scope(|s| {
        let handles: Vec<_> = MODES
            .iter()
            .enumerate()
            .map(|(i, mode)| {
                let h = rt.handle().clone();
                s.spawn(move || (*mode, run_mode(&h, *mode, i as u32, kills)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut by_phase: BTreeMap<Phase, u32> = BTreeMap::new();
    let mut out = vec![format!(
        "kill -9 during renewals (SQLite, sandbox over loopback): {} kills in {:.1} s",
        kills * 3,
        t0.elapsed().as_secs_f64()
    )];
    for (mode, r) in &reports {
        let lost: u32 = r.lost.values().sum();
        out.push(format!(
            "  {:<32} kills by phase {:?}; lost {lost} (by phase {:?}; old token served in grace {}); {} renewals completed; restarts killed while reconciling {} ({} after their own renew request, {} lost through that; {} restarts finished first); {:.1} s",
            mode.name,
            r.kills,
            r.lost,
            r.lost_served_in_grace,
            r.renewals_completed,
            r.restart_kills,
            r.restart_kills_after_renew_sent,
            r.lost_by_killed_restart,
            r.restarts_finished,
            r.elapsed.as_secs_f64()
        ));
        for (p, n) in &r.kills {
            *by_phase.entry(*p).or_default() += n;
        }
    }
    out.push(format!("  kills by phase, all modes: {by_phase:?}; dead tokens served: 0"));
    figures("kill9", &out);
    // The kills are spread over the three steps of the protocol.
    for p in TARGETS {
        let mut n = by_phase.get(&p).copied().unwrap_or(0);
        let durable = match p {
            Phase::Commit => Phase::CommitDurable,
            Phase::Claim => Phase::ClaimDurable,
            _ => p,
        };
        if durable != p {
            n += by_phase.get(&durable).copied().unwrap_or(0);
        }
        assert!(n >= kills / 6, "too few kills in {p:?}: {by_phase:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------
// fleet

const FLEET_PROCESSES: usize = 8;
const FLEET_TASKS: usize = 16;
const FLEET_WINDOWS: u64 = 4;
/// The sandbox's token lifetime; the managers renew at about two thirds of it (± 10 %).
const FLEET_TTL: Duration = Duration::from_secs(3 * 3600);
/// How far each window moves the clocks: past every jittered renewal time, short of the expiry.
const FLEET_STEP_MS: i64 = 150 * 60_000;

/// A fleet process: `FLEET_TASKS` tasks call `token()` continuously. Its clock is the system clock plus an
/// offset the parent sends on stdin (`offset MS` lines; end of input = stop). Every 20 ms it prints the
/// fingerprint of the token it serves; at the end, the final token's fingerprint and whether the service
/// accepts it, and the counts of calls and failures.
fn fleet_child() {
    let offset = Arc::new(AtomicI64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    {
        let (offset, stop) = (offset.clone(), stop.clone());
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if let Some(v) = line.strip_prefix("offset ").and_then(|v| v.trim().parse().ok()) {
                    offset.store(v, Ordering::SeqCst);
                }
            }
            stop.store(true, Ordering::SeqCst);
        });
    }
    child_runtime().block_on(async {
        let store = open_store(&env("DURABILITY_STORE_URL")).await.unwrap();
        let sealer = Sealer::encrypted(StoreKey::from_env().unwrap().unwrap());
        let clock_offset = offset.clone();
        let options = ManagerOptions {
            owner: Some(format!("fleet-{}", std::process::id())),
            poll_interval: Duration::from_millis(20),
            clock: Some(Arc::new(move || confirma::store::now_ms() + clock_offset.load(Ordering::SeqCst))),
            ..Default::default()
        };
        let client = client_for(&env("DURABILITY_BASE_URL"));
        let m = TokenManager::new(client.clone(), store, sealer.clone(), options).unwrap();
        let id = env("DURABILITY_CLIENT_ID");
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let first_error: Arc<Mutex<Option<String>>> = Arc::default();
        let count =
            |r: &confirma::Result<SecretToken>, ok: &AtomicU64, failed: &AtomicU64, first: &Mutex<Option<String>>| {
                match r {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        first.lock().unwrap().get_or_insert_with(|| format!("{}: {e}", e.kind().code()));
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            };
        let tasks: Vec<_> = (0..FLEET_TASKS)
            .map(|_| {
                let (m, id, stop) = (m.clone(), id.clone(), stop.clone());
                let (ok, failed, first) = (ok.clone(), failed.clone(), first_error.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        for _ in 0..64 {
                            let r = m.token(&id).await;
                            count(&r, &ok, &failed, &first);
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                })
            })
            .collect();
        while !stop.load(Ordering::SeqCst) {
            let r = m.token(&id).await;
            if let Ok(t) = &r {
                mark(&format!("fp {}", sealer.fingerprint(t)));
            }
            count(&r, &ok, &failed, &first_error);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        let last = m.token(&id).await.unwrap();
        let valid = client.validate_token(&last).await.unwrap().is_valid;
        let first = first_error.lock().unwrap().clone().unwrap_or_default();
        mark(&format!(
            "done {} {valid} {} {} {first}",
            sealer.fingerprint(&last),
            ok.load(Ordering::SeqCst),
            failed.load(Ordering::SeqCst)
        ));
    });
}

#[derive(Debug)]
struct FleetReport {
    calls: u64,
    renews_per_window: Vec<u64>,
    /// Start-up validations of the whole fleet (rate-limited through the store's `last_validated_at`).
    validations: u64,
    window_seconds: Vec<f64>,
    elapsed: Duration,
}

/// The fleet on the store at `store_url` (created if needed, `sqlite:PATH` or `postgres://…`); `test` is the
/// calling test's name (the children re-enter through it).
///
/// With `crash_window`, that window's renewing process is killed (SIGKILL) while its renew request is in
/// flight (delayed by the sandbox, which completes it after the caller died), on a server that hands the same
/// new token out again within a grace period: the rest of the fleet keeps serving the current token, waits
/// out the dead process's lease, reconciles, and recovers the very token the dead process never stored.
fn fleet_on(test: &str, store_url: &str, dir: &Path, crash_window: Option<u64>) -> FleetReport {
    let t0 = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let sb = rt
        .block_on(Sandbox::start(SandboxConfig {
            token_ttl: Some(FLEET_TTL),
            grace_period: if crash_window.is_some() { Duration::from_secs(300) } else { Duration::ZERO },
            renew_replaced_same: crash_window.is_some(),
            ..Default::default()
        }))
        .unwrap();
    let base = sb.base_url();
    let key = StoreKey::generate().unwrap();
    let key_b64 = key.to_base64().to_string();
    let sealer = Sealer::encrypted(key);
    let offset = Arc::new(AtomicI64::new(0));
    let m = {
        let offset = offset.clone();
        let store = rt.block_on(open_store(store_url)).unwrap();
        let options = ManagerOptions {
            owner: Some("fleet-parent".into()),
            clock: Some(Arc::new(move || confirma::store::now_ms() + offset.load(Ordering::SeqCst))),
            ..Default::default()
        };
        TokenManager::new(client_for(&base), store, sealer.clone(), options).unwrap()
    };
    let client_id = rt.block_on(provision(&sb, &m, 60_000 + std::process::id() % 10_000));
    let record = |rt: &tokio::runtime::Runtime| {
        rt.block_on(m.store().load(&CredentialKey::new(m.environment(), &client_id))).unwrap().unwrap()
    };

    let mut procs: Vec<Proc> = (0..FLEET_PROCESSES)
        .map(|i| {
            spawn_child(
                test,
                "fleet",
                &[
                    ("DURABILITY_STORE_URL", store_url.to_string()),
                    ("DURABILITY_BASE_URL", base.clone()),
                    ("DURABILITY_CLIENT_ID", client_id.clone()),
                    (confirma::store::KEY_ENV, key_b64.clone()),
                ],
                dir.join(format!("fleet-{i}-stderr.log")),
            )
        })
        .collect();
    let mut killed: Option<usize> = None;
    let mut latest: Vec<Option<String>> = vec![None; FLEET_PROCESSES];
    let mut done: Vec<Option<String>> = vec![None; FLEET_PROCESSES];
    let pump = |procs: &mut [Proc], latest: &mut [Option<String>], done: &mut [Option<String>]| {
        for (i, p) in procs.iter_mut().enumerate() {
            while let Ok(line) = p.lines.try_recv() {
                if let Some(fp) = line.strip_prefix("fp ") {
                    latest[i] = Some(fp.to_string());
                } else if let Some(d) = line.strip_prefix("done ") {
                    done[i] = Some(d.to_string());
                }
            }
        }
    };
    // Every process serves the same token, the newest stored; waits for it with a deadline.
    let converge = |procs: &mut [Proc],
                    latest: &mut [Option<String>],
                    done: &mut [Option<String>],
                    killed: Option<usize>,
                    what: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            pump(procs, latest, done);
            let r = record(&rt);
            let all = latest
                .iter()
                .enumerate()
                .all(|(i, f)| Some(i) == killed || f.as_deref() == Some(r.fingerprint.as_str()));
            if r.state == CredentialState::Active && all {
                return r;
            }
            if Instant::now() > deadline {
                for p in procs.iter_mut() {
                    let _ = p.child.kill();
                }
                let errs: Vec<String> = procs.iter().map(|p| p.stderr_text()).collect();
                panic!(
                    "{what}: the fleet did not converge: record {:?} v{}, processes {latest:?}; stderr {errs:?}",
                    r.state, r.token_version
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let first = converge(&mut procs, &mut latest, &mut done, None, "start");
    assert_eq!(first.token_version, 1);
    let mut report = FleetReport {
        calls: 0,
        renews_per_window: Vec::new(),
        validations: 0,
        window_seconds: Vec::new(),
        elapsed: Duration::ZERO,
    };
    // The sandbox's clock and every manager's clock move together.
    let advance = |procs: &mut [Proc], killed: Option<usize>, ms: i64| {
        rt.block_on(admin(&base, reqwest::Method::POST, "/_sandbox/clock", Some(json!({"advanceSeconds": ms / 1000}))));
        let now_offset = offset.fetch_add(ms, Ordering::SeqCst) + ms;
        for (i, p) in procs.iter_mut().enumerate() {
            if Some(i) != killed {
                let stdin = p.stdin.as_mut().unwrap();
                writeln!(stdin, "offset {now_offset}").unwrap();
                stdin.flush().unwrap();
            }
        }
    };
    let live_tokens =
        || rt.block_on(admin(&base, reqwest::Method::GET, "/_sandbox/state", None))["liveTokens"].as_u64();
    let mut expected_renews = 0;
    let mut crash_live = None;
    for w in 1..=FLEET_WINDOWS {
        let tw = Instant::now();
        expected_renews += 1;
        if crash_window == Some(w) {
            // The renewal of this window is answered after 2 s, and its process dies meanwhile.
            let fault = json!({"path": "/api/v1/partner/renew", "kind": "delay", "ms": 2000});
            rt.block_on(admin(&base, reqwest::Method::POST, "/_sandbox/faults", Some(fault)));
            advance(&mut procs, killed, FLEET_STEP_MS);
            let live_before = live_tokens();
            let deadline = Instant::now() + Duration::from_secs(60);
            let holder = loop {
                let r = record(&rt);
                if let (CredentialState::Renewing, Some(a)) = (r.state, r.attempt.as_ref()) {
                    break a.owner.clone();
                }
                assert!(Instant::now() < deadline, "window {w}: nobody claimed the renewal");
                std::thread::sleep(Duration::from_millis(2));
            };
            // Once its request has reached the service (counted on arrival, answered 2 s later): kill it.
            while rt.block_on(renew_requests(&base)) < expected_renews {
                assert!(Instant::now() < deadline, "window {w}: the renew request never arrived");
                std::thread::sleep(Duration::from_millis(2));
            }
            let pid: u32 = holder.strip_prefix("fleet-").and_then(|p| p.parse().ok()).unwrap();
            let i = procs.iter().position(|p| p.child.id() == pid).unwrap();
            procs[i].child.kill().unwrap();
            procs[i].child.wait().unwrap();
            killed = Some(i);
            // The service completes the rotation all the same; its answer went nowhere.
            let deadline = Instant::now() + Duration::from_secs(60);
            while live_tokens() == live_before {
                assert!(Instant::now() < deadline, "window {w}: the delayed rotation never landed");
                std::thread::sleep(Duration::from_millis(10));
            }
            crash_live = live_tokens();
            // The rest of the fleet waits out the dead process's lease (moved past with the clocks), then
            // reconciles: renewing the old token again hands out the same new token.
            advance(&mut procs, killed, 2 * 60_000);
            expected_renews += 1;
        } else {
            advance(&mut procs, killed, FLEET_STEP_MS);
        }
        let r = {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let r = converge(&mut procs, &mut latest, &mut done, killed, &format!("window {w}"));
                if r.token_version == 1 + w {
                    break r;
                }
                assert!(Instant::now() < deadline, "window {w}: no rotation (version {})", r.token_version);
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        assert_eq!(r.token_version, 1 + w);
        report.window_seconds.push(tw.elapsed().as_secs_f64());
        let renews = rt.block_on(renew_requests(&base));
        report.renews_per_window.push(renews - report.renews_per_window.iter().sum::<u64>());
        assert_eq!(renews, expected_renews, "window {w}: one renew request per window for the whole fleet");
        if crash_window == Some(w) {
            let k = rt.block_on(m.store().events(Some(&r.key()), 0, 100_000)).unwrap();
            let kinds: Vec<EventKind> = k.iter().map(|e| e.kind).collect();
            assert!(kinds.contains(&EventKind::Ambiguous) && kinds.contains(&EventKind::Reconciled), "{kinds:?}");
            assert!(!kinds.contains(&EventKind::Lost), "{kinds:?}");
            // No third token: the fleet serves the one issued to the dead process.
            assert_eq!(live_tokens(), crash_live, "the reconciliation recovered the dead process's token");
        }
    }
    // Stop: end of input. Each process reports its last token, checked against the service.
    for p in procs.iter_mut() {
        p.stdin = None;
    }
    let last = record(&rt);
    for (i, p) in procs.iter_mut().enumerate() {
        if Some(i) == killed {
            continue;
        }
        let status = p.child.wait().unwrap();
        let lines = p.drain();
        for line in lines {
            if let Some(d) = line.strip_prefix("done ") {
                done[i] = Some(d.to_string());
            }
        }
        assert!(status.success(), "fleet process {i} failed: {}", p.stderr_text());
        let d = done[i].clone().unwrap_or_else(|| panic!("fleet process {i} did not report"));
        let mut f = d.splitn(5, ' ');
        let (fp, valid, ok, failed) = (f.next(), f.next(), f.next(), f.next());
        let first_error = f.next().unwrap_or_default();
        assert_eq!(fp, Some(last.fingerprint.as_str()), "process {i} ends on the newest token");
        assert_eq!(valid, Some("true"), "process {i}'s token is accepted by the service");
        assert_eq!(failed, Some("0"), "process {i}: failed token() calls ({first_error})");
        report.calls += ok.and_then(|v| v.parse::<u64>().ok()).unwrap();
    }
    assert_eq!(last.token_version, 1 + FLEET_WINDOWS);
    assert_eq!(rt.block_on(renew_requests(&base)), expected_renews, "no late renewals");
    // Each process validates its final token once; the rest are start-up validations (and, after a
    // crash, the reconciliation's check of the old token).
    let validations = rt.block_on(requests(&base, "/api/v1/partner/validate"));
    let live = (FLEET_PROCESSES - usize::from(killed.is_some())) as u64;
    report.validations = validations.saturating_sub(live);
    let events = rt.block_on(m.store().events(Some(&last.key()), 0, 100_000)).unwrap();
    let rotated = events.iter().filter(|e| matches!(e.kind, EventKind::Rotated | EventKind::Reconciled)).count();
    assert_eq!(rotated as u64, FLEET_WINDOWS, "one new token per window in the event log");
    drop(m);
    rt.block_on(sb.shutdown());
    report.elapsed = t0.elapsed();
    report
}

fn print_fleet(name: &str, store: &str, r: &FleetReport) {
    let line = format!(
        "fleet on {store}: {FLEET_PROCESSES} processes × {FLEET_TASKS} tasks, {FLEET_WINDOWS} rotation windows: {} token() calls, 0 failed; renew requests per window {:?}; {} validate requests besides the final checks (start-up, reconciliation); window convergence {:?} s; every process ended on the newest token (valid); {:.1} s",
        r.calls,
        r.renews_per_window,
        r.validations,
        r.window_seconds.iter().map(|s| (s * 100.0).round() / 100.0).collect::<Vec<_>>(),
        r.elapsed.as_secs_f64()
    );
    figures(name, &[line]);
}

#[test]
fn fleet_of_processes_on_one_sqlite_file_renews_once_per_window() {
    if std::env::var(CHILD_ENV).as_deref() == Ok("fleet") {
        fleet_child();
        return;
    }
    let _serial = serial();
    let dir = temp_dir("fleet-sqlite");
    let url = format!("sqlite:{}", dir.join("credentials.db").display());
    let r = fleet_on("fleet_of_processes_on_one_sqlite_file_renews_once_per_window", &url, &dir, None);
    print_fleet("fleet-sqlite", "SQLite", &r);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same fleet on PostgreSQL, processes standing in for hosts.
///
/// `./scripts/test` starts a throwaway cluster (scripts/postgres.sh) and exports `CONFIRMA_TEST_POSTGRES_URL`;
/// there, and whenever `CI` is set, a missing URL fails the test. A plain local `cargo test` without a
/// server says SKIPPED on stderr.
#[cfg(feature = "postgres")]
#[test]
fn fleet_of_processes_on_postgres_renews_once_per_window() {
    if std::env::var(CHILD_ENV).as_deref() == Ok("fleet") {
        fleet_child();
        return;
    }
    let _serial = serial();
    let required = std::env::var_os("CONFIRMA_REQUIRE_POSTGRES").is_some_and(|v| v != "0")
        || std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
    let url = match std::env::var("CONFIRMA_TEST_POSTGRES_URL") {
        Ok(u) => u,
        Err(_) if required => panic!("CONFIRMA_TEST_POSTGRES_URL must name the test cluster (scripts/test sets it)"),
        Err(_) => {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "SKIPPED: no CONFIRMA_TEST_POSTGRES_URL (./scripts/test sets it)");
            return;
        }
    };
    let dir = temp_dir("fleet-postgres");
    let r = fleet_on("fleet_of_processes_on_postgres_renews_once_per_window", &url, &dir, None);
    print_fleet("fleet-postgres", "PostgreSQL", &r);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fleet_recovers_when_its_renewing_process_is_killed_mid_call() {
    if std::env::var(CHILD_ENV).as_deref() == Ok("fleet") {
        fleet_child();
        return;
    }
    let _serial = serial();
    let dir = temp_dir("fleet-crash");
    let url = format!("sqlite:{}", dir.join("credentials.db").display());
    let r = fleet_on("fleet_recovers_when_its_renewing_process_is_killed_mid_call", &url, &dir, Some(2));
    print_fleet(
        "fleet-sqlite-crash",
        "SQLite, its renewing process killed mid-call in window 2 (renewReplaced=same_token)",
        &r,
    );
    let _ = std::fs::remove_dir_all(&dir);
}
