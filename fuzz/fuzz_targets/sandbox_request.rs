//! The sandbox's request handling, end to end: one sandbox is started in-process (on a one-worker tokio
//! runtime reused by every iteration) and each input becomes one well-formed HTTP/1.1 request with an
//! arbitrary method, path, query, headers, API key and body, sent over a loopback socket. Whatever the
//! request, the sandbox answers (a handler panic shows up as a connection closed without an answer)
//! and never with a 5xx (no faults are queued: `/_sandbox/faults` is kept out of reach).
//!
//! Input layout (so that seeds are readable request heads):
//! ```text
//! METHOD PATH?QUERY
//! Name: value            (any number of header lines; `X-Api-Key: $PPT` / `$LAST` are replaced by the
//!                         provisioning token / the last created client's token)
//!                        (empty line)
//! BODY
//! ```
//! The method is reduced to token characters, the target is percent-encoded where needed, header names
//! and values are sanitised and framing headers are set by the harness (Content-Length, Connection:
//! close), so every input is a well-formed request.
#![no_main]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use confirma_sandbox::{Sandbox, SandboxConfig};
use libfuzzer_sys::fuzz_target;

const PPT: &str = "cfis_ppt_fuzz_token_0123456789";
struct Server {
    _rt: tokio::runtime::Runtime,
    _sandbox: Sandbox,
    addr: SocketAddr,
    /// The access token of the last client created, so validate/renew see live tokens too.
    last_token: Mutex<Option<String>>,
}

fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
        let config = SandboxConfig { provisioning_token: Some(PPT.into()), ..Default::default() };
        let sandbox = rt.block_on(Sandbox::start(config)).expect("sandbox starts");
        let addr = sandbox.addr();
        Server { _rt: rt, _sandbox: sandbox, addr, last_token: Mutex::new(None) }
    })
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Percent-encodes what may not appear raw in a request target.
fn encode(s: &str, keep: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || keep.as_bytes().contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn header_value(v: &[u8]) -> Vec<u8> {
    v.iter().copied().filter(|b| *b == b'\t' || (*b >= 0x20 && *b != 0x7f)).collect::<Vec<u8>>().trim_ascii().to_vec()
}

fuzz_target!(|data: &[u8]| {
    let srv = server();
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split('\n');
    let first = lines.next().unwrap_or_default();
    let (method, target) = first.split_once(' ').unwrap_or((first, "/"));
    let mut method: String = method.chars().filter(|c| is_tchar(*c)).take(20).collect();
    if method.is_empty() {
        method = "GET".into();
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let mut path = encode(path, "/-._~!$&'()*+,;=:@%");
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    // Faults (delays, resets, canned 5xx answers) are the sandbox's job; keep them out of reach.
    if path.to_ascii_lowercase().contains("fault") {
        path = path.replace(['f', 'F'], "x");
    }
    if let Some(q) = query {
        path.push('?');
        path.push_str(&encode(q, "/-._~!$&'()*+,;=:@?%"));
    }
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n").into_bytes();
    for line in lines.take(32) {
        let Some((name, value)) = line.split_once(':') else { continue };
        let name: String = name.chars().filter(|c| is_tchar(*c)).take(40).collect();
        let lower = name.to_ascii_lowercase();
        if name.is_empty()
            || ["content-length", "transfer-encoding", "connection", "expect", "upgrade", "host", "te", "trailer"]
                .contains(&lower.as_str())
        {
            continue;
        }
        let value = match value.trim() {
            "$PPT" => PPT.as_bytes().to_vec(),
            "$LAST" => srv.last_token.lock().unwrap().clone().unwrap_or_default().into_bytes(),
            v => header_value(v.as_bytes()),
        };
        req.extend_from_slice(name.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(&value);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    req.extend_from_slice(body);

    let mut stream = TcpStream::connect(srv.addr).expect("connect to the sandbox");
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    stream.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    // The sandbox may answer (e.g. 413) and close before reading everything; that is fine.
    let _ = stream.write_all(&req);
    let mut answer = Vec::new();
    if let Err(e) = stream.read_to_end(&mut answer) {
        // A reset after a complete answer is fine (the sandbox closed with unread request bytes).
        assert!(!answer.is_empty(), "no answer: {e}");
    }
    assert!(answer.starts_with(b"HTTP/1.1 "), "no answer (handler died?): {:?}", String::from_utf8_lossy(&answer));
    let status: u16 = std::str::from_utf8(&answer[9..12]).ok().and_then(|s| s.parse().ok()).expect("status code");
    assert!(status < 500, "5xx answer: {}", String::from_utf8_lossy(&answer));
    if status == 201 && path.to_ascii_lowercase().starts_with("/api/v1/partner/client") {
        let text = String::from_utf8_lossy(&answer);
        if let Some(body) = text.split("\r\n\r\n").nth(1) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
                if let Some(t) = v.get("accessToken").and_then(|t| t.as_str()) {
                    *srv.last_token.lock().unwrap() = Some(t.to_string());
                }
            }
        }
    }
});
