//! Rust-core contestant of the benchmark harness (bench/harness.py).
//!
//! `confirma-bench '<spec json>'` runs one workload through the public API of the `confirma` crate and
//! prints one JSON line. The spec and result formats are shared by every contestant (see bench/README.md).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use confirma::{ClientConfig, OnboardingClient, SecretToken};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Spec {
    base_url: String,
    token: String,
    provisioning_token: String,
    partner_code: String,
    workload: String,
    #[serde(default = "one")]
    concurrency: usize,
    #[serde(default)]
    warmup_sec: f64,
    #[serde(default = "one_f")]
    duration_sec: f64,
    #[serde(default)]
    calls: u64,
    #[serde(default)]
    id_base: u64,
}
fn one() -> usize {
    1
}
fn one_f() -> f64 {
    1.0
}

/// A valid Finnish Business ID from a counter (numbers whose check digit would be invalid are skipped).
fn business_code(counter: &AtomicU64) -> String {
    const W: [u32; 7] = [7, 9, 10, 5, 8, 4, 2];
    loop {
        let n = counter.fetch_add(1, Ordering::Relaxed) % 10_000_000;
        let digits = format!("{n:07}");
        let sum: u32 = digits.bytes().zip(W).map(|(d, w)| (d - b'0') as u32 * w).sum();
        let r = sum % 11;
        if r == 1 {
            continue;
        }
        return format!("{digits}-{}", if r == 0 { 0 } else { 11 - r });
    }
}

fn new_client_json(partner_code: &str, code: &str) -> Value {
    json!({
        "service": {"type": "LIFECYCLE", "partnerCode": partner_code},
        "client": {
            "name": "Testiasiakas Oy", "businessCode": code, "vatRegNbr": format!("FI{}", code.replace('-', "")),
            "postalAddress": "Testikuja 7", "postalCode": "00100", "postalDistrict": "HELSINKI",
            "countryCode": "FI", "email": "laskutus@testiasiakas.fi", "languageCode": "FI"
        },
        "contacts": [{"role": "PRIMARY", "name": "Maija Meikäläinen", "email": "maija@testiasiakas.fi"}]
    })
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

struct Ctx {
    client: OnboardingClient,
    spec: Spec,
    ids: AtomicU64,
}

async fn validate(ctx: &Ctx, token: &SecretToken) -> Result<(), String> {
    let s = ctx.client.validate_token(token).await.map_err(|e| e.to_string())?;
    if s.is_valid {
        Ok(())
    } else {
        Err(format!("token not valid: {}", s.message))
    }
}

async fn flow(ctx: &Ctx) -> Result<(), String> {
    let code = business_code(&ctx.ids);
    let prov = SecretToken::new(ctx.spec.provisioning_token.clone());
    let created = ctx
        .client
        .create_client_from_value(&prov, &new_client_json(&ctx.spec.partner_code, &code))
        .await
        .map_err(|e| e.to_string())?;
    validate(ctx, &created.access_token).await?;
    let renewed = ctx.client.renew_token(&created.access_token).await.map_err(|e| e.to_string())?;
    validate(ctx, &renewed.access_token).await
}

async fn one_call(ctx: &Ctx, token: &SecretToken, is_flow: bool) -> Result<(), String> {
    if is_flow {
        flow(ctx).await
    } else {
        validate(ctx, token).await
    }
}

/// Runs `concurrency` workers until `end`, recording latencies (µs) of calls started after `measure_from`.
async fn timed(ctx: Arc<Ctx>, is_flow: bool) -> Value {
    let warm = Duration::from_secs_f64(ctx.spec.warmup_sec);
    let dur = Duration::from_secs_f64(ctx.spec.duration_sec);
    let start = Instant::now();
    let measure_from = start + warm;
    let end = measure_from + dur;
    let mut tasks = Vec::new();
    for _ in 0..ctx.spec.concurrency {
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            let token = SecretToken::new(ctx.spec.token.clone());
            let mut lat: Vec<u32> = Vec::with_capacity(1 << 16);
            let mut errors = 0u64;
            let mut first_error = None;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let r = one_call(&ctx, &token, is_flow).await;
                let us = t0.elapsed().as_micros() as u32;
                if let Err(e) = r {
                    errors += 1;
                    first_error.get_or_insert(e);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                } else if t0 >= measure_from {
                    lat.push(us);
                }
            }
            (lat, errors, first_error)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for t in tasks {
        let (l, e, f) = t.await.expect("worker panicked");
        all.extend(l);
        errors += e;
        if first_error.is_none() {
            first_error = f;
        }
    }
    let elapsed = end.max(Instant::now()).duration_since(measure_from).as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| if all.is_empty() { 0 } else { all[((all.len() - 1) as f64 * p).round() as usize] };
    json!({"ops": all.len(), "seconds": elapsed, "rps": all.len() as f64 / elapsed,
           "p50_us": pct(0.5), "p99_us": pct(0.99), "errors": errors, "first_error": first_error})
}

async fn count(ctx: Arc<Ctx>, calls: u64) -> u64 {
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..ctx.spec.concurrency {
        let (ctx, next, errors) = (ctx.clone(), next.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let token = SecretToken::new(ctx.spec.token.clone());
            while next.fetch_add(1, Ordering::Relaxed) < calls {
                if validate(&ctx, &token).await.is_err() {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("worker panicked");
    }
    errors.load(Ordering::Relaxed)
}

fn main() {
    let started = Instant::now();
    let arg = std::env::args().nth(1).expect("usage: confirma-bench '<spec json>'");
    let spec: Spec = serde_json::from_str(&arg).expect("bad spec");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let out = rt.block_on(async move {
        let t0 = Instant::now();
        let client = OnboardingClient::new(ClientConfig::with_base_url(spec.base_url.clone())).expect("client");
        let new_client_ms = t0.elapsed().as_secs_f64() * 1e3;
        let ctx = Arc::new(Ctx { client, ids: AtomicU64::new(spec.id_base), spec: spec.clone() });
        match spec.workload.as_str() {
            "validate" => timed(ctx, false).await,
            "flow" => timed(ctx, true).await,
            "first_call" => {
                let t1 = Instant::now();
                let r = validate(&ctx, &SecretToken::new(spec.token.clone())).await;
                json!({"import_ms": 0.0, "new_client_ms": new_client_ms, "first_call_ms": t1.elapsed().as_secs_f64() * 1e3,
                       "process_to_first_result_ms": started.elapsed().as_secs_f64() * 1e3, "error": r.err()})
            }
            "rss" => {
                let warm = count(ctx.clone(), (spec.calls / 10).max(1000)).await;
                let before = rss_kb();
                let errs = count(ctx.clone(), spec.calls).await;
                let after = rss_kb();
                json!({"calls": spec.calls, "rss_before_kb": before, "rss_after_kb": after,
                       "rss_growth_kb": after as i64 - before as i64, "errors": warm + errs})
            }
            other => json!({"error": format!("unknown workload {other}")}),
        }
    });
    println!("{out}");
}
