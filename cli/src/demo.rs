//! `confirma demo`: the automated onboarding flow end to end against an embedded sandbox.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use confirma::store::{CredentialStore, Sealer, SqliteStore, StoreKey};
use confirma::{
    ClientConfig, CreatedClient, ErrorKind, ManagerOptions, NewClient, OnboardingClient, SecretToken, TokenManager,
};
use confirma_sandbox::{valid_business_id, Sandbox, SandboxConfig};
use serde_json::json;

use crate::output::say;
use crate::Failure;

/// A line of demo output; a closed or full stdout ends the demo with exit 1 (never a panic).
fn line(text: &str) -> Result<(), Failure> {
    say(text).map_err(|e| Failure(1, format!("writing the demo to stdout failed: {e}"), None))
}

fn step(n: u32, title: &str) -> Result<(), Failure> {
    line(&format!("\n{n}. {title}"))
}

fn show(label: &str, value: impl std::fmt::Display) -> Result<(), Failure> {
    line(&format!("   {label:<22}{value}"))
}

fn fail(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure(1, format!("demo step failed: {what}: {e}"), None)
}

fn sample_client(partner_code: &str, business_id: &str) -> serde_json::Value {
    json!({
        "service": {"type": "LIFECYCLE", "partnerCode": partner_code},
        "client": {
            "name": "Testiasiakas Oy", "businessCode": business_id,
            "vatRegNbr": format!("FI{}", business_id.replace('-', "")),
            "postalAddress": "Testikuja 7", "postalCode": "00100", "postalDistrict": "HELSINKI",
            "countryCode": "FI", "email": "laskutus@testiasiakas.fi", "website": "https://www.testiasiakas.fi",
            "languageCode": "FI"
        },
        "contacts": [
            {"role": "PRIMARY", "name": "Maija Meikäläinen", "email": "maija@testiasiakas.fi"},
            {"role": "ACCOUNTANT", "name": "Tilitoimisto Tarkka", "email": "kirjanpito@tarkka.fi"}
        ]
    })
}

pub async fn run() -> Result<(), Failure> {
    let started = Instant::now();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.map_err(|e| fail("start the sandbox", e))?;
    let result = flow(&sandbox).await;
    sandbox.shutdown().await;
    result?;
    line(&format!(
        "\nDone in {} ms: client created, token validated, renewed, old token rejected, bad input caught before sending;\n\
         credentials stored encrypted, renewed early by a TokenManager, the rotation seen by a second instance.",
        started.elapsed().as_millis()
    ))?;
    Ok(())
}

