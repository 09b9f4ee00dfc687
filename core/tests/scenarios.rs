//! Runs every language-neutral scenario in `tests/scenarios/*.json` and the token-lifecycle scenarios in
//! `tests/scenarios/lifecycle/*.json` against a real sandbox over loopback, one trial per file (each with its
//! own sandbox, so they run in parallel).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use confirma::store::{CredentialStore, MemoryStore, Sealer, SqliteStore, StoreKey};
use confirma::{
    ClientConfig, CredentialStatus, Error, ManagerOptions, OnboardingClient, SecretToken, TokenManager, ValidationMode,
};
use confirma_sandbox::{Sandbox, SandboxConfig};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios")
}

fn main() {
    // The admin client below is a plain reqwest client; the SDK's own clients install the same provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Arguments::from_args();
    let json_files = |dir: PathBuf| {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("the scenario directory exists")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no scenario files found");
        files
    };
    let mut trials = Vec::new();
    for (prefix, dir) in [("", scenario_dir()), ("lifecycle/", scenario_dir().join("lifecycle"))] {
        for path in json_files(dir) {
            let name = format!("{prefix}{}", path.file_stem().unwrap().to_string_lossy());
            trials.push(Trial::test(name, move || run_file(&path)));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

fn run_file(path: &Path) -> Result<(), Failed> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let scenario: Value = serde_json::from_str(&text).map_err(|e| format!("parse {}: {e}", path.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let sandbox = Sandbox::start(SandboxConfig::default()).await.map_err(|e| format!("sandbox: {e}"))?;
        let result = Runner::new(&sandbox).run(&scenario).await;
        sandbox.shutdown().await;
        result.map_err(Failed::from)
    })
}

struct Runner {
    base: String,
    provisioning: String,
    partner_code: String,
    saved: HashMap<String, String>,
    admin: reqwest::Client,
    /// Lifecycle scenarios: the token managers by name, and the event kinds each has published.
    managers: HashMap<String, TokenManager>,
    seen: HashMap<String, Arc<Mutex<Vec<String>>>>,
    dir: Option<PathBuf>,
}

impl Drop for Runner {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// What a step's call gave: (the token to save, the result fields to compare) or the error.
type Outcome = Result<(String, Value), Error>;

impl Runner {
    fn new(sb: &Sandbox) -> Self {
        Runner {
            base: sb.base_url(),
            provisioning: sb.provisioning_token().to_string(),
            partner_code: sb.partner_code().to_string(),
            saved: HashMap::new(),
            admin: reqwest::Client::new(),
            managers: HashMap::new(),
            seen: HashMap::new(),
            dir: None,
        }
    }

    /// The scenario's managers (`managers`, default `["a"]`; owner = name) over its `store`: one
    /// `MemoryStore` shared by all, or one SQLite file in a fresh directory that each manager opens itself.
    /// Tokens are sealed under one random key.
    fn managers(&mut self, scenario: &Value, client: &OnboardingClient) -> Result<(), String> {
        let Some(kind) = scenario.get("store").and_then(Value::as_str) else { return Ok(()) };
        let names: Vec<String> = match scenario.get("managers") {
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("managers: {e}"))?,
            None => vec!["a".into()],
        };
        let sealer = Sealer::encrypted(StoreKey::generate().map_err(|e| e.to_string())?);
        let memory: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
        let dir = std::env::temp_dir().join(format!("confirma-lifecycle-{}-{}", std::process::id(), fastrand::u64(..)));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        for name in names {
            let store: Arc<dyn CredentialStore> = match kind {
                "memory" => memory.clone(),
                "sqlite" => Arc::new(SqliteStore::open(dir.join("credentials.db")).map_err(|e| e.to_string())?),
                other => return Err(format!("unknown store {other}")),
            };
            let options = ManagerOptions { owner: Some(name.clone()), ..Default::default() };
            let m = TokenManager::new(client.clone(), store, sealer.clone(), options).map_err(|e| e.to_string())?;
            let seen = Arc::new(Mutex::new(Vec::new()));
            let mut rx = m.subscribe();
            let sink = seen.clone();
            tokio::spawn(async move {
                while let Ok(e) = rx.recv().await {
                    sink.lock().unwrap().push(e.kind.as_str().to_string());
                }
            });
            self.seen.insert(name.clone(), seen);
            self.managers.insert(name, m);
        }
        self.dir = Some(dir);
        Ok(())
    }

    fn manager(&self, step: &Value) -> Result<&TokenManager, String> {
        let name = step.get("manager").and_then(Value::as_str).unwrap_or("a");
        self.managers.get(name).ok_or_else(|| format!("no manager {name}"))
    }

    fn string(&self, step: &Value, field: &str) -> Result<String, String> {
        let v = step.get(field).ok_or_else(|| format!("no {field}"))?;
        self.resolve(v)?.as_str().map(str::to_string).ok_or_else(|| format!("{field} is not a string"))
    }

    /// The call of a lifecycle step (`None`: not a lifecycle call).
    async fn lifecycle_call(&self, op: &str, step: &Value) -> Result<Option<Outcome>, String> {
        let status = |s: CredentialStatus| status_fields(&s);
        Ok(Some(match op {
            "createClient" if step.get("manager").is_some() => {
                let m = self.manager(step)?;
                let token = SecretToken::new(self.string(step, "token")?);
                let input = self.resolve(step.get("newClient").ok_or("no newClient")?)?;
                let nc = serde_json::from_value(input).map_err(|e| format!("newClient: {e}"))?;
                m.create_client(&token, &nc).await.map(|c| {
                    let r = serde_json::json!({"hasExpiry": c.token_expires_at.is_some(), "clientId": c.client_id, "customerCode": c.customer_code});
                    (c.access_token.expose().to_string(), r)
                })
            }
            "token" => {
                let m = self.manager(step)?;
                m.token(&self.string(step, "clientId")?).await.map(|t| (t.expose().to_string(), Value::Null))
            }
            "renewNow" => {
                let m = self.manager(step)?;
                m.renew_now(&self.string(step, "clientId")?).await.map(|s| (String::new(), status(s)))
            }
            "status" => {
                let m = self.manager(step)?;
                m.status(&self.string(step, "clientId")?).await.map(|s| (String::new(), status(s)))
            }
            "reconcile" => self.manager(step)?.reconcile().await.map(|v| {
                let states: Vec<&str> = v.iter().map(|s| s.state.as_str()).collect();
                (String::new(), serde_json::json!({"count": v.len(), "states": states}))
            }),
            "importCredentials" => {
                let m = self.manager(step)?;
                let token = SecretToken::new(self.string(step, "token")?);
                m.import_credentials(&self.string(step, "clientId")?, &token, None, None)
                    .await
                    .map(|s| (String::new(), status(s)))
            }
            _ => return Ok(None),
        }))
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let mut req = self.admin.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let resp = req.send().await.map_err(|e| format!("admin {path}: {e}"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("admin {path} answered {status}: {text}"));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn resolve(&self, v: &Value) -> Result<Value, String> {
        Ok(match v {
            Value::String(s) if s.starts_with('$') => Value::String(self.resolve_str(s)?),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.resolve(x)).collect::<Result<_, _>>()?),
            Value::Object(o) => {
                Value::Object(o.iter().map(|(k, x)| Ok((k.clone(), self.resolve(x)?))).collect::<Result<_, String>>()?)
            }
            other => other.clone(),
        })
    }

    fn resolve_str(&self, s: &str) -> Result<String, String> {
        match s {
            "$provisioningToken" => Ok(self.provisioning.clone()),
            "$partnerCode" => Ok(self.partner_code.clone()),
            _ => {
                let key = s.trim_start_matches('$');
                self.saved.get(key).cloned().ok_or_else(|| format!("unknown reference {s}"))
            }
        }
    }

    fn client(&self, opts: Option<&Value>) -> Result<OnboardingClient, String> {
        let mut cfg = ClientConfig::with_base_url(self.base.clone()).user_agent_suffix("rust-scenarios");
        if let Some(o) = opts {
            if let Some(v) = o.get("validation").and_then(Value::as_str) {
                cfg = cfg.validation(v.parse::<ValidationMode>().map_err(|e| e.to_string())?);
            }
            if let Some(n) = o.get("maxRetries").and_then(Value::as_u64) {
                cfg = cfg.max_retries(n as u32);
            }
            if let Some(n) = o.get("timeoutMs").and_then(Value::as_u64) {
                cfg = cfg.timeout(Duration::from_millis(n));
            }
            if let Some(n) = o.get("connectTimeoutMs").and_then(Value::as_u64) {
                cfg = cfg.connect_timeout(Duration::from_millis(n));
            }
            if let Some(n) = o.get("totalTimeoutMs").and_then(Value::as_u64) {
                cfg = cfg.total_timeout(Duration::from_millis(n));
            }
        }
        OnboardingClient::new(cfg).map_err(|e| e.to_string())
    }

    fn secrets(&self) -> Vec<String> {
        let mut v: Vec<String> =
            self.saved.iter().filter(|(k, _)| k.ends_with(".accessToken")).map(|(_, t)| t.clone()).collect();
        v.push(self.provisioning.clone());
        v
    }

    async fn run(mut self, scenario: &Value) -> Result<(), String> {
        self.admin(reqwest::Method::POST, "/_sandbox/reset", None).await?;
        if let Some(cfg) = scenario.get("sandboxConfig") {
            self.admin(reqwest::Method::POST, "/_sandbox/config", Some(cfg)).await?;
        }
        let client = self.client(scenario.get("client"))?;
        self.managers(scenario, &client)?;
        let steps = scenario.get("steps").and_then(Value::as_array).ok_or("scenario has no steps")?;
        for (i, step) in steps.iter().enumerate() {
            let op = step.get("op").and_then(Value::as_str).ok_or_else(|| format!("step {i}: no op"))?;
            self.step(&client, op, step).await.map_err(|e| format!("step {i} ({op}): {e}"))?;
        }
        Ok(())
    }

    async fn step(&mut self, client: &OnboardingClient, op: &str, step: &Value) -> Result<(), String> {
        let token = || -> Result<SecretToken, String> {
            let t = step.get("token").ok_or("no token")?;
            Ok(SecretToken::new(self.resolve(t)?.as_str().ok_or("token is not a string")?))
        };
        let expect = step.get("expect");
        let save = step.get("save").and_then(Value::as_str);
        if let Some(outcome) = self.lifecycle_call(op, step).await? {
            return self.check(outcome, expect, save);
        }
        match op {
            "parallel" => {
                // Every sub-step's call at once; then their expectations, in order.
                let subs = step.get("steps").and_then(Value::as_array).ok_or("parallel: no steps")?;
                let mut calls = Vec::new();
                for sub in subs {
                    let op = sub.get("op").and_then(Value::as_str).ok_or("parallel: a step without op")?;
                    calls.push(self.lifecycle_call(op, sub));
                }
                let outcomes = futures_util::future::join_all(calls).await;
                for (i, (sub, outcome)) in subs.iter().zip(outcomes).enumerate() {
                    let outcome = outcome?.ok_or("parallel: only lifecycle calls run in parallel")?;
                    let save = sub.get("save").and_then(Value::as_str);
                    self.check(outcome, sub.get("expect"), save).map_err(|e| format!("parallel step {i}: {e}"))?;
                }
                Ok(())
            }
            "expectRequests" => {
                let path = step.get("path").and_then(Value::as_str).ok_or("no path")?;
                let want = step.get("count").and_then(Value::as_u64).ok_or("no count")?;
                let state = self.admin(reqwest::Method::GET, "/_sandbox/state", None).await?;
                let got = state["requestsByPath"][path].as_u64().unwrap_or(0);
                if got != want {
                    return Err(format!("{got} requests to {path}, expected {want}"));
                }
                Ok(())
            }
            "expectSame" => {
                let (a, b) = (self.string(step, "a")?, self.string(step, "b")?);
                let same = step.get("same").and_then(Value::as_bool).ok_or("no same")?;
                if (a == b) != same {
                    return Err(format!("the two tokens are {}", if same { "different" } else { "the same" }));
                }
                Ok(())
            }
            "expectEvents" => {
                let name = step.get("manager").and_then(Value::as_str).unwrap_or("a");
                let seen = self.seen.get(name).ok_or_else(|| format!("no manager {name}"))?.clone();
                let list = |f: &str| -> Vec<String> {
                    step.get(f).and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default()
                };
                let (includes, excludes) = (list("includes"), list("excludes"));
                // Events reach subscribers as they are published: wait (bounded) for the expected ones.
                let until = Instant::now() + Duration::from_secs(10);
                loop {
                    let got = seen.lock().unwrap().clone();
                    if let Some(x) = excludes.iter().find(|k| got.contains(k)) {
                        return Err(format!("event {x} published: {got:?}"));
                    }
                    if includes.iter().all(|k| got.contains(k)) {
                        return Ok(());
                    }
                    if Instant::now() > until {
                        return Err(format!("events {got:?}, expected to include {includes:?}"));
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            "createClient" => {
                let input = self.resolve(step.get("newClient").ok_or("no newClient")?)?;
                let outcome = client.create_client_from_value(&token()?, &input).await.map(|c| {
                    let mut r = serde_json::json!({"hasExpiry": c.token_expires_at.is_some(), "clientId": c.client_id, "customerCode": c.customer_code});
                    (c.access_token.expose().to_string(), r.take())
                });
                self.check(outcome, expect, save)
            }
            "validateToken" => {
                let outcome = client.validate_token(&token()?).await.map(|s| {
                    (
                        String::new(),
                        serde_json::json!({"isValid": s.is_valid, "expired": s.expired, "message": s.message}),
                    )
                });
                self.check(outcome, expect, save)
            }
            "renewToken" => {
                let outcome = client.renew_token(&token()?).await.map(|r| {
                    (r.access_token.expose().to_string(), serde_json::json!({"hasExpiry": r.expires_at.is_some()}))
                });
                self.check(outcome, expect, save)
            }
            "fault" => self.admin(reqwest::Method::POST, "/_sandbox/faults", step.get("fault")).await.map(drop),
            "clearFaults" => self.admin(reqwest::Method::DELETE, "/_sandbox/faults", None).await.map(drop),
            "advanceClock" => {
                let body = serde_json::json!({"advanceSeconds": step.get("seconds").cloned().unwrap_or(Value::Null)});
                self.admin(reqwest::Method::POST, "/_sandbox/clock", Some(&body)).await.map(drop)
            }
            "sleep" => {
                tokio::time::sleep(Duration::from_millis(step.get("ms").and_then(Value::as_u64).unwrap_or(0))).await;
                Ok(())
            }
            "expectState" => {
                let state = self.admin(reqwest::Method::GET, "/_sandbox/state", None).await?;
                for (k, want) in step.get("state").and_then(Value::as_object).ok_or("no state")? {
                    if state.get(k) != Some(want) {
                        return Err(format!("state.{k} = {:?}, expected {want}", state.get(k)));
                    }
                }
                Ok(())
            }
            other => Err(format!("unknown op {other}")),
        }
    }

    fn check(
        &mut self,
        outcome: Result<(String, Value), Error>,
        expect: Option<&Value>,
        save: Option<&str>,
    ) -> Result<(), String> {
        let expect = expect.ok_or("no expect")?;
        match (outcome, expect.get("error")) {
            (Ok((token, result)), None) => {
                if let Some(want) = expect.get("result").and_then(Value::as_object) {
                    for (k, v) in want {
                        if result.get(k) != Some(v) {
                            return Err(format!("result.{k} = {:?}, expected {v}", result.get(k)));
                        }
                    }
                }
                if let Some(name) = save {
                    self.saved.insert(format!("{name}.accessToken"), token);
                    if let Some(id) = result.get("clientId").and_then(Value::as_str) {
                        self.saved.insert(format!("{name}.clientId"), id.to_string());
                    }
                }
                Ok(())
            }
            (Ok((_, result)), Some(e)) => Err(format!("expected error {e}, got success {result}")),
            (Err(err), None) => Err(format!("expected success, got {:?} error: {err}", err.kind())),
            (Err(err), Some(want)) => {
                let shown = format!("{err} {err:?}");
                let mut secrets = self.secrets();
                secrets.extend(err.recovered_token().map(|t| t.expose().to_string()));
                // Every string inside a kept raw answer may be a new token (renew: `{"result": {"newKey": ...}}`).
                if let Some(raw) = err.raw_response() {
                    secrets.extend(json_strings(raw.expose()).into_iter().filter(|s| s.len() >= 8));
                }
                for s in secrets {
                    if shown.contains(&s) {
                        return Err("a token appears in the error's Display/Debug output".into());
                    }
                }
                let kind = want.get("kind").and_then(Value::as_str).ok_or("error.kind missing")?;
                if err.kind().as_str() != kind {
                    return Err(format!("kind {} ({err}), expected {kind}", err.kind()));
                }
                if let Some(src) = want.get("source") {
                    let got = err.validation_source().map(|s| s.as_str());
                    if got != src.as_str() {
                        return Err(format!("source {got:?}, expected {src}"));
                    }
                }
                if let Some(fields) = want.get("fields") {
                    let got: Vec<&String> = err.field_errors().keys().collect();
                    let want_f: Vec<String> = serde_json::from_value(fields.clone()).map_err(|e| e.to_string())?;
                    if got.iter().map(|s| s.as_str()).collect::<Vec<_>>()
                        != want_f.iter().map(|s| s.as_str()).collect::<Vec<_>>()
                    {
                        return Err(format!("fields {got:?}, expected {want_f:?} ({err})"));
                    }
                }
                if let Some(status) = want.get("status") {
                    let got = err.status().map(Value::from).unwrap_or(Value::Null);
                    if &got != status {
                        return Err(format!("status {got}, expected {status} ({err})"));
                    }
                }
                if let Some(r) = want.get("retryable").and_then(Value::as_bool) {
                    if err.is_retryable() != r {
                        return Err(format!("retryable {}, expected {r}", err.is_retryable()));
                    }
                }
                if let Some(secs) = want.get("retryAfterSeconds").and_then(Value::as_u64) {
                    if err.retry_after().map(|d| d.as_secs()) != Some(secs) {
                        return Err(format!("retry_after {:?}, expected {secs}s", err.retry_after()));
                    }
                }
                if let Some(ck) = want.get("causeKind").and_then(Value::as_str) {
                    let got = err.cause().map(|c| c.kind().as_str());
                    if got != Some(ck) {
                        return Err(format!("cause kind {got:?}, expected {ck} ({err})"));
                    }
                }
                if let Some(r) = want.get("recoveredToken").and_then(Value::as_bool) {
                    if err.recovered_token().is_some() != r {
                        return Err(format!("recovered token present = {}, expected {r} ({err})", !r));
                    }
                }
                if let Some(r) = want.get("rawResponse").and_then(Value::as_bool) {
                    if err.raw_response().is_some() != r {
                        return Err(format!("raw response present = {}, expected {r} ({err})", !r));
                    }
                }
                // A failed call that still handed over a token (a partial-success create): save that token.
                if let (Some(name), Some(token)) = (save, err.recovered_token()) {
                    self.saved.insert(format!("{name}.accessToken"), token.expose().to_string());
                }
                Ok(())
            }
        }
    }
}

/// A status as the lifecycle scenarios compare it.
fn status_fields(s: &CredentialStatus) -> Value {
    serde_json::json!({
        "state": s.state.as_str(),
        "health": s.health.as_str(),
        "tokenVersion": s.token_version,
        "consecutiveFailures": s.consecutive_failures,
        "lastError": s.last_error,
        "encrypted": s.encrypted,
        "hasExpiry": s.expires_at.is_some(),
    })
}

/// Every string value in a JSON text (none when it is not JSON).
fn json_strings(text: &str) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        walk(&v, &mut out);
    }
    out
}
