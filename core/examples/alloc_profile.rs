//! What one call costs on the core's HTTP path: heap allocations, bytes, on-CPU time and the size of each
//! operation's future. `cargo run --release -p confirma --example alloc_profile [calls]`.
//!
//! The sandbox runs in-process on its own runtime and threads; the client runs on a current-thread runtime
//! on the main thread, so its whole path (the call, reqwest/hyper's connection task, tokio's timers) runs
//! there, and only the main thread's allocations and CPU time are counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Instant;

use confirma::{ClientConfig, OnboardingClient, SecretToken};

struct Counting;

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

thread_local! {
    static TRACE: Cell<bool> = const { Cell::new(false) };
}

fn note(size: usize) {
    let _ = ON.try_with(|on| {
        if on.get() {
            ALLOCS.with(|a| a.set(a.get() + 1));
            BYTES.with(|b| b.set(b.get() + size as u64));
            if TRACE.with(Cell::get) {
                // Capturing allocates: stop counting meanwhile.
                on.set(false);
                let bt = std::backtrace::Backtrace::force_capture().to_string();
                let frames: Vec<&str> = bt
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("at "))
                    .map(|l| l.split_once(": ").map_or(l, |(_, f)| f))
                    .filter(|f| {
                        !f.contains("alloc_profile::")
                            && !f.starts_with("std::backtrace")
                            && !f.starts_with("alloc::")
                            && !f.contains("__rust")
                            && !f.contains("core::ops::function")
                    })
                    .take(7)
                    .collect();
                eprintln!("ALLOC {size}: {}", frames.join(" < "));
                on.set(true);
            }
        }
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counters are thread-local cells
// with const initialisers (no allocation, no re-entry).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// On-CPU nanoseconds of this thread (`/proc/thread-self/schedstat`, first field).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn counted<R>(f: impl FnOnce() -> R) -> (R, u64, u64) {
    let (a0, b0) = (ALLOCS.with(Cell::get), BYTES.with(Cell::get));
    ON.with(|on| on.set(true));
    let r = f();
    ON.with(|on| on.set(false));
    (r, ALLOCS.with(Cell::get) - a0, BYTES.with(Cell::get) - b0)
}

fn main() {
    let calls: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let sandbox = server_rt.block_on(confirma_sandbox::Sandbox::start(Default::default())).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = OnboardingClient::new(ClientConfig::with_base_url(sandbox.base_url())).unwrap();
    let prov = SecretToken::new(sandbox.provisioning_token());
    let form = {
        let bid = confirma_sandbox::valid_business_id(4242);
        serde_json::json!({
            "service": {"type": "LIFECYCLE", "partnerCode": sandbox.partner_code()},
            "client": {"name": "Testiasiakas Oy", "businessCode": bid, "vatRegNbr": format!("FI{}", bid.replace('-', "")),
                       "postalAddress": "Testikuja 7", "postalCode": "00100", "postalDistrict": "HELSINKI",
                       "countryCode": "FI", "email": "laskutus@testiasiakas.fi", "languageCode": "FI"},
            "contacts": [{"role": "PRIMARY", "name": "Maija Meikäläinen", "email": "maija@testiasiakas.fi"}]
        })
    };
    let created = rt.block_on(client.create_client_from_value(&prov, &form)).unwrap();
    let token = created.access_token;

    println!(
        "future sizes (bytes): validate_token {}, renew_token {}, create_client_from_value {}",
        std::mem::size_of_val(&client.validate_token(&token)),
        std::mem::size_of_val(&client.renew_token(&token)),
        std::mem::size_of_val(&client.create_client_from_value(&prov, &form))
    );

    // Warm up (connection, pool, timer wheel), then count.
    rt.block_on(async {
        for _ in 0..2_000 {
            assert!(client.validate_token(&token).await.unwrap().is_valid);
        }
    });
    if std::env::var_os("ALLOC_TRACE").is_some() {
        TRACE.with(|t| t.set(true));
        if std::env::var("ALLOC_TRACE").is_ok_and(|v| v == "create") {
            let mut f = form.clone();
            let bid = confirma_sandbox::valid_business_id(99_999);
            f["client"]["vatRegNbr"] = format!("FI{}", bid.replace('-', "")).into();
            f["client"]["businessCode"] = bid.into();
            counted(|| rt.block_on(async { client.create_client_from_value(&prov, &f).await.unwrap() }));
        } else {
            counted(|| rt.block_on(async { client.validate_token(&token).await.unwrap() }));
        }
        TRACE.with(|t| t.set(false));
        return;
    }
    let cpu0 = thread_cpu_ns();
    let t0 = Instant::now();
    let ((), allocs, bytes) = counted(|| {
        rt.block_on(async {
            for _ in 0..calls {
                assert!(client.validate_token(&token).await.unwrap().is_valid);
            }
        })
    });
    let cpu = thread_cpu_ns() - cpu0;
    let wall = t0.elapsed();
    println!(
        "validate_token x{calls}: {:.1} allocations/call, {:.0} bytes/call, {:.2} µs on-CPU/call (client thread), {:.2} µs wall/call",
        allocs as f64 / calls as f64,
        bytes as f64 / calls as f64,
        cpu as f64 / 1e3 / calls as f64,
        wall.as_secs_f64() * 1e6 / calls as f64
    );

    // Renew: each call rotates the token.
    let renews = (calls / 10).max(100);
    let mut tok = token;
    let ((), allocs, bytes) = counted(|| {
        rt.block_on(async {
            for _ in 0..renews {
                tok = client.renew_token(&tok).await.unwrap().access_token;
            }
        })
    });
    println!(
        "renew_token x{renews}: {:.1} allocations/call, {:.0} bytes/call",
        allocs as f64 / renews as f64,
        bytes as f64 / renews as f64
    );

    let creates = 200u32;
    let forms: Vec<_> = (0..creates)
        .map(|i| {
            let mut f = form.clone();
            let bid = confirma_sandbox::valid_business_id(10_000 + i);
            f["client"]["vatRegNbr"] = format!("FI{}", bid.replace('-', "")).into();
            f["client"]["businessCode"] = bid.into();
            f
        })
        .collect();
    let ((), allocs, bytes) = counted(|| {
        rt.block_on(async {
            for f in &forms {
                client.create_client_from_value(&prov, f).await.unwrap();
            }
        })
    });
    println!(
        "create_client_from_value x{creates}: {:.1} allocations/call, {:.0} bytes/call",
        allocs as f64 / f64::from(creates),
        bytes as f64 / f64::from(creates)
    );
    drop(sandbox);
}
