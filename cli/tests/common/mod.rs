//! Shared by the CLI's test binaries: a sandbox process started by the `confirma` binary, and its admin API.
#![allow(dead_code)] // each test binary uses its own part

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_confirma");

/// Runs `confirma <args>` as a user would, with these environment variables (every `CONFIRMA_*` secret and
/// `RUST_LOG` of the test's own environment removed first) and this standard input; returns the exit code,
/// stdout and stderr.
pub fn run_cli(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for var in
        ["CONFIRMA_ACCESS_TOKEN", "CONFIRMA_PROVISIONING_TOKEN", "CONFIRMA_STORE_KEY", "CONFIRMA_STORE_URL", "RUST_LOG"]
    {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// A `confirma sandbox` process on a free loopback port, killed on drop.
pub struct SandboxProc {
    child: Child,
    /// Its JSON line (`baseUrl`, `provisioningToken`, `partnerCode`).
    pub info: Value,
}

impl SandboxProc {
    /// Starts one with these extra `confirma sandbox` flags and reads its one JSON line.
    pub fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["sandbox", "--host", "127.0.0.1", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let info: Value = serde_json::from_str(&line).expect("one JSON line");
        SandboxProc { child, info }
    }
    /// Its base URL.
    pub fn url(&self) -> &str {
        self.info["baseUrl"].as_str().unwrap()
    }
}

impl Drop for SandboxProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 exchange with the sandbox's admin API over loopback (no client library needed).
pub fn admin(base_url: &str, method: &str, path: &str, body: Option<&str>) -> Value {
    let addr = base_url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, payload) = resp.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 2"), "{method} {path}: {head}");
    serde_json::from_str(payload).unwrap_or(Value::Null)
}
