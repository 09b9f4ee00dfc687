//! The `confirma` command, run as a user runs it, against a sandbox it starts itself.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

mod common;
use common::{admin, run_cli as run, SandboxProc, BIN};

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
    for expected in [
        "POST /client",
        "isValid=true",
        "old token",
        "isValid=false",
        "client.email",
        "CONFIRMA_CONFLICT",
        "after 3 attempts",
        "[REDACTED]",
    ] {
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
    let (code, out, err) = run(
        &["client", "create", "--base-url", &url, "--file", &file, "--json"],
        &[("CONFIRMA_PROVISIONING_TOKEN", &ppt)],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let created: Value = serde_json::from_str(out.trim()).unwrap();
    let token = created["accessToken"].as_str().unwrap().to_string();
    assert!(created["customerCode"].is_string());

    // Human output with --token-out names the file, never the token.
    let file2 = client_file(&dir, &partner, "0112038-9");
    let tok_path = dir.join("second.token");
    let (code, out, err) = run(
        &["client", "create", "--base-url", &url, "--file", &file2, "--token-out", tok_path.to_str().unwrap()],
        &[],
        Some(&format!("{ppt}\n")),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("customer code") && out.contains("second.token") && !out.contains("cfis_at_"), "{out}");

    // Duplicate → 5; invalid input → 3 with field errors in JSON.
    let (code, out, _) = run(
        &["client", "create", "--base-url", &url, "--file", &file, "--json"],
        &[("CONFIRMA_PROVISIONING_TOKEN", &ppt)],
        None,
    );
    assert_eq!(code, 5);
    assert_eq!(serde_json::from_str::<Value>(out.trim()).unwrap()["error"]["kind"], "conflict");
    let bad = client_file(&dir, &partner, "123456-7");
    let (code, out, err) = run(
        &["client", "create", "--base-url", &url, "--file", &bad, "--json"],
        &[("CONFIRMA_PROVISIONING_TOKEN", &ppt)],
        None,
    );
    assert_eq!(code, 3, "{err}");
    let e: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(e["error"]["fieldErrors"]["client.businessCode"].is_array(), "{e}");
    assert!(!out.contains(&ppt) && !err.contains(&ppt));

    // Validate from env and from stdin → 0; renew prints only the new token on stdout.
    assert_eq!(run(&["token", "validate", "--base-url", &url], &[("CONFIRMA_ACCESS_TOKEN", &token)], None).0, 0);
    let (code, out, _) = run(&["token", "validate", "--base-url", &url, "--json"], &[], Some(&token));
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<Value>(out.trim()).unwrap()["isValid"], true);
    let (code, new_token, err) =
        run(&["token", "renew", "--base-url", &url], &[("CONFIRMA_ACCESS_TOKEN", &token)], None);
    assert_eq!(code, 0, "{err}");
    let new_token = new_token.trim().to_string();
    assert!(new_token.len() > 10 && new_token != token);
    assert!(!err.contains(&new_token));
    // Old token: not valid → 9; new token valid → 0; unknown token renew → 4.
    assert_eq!(run(&["token", "validate", "--base-url", &url], &[("CONFIRMA_ACCESS_TOKEN", &token)], None).0, 9);
    assert_eq!(run(&["token", "validate", "--base-url", &url], &[("CONFIRMA_ACCESS_TOKEN", &new_token)], None).0, 0);
    assert_eq!(
        run(&["token", "renew", "--base-url", &url], &[("CONFIRMA_ACCESS_TOKEN", "cfis_at_unknown00000")], None).0,
        4
    );

    // No token anywhere → 2; plain http to a remote host → 2; nothing listening → 6 (transient).
    assert_eq!(run(&["token", "validate", "--base-url", &url], &[], None).0, 2);
    assert_eq!(
        run(&["token", "validate", "--base-url", "http://cfis.example.com"], &[("CONFIRMA_ACCESS_TOKEN", "t")], None).0,
        2
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (code, _, err) = run(
        &["token", "validate", "--base-url", &format!("http://127.0.0.1:{closed}"), "--max-retries", "0"],
        &[("CONFIRMA_ACCESS_TOKEN", "t")],
        None,
    );
    assert_eq!(code, 6, "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn tokens_are_not_accepted_as_arguments() {
    let (code, _, err) = run(&["token", "validate", "--base-url", "http://127.0.0.1:1", "--token", "abc"], &[], None);
    assert_eq!(code, 2, "clap rejects unknown --token: {err}");
}

fn state(sb: &SandboxProc) -> Value {
    admin(sb.url(), "GET", "/_sandbox/state", None)
}

fn requests_to(sb: &SandboxProc, path: &str) -> u64 {
    state(sb)["requestsByPath"][path].as_u64().unwrap_or(0)
}

struct Fixture {
    sb: SandboxProc,
    dir: PathBuf,
    ppt: String,
    partner: String,
}

impl Fixture {
    fn new(name: &str) -> Self {
        let sb = SandboxProc::start(&[]);
        let dir = std::env::temp_dir().join(format!("confirma-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let ppt = sb.info["provisioningToken"].as_str().unwrap().to_string();
        let partner = sb.info["partnerCode"].as_str().unwrap().to_string();
        Fixture { sb, dir, ppt, partner }
    }
    fn url(&self) -> String {
        self.sb.url().to_string()
    }
    fn client_file(&self, business_id: &str) -> String {
        client_file(&self.dir, &self.partner, business_id)
    }
    /// `client create` with the provisioning token in the environment.
    fn create(&self, business_id: &str, extra: &[&str]) -> (i32, String, String) {
        let file = self.client_file(business_id);
        let url = self.url();
        let mut args = vec!["client", "create", "--base-url", &url, "--file", &file];
        args.extend_from_slice(extra);
        run(&args, &[("CONFIRMA_PROVISIONING_TOKEN", &self.ppt)], None)
    }
    /// A new client's access token, through `client create --json`.
    fn new_token(&self, business_id: &str) -> String {
        let (code, out, err) = self.create(business_id, &["--json"]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<Value>(out.trim()).unwrap()["accessToken"].as_str().unwrap().to_string()
    }
    fn validate(&self, token: &str) -> i32 {
        run(&["token", "validate", "--base-url", &self.url()], &[("CONFIRMA_ACCESS_TOKEN", token)], None).0
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn create_without_an_output_is_refused_before_sending() {
    let f = Fixture::new("no-output");
    let (code, out, err) = f.create("1572860-0", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--token-out") && err.contains("--json") && err.contains("nothing was sent"), "{err}");
    assert!(out.is_empty(), "{out}");
    let st = state(&f.sb);
    assert_eq!(st["clients"], 0, "{st}");
    assert_eq!(requests_to(&f.sb, "/api/v1/partner/client"), 0, "{st}");
}

#[test]
fn create_token_out_writes_a_private_file_whose_token_validates() {
    let f = Fixture::new("token-out");
    let path = f.path("client.token");
    let (code, out, err) = f.create("1572860-0", &["--token-out", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(mode(&path), 0o600);
    let token = std::fs::read_to_string(&path).unwrap();
    assert!(token.ends_with('\n'));
    let token = token.trim();
    assert!(token.len() > 10, "{token:?}");
    assert!(
        out.contains("client id") && out.contains("customer code") && out.contains(path.to_str().unwrap()),
        "{out}"
    );
    assert!(!out.contains(token) && !err.contains(token), "the token was printed:\n{out}\n{err}");
    assert_eq!(f.validate(token), 0);

    // --json together with --token-out: the JSON names the file and carries no token.
    let path2 = f.path("second.token");
    let (code, out, err) = f.create("0112038-9", &["--token-out", path2.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(j["accessTokenFile"], path2.to_str().unwrap());
    assert!(j.get("accessToken").is_none() && j["customerCode"].is_string(), "{j}");
    assert_eq!(mode(&path2), 0o600);
    assert_eq!(f.validate(std::fs::read_to_string(&path2).unwrap().trim()), 0);
}

#[test]
fn token_out_never_overwrites_nor_follows_a_symlink_and_refuses_before_sending() {
    let f = Fixture::new("exists");
    let existing = f.path("existing.token");
    std::fs::write(&existing, "keep me\n").unwrap();
    let (code, _, err) = f.create("1572860-0", &["--token-out", existing.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("exists") && err.contains("nothing was sent"), "{err}");
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me\n");

    let link = f.path("link.token");
    let target = f.path("target-of-link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let (code, _, err) = f.create("1572860-0", &["--token-out", link.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(!target.exists(), "the symlink was followed");

    let missing_dir = f.path("no-such-dir").join("x.token");
    let (code, _, err) = f.create("1572860-0", &["--token-out", missing_dir.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");

    assert_eq!(state(&f.sb)["clients"], 0);
    assert_eq!(requests_to(&f.sb, "/api/v1/partner/client"), 0);

    // renew --token-out to an existing file: refused, nothing sent, the token still works.
    let token = f.new_token("0112038-9");
    let (code, _, err) = run(
        &["token", "renew", "--base-url", &f.url(), "--token-out", existing.to_str().unwrap()],
        &[("CONFIRMA_ACCESS_TOKEN", &token)],
        None,
    );
    assert_eq!(code, 2, "{err}");
    assert_eq!(requests_to(&f.sb, "/api/v1/partner/renew"), 0);
    assert_eq!(f.validate(&token), 0);
}

#[test]
fn a_failed_create_removes_its_empty_token_file() {
    let f = Fixture::new("conflict");
    let _ = f.new_token("1572860-0");
    let path = f.path("dup.token");
    let (code, _, err) = f.create("1572860-0", &["--token-out", path.to_str().unwrap()]);
    assert_eq!(code, 5, "{err}");
    assert!(!path.exists(), "an empty token file was left behind");
}

/// Runs `token renew` with the token on stdin (so the command cannot write before the read end of its
/// stdout is gone) and stdout either a pipe whose read end is closed or /dev/full.
fn renew_into_broken_stdout(url: &str, token: &str, stdout: &str, extra: &[&str]) -> (i32, String) {
    let out = match stdout {
        "closed-pipe" => Stdio::piped(),
        "dev-full" => Stdio::from(std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap()),
        other => panic!("{other}"),
    };
    let mut child = Command::new(BIN)
        .args(["token", "renew", "--base-url", url])
        .args(extra)
        .env_remove("CONFIRMA_ACCESS_TOKEN")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // no reader left: a write is EPIPE
    child.stdin.take().unwrap().write_all(format!("{token}\n").as_bytes()).unwrap();
    let done = child.wait_with_output().unwrap();
    (done.status.code().unwrap_or(-1), String::from_utf8_lossy(&done.stderr).into())
}

#[test]
fn renew_whose_stdout_is_closed_or_full_exits_11_and_says_the_token_is_in_flight() {
    let f = Fixture::new("renew-stdout");
    for (i, (stdout, extra)) in [
        ("closed-pipe", &[][..]),
        ("dev-full", &[][..]),
        ("closed-pipe", &["--json"][..]),
        ("dev-full", &["--json"][..]),
    ]
    .into_iter()
    .enumerate()
    {
        let token = f.new_token(&confirma_sandbox::valid_business_id(100 + i as u32));
        let (code, err) = renew_into_broken_stdout(&f.url(), &token, stdout, extra);
        assert_eq!(code, 11, "{stdout} {extra:?}: {err}");
        assert!(err.contains("may be lost in flight") && err.contains("old token no longer works"), "{err}");
        assert!(!err.contains("cfis_at_") && !err.contains("panicked"), "{err}");
        // The renewal did happen: the old token is dead, which is why the message says so.
        assert_eq!(f.validate(&token), 9, "{stdout} {extra:?}");
    }
}

#[test]
fn create_json_to_a_full_stdout_exits_11_and_names_the_client() {
    let f = Fixture::new("create-full");
    let file = f.client_file("1572860-0");
    let done = Command::new(BIN)
        .args(["client", "create", "--base-url", &f.url(), "--file", &file, "--json"])
        .env("CONFIRMA_PROVISIONING_TOKEN", &f.ppt)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap()))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(11), "{err}");
    assert!(
        err.contains("client was created") && err.contains("may be lost in flight") && err.contains("customer code"),
        "{err}"
    );
    assert!(!err.contains("cfis_at_"), "{err}");
    assert_eq!(state(&f.sb)["clients"], 1);
}

#[test]
fn odd_input_is_a_typed_exit_never_a_panic() {
    let f = Fixture::new("odd");
    let url = f.url();
    let env = [("CONFIRMA_ACCESS_TOKEN", "cfis_at_whatever0000")];
    for timeout in ["NaN", "inf", "-1", "0", "1e308"] {
        let (code, _, err) = run(&["token", "validate", "--base-url", &url, "--timeout", timeout], &env, None);
        assert_eq!(code, 2, "--timeout {timeout}: {err}");
    }
    let (code, _, err) = run(&["token", "validate", "--base-url", &url, "--max-retries", "4294967295"], &env, None);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["token", "validate", "--base-url", "not a url"], &env, None);
    assert_eq!(code, 2, "{err}");

    // A multi-byte VAT number in strict mode once panicked in the core's validation.
    let file = f.path("euro.json");
    let body = serde_json::json!({
        "service": {"type": "LIFECYCLE", "partnerCode": f.partner},
        "client": {"name": "Euro Oy", "businessCode": "1572860-0", "vatRegNbr": "€1234567", "postalAddress": "Katu 1",
                   "postalCode": "00100", "postalDistrict": "HELSINKI", "countryCode": "FI", "email": "e@example.fi",
                   "languageCode": "FI"},
        "contacts": [{"role": "PRIMARY", "name": "E User", "email": "e@example.fi"}]
    });
    std::fs::write(&file, body.to_string()).unwrap();
    let tok = f.path("euro.token");
    let (code, _, err) = run(
        &[
            "client",
            "create",
            "--base-url",
            &url,
            "--file",
            file.to_str().unwrap(),
            "--token-out",
            tok.to_str().unwrap(),
        ],
        &[("CONFIRMA_PROVISIONING_TOKEN", &f.ppt)],
        None,
    );
    assert_eq!(code, 3, "{err}");
    assert!(!tok.exists());
    // Not JSON, not UTF-8, a directory: typed exits.
    std::fs::write(f.path("bad.json"), b"{\xff\xfe").unwrap();
    for bad in [f.path("bad.json"), f.dir.clone()] {
        let (code, _, err) = run(
            &["client", "create", "--base-url", &url, "--file", bad.to_str().unwrap(), "--json"],
            &[("CONFIRMA_PROVISIONING_TOKEN", &f.ppt)],
            None,
        );
        assert!(code == 2 || code == 3, "{}: {code} {err}", bad.display());
    }
    assert_eq!(state(&f.sb)["clients"], 0);
}

#[test]
fn demo_into_a_closed_pipe_exits_1_not_101() {
    let mut child = Command::new(BIN).arg("demo").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let done = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(1), "{err}");
    assert!(err.contains("Broken pipe") && !err.contains("panicked"), "{err}");
}

#[test]
fn create_partial_success_hands_over_the_recovered_token() {
    let f = Fixture::new("partial");
    let fault = r#"{"path": "/api/v1/partner/client", "kind": "partial_success"}"#;

    // --token-out: the recovered token is saved, exit 7 (outcome unknown), the client exists.
    admin(f.sb.url(), "POST", "/_sandbox/faults", Some(fault));
    let path = f.path("partial.token");
    let (code, out, err) = f.create("1572860-0", &["--token-out", path.to_str().unwrap()]);
    assert_eq!(code, 7, "{err}");
    assert!(err.contains("client exists") && err.contains(path.to_str().unwrap()), "{err}");
    assert_eq!(mode(&path), 0o600);
    let token = std::fs::read_to_string(&path).unwrap();
    let token = token.trim();
    assert!(!out.contains(token) && !err.contains(token));
    assert_eq!(f.validate(token), 0);
    assert_eq!(state(&f.sb)["clients"], 1);

    // --json: the recovered token is in the JSON error object on stdout.
    admin(f.sb.url(), "POST", "/_sandbox/faults", Some(fault));
    let (code, out, err) = f.create("0112038-9", &["--json"]);
    assert_eq!(code, 7, "{err}");
    let j: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(j["error"]["kind"], "outcome_unknown", "{j}");
    let token = j["error"]["recoveredToken"].as_str().expect("recoveredToken").to_string();
    assert!(!err.contains(&token));
    assert_eq!(f.validate(&token), 0);

    // Without a chosen output the create is still refused before sending.
    admin(f.sb.url(), "POST", "/_sandbox/faults", Some(fault));
    assert_eq!(f.create(&confirma_sandbox::valid_business_id(7), &[]).0, 2);
    assert_eq!(state(&f.sb)["clients"], 2);
}

#[test]
fn renew_with_an_unreadable_answer_hands_over_the_raw_answer() {
    let f = Fixture::new("renew-raw");
    let fault = r#"{"path": "/api/v1/partner/renew", "kind": "partial_success"}"#;
    let new_key = |raw: &str| -> String {
        let v: Value = serde_json::from_str(raw.trim()).expect("the raw answer is CFIS's JSON");
        v["result"]["newKey"].as_str().unwrap().to_string()
    };

    // Plain renew: stdout is the token channel, so the raw answer goes there; non-zero exit.
    let token = f.new_token("1572860-0");
    admin(f.sb.url(), "POST", "/_sandbox/faults", Some(fault));
    let (code, out, err) = run(&["token", "renew", "--base-url", &f.url()], &[("CONFIRMA_ACCESS_TOKEN", &token)], None);
    assert!(code == 7 || code == 8, "{code}: {err}");
    assert!(err.contains("old token") && err.contains("stdout"), "{err}");
    let new_token = new_key(&out);
    assert!(!err.contains(&new_token));
    assert_eq!(f.validate(&new_token), 0);

    // --token-out: the raw answer is saved to the file.
    admin(f.sb.url(), "POST", "/_sandbox/faults", Some(fault));
    let path = f.path("raw.answer");
    let (code, out, err) = run(
        &["token", "renew", "--base-url", &f.url(), "--token-out", path.to_str().unwrap()],
        &[("CONFIRMA_ACCESS_TOKEN", &new_token)],
        None,
    );
    assert!(code == 7 || code == 8, "{code}: {err}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(mode(&path), 0o600);
    let newer = new_key(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(f.validate(&newer), 0);

    // --json: the raw answer is in the JSON error object.
    admin(f.sb.url(), "POST", "/_sandbox/faults", Some(fault));
    let (code, out, err) =
        run(&["token", "renew", "--base-url", &f.url(), "--json"], &[("CONFIRMA_ACCESS_TOKEN", &newer)], None);
    assert!(code == 7 || code == 8, "{code}: {err}");
    let j: Value = serde_json::from_str(out.trim()).unwrap();
    let newest = new_key(j["error"]["rawResponse"].as_str().expect("rawResponse"));
    assert_eq!(f.validate(&newest), 0);
}

/// Starts `client create --token-out` against a create that the sandbox holds for `delay_ms`, and returns once
/// the request has reached the sandbox (polled on its state, no sleeping).
fn create_in_flight(f: &Fixture, business_id: &str, token_out: &Path, delay_ms: u64) -> Child {
    let fault = format!(r#"{{"path": "/api/v1/partner/client", "kind": "delay", "ms": {delay_ms}}}"#);
    admin(f.sb.url(), "POST", "/_sandbox/faults", Some(&fault));
    let before = requests_to(&f.sb, "/api/v1/partner/client");
    let file = f.client_file(business_id);
    let child = Command::new(BIN)
        .args(["client", "create", "--base-url", &f.url(), "--file", &file, "--token-out", token_out.to_str().unwrap()])
        .env("CONFIRMA_PROVISIONING_TOKEN", &f.ppt)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while requests_to(&f.sb, "/api/v1/partner/client") == before {
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "the create never reached the sandbox");
        std::thread::sleep(std::time::Duration::from_millis(10)); // polling a condition, not a timing assumption
    }
    child
}

fn interrupt(child: &Child) {
    signal(child, libc::SIGINT);
}

fn signal(child: &Child, which: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own, not yet reaped child; no memory is involved.
    assert_eq!(unsafe { libc::kill(pid, which) }, 0, "kill failed");
}

/// Reads stderr lines until one contains `needle` (the command's own acknowledgement: real synchronisation).
fn wait_for_line(stderr: &mut BufReader<std::process::ChildStderr>, needle: &str) -> String {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "stderr ended before {needle:?}:\n{seen}");
        seen.push_str(&line);
        if line.contains(needle) {
            return seen;
        }
    }
}

#[test]
fn ctrl_c_or_sigterm_during_a_create_waits_for_the_token_and_a_second_one_abandons_it() {
    let f = Fixture::new("sigint");
    // Once: the command says it is waiting, then delivers the token as usual.
    let path = f.path("waited.token");
    let mut child = create_in_flight(&f, "1572860-0", &path, 6000);
    interrupt(&child);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    wait_for_line(&mut stderr, "waiting for CFIS's answer");
    let done = child.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(0));
    assert_eq!(f.validate(std::fs::read_to_string(&path).unwrap().trim()), 0);

    // SIGTERM (a service manager stopping the job) is treated the same way.
    let path = f.path("terminated.token");
    let mut child = create_in_flight(&f, &confirma_sandbox::valid_business_id(11), &path, 6000);
    signal(&child, libc::SIGTERM);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    wait_for_line(&mut stderr, "SIGTERM: waiting for CFIS's answer");
    let done = child.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(0));
    assert_eq!(f.validate(std::fs::read_to_string(&path).unwrap().trim()), 0);

    // Twice: abandoned, outcome unknown (7), the empty token file is removed.
    let path = f.path("abandoned.token");
    let mut child = create_in_flight(&f, "0112038-9", &path, 6000);
    interrupt(&child);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    wait_for_line(&mut stderr, "waiting for CFIS's answer");
    interrupt(&child);
    let rest = wait_for_line(&mut stderr, "abandoned");
    assert!(rest.contains("outcome") && rest.contains("unknown"), "{rest}");
    assert_eq!(child.wait().unwrap().code(), Some(7));
    assert!(!path.exists());
}

#[test]
fn a_token_file_over_the_file_size_limit_is_exit_11_not_a_silent_death() {
    let f = Fixture::new("fsize");
    let file = f.client_file("1572860-0");
    let path = f.path("limited.token");
    // `ulimit -f 0`: the file can be created but not one byte written (SIGXFSZ, then EFBIG if it is handled).
    let done = Command::new("sh")
        .args(["-c", r#"ulimit -f 0 && exec "$0" "$@""#, BIN])
        .args(["client", "create", "--base-url", &f.url(), "--file", &file, "--token-out", path.to_str().unwrap()])
        .env("CONFIRMA_PROVISIONING_TOKEN", &f.ppt)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(11), "{:?}: {err}", done.status);
    assert!(err.contains("may be lost in flight") && err.contains("client was created"), "{err}");
    assert!(err.contains("nothing was written") && !path.exists(), "{err}");
    assert!(!err.contains("cfis_at_"), "{err}");
    assert_eq!(state(&f.sb)["clients"], 1);
}

#[test]
fn a_recovered_token_that_cannot_be_saved_falls_back_to_the_json_or_exits_11() {
    let f = Fixture::new("partial-fsize");
    let fault = r#"{"path": "/api/v1/partner/client", "kind": "partial_success"}"#;
    let limited = |business_id: &str, path: &Path, extra: &[&str]| {
        let file = f.client_file(business_id);
        Command::new("sh")
            .args(["-c", r#"ulimit -f 0 && exec "$0" "$@""#, BIN])
            .args(["client", "create", "--base-url", &f.url(), "--file", &file, "--token-out", path.to_str().unwrap()])
            .args(extra)
            .env("CONFIRMA_PROVISIONING_TOKEN", &f.ppt)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };

    // The file cannot take it and nothing else was asked for: exit 11, the message says the token is in flight.
    admin(f.sb.url(), "POST", "/_sandbox/faults", Some(fault));
    let path = f.path("a.token");
    let done = limited("1572860-0", &path, &[]);
    let err = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(11), "{err}");
    assert!(err.contains("may be lost in flight") && !path.exists(), "{err}");

    // With --json as well, the token goes into the JSON error object instead: exit 7, nothing lost.
    admin(f.sb.url(), "POST", "/_sandbox/faults", Some(fault));
    let path = f.path("b.token");
    let done = limited("0112038-9", &path, &["--json"]);
    let err = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(7), "{err}");
    let j: Value = serde_json::from_str(String::from_utf8_lossy(&done.stdout).trim()).unwrap();
    let token = j["error"]["recoveredToken"].as_str().expect("recoveredToken");
    assert!(j["error"].get("recoveredTokenFile").is_none(), "{j}");
    assert!(err.contains("error.recoveredToken") && err.contains("b.token failed") && !err.contains(token), "{err}");
    assert_eq!(f.validate(token), 0);
    assert_eq!(state(&f.sb)["clients"], 2);
}
