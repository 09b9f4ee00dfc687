//! The credential stores: the conformance suite on every implementation, many processes on one SQLite
//! file, and encryption at rest checked on the bytes of the database file.
#![cfg(feature = "sqlite")]

use std::path::PathBuf;
use std::process::Command;

use confirma::store::{conformance, CredentialKey, CredentialStore, MemoryStore, Sealer, SqliteStore, StoreKey};
use confirma::SecretToken;

mod common;
use common::*;

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("confirma-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("credentials.db")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_conforms() {
    let report = conformance::run(&MemoryStore::new()).await.unwrap();
    assert_eq!(report.passed.len(), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_conforms() {
    let path = temp_db("conformance");
    let store = SqliteStore::open(&path).unwrap();
    let report = conformance::run(&store).await.unwrap();
    assert_eq!(report.passed.len(), 9);
    // Reopening applies no migration twice and sees the same data.
    drop(store);
    let again = SqliteStore::open(&path).unwrap();
    assert_eq!(again.list(None).await.unwrap().len(), 2);
    assert!(again.describe().starts_with("sqlite:"));
}

#[test]
fn sqlite_store_works_without_a_runtime() {
    // Outside tokio, the futures complete inline.
    let store = SqliteStore::open(temp_db("no-runtime")).unwrap();
    let key = CredentialKey::new("staging", "c");
    let r = futures_executor_block_on(store.load(&key)).unwrap();
    assert!(r.is_none());
}

fn futures_executor_block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
}

#[test]
fn a_newer_schema_is_refused_clearly() {
    let path = temp_db("newer-schema");
    drop(SqliteStore::open(&path).unwrap());
    assert!(set_user_version(&path, 99), "set user_version");
    let err = SqliteStore::open(&path).unwrap_err().to_string();
    assert!(err.contains("newer than this SDK"), "{err}");
}

/// Sets `PRAGMA user_version` by patching the header (offset 60, big-endian, as the file format documents).
fn set_user_version(path: &std::path::Path, v: u32) -> bool {
    let mut bytes = std::fs::read(path).unwrap();
    if bytes.len() < 64 {
        return false;
    }
    bytes[60..64].copy_from_slice(&v.to_be_bytes());
    std::fs::write(path, bytes).is_ok()
}

/// Eight processes increment one record's counter 40 times each through compare-and-set: no update is lost
/// and no event is missing or duplicated.
#[test]
fn many_processes_share_one_sqlite_file() {
    if let Ok(path) = std::env::var("CONFIRMA_STORE_CHILD") {
        child_increments(PathBuf::from(path));
        return;
    }
    let path = temp_db("processes");
    let store = SqliteStore::open(&path).unwrap();
    let record = conformance::sample_record("staging", "shared");
    futures_executor_block_on(store.insert(&record, &[])).unwrap();
    drop(store);
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(&exe)
                .args(["--exact", "many_processes_share_one_sqlite_file", "--nocapture", "--test-threads", "1"])
                .env("CONFIRMA_STORE_CHILD", &path)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let store = SqliteStore::open(&path).unwrap();
    let key = CredentialKey::new("staging", "shared");
    let r = futures_executor_block_on(store.load(&key)).unwrap().unwrap();
    assert_eq!(r.revision, 1 + 8 * 40, "every increment landed exactly once");
    let events = futures_executor_block_on(store.events(Some(&key), 0, 10_000)).unwrap();
    assert_eq!(events.len(), 8 * 40);
    let mut versions: Vec<u64> = events.iter().map(|e| e.token_version).collect();
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(versions.len(), 8 * 40, "one event per revision");
}

fn child_increments(path: PathBuf) {
    let store = SqliteStore::open(&path).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
    rt.block_on(cas_increments(&store, 40));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_file_never_holds_a_token() {
    let path = temp_db("encrypted");
    let store = SqliteStore::open(&path).unwrap();
    let sealer = Sealer::encrypted(StoreKey::generate().unwrap());
    let token = SecretToken::new("tok_live_0123456789abcdefghijklmnopqrstuv");
    let mut r = conformance::sample_record("staging", "enc");
    r.sealed_token = sealer.seal(&r.key(), &token).unwrap();
    r.fingerprint = sealer.fingerprint(&token);
    assert!(store.insert(&r, &[]).await.unwrap());
    drop(store);
    let mut bytes = Vec::new();
    for f in ["credentials.db", "credentials.db-wal"] {
        if let Ok(b) = std::fs::read(path.with_file_name(f)) {
            bytes.extend(b);
        }
    }
    assert!(!bytes.is_empty());
    assert!(!bytes.windows(20).any(|w| w == &token.expose().as_bytes()[..20]), "the token is in the file");
    let store = SqliteStore::open(&path).unwrap();
    let back = store.load(&r.key()).await.unwrap().unwrap();
    assert_eq!(sealer.open(&back.key(), &back.sealed_token).unwrap(), token);
    let wrong = Sealer::encrypted(StoreKey::generate().unwrap());
    let err = wrong.open(&back.key(), &back.sealed_token).unwrap_err().to_string();
    assert!(err.contains("not configured") && !err.contains("tok_"), "{err}");
}
