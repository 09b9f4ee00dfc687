//! Runs every language-neutral scenario in `tests/scenarios/*.json` against a real sandbox over loopback,
//! one trial per file (each with its own sandbox, so they run in parallel).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use confirma::{ClientConfig, Error, OnboardingClient, SecretToken, ValidationMode};
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
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenario_dir())
        .expect("tests/scenarios exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenario files found");
    let trials = files
        .into_iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            Trial::test(name, move || run_file(&path))
        })
        .collect();
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
}

impl Runner {
    fn new(sb: &Sandbox) -> Self {
        Runner {
            base: sb.base_url(),
            provisioning: sb.provisioning_token().to_string(),
            partner_code: sb.partner_code().to_string(),
            saved: HashMap::new(),
            admin: reqwest::Client::new(),
        }
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
        let mut v: Vec<String> = self.saved.values().cloned().collect();
        v.push(self.provisioning.clone());
        v
    }

    async fn run(mut self, scenario: &Value) -> Result<(), String> {
        self.admin(reqwest::Method::POST, "/_sandbox/reset", None).await?;
        if let Some(cfg) = scenario.get("sandboxConfig") {
            self.admin(reqwest::Method::POST, "/_sandbox/config", Some(cfg)).await?;
        }
        let client = self.client(scenario.get("client"))?;
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
        match op {
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
