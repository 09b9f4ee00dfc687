//! Token-lifecycle benchmark (issue 11): the cost of `TokenManager::token()` on the hot path (served from
//! memory, no I/O; target under 1 µs) and of a full rotation on a real store (claim in the store → one
//! renew request to the sandbox → commit under the fence).
//!
//! ```text
//! confirma-lifecycle-bench [--sandbox PATH] [--store URL] [--calls N] [--threads N] [--rotations N] [--smoke]
//! ```
//!
//! It starts the sandbox binary (default: `confirma-sandbox` next to this binary) on a free loopback port,
//! creates one client, keeps its credentials in the store (default: a fresh SQLite file in a temporary
//! directory; `postgres://…` once the PostgreSQL store is built with the `postgres` feature), and prints the
//! figures. No timings are asserted; any error exits with status 1 (`--smoke` is a short run for CI).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use confirma::store::{open_store, Sealer, StoreKey};
use confirma::{ClientConfig, ManagerOptions, OnboardingClient, SecretToken, TokenManager};
use serde_json::{json, Value};

struct Args {
    sandbox: String,
    store: Option<String>,
    calls: u64,
    threads: usize,
    rotations: u32,
}

fn parse_args() -> Result<Args, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut a = Args {
        sandbox: exe.with_file_name("confirma-sandbox").display().to_string(),
        store: None,
        calls: 1_000_000,
        threads: 16,
        rotations: 200,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--sandbox" => a.sandbox = value("--sandbox")?,
            "--store" => a.store = Some(value("--store")?),
            "--calls" => a.calls = value("--calls")?.parse().map_err(|e| format!("--calls: {e}"))?,
            "--threads" => a.threads = value("--threads")?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--rotations" => a.rotations = value("--rotations")?.parse().map_err(|e| format!("--rotations: {e}"))?,
            "--smoke" => {
                a.calls = 20_000;
                a.rotations = 10;
            }
            "-h" | "--help" => {
                println!("confirma-lifecycle-bench [--sandbox PATH] [--store URL] [--calls N] [--threads N] [--rotations N] [--smoke]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.calls == 0 || a.threads == 0 || a.rotations == 0 {
        return Err("--calls, --threads and --rotations must be above zero".into());
    }
    Ok(a)
}

/// The sandbox process; killed when dropped.
struct SandboxProc {
    child: Child,
    base_url: String,
    provisioning_token: String,
    partner_code: String,
}

impl Drop for SandboxProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sandbox(path: &str) -> Result<SandboxProc, String> {
    let mut child = Command::new(path)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the sandbox {path}: {e}"))?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or("no sandbox stdout")?;
    BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
    let info: Value = serde_json::from_str(&line).map_err(|e| format!("sandbox start line {line:?}: {e}"))?;
    let s = |k: &str| info[k].as_str().map(str::to_string).ok_or(format!("sandbox start line lacks {k}"));
    Ok(SandboxProc {
        base_url: s("baseUrl")?,
        provisioning_token: s("provisioningToken")?,
        partner_code: s("partnerCode")?,
        child,
    })
}

fn new_client_json(partner_code: &str) -> Value {
    // A valid Finnish Business ID (check digit 7·0+9·1+10·2+5·3+8·4+4·5+2·6 = 108 → 108 % 11 = 9 → 2).
    let code = "0123456-2";
    json!({
        "service": {"type": "LIFECYCLE", "partnerCode": partner_code},
        "client": {
            "name": "Testiasiakas Oy", "businessCode": code, "vatRegNbr": "FI01234562",
            "postalAddress": "Testikuja 7", "postalCode": "00100", "postalDistrict": "HELSINKI",
            "countryCode": "FI", "email": "laskutus@testiasiakas.fi", "languageCode": "FI"
        },
        "contacts": [{"role": "PRIMARY", "name": "Maija Meikäläinen", "email": "maija@testiasiakas.fi"}]
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn run(a: Args) -> Result<(), String> {
    let sb = start_sandbox(&a.sandbox)?;
    let tmp = std::env::temp_dir().join(format!("confirma-lifecycle-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    let store_url = a.store.clone().unwrap_or_else(|| format!("sqlite:{}", tmp.join("credentials.db").display()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let result = rt.block_on(async {
        let store = open_store(&store_url).await.map_err(|e| e.to_string())?;
        let client = OnboardingClient::new(ClientConfig::with_base_url(&sb.base_url)).map_err(|e| e.to_string())?;
        let sealer = Sealer::encrypted(StoreKey::generate().map_err(|e| e.to_string())?);
        let m = TokenManager::new(client.clone(), store.clone(), sealer, ManagerOptions::default())
            .map_err(|e| e.to_string())?;
        let created = client
            .create_client_from_value(
                &SecretToken::new(sb.provisioning_token.clone()),
                &new_client_json(&sb.partner_code),
            )
            .await
            .map_err(|e| format!("create client: {e}"))?;
        m.save_created(&created).await.map_err(|e| e.to_string())?;
        Ok::<_, String>((m, created.client_id, store.describe()))
    });
    let (m, id, described) = result?;
    println!(
        "token lifecycle benchmark — store {described}, sandbox {} (separate process), {} CPUs, load {}",
        sb.base_url,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    // token() on the hot path: one thread.
    let handle = rt.handle().clone();
    let warm = (a.calls / 10).max(1);
    let single = handle.block_on(async {
        for _ in 0..warm {
            m.token(&id).await.map_err(|e| e.to_string())?;
        }
        let t0 = Instant::now();
        for _ in 0..a.calls {
            std::hint::black_box(m.token(&id).await.map_err(|e| e.to_string())?);
        }
        Ok::<_, String>(t0.elapsed())
    })?;
    let single_ns = single.as_nanos() as f64 / a.calls as f64;
    println!("token() hot path, 1 thread:   {single_ns:>8.1} ns/op over {} calls", a.calls);

    // token() on the hot path: N threads at once on one manager.
    let per_thread = (a.calls / a.threads as u64).max(1);
    let barrier = Arc::new(std::sync::Barrier::new(a.threads + 1));
    let workers: Vec<_> = (0..a.threads)
        .map(|_| {
            let (m, id, handle, barrier) = (m.clone(), id.clone(), handle.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let t0 = Instant::now();
                let r = handle.block_on(async {
                    for _ in 0..per_thread {
                        std::hint::black_box(m.token(&id).await.map_err(|e| e.to_string())?);
                    }
                    Ok::<_, String>(())
                });
                r.map(|()| t0.elapsed())
            })
        })
        .collect();
    barrier.wait();
    let t0 = Instant::now();
    let mut per_thread_ns = Vec::new();
    for w in workers {
        let d = w.join().map_err(|_| "a benchmark thread panicked".to_string())??;
        per_thread_ns.push(d.as_nanos() as f64 / per_thread as f64);
    }
    let wall = t0.elapsed();
    let total = per_thread * a.threads as u64;
    let agg_ns = wall.as_nanos() as f64 / total as f64;
    let mean_thread_ns = per_thread_ns.iter().sum::<f64>() / per_thread_ns.len() as f64;
    println!(
        "token() hot path, {} threads: {agg_ns:>8.1} ns/op aggregate ({:.1} M calls/s), {mean_thread_ns:.1} ns/op per thread ({} calls each)",
        a.threads,
        total as f64 / wall.as_secs_f64() / 1e6,
        per_thread
    );

    // A full rotation: claim → one renew request → commit under the fence (renew_now), then the status read.
    let rotations = handle.block_on(async {
        let mut ms = Vec::new();
        for _ in 0..a.rotations {
            let t0 = Instant::now();
            m.renew_now(&id).await.map_err(|e| format!("rotation: {e}"))?;
            ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
        // The new token is served and accepted.
        let t = m.token(&id).await.map_err(|e| e.to_string())?;
        let ok = m.client().validate_token(&t).await.map_err(|e| e.to_string())?.is_valid;
        if !ok {
            return Err("the token after the rotations is not valid".to_string());
        }
        let st = m.status(&id).await.map_err(|e| e.to_string())?;
        if st.token_version != 1 + u64::from(a.rotations) {
            return Err(format!("expected version {}, found {}", 1 + a.rotations, st.token_version));
        }
        Ok::<_, String>(ms)
    })?;
    let mut sorted = rotations.clone();
    sorted.sort_by(|x, y| x.total_cmp(y));
    let mean = rotations.iter().sum::<f64>() / rotations.len() as f64;
    println!(
        "full rotation (claim + renew + commit), {} rotations: mean {mean:.2} ms, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        a.rotations,
        percentile(&sorted, 0.5),
        percentile(&sorted, 0.99),
        percentile(&sorted, 1.0)
    );
    println!(
        "{}",
        json!({
            "store": described.split(':').next().unwrap_or(""),
            "tokenSingleNsPerOp": (single_ns * 10.0).round() / 10.0,
            "tokenThreads": a.threads,
            "tokenThreadsAggregateNsPerOp": (agg_ns * 10.0).round() / 10.0,
            "tokenThreadsPerThreadNsPerOp": (mean_thread_ns * 10.0).round() / 10.0,
            "rotations": a.rotations,
            "rotationMeanMs": (mean * 100.0).round() / 100.0,
            "rotationP50Ms": (percentile(&sorted, 0.5) * 100.0).round() / 100.0,
            "rotationP99Ms": (percentile(&sorted, 0.99) * 100.0).round() / 100.0,
        })
    );
    drop(m);
    drop(rt);
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

fn main() {
    let result = parse_args().and_then(run);
    if let Err(e) = result {
        eprintln!("confirma-lifecycle-bench: {e}");
        std::process::exit(1);
    }
}
