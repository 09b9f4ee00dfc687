//! `confirma credentials …` and `client create --store`, run as a user runs them: the real binary, a sandbox
//! process over loopback, real SQLite files.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

mod common;
use common::{SandboxProc, BIN};

const RENEW: &str = "/api/v1/partner/renew";
const VALIDATE: &str = "/api/v1/partner/validate";

/// The sandbox's admin API.
fn admin(sb: &SandboxProc, method: &str, path: &str, body: Option<&str>) -> Value {
    common::admin(sb.url(), method, path, body)
}

fn requests_to(sb: &SandboxProc, path: &str) -> u64 {
    admin(sb, "GET", "/_sandbox/state", None)["requestsByPath"][path].as_u64().unwrap_or(0)
}

struct Out {
    code: i32,
    out: String,
    err: String,
}

/// A fresh store key (through the command itself).
fn keygen() -> String {
    let o = run(&["credentials", "keygen"], &[], None);
    assert_eq!(o.code, 0, "{}", o.err);
    let key = o.out.trim().to_string();
    assert_eq!(key.len(), 44, "base64 of 32 bytes: {key:?}");
    assert!(o.err.contains("CONFIRMA_STORE_KEY") && !o.err.contains(&key), "{}", o.err);
    key
}

fn run(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Out {
    let (code, out, err) = common::run_cli(args, env, stdin);
    Out { code, out, err }
}

struct Fixture {
    sb: SandboxProc,
    dir: PathBuf,
    key: String,
    seed: std::cell::Cell<u32>,
}

impl Fixture {
    fn new(name: &str) -> Self {
        Self::with_sandbox(name, &[])
    }
    fn with_sandbox(name: &str, sandbox_args: &[&str]) -> Self {
        let sb = SandboxProc::start(sandbox_args);
        let dir = std::env::temp_dir().join(format!("confirma-cli-cred-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Fixture { sb, dir, key: keygen(), seed: std::cell::Cell::new(1) }
    }
    fn url(&self) -> String {
        self.sb.url().to_string()
    }
    fn db(&self, name: &str) -> String {
        format!("sqlite:{}", self.dir.join(name).display())
    }
    fn client_file(&self) -> String {
        let n = self.seed.get();
        self.seed.set(n + 1);
        let business_id = confirma_sandbox::valid_business_id(n * 7919);
        let path = self.dir.join(format!("client-{n}.json"));
        let body = serde_json::json!({
            "service": {"type": "LIFECYCLE", "partnerCode": self.sb.info["partnerCode"]},
            "client": {"name": "Store Oy", "businessCode": business_id, "postalAddress": "Katu 1", "postalCode": "00100",
                       "postalDistrict": "HELSINKI", "countryCode": "FI", "email": "s@example.fi", "languageCode": "FI"},
            "contacts": [{"role": "PRIMARY", "name": "Store User", "email": "u@example.fi"}]
        });
        std::fs::write(&path, body.to_string()).unwrap();
        path.to_string_lossy().into()
    }
    /// `client create` with the provisioning token in the environment (and the store key).
    fn create(&self, extra: &[&str], env: &[(&str, &str)]) -> Out {
        let file = self.client_file();
        let url = self.url();
        let mut args = vec!["client", "create", "--base-url", &url, "--file", &file];
        args.extend_from_slice(extra);
        let ppt = self.sb.info["provisioningToken"].as_str().unwrap().to_string();
        let mut env = env.to_vec();
        env.push(("CONFIRMA_PROVISIONING_TOKEN", &ppt));
        run(&args, &env, None)
    }
    /// A new client (not stored): (client id, token).
    fn new_client(&self) -> (String, String) {
        let o = self.create(&["--json"], &[]);
        assert_eq!(o.code, 0, "{}", o.err);
        let j: Value = serde_json::from_str(o.out.trim()).unwrap();
        (j["clientId"].as_str().unwrap().into(), j["accessToken"].as_str().unwrap().into())
    }
    /// `confirma credentials <sub> --base-url … --store <db>` with the fixture's key.
    fn cred(&self, sub: &str, db: &str, extra: &[&str]) -> Out {
        self.cred_env(sub, db, extra, &[("CONFIRMA_STORE_KEY", &self.key)], None)
    }
    fn cred_env(&self, sub: &str, db: &str, extra: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Out {
        let url = self.url();
        let store = self.db(db);
        let mut args = vec!["credentials", sub, "--base-url", &url, "--store", &store];
        args.extend_from_slice(extra);
        run(&args, env, stdin)
    }
    fn status(&self, db: &str, client_id: &str) -> Value {
        let o = self.cred("status", db, &["--client-id", client_id, "--json"]);
        assert_eq!(o.code, 0, "{}", o.err);
        serde_json::from_str(o.out.trim()).unwrap()
    }
    fn validate(&self, token: &str) -> i32 {
        run(&["token", "validate", "--base-url", &self.url()], &[("CONFIRMA_ACCESS_TOKEN", token)], None).code
    }
    /// Every file of the store (the database and its -wal / -shm), concatenated.
    fn store_bytes(&self, db: &str) -> Vec<u8> {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(&self.dir).unwrap() {
            let p = entry.unwrap().path();
            if p.file_name().unwrap().to_string_lossy().starts_with(db) {
                all.extend(std::fs::read(&p).unwrap());
            }
        }
        assert!(!all.is_empty(), "no store files for {db}");
        all
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn import_status_token_renew_and_the_file_never_holds_a_token() {
    let f = Fixture::new("flow");
    let (id, first) = f.new_client();
    let db = "creds.db";

    // Import: token on stdin, validated first (one validate request), stored encrypted.
    let before = requests_to(&f.sb, VALIDATE);
    let o = f.cred_env(
        "import",
        db,
        &["--client-id", &id, "--customer-code", "CF9", "--json"],
        &[("CONFIRMA_STORE_KEY", &f.key)],
        Some(&format!("{first}\n")),
    );
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(requests_to(&f.sb, VALIDATE), before + 1, "validated before it was stored");
    let j: Value = serde_json::from_str(o.out.trim()).unwrap();
    assert_eq!(
        (j["clientId"].as_str(), j["state"].as_str(), j["tokenVersion"].as_u64()),
        (Some(&*id), Some("active"), Some(1))
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(f.dir.join(db)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the store file is private");
    }

    // Status (JSON): the documented shape, no token.
    let st = f.status(db, &id);
    for key in [
        "clientId",
        "state",
        "health",
        "tokenVersion",
        "fingerprint",
        "lastRenewedAt",
        "expiresAt",
        "nextRenewAt",
        "lastValidatedAt",
        "leaseHolder",
        "encrypted",
        "customerCode",
        "consecutiveFailures",
    ] {
        assert!(st.get(key).is_some(), "status lacks {key}: {st}");
    }
    assert_eq!(
        (st["health"].as_str(), st["encrypted"].as_bool(), st["customerCode"].as_str()),
        (Some("healthy"), Some(true), Some("CF9"))
    );
    assert!(st["fingerprint"].as_str().unwrap().starts_with("fp:") && st["leaseHolder"].is_null(), "{st}");
    assert!(!st.to_string().contains(&first));
    // Without --client-id: an array of the same objects; human output names the client, never the token.
    let o = f.cred("status", db, &["--json"]);
    let all: Value = serde_json::from_str(o.out.trim()).unwrap();
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
    assert_eq!(all[0]["clientId"], id.as_str());
    let o = f.cred("status", db, &[]);
    assert!(o.code == 0 && o.out.contains(&id) && o.out.contains("active") && !o.out.contains(&first), "{}", o.out);

    // Token: the stored token, on stdout only.
    let o = f.cred("token", db, &["--client-id", &id]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(o.out.trim(), first);
    assert!(!o.err.contains(&first));

    // Renew without --force: not due, nothing sent.
    let renews = requests_to(&f.sb, RENEW);
    let o = f.cred("renew", db, &["--client-id", &id]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(o.out.contains("not renewed") && o.out.contains("--force"), "{}", o.out);
    assert_eq!(requests_to(&f.sb, RENEW), renews);

    // Renew --force: one renew request, version 2, no token printed; the old token is dead, the new one works.
    let o = f.cred("renew", db, &["--client-id", &id, "--force", "--json"]);
    assert_eq!(o.code, 0, "{}", o.err);
    let j: Value = serde_json::from_str(o.out.trim()).unwrap();
    assert_eq!((j["renewed"].as_bool(), j["tokenVersion"].as_u64()), (Some(true), Some(2)), "{j}");
    assert!(!o.out.contains("cfis_at_") && !o.err.contains("cfis_at_"), "a token was printed: {}{}", o.out, o.err);
    assert_eq!(requests_to(&f.sb, RENEW), renews + 1, "exactly one renew request");
    let st = f.status(db, &id);
    assert_eq!((st["tokenVersion"].as_u64(), st["state"].as_str()), (Some(2), Some("active")));
    let o = f.cred("token", db, &["--client-id", &id, "--json"]);
    assert_eq!(o.code, 0, "{}", o.err);
    let j: Value = serde_json::from_str(o.out.trim()).unwrap();
    let second = j["accessToken"].as_str().unwrap().to_string();
    assert_eq!(
        (j["clientId"].as_str(), j["state"].as_str(), j["tokenVersion"].as_u64()),
        (Some(&*id), Some("active"), Some(2))
    );
    assert_ne!(second, first);
    assert_eq!(f.validate(&second), 0);
    assert_eq!(f.validate(&first), 9);

    // The database never holds a token in clear, neither the old nor the new one.
    let bytes = f.store_bytes(db);
    assert!(!contains(&bytes, &first) && !contains(&bytes, &second), "a token is in the store file");
    assert!(!contains(&bytes, "cfis_at_"), "token text is in the store file");

    // Tokens are never taken from arguments.
    let o = f.cred("import", db, &["--client-id", &id, "--token", &second]);
    assert_eq!(o.code, 2, "{}", o.err);
}

#[test]
fn a_lost_credential_exits_10_and_says_what_to_do() {
    let f = Fixture::new("lost");
    let db = "lost.db";
    let store = f.db(db);
    let o = f.create(&["--store", &store, "--json"], &[("CONFIRMA_STORE_KEY", &f.key)]);
    assert_eq!(o.code, 0, "{}", o.err);
    let id = serde_json::from_str::<Value>(o.out.trim()).unwrap()["clientId"].as_str().unwrap().to_string();
    // The renewal rotates the token, then the answer is dropped (no grace period): the new token is gone.
    admin(&f.sb, "POST", "/_sandbox/faults", Some(&format!(r#"{{"path": "{RENEW}", "kind": "commit_then_drop"}}"#)));
    let o = f.cred("renew", db, &["--client-id", &id, "--force"]);
    assert_eq!(o.code, 10, "{}\n{}", o.out, o.err);
    for words in ["credentials lost", "support", "confirma credentials import --client-id", &id] {
        assert!(o.err.contains(words), "missing {words:?}: {}", o.err);
    }
    assert!(!o.out.contains("cfis_at_") && !o.err.contains("cfis_at_"));
    let renews = requests_to(&f.sb, RENEW);
    assert_eq!(renews, 1, "never renewed twice");

    // token and renew: exit 10 with the advice, nothing sent, no token on stdout.
    for (sub, extra) in [("token", &[][..]), ("renew", &[][..]), ("renew", &["--force"][..])] {
        let mut args = vec!["--client-id", id.as_str()];
        args.extend_from_slice(extra);
        let o = f.cred(sub, db, &args);
        assert_eq!(o.code, 10, "{sub} {extra:?}: {}", o.err);
        assert!(o.out.is_empty(), "{sub}: {}", o.out);
        assert!(o.err.contains("support") && o.err.contains("credentials import"), "{}", o.err);
    }
    let o = f.cred("token", db, &["--client-id", &id, "--json"]);
    assert_eq!(o.code, 10, "{}", o.err);
    let j: Value = serde_json::from_str(o.out.trim()).expect("a JSON error object");
    assert_eq!(
        (j["error"]["kind"].as_str(), j["error"]["code"].as_str()),
        (Some("credentials_lost"), Some("CONFIRMA_CREDENTIALS_LOST"))
    );
    assert!(j["error"]["message"].as_str().unwrap().contains("credentials import"), "{j}");
    assert_eq!(requests_to(&f.sb, RENEW), renews);
    let st = f.status(db, &id);
    assert_eq!((st["state"].as_str(), st["health"].as_str()), (Some("lost"), Some("lost")), "{st}");
    let o = f.cred("status", db, &["--client-id", &id]);
    assert!(o.code == 0 && o.out.contains("what to do"), "{}", o.out);
}

#[test]
fn store_keys_missing_wrong_or_malformed_are_clear_usage_errors() {
    let f = Fixture::new("keys");
    let (id, token) = f.new_client();
    let db = "keys.db";

    // No key, no --plaintext: exit 2 before anything is sent (not even the validation).
    let before = requests_to(&f.sb, VALIDATE);
    let o = f.cred_env("import", db, &["--client-id", &id], &[("CONFIRMA_ACCESS_TOKEN", &token)], None);
    assert_eq!(o.code, 2, "{}", o.err);
    assert!(o.err.contains("CONFIRMA_STORE_KEY") && o.err.contains("--plaintext"), "{}", o.err);
    assert_eq!(requests_to(&f.sb, VALIDATE), before);
    // A malformed key: exit 2, says what a key is.
    let o = f.cred_env(
        "import",
        db,
        &["--client-id", &id],
        &[("CONFIRMA_ACCESS_TOKEN", &token), ("CONFIRMA_STORE_KEY", "c2hvcnQ=")],
        None,
    );
    assert_eq!(o.code, 2, "{}", o.err);
    assert!(o.err.contains("32 bytes"), "{}", o.err);

    // Stored under the fixture's key; another (valid) key does not open it: exit 2, named, nothing sent.
    let o = f.cred_env(
        "import",
        db,
        &["--client-id", &id],
        &[("CONFIRMA_ACCESS_TOKEN", &token), ("CONFIRMA_STORE_KEY", &f.key)],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.err);
    let other = keygen();
    let before = (requests_to(&f.sb, VALIDATE), requests_to(&f.sb, RENEW));
    for (sub, extra) in
        [("token", &["--client-id", id.as_str()][..]), ("renew", &["--client-id", id.as_str(), "--force"][..])]
    {
        let o = f.cred_env(sub, db, extra, &[("CONFIRMA_STORE_KEY", &other)], None);
        assert_eq!(o.code, 2, "{sub}: {}", o.err);
        assert!(o.err.contains("not the key this store was written with"), "{}", o.err);
        assert!(o.out.is_empty() && !o.err.contains(&token));
        // No key at all for a command that reads the token: exit 2.
        let o = f.cred_env(sub, db, extra, &[], None);
        assert_eq!(o.code, 2, "{sub}: {}", o.err);
    }
    // Importing under another key into a store written with this one is refused too (no mixed keys).
    let o = f.cred_env(
        "import",
        db,
        &["--client-id", &id],
        &[("CONFIRMA_ACCESS_TOKEN", &token), ("CONFIRMA_STORE_KEY", &other)],
        None,
    );
    assert_eq!(o.code, 2, "{}", o.err);
    assert_eq!((requests_to(&f.sb, VALIDATE), requests_to(&f.sb, RENEW)), before, "nothing was sent");
    // Status reads no token: it works without a key.
    let o = f.cred_env("status", db, &["--json"], &[], None);
    assert_eq!(o.code, 0, "{}", o.err);
    // The right key still works.
    assert_eq!(f.cred("token", db, &["--client-id", &id]).out.trim(), token);

    // --plaintext is an explicit opt-out, and status says so.
    let plain = "plain.db";
    let o =
        f.cred_env("import", plain, &["--client-id", &id, "--plaintext"], &[("CONFIRMA_ACCESS_TOKEN", &token)], None);
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(o.out.contains("NOT ENCRYPTED"), "{}", o.out);
    assert_eq!(f.status(plain, &id)["encrypted"], false);
    // (The file search used for the encrypted stores does find a token stored in clear.)
    assert!(contains(&f.store_bytes(plain), &token), "the search would not find a token");
    let o = f.cred_env("token", plain, &["--client-id", &id, "--plaintext"], &[], None);
    assert_eq!((o.code, o.out.trim()), (0, token.as_str()), "{}", o.err);
}

#[test]
fn store_errors_exit_12_and_a_missing_store_is_a_usage_error() {
    let f = Fixture::new("storage");
    // Not a database: a storage error, exit 12.
    std::fs::write(f.dir.join("garbage.db"), vec![0x5a; 8192]).unwrap();
    let o = f.cred("status", "garbage.db", &[]);
    assert_eq!(o.code, 12, "{}", o.err);
    assert!(o.err.contains("credential store"), "{}", o.err);
    let o = f.cred("status", "garbage.db", &["--json"]);
    assert_eq!(o.code, 12, "{}", o.err);
    assert_eq!(serde_json::from_str::<Value>(o.out.trim()).unwrap()["error"]["kind"], "storage");
    // No store file: exit 2 and no file is created by asking.
    let o = f.cred("token", "absent.db", &["--client-id", "cl_x"]);
    assert_eq!(o.code, 2, "{}", o.err);
    assert!(o.err.contains("no credential store"), "{}", o.err);
    assert!(!f.dir.join("absent.db").exists());
    // A client that is not stored: exit 2, says how to store it.
    let (id, token) = f.new_client();
    assert_eq!(
        f.cred_env(
            "import",
            "one.db",
            &["--client-id", &id],
            &[("CONFIRMA_STORE_KEY", &f.key), ("CONFIRMA_ACCESS_TOKEN", &token)],
            None
        )
        .code,
        0
    );
    let o = f.cred("token", "one.db", &["--client-id", "cl_unknown"]);
    assert_eq!(o.code, 2, "{}", o.err);
    assert!(o.err.contains("credentials import"), "{}", o.err);
    // An unknown store URL: exit 2.
    let o = run(
        &["credentials", "status", "--base-url", &f.url(), "--store", "mysql://x"],
        &[("CONFIRMA_STORE_KEY", &f.key)],
        None,
    );
    assert_eq!(o.code, 2, "{}", o.err);
    // Reconcile with nothing to do: exit 0; JSON is an empty list.
    let o = f.cred("reconcile", "one.db", &["--json"]);
    assert_eq!((o.code, o.out.trim()), (0, "[]"), "{}", o.err);
    // A token the service does not accept is not imported: exit 9.
    let o = f.cred_env(
        "import",
        "one.db",
        &["--client-id", "cl_fake"],
        &[("CONFIRMA_STORE_KEY", &f.key), ("CONFIRMA_ACCESS_TOKEN", "cfis_at_unknown000000000000")],
        None,
    );
    assert_eq!(o.code, 9, "{}", o.err);
}

#[test]
fn client_create_with_a_store_saves_the_credentials() {
    let f = Fixture::new("create");
    let db = "created.db";
    let store = f.db(db);

    // Without a key: refused before anything is sent.
    let o = f.create(&["--store", &store], &[]);
    assert_eq!(o.code, 2, "{}", o.err);
    assert!(o.err.contains("CONFIRMA_STORE_KEY"), "{}", o.err);
    assert_eq!(admin(&f.sb, "GET", "/_sandbox/state", None)["clients"], 0);

    // Human output names the store and the fingerprint, never the token.
    let o = f.create(&["--store", &store], &[("CONFIRMA_STORE_KEY", &f.key)]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(o.out.contains("saved in") && o.out.contains("encrypted") && o.out.contains("fp:"), "{}", o.out);
    assert!(!o.out.contains("cfis_at_") && !o.err.contains("cfis_at_"), "{}{}", o.out, o.err);
    let all: Value = serde_json::from_str(f.cred("status", db, &["--json"]).out.trim()).unwrap();
    let id = all[0]["clientId"].as_str().unwrap().to_string();
    assert_eq!((all[0]["state"].as_str(), all[0]["tokenVersion"].as_u64()), (Some("active"), Some(1)));
    assert!(all[0]["customerCode"].as_str().is_some_and(|c| !c.is_empty()), "{all}");
    let o = f.cred("token", db, &["--client-id", &id]);
    assert_eq!(o.code, 0, "{}", o.err);
    let token = o.out.trim().to_string();
    assert_eq!(f.validate(&token), 0);

    // --json with --store: the summary names the store, carries no token.
    let o = f.create(&["--store", &store, "--json"], &[("CONFIRMA_STORE_KEY", &f.key)]);
    assert_eq!(o.code, 0, "{}", o.err);
    let j: Value = serde_json::from_str(o.out.trim()).unwrap();
    assert!(j.get("accessToken").is_none() && j["store"].as_str().is_some() && j["fingerprint"].is_string(), "{j}");
    assert_eq!(j["state"], "active");

    // --store with --token-out: both.
    let path = f.dir.join("also.token");
    let o = f.create(&["--store", &store, "--token-out", path.to_str().unwrap()], &[("CONFIRMA_STORE_KEY", &f.key)]);
    assert_eq!(o.code, 0, "{}", o.err);
    let from_file = std::fs::read_to_string(&path).unwrap().trim().to_string();
    let all: Value = serde_json::from_str(f.cred("status", db, &["--json"]).out.trim()).unwrap();
    assert_eq!(all.as_array().map(Vec::len), Some(3), "{all}");
    assert_eq!(f.validate(&from_file), 0);
    assert!(!contains(&f.store_bytes(db), &from_file) && !contains(&f.store_bytes(db), &token));

    // `--store` alone: $CONFIRMA_STORE_URL.
    let o = f.create(&["--store"], &[("CONFIRMA_STORE_KEY", &f.key), ("CONFIRMA_STORE_URL", &f.db("env.db"))]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(f.dir.join("env.db").exists());
}

#[test]
fn the_demo_shows_the_managed_lifecycle() {
    let o = run(&["demo"], &[], None);
    assert_eq!(o.code, 0, "stdout:\n{}\nstderr:\n{}", o.out, o.err);
    for expected in ["SQLite", "encrypted", "renew requests", "second instance"] {
        assert!(o.out.contains(expected), "missing {expected:?} in:\n{}", o.out);
    }
    assert!(o.out.contains("renew requests        1"), "exactly one renewal:\n{}", o.out);
    assert!(!o.out.contains("cfis_at_"), "a token leaked:\n{}", o.out);
    // Nothing of the demo's store is left behind.
    let db = o.out.split("sqlite:").nth(1).and_then(|rest| rest.split(' ').next()).expect("the store path");
    assert!(!Path::new(db).exists(), "{db} was left behind");
}

/// Ctrl-C during `credentials renew` waits for CFIS's answer and commits the new token (no ambiguous record).
#[test]
fn ctrl_c_during_a_stored_renewal_waits_and_commits() {
    let f = Fixture::new("sigint");
    let (id, first) = f.new_client();
    let db = "sigint.db";
    let o = f.cred_env("import", db, &["--client-id", &id], &[("CONFIRMA_STORE_KEY", &f.key)], Some(&first));
    assert_eq!(o.code, 0, "{}", o.err);
    admin(&f.sb, "POST", "/_sandbox/faults", Some(&format!(r#"{{"path": "{RENEW}", "kind": "delay", "ms": 4000}}"#)));
    let url = f.url();
    let store = f.db(db);
    let mut child = Command::new(BIN)
        .args(["credentials", "renew", "--base-url", &url, "--store", &store, "--client-id", &id, "--force"])
        .env("CONFIRMA_STORE_KEY", &f.key)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while requests_to(&f.sb, RENEW) == 0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "the renewal never reached the sandbox");
        std::thread::sleep(std::time::Duration::from_millis(10)); // polling a condition
    }
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own, not yet reaped child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("waiting for CFIS's answer") {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "stderr ended: {seen}");
        seen.push_str(&line);
    }
    let done = child.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(0), "{seen}");
    let st = f.status(db, &id);
    assert_eq!((st["tokenVersion"].as_u64(), st["state"].as_str()), (Some(2), Some("active")), "{st}");
    assert_eq!(requests_to(&f.sb, RENEW), 1);
    let o = f.cred("token", db, &["--client-id", &id]);
    assert_eq!(f.validate(o.out.trim()), 0);
}

/// A renewal whose answer is dropped and whose reconciliation cannot ask the service (503) stays `ambiguous`;
/// `credentials reconcile` resolves it later: recovered when the service hands out the same new token again
/// within a grace period, `lost` (exit 10) when it does not keep the old token.
#[test]
fn reconcile_resolves_an_ambiguous_renewal() {
    let f = Fixture::new("reconcile");
    let db = "amb.db";
    let fault = |body: &str| admin(&f.sb, "POST", "/_sandbox/faults", Some(body));
    let ambiguous = |id: &str| {
        fault(&format!(r#"{{"path": "{RENEW}", "kind": "commit_then_drop"}}"#));
        fault(&format!(r#"{{"path": "{VALIDATE}", "kind": "status", "status": 503, "times": 1}}"#));
        let o = f.cred("renew", db, &["--client-id", id, "--force", "--max-retries", "0"]);
        assert_eq!(o.code, 6, "the reconciliation could not ask the service: {}", o.err);
        assert_eq!(f.status(db, id)["state"], "ambiguous");
    };
    let import = |id: &str, token: &str| {
        let o = f.cred_env("import", db, &["--client-id", id], &[("CONFIRMA_STORE_KEY", &f.key)], Some(token));
        assert_eq!(o.code, 0, "{}", o.err);
    };

    // The service keeps replaced tokens for a while and hands out the same new token again: recovered.
    admin(&f.sb, "POST", "/_sandbox/config", Some(r#"{"graceSeconds": 300, "renewReplaced": "same_token"}"#));
    let (id, first) = f.new_client();
    import(&id, &first);
    ambiguous(&id);
    let o = f.cred("reconcile", db, &["--json"]);
    assert_eq!(o.code, 0, "{}", o.err);
    let done: Value = serde_json::from_str(o.out.trim()).unwrap();
    assert_eq!(done.as_array().map(Vec::len), Some(1), "{done}");
    assert_eq!((done[0]["clientId"].as_str(), done[0]["state"].as_str()), (Some(&*id), Some("active")));
    let token = f.cred("token", db, &["--client-id", &id]).out.trim().to_string();
    assert_ne!(token, first);
    assert_eq!(f.validate(&token), 0);

    // No grace period: the rotation happened and its answer is gone: lost, exit 10, and it says what to do.
    admin(&f.sb, "POST", "/_sandbox/config", Some(r#"{"graceSeconds": 0, "renewReplaced": "reject"}"#));
    let (id2, first2) = f.new_client();
    import(&id2, &first2);
    ambiguous(&id2);
    let o = f.cred("reconcile", db, &[]);
    assert_eq!(o.code, 10, "{}", o.err);
    assert!(o.out.contains(&id2) && o.err.contains("support"), "{}\n{}", o.out, o.err);
    assert_eq!(f.status(db, &id2)["state"], "lost");
    assert_eq!(f.status(db, &id)["state"], "active", "the other client is untouched");
}

/// `credentials token` renews first when the planned renewal time has passed (tokens living 6 s here, so the
/// renewal falls due at about 4 s; the test waits for that condition on the stored record, then asks).
#[test]
fn token_renews_first_when_due() {
    let f = Fixture::with_sandbox("due", &["--token-ttl-seconds", "6"]);
    let db = "due.db";
    let store = f.db(db);
    let o = f.create(&["--store", &store, "--json"], &[("CONFIRMA_STORE_KEY", &f.key)]);
    assert_eq!(o.code, 0, "{}", o.err);
    let id = serde_json::from_str::<Value>(o.out.trim()).unwrap()["clientId"].as_str().unwrap().to_string();
    let first = f.cred("token", db, &["--client-id", &id]);
    assert_eq!(first.code, 0, "{}", first.err);
    // (On a slow machine this first call may itself have found the renewal due; count from here.)
    let (renews, version) = (requests_to(&f.sb, RENEW), f.status(db, &id)["tokenVersion"].as_u64().unwrap());
    let next = f.status(db, &id)["nextRenewAt"].as_str().unwrap().to_string();
    let next = chrono::DateTime::parse_from_rfc3339(&next).unwrap();
    let started = std::time::Instant::now();
    while chrono::Utc::now() < next {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "the renewal never fell due");
        std::thread::sleep(std::time::Duration::from_millis(50)); // waiting for a condition on the record
    }
    let o = f.cred("token", db, &["--client-id", &id]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(requests_to(&f.sb, RENEW), renews + 1, "renewed first, once");
    assert_eq!(f.status(db, &id)["tokenVersion"].as_u64(), Some(version + 1));
    assert_ne!(o.out.trim(), first.out.trim());
    assert_eq!(f.validate(o.out.trim()), 0, "the printed token is the new one");
}

/// `client create --store` whose answer is lost (the service created the client): exit 7, and the create
/// stays visible as a pending record in `credentials status`; creating the same business code again finds the
/// client exists and its token gone: exit 10 with the advice, and still one client.
#[test]
fn client_create_with_a_store_leaves_an_ambiguous_create_visible_and_resolves_it_next_time() {
    let f = Fixture::new("pending");
    let db = "pending.db";
    let store = f.db(db);
    let key = [("CONFIRMA_STORE_KEY", f.key.as_str())];
    admin(&f.sb, "POST", "/_sandbox/faults", Some(r#"{"path": "/api/v1/partner/client", "kind": "commit_then_drop"}"#));
    let o = f.create(&["--store", &store], &key);
    assert_eq!(o.code, 7, "{}", o.err);
    assert_eq!(admin(&f.sb, "GET", "/_sandbox/state", None)["clients"], 1);
    let all: Value = serde_json::from_str(f.cred("status", db, &["--json"]).out.trim()).unwrap();
    let pending = &all[0];
    assert!(pending["clientId"].as_str().unwrap().starts_with("pending-create:"), "{all}");
    assert_eq!((pending["state"].as_str(), pending["health"].as_str()), (Some("ambiguous"), Some("degraded")));
    let text = f.cred("status", db, &[]).out;
    assert!(text.contains("pending create of business code") && text.contains("client create --store"), "{text}");
    // `credentials token` for it is a clear usage error, never a panic or a token.
    let o = f.cred("token", db, &["--client-id", pending["clientId"].as_str().unwrap()]);
    assert_eq!(o.code, 2, "{}", o.err);
    // The same business code again: CFIS answers 409, so the earlier create happened and its token is gone.
    f.seed.set(f.seed.get() - 1);
    let o = f.create(&["--store", &store], &key);
    assert_eq!(o.code, 10, "{}", o.err);
    assert!(o.err.contains("support") && o.err.contains("credentials import"), "{}", o.err);
    assert_eq!(admin(&f.sb, "GET", "/_sandbox/state", None)["clients"], 1, "never a second client");
    let all: Value = serde_json::from_str(f.cred("status", db, &["--json"]).out.trim()).unwrap();
    assert_eq!(all[0]["state"], "lost", "{all}");
    // Other creates into the same store still work (the pending record holds no token to check a key on).
    let o = f.create(&["--store", &store], &key);
    assert_eq!(o.code, 0, "{}", o.err);
}
