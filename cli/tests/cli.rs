//! The `confirma` command, run as a user runs it, against a sandbox it starts itself.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_confirma");

struct SandboxProc {
    child: Child,
    info: Value,
}

impl SandboxProc {
    fn start(extra: &[&str]) -> Self {
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
    fn url(&self) -> &str {
        self.info["baseUrl"].as_str().unwrap()
    }
}

impl Drop for SandboxProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("CONFIRMA_ACCESS_TOKEN").env_remove("CONFIRMA_PROVISIONING_TOKEN").env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn client_file(dir: &std::path::Path, partner: &str, business_id: &str) -> String {
    let path = dir.join(format!("client-{business_id}.json"));
    let body = serde_json::json!({
        "service": {"type": "LIFECYCLE", "partnerCode": partner},
        "client": {"name": "CLI Oy", "businessCode": business_id, "postalAddress": "Katu 1", "postalCode": "00100",
                   "postalDistrict": "HELSINKI", "countryCode": "FI", "email": "cli@example.fi", "languageCode": "FI"},
        "contacts": [{"role": "PRIMARY", "name": "Cli User", "email": "user@example.fi"}]
    });
    std::fs::write(&path, body.to_string()).unwrap();
    path.to_string_lossy().into()
}

#[test]
fn demo_runs_offline_and_shows_no_token() {
    let (code, out, err) = run(&["demo"], &[], None);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    for expected in ["POST /client", "isValid=true", "old token", "isValid=false", "client.email", "CONFIRMA_CONFLICT", "after 3 attempts", "[REDACTED]"] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(!out.contains("cfis_at_") && !out.contains("cfis_ppt_"), "a token leaked:\n{out}");
}

#[test]
fn create_validate_renew_with_exit_codes() {
    let sb = SandboxProc::start(&[]);
    let dir = std::env::temp_dir().join(format!("confirma-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ppt = sb.info["provisioningToken"].as_str().unwrap().to_string();
    let partner = sb.info["partnerCode"].as_str().unwrap().to_string();
    let file = client_file(&dir, &partner, "1572860-0");
    let url = sb.url().to_string();

    // Create: token from the environment, credentials as JSON.
    let (code, out, err) = run(&["client", "create", "--base-url", &url, "--file", &file, "--json"], &[("CONFIRMA_PROVISIONING_TOKEN", &ppt)], None);
    assert_eq!(code, 0, "{err}");
    let created: Value = serde_json::from_str(out.trim()).unwrap();
    let token = created["accessToken"].as_str().unwrap().to_string();
    assert!(created["customerCode"].is_string());

    // Human output redacts the token.
    let file2 = client_file(&dir, &partner, "0112038-9");
    let (code, out, _) = run(&["client", "create", "--base-url", &url, "--file", &file2], &[], Some(&format!("{ppt}\n")));
    assert_eq!(code, 0);
    assert!(out.contains("[REDACTED]") && !out.contains("cfis_at_"), "{out}");

    // Duplicate → 5; invalid input → 3 with field errors in JSON.
    let (code, out, _) = run(&["client", "create", "--base-url", &url, "--file", &file, "--json"], &[("CONFIRMA_PROVISIONING_TOKEN", &ppt)], None);
    assert_eq!(code, 5);
    assert_eq!(serde_json::from_str::<Value>(out.trim()).unwrap()["error"]["kind"], "conflict");
    let bad = client_file(&dir, &partner, "123456-7");
    let (code, out, err) = run(&["client", "create", "--base-url", &url, "--file", &bad, "--json"], &[("CONFIRMA_PROVISIONING_TOKEN", &ppt)], None);
    assert_eq!(code, 3, "{err}");
    let e: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(e["error"]["fieldErrors"]["client.businessCode"].is_array(), "{e}");
    assert!(!out.contains(&ppt) && !err.contains(&ppt));

    // Validate from env and from stdin → 0; renew prints only the new token on stdout.
    assert_eq!(run(&["token", "validate", "--base-url", &url], &[("CONFIRMA_ACCESS_TOKEN", &token)], None).0, 0);
    let (code, out, _) = run(&["token", "validate", "--base-url", &url, "--json"], &[], Some(&token));
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<Value>(out.trim()).unwrap()["isValid"], true);
    let (code, new_token, err) = run(&["token", "renew", "--base-url", &url], &[("CONFIRMA_ACCESS_TOKEN", &token)], None);
    assert_eq!(code, 0, "{err}");
    let new_token = new_token.trim().to_string();
    assert!(new_token.len() > 10 && new_token != token);
    assert!(!err.contains(&new_token));
    // Old token: not valid → 9; new token valid → 0; unknown token renew → 4.
    assert_eq!(run(&["token", "validate", "--base-url", &url], &[("CONFIRMA_ACCESS_TOKEN", &token)], None).0, 9);
    assert_eq!(run(&["token", "validate", "--base-url", &url], &[("CONFIRMA_ACCESS_TOKEN", &new_token)], None).0, 0);
    assert_eq!(run(&["token", "renew", "--base-url", &url], &[("CONFIRMA_ACCESS_TOKEN", "cfis_at_unknown00000")], None).0, 4);

    // No token anywhere → 2; plain http to a remote host → 2; nothing listening → 6 (transient).
    assert_eq!(run(&["token", "validate", "--base-url", &url], &[], None).0, 2);
    assert_eq!(run(&["token", "validate", "--base-url", "http://cfis.example.com"], &[("CONFIRMA_ACCESS_TOKEN", "t")], None).0, 2);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (code, _, err) = run(&["token", "validate", "--base-url", &format!("http://127.0.0.1:{closed}"), "--max-retries", "0"], &[("CONFIRMA_ACCESS_TOKEN", "t")], None);
    assert_eq!(code, 6, "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn tokens_are_not_accepted_as_arguments() {
    let (code, _, err) = run(&["token", "validate", "--base-url", "http://127.0.0.1:1", "--token", "abc"], &[], None);
    assert_eq!(code, 2, "clap rejects unknown --token: {err}");
}