async fn flow(sandbox: &Sandbox) -> Result<(), Failure> {
    line("Confirma CFIS onboarding demo")?;
    line(&format!(
        "Embedded sandbox at {} (loopback only, no network needed). Tokens are shown redacted.",
        sandbox.base_url()
    ))?;
    let client = OnboardingClient::new(
        ClientConfig::with_base_url(sandbox.base_url())
            .user_agent_suffix(format!("confirma-cli/{} demo", confirma::VERSION)),
    )
    .map_err(|e| fail("build the client", e))?;
    let provisioning = SecretToken::new(sandbox.provisioning_token());

    step(
        1,
        "The client fills in the onboarding form; your system creates the account with the Partner Provisioning Token",
    )?;
    let business_id = valid_business_id(fastrand_seed());
    let form = sample_client(sandbox.partner_code(), &business_id);
    let new_client: NewClient = client.parse_new_client(&form).map_err(|e| fail("validate the form", e))?;
    show(
        "company",
        format!(
            "{} ({}, {})",
            new_client.client.name, new_client.client.business_code, new_client.service.service_type
        ),
    )?;
    let t = Instant::now();
    let created = client.create_client(&provisioning, &new_client).await.map_err(|e| fail("create the client", e))?;
    show("POST /client", format!("created in {} ms", t.elapsed().as_millis()))?;
    show("client id", &created.client_id)?;
    show("customer code", &created.customer_code)?;
    show("payment ref prefix", &created.payment_reference_prefix)?;
    show("access token", format!("{} (store it in your database)", created.access_token))?;
    show(
        "token expires",
        created.token_expires_at.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_else(|| "never".into()),
    )?;

    step(2, "Your service starts: validate the stored token")?;
    let status = client.validate_token(&created.access_token).await.map_err(|e| fail("validate", e))?;
    show("GET /validate", format!("isValid={} \"{}\"", status.is_valid, status.message))?;

    step(3, "Renew the token periodically")?;
    let renewed = client.renew_token(&created.access_token).await.map_err(|e| fail("renew", e))?;
    show("GET /renew", format!("new token {}", renewed.access_token))?;
    show(
        "new token expires",
        renewed.expires_at.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_else(|| "never".into()),
    )?;

    step(4, "The new token works; the old one is rejected")?;
    let new_status =
        client.validate_token(&renewed.access_token).await.map_err(|e| fail("validate the new token", e))?;
    show("new token", format!("isValid={} \"{}\"", new_status.is_valid, new_status.message))?;
    let old_status =
        client.validate_token(&created.access_token).await.map_err(|e| fail("validate the old token", e))?;
    show("old token", format!("isValid={} \"{}\"", old_status.is_valid, old_status.message))?;
    if !new_status.is_valid || old_status.is_valid {
        return Err(fail("rotation", "the sandbox did not rotate the token"));
    }

    step(5, "Bad input is caught before anything is sent, with field paths like the service's")?;
    let mut bad = sample_client(sandbox.partner_code(), "123456-7");
    for (pointer, value) in [
        ("/client/email", json!("laskutus(at)testiasiakas.fi")),
        ("/client/postalCode", json!("001")),
        ("/contacts/0/name", json!("")),
    ] {
        if let Some(slot) = bad.pointer_mut(pointer) {
            *slot = value;
        }
    }
    match client.create_client_from_value(&provisioning, &bad).await {
        Err(e) if e.kind() == ErrorKind::Validation => {
            show(
                "error",
                format!("{} ({})", e.kind().code(), e.validation_source().map(|s| s.as_str()).unwrap_or("?")),
            )?;
            for (field, problems) in e.field_errors() {
                show(&format!("  {field}"), problems.join("; "))?;
            }
        }
        other => return Err(fail("validation", format!("expected a validation error, got {other:?}"))),
    }

    step(6, "The client already exists? CFIS answers 409 and you switch to the existing-client path")?;
    match client.create_client(&provisioning, &new_client).await {
        Err(e) if e.kind() == ErrorKind::Conflict => show("error", format!("{} — {}", e.kind().code(), e.message()))?,
        other => return Err(fail("conflict", format!("expected a conflict, got {other:?}"))),
    }

    step(7, "Transient failures are retried safely: the sandbox now answers 503 twice")?;
    inject_503s(sandbox).await?;
    let t = Instant::now();
    let retried = client.validate_token(&renewed.access_token).await.map_err(|e| fail("validate with retries", e))?;
    show(
        "GET /validate",
        format!(
            "isValid={} after 3 attempts in {} ms (backoff with jitter)",
            retried.is_valid,
            t.elapsed().as_millis()
        ),
    )?;

    // The client's credentials as they stand now (the token renewed in step 3).
    let current = CreatedClient {
        access_token: renewed.access_token.clone(),
        token_expires_at: renewed.expires_at,
        ..created.clone()
    };
    let db = DemoDb::new();
    let result = managed(sandbox, &client, &current, &db.path).await;
    drop(db);
    result
}

/// The demo's SQLite file (and its -wal / -shm), removed when dropped.
struct DemoDb {
    path: PathBuf,
}

impl DemoDb {
    fn new() -> Self {
        let name = format!("confirma-demo-{}-{:08x}.db", std::process::id(), fastrand_seed());
        DemoDb { path: std::env::temp_dir().join(name) }
    }
}

