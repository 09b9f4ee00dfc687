//! `confirma demo`: the automated onboarding flow end to end against an embedded sandbox.

use std::time::{Duration, Instant};

use confirma::{ClientConfig, ErrorKind, NewClient, OnboardingClient, SecretToken};
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
        "\nDone in {} ms: client created, token validated, renewed, old token rejected, bad input caught before sending.",
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
    Ok(())
}

async fn inject_503s(sandbox: &Sandbox) -> Result<(), Failure> {
    let fault = json!({"path": "/api/v1/partner/validate", "kind": "status", "status": 503, "times": 2});
    let resp = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| fail("admin client", e))?
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