impl Drop for DemoDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }
}

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Steps 8-10: the seed's "save the credentials to local database", then the token lifecycle run by the core.
async fn managed(
    sandbox: &Sandbox,
    client: &OnboardingClient,
    current: &CreatedClient,
    db: &Path,
) -> Result<(), Failure> {
    step(8, "Save the credentials in your database: a local SQLite store, the token encrypted at rest")?;
    // A key made for this run, in memory only (an application takes it from CONFIRMA_STORE_KEY).
    let sealer = Sealer::encrypted(StoreKey::generate().map_err(|e| fail("make a store key", e))?);
    // The managers' clock: the system clock plus an offset moved together with the sandbox's.
    let offset = Arc::new(AtomicI64::new(0));
    let clock: confirma::manager::Clock = {
        let offset = offset.clone();
        Arc::new(move || confirma::store::now_ms().saturating_add(offset.load(Ordering::SeqCst)))
    };
    let open = |owner: &str| -> Result<TokenManager, Failure> {
        let store: Arc<dyn CredentialStore> = Arc::new(SqliteStore::open(db).map_err(|e| fail("open the store", e))?);
        let options =
            ManagerOptions { owner: Some(owner.into()), clock: Some(clock.clone()), ..ManagerOptions::default() };
        TokenManager::new(client.clone(), store, sealer.clone(), options).map_err(|e| fail("start a token manager", e))
    };
    let a = open("instance-a")?;
    let saved = a.save_created(current).await.map_err(|e| fail("save the credentials", e))?;
    show("store", format!("sqlite:{} (WAL, synchronous=FULL)", db.display()))?;
    show("saved", format!("client {} token v{} {}", saved.client_id, saved.token_version, saved.fingerprint))?;
    let in_file = file_holds(db, current.access_token.expose());
    show(
        "token in the file?",
        if in_file { "YES (a bug)" } else { "no: sealed with AES-256-GCM (the file was searched)" },
    )?;
    if in_file || !saved.encrypted {
        return Err(fail("encryption at rest", "the token is readable in the store file"));
    }
    show("planned renewal", fmt_day(saved.next_renew_at))?;

    step(9, "A TokenManager serves the token and renews it early (both clocks move 70 days on)")?;
    let first = a.token(&saved.client_id).await.map_err(|e| fail("token()", e))?;
    show("token()", format!("{first} (validated once at start-up, then served from memory)"))?;
    let renews_before = renew_requests(sandbox).await?;
    advance_sandbox_clock(sandbox, 70 * 24 * 3600).await?;
    offset.fetch_add(70 * DAY_MS, Ordering::SeqCst);
    // Due now: the first call renews (claim, one renew request, commit) before serving: a token served after
    // its renewal time is never one that is being rotated away.
    let second = a.token(&saved.client_id).await.map_err(|e| fail("token() when due", e))?;
    let rotated = a.status(&saved.client_id).await.map_err(|e| fail("status", e))?;
    if rotated.token_version < 2 {
        return Err(fail("renewal when due", format!("no rotation (state {})", rotated.state)));
    }
    show(
        "renewed",
        format!("token v{} {}, committed before it was served", rotated.token_version, rotated.fingerprint),
    )?;
    show("next renewal", fmt_day(rotated.next_renew_at))?;

    step(10, "A second instance on the same store sees the rotation without renewing itself")?;
    let b = open("instance-b")?;
    let seen = b.token(&saved.client_id).await.map_err(|e| fail("token() on the second instance", e))?;
    let renews = renew_requests(sandbox).await?.saturating_sub(renews_before);
    show(
        "second instance",
        format!("token() = {seen}, {}", if seen == second { "the same new token" } else { "A DIFFERENT TOKEN" }),
    )?;
    show("renew requests", format!("{renews} (the sandbox's count since step 9)"))?;
    let valid = client.validate_token(&seen).await.map_err(|e| fail("validate the managed token", e))?;
    show("GET /validate", format!("isValid={}", valid.is_valid))?;
    if seen != second || renews != 1 || !valid.is_valid {
        return Err(fail("managed renewal", "the second instance did not see exactly one rotation"));
    }
    Ok(())
}

/// Whether the store's files hold `needle` in clear.
fn file_holds(db: &Path, needle: &str) -> bool {
    ["", "-wal", "-shm"].iter().any(|suffix| {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        std::fs::read(PathBuf::from(p)).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
    })
}

fn fmt_day(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| format!("{} (jittered once, persisted)", t.format("%Y-%m-%d")))
        .unwrap_or_else(|| "-".into())
}

fn admin_client() -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder().timeout(Duration::from_secs(5)).build().map_err(|e| fail("admin client", e))
}

async fn advance_sandbox_clock(sandbox: &Sandbox, seconds: u64) -> Result<(), Failure> {
    let resp = admin_client()?
        .post(format!("{}/_sandbox/clock", sandbox.base_url()))
        .header("content-type", "application/json")
        .body(json!({"advanceSeconds": seconds}).to_string())
        .send()
        .await
        .map_err(|e| fail("advance the sandbox clock", e))?;
    if !resp.status().is_success() {
        return Err(fail("advance the sandbox clock", resp.status()));
    }
    Ok(())
}

async fn renew_requests(sandbox: &Sandbox) -> Result<u64, Failure> {
    let text = admin_client()?
        .get(format!("{}/_sandbox/state", sandbox.base_url()))
        .send()
        .await
        .map_err(|e| fail("read the sandbox state", e))?
        .text()
        .await
        .map_err(|e| fail("read the sandbox state", e))?;
    let state: serde_json::Value = serde_json::from_str(&text).map_err(|e| fail("read the sandbox state", e))?;
    Ok(state.pointer("/requestsByPath/~1api~1v1~1partner~1renew").and_then(|v| v.as_u64()).unwrap_or(0))
}

async fn inject_503s(sandbox: &Sandbox) -> Result<(), Failure> {
    let fault = json!({"path": "/api/v1/partner/validate", "kind": "status", "status": 503, "times": 2});
    let resp = admin_client()?
        .post(format!("{}/_sandbox/faults", sandbox.base_url()))
        .header("content-type", "application/json")
        .body(fault.to_string())
        .send()
        .await
        .map_err(|e| fail("inject a fault", e))?;
    if !resp.status().is_success() {
        return Err(fail("inject a fault", resp.status()));
    }
    Ok(())
}

fn fastrand_seed() -> u32 {
    (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(7))
        % 1_000_000
}
