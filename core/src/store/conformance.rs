//! The store conformance suite: every [`CredentialStore`] implementation — ours, and the ones partners
//! write over their own databases — runs [`run`] against a fresh, empty store.
//!
//! It checks the trait's contract: round trips of every field (absent and present, Unicode, large values),
//! insert-if-absent, compare-and-set on the revision (a stale revision never writes), events appended
//! atomically with the write they describe (and not at all when the write is refused), event order and
//! filters, that exactly one of several concurrent compare-and-sets on one revision wins, and deletes under
//! the same compare-and-set rule.

use futures_util::future::join_all;

use super::{
    CredentialEvent, CredentialKey, CredentialRecord, CredentialState, CredentialStore, EventKind, RenewalAttempt,
};

/// What the suite checked.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The names of the checks that passed.
    pub passed: Vec<&'static str>,
}

fn fail(check: &str, detail: impl std::fmt::Display) -> String {
    format!("store conformance: {check}: {detail}")
}

/// A record for the suite (fake sealed bytes: the suite tests storage, not encryption).
pub fn sample_record(environment: &str, client_id: &str) -> CredentialRecord {
    CredentialRecord {
        environment: environment.into(),
        client_id: client_id.into(),
        customer_code: "CUST-1".into(),
        payment_reference_prefix: "PRP1".into(),
        sealed_token: vec![1, 0, 255, 7, 42],
        fingerprint: "fp:000000000001".into(),
        token_version: 1,
        revision: 1,
        issued_at: Some(1_700_000_000_000),
        expires_at: None,
        next_renew_at: Some(1_700_000_600_000),
        state: CredentialState::Active,
        attempt: None,
        fence: 0,
        previous_sealed_token: None,
        previous_fingerprint: None,
        last_validated_at: None,
        consecutive_failures: 0,
        last_error: None,
        updated_at: 1_700_000_000_000,
    }
}

fn event(r: &CredentialRecord, kind: EventKind, detail: &str) -> CredentialEvent {
    CredentialEvent {
        seq: 0,
        at: r.updated_at,
        environment: r.environment.clone(),
        client_id: r.client_id.clone(),
        kind,
        token_version: r.token_version,
        fingerprint: r.fingerprint.clone(),
        attempt_id: r.attempt.as_ref().map(|a| a.id.clone()),
        owner: "conformance".into(),
        detail: detail.into(),
    }
}

/// Runs every check against `store`, which must be empty. Returns the first failure, described.
pub async fn run(store: &dyn CredentialStore) -> Result<Report, String> {
    let mut report = Report::default();
    let env = "https://conformance.example/";
    let key = CredentialKey::new(env, "client-1");

    // Absent records.
    let missing = store.load(&key).await.map_err(|e| fail("load of an absent record", e))?;
    if missing.is_some() {
        return Err(fail("load of an absent record", "the store is not empty"));
    }
    report.passed.push("absent record loads as none");

    // Insert-if-absent and the round trip of every field.
    let r1 = sample_record(env, "client-1");
    if !store.insert(&r1, &[event(&r1, EventKind::Created, "")]).await.map_err(|e| fail("insert", e))? {
        return Err(fail("insert", "a new record was refused"));
    }
    let back = store.load(&key).await.map_err(|e| fail("load", e))?;
    if back.as_ref() != Some(&r1) {
        return Err(fail("round trip", format!("stored {r1:?}, loaded {back:?}")));
    }
    let mut dup = r1.clone();
    dup.customer_code = "OTHER".into();
    if store.insert(&dup, &[event(&dup, EventKind::Imported, "")]).await.map_err(|e| fail("second insert", e))? {
        return Err(fail("second insert", "a record was inserted twice"));
    }
    if store.load(&key).await.map_err(|e| fail("load", e))?.as_ref() != Some(&r1) {
        return Err(fail("second insert", "a refused insert changed the record"));
    }
    report.passed.push("insert if absent, every field round-trips");

    // Every optional field present, Unicode, large values.
    let mut full = sample_record(env, "asiakas-ÅÄÖ-🙂-2");
    full.sealed_token = (0..=255u8).cycle().take(16 * 1024).collect();
    full.expires_at = Some(253_402_300_799_000);
    full.state = CredentialState::Renewing;
    full.attempt = Some(RenewalAttempt {
        id: "att-1".into(),
        owner: "host-ä/123/1".into(),
        lease_expires_at: 1_700_000_030_000,
        fence: 9_007_199_254_740_993,
    });
    full.fence = 9_007_199_254_740_993;
    full.previous_sealed_token = Some(vec![0; 3]);
    full.previous_fingerprint = Some("fp:000000000000".into());
    full.last_validated_at = Some(0);
    full.consecutive_failures = u32::MAX;
    full.last_error = Some("CONFIRMA_TIMEOUT".into());
    full.token_version = i64::MAX as u64;
    if !store.insert(&full, &[]).await.map_err(|e| fail("insert (all fields)", e))? {
        return Err(fail("insert (all fields)", "refused"));
    }
    let back = store.load(&full.key()).await.map_err(|e| fail("load (all fields)", e))?;
    if back.as_ref() != Some(&full) {
        return Err(fail("round trip (all fields)", format!("stored {full:?}, loaded {back:?}")));
    }
    report.passed.push("optional fields, Unicode keys, 16 KiB tokens and 63-bit counters round-trip");

    // Compare-and-set.
    let mut r2 = r1.clone();
    r2.revision = 2;
    r2.state = CredentialState::Renewing;
    r2.fence = 1;
    r2.attempt = Some(RenewalAttempt { id: "a1".into(), owner: "o1".into(), lease_expires_at: 5, fence: 1 });
    if store
        .compare_and_swap(7, &r2, &[event(&r2, EventKind::RenewStarted, "stale")])
        .await
        .map_err(|e| fail("cas", e))?
    {
        return Err(fail("compare-and-set", "a write naming a wrong revision succeeded"));
    }
    if !store.compare_and_swap(1, &r2, &[event(&r2, EventKind::RenewStarted, "")]).await.map_err(|e| fail("cas", e))? {
        return Err(fail("compare-and-set", "a write naming the current revision was refused"));
    }
    if store.load(&key).await.map_err(|e| fail("load", e))?.as_ref() != Some(&r2) {
        return Err(fail("compare-and-set", "the write is not what loads back"));
    }
    let mut r3 = r1.clone();
    r3.revision = 2;
    if store.compare_and_swap(1, &r3, &[event(&r3, EventKind::Rotated, "stale")]).await.map_err(|e| fail("cas", e))? {
        return Err(fail("compare-and-set", "a second write naming the same (now stale) revision succeeded"));
    }
    let ghost = sample_record(env, "no-such-client");
    if store
        .compare_and_swap(0, &ghost, &[event(&ghost, EventKind::Rotated, "ghost")])
        .await
        .map_err(|e| fail("cas", e))?
    {
        return Err(fail("compare-and-set", "a write to an absent record succeeded"));
    }
    report.passed.push("compare-and-set writes only on the current revision");

    // Events: only those of successful writes, in order, filtered, paged.
    let all = store.events(None, 0, 1000).await.map_err(|e| fail("events", e))?;
    let kinds: Vec<(String, EventKind, String)> =
        all.iter().map(|e| (e.client_id.clone(), e.kind, e.detail.clone())).collect();
    let expected = vec![
        ("client-1".to_string(), EventKind::Created, String::new()),
        ("client-1".to_string(), EventKind::RenewStarted, String::new()),
    ];
    if kinds != expected {
        return Err(fail("events", format!("expected {expected:?}, got {kinds:?}")));
    }
    if !all.windows(2).all(|w| matches!(w, [a, b] if a.seq < b.seq)) || all.iter().any(|e| e.seq == 0) {
        return Err(fail("events", "sequence numbers are not assigned and increasing"));
    }
    let first_seq = all.first().map(|e| e.seq).unwrap_or_default();
    let after = store.events(Some(&key), first_seq, 1000).await.map_err(|e| fail("events", e))?;
    if after.len() != 1 || after.first().map(|e| e.kind) != Some(EventKind::RenewStarted) {
        return Err(fail("events", format!("after_seq filter: {after:?}")));
    }
    let limited = store.events(None, 0, 1).await.map_err(|e| fail("events", e))?;
    if limited.len() != 1 {
        return Err(fail("events", "the limit is not honoured"));
    }
    let other = store.events(Some(&full.key()), 0, 1000).await.map_err(|e| fail("events", e))?;
    if !other.is_empty() {
        return Err(fail("events", "the key filter is not honoured"));
    }
    let first = all.first().cloned();
    if first.as_ref().map(|e| (&e.fingerprint, &e.owner, e.token_version, e.at))
        != Some((&r1.fingerprint, &"conformance".to_string(), 1, r1.updated_at))
    {
        return Err(fail("events", format!("fields do not round-trip: {first:?}")));
    }
    report.passed.push("events are appended with their write only, ordered, filtered and paged");

    // Listing.
    let listed = store.list(Some(env)).await.map_err(|e| fail("list", e))?;
    if listed.len() != 2 {
        return Err(fail("list", format!("expected 2 records of {env}, got {}", listed.len())));
    }
    if !store.list(Some("https://elsewhere.example/")).await.map_err(|e| fail("list", e))?.is_empty() {
        return Err(fail("list", "the environment filter is not honoured"));
    }
    if store.list(None).await.map_err(|e| fail("list", e))?.len() != 2 {
        return Err(fail("list", "listing everything"));
    }
    report.passed.push("list, by environment and in all");

    // Concurrent compare-and-sets on one revision: exactly one wins.
    let contenders: Vec<CredentialRecord> = (0..8u64)
        .map(|i| {
            let mut r = r2.clone();
            r.revision = 3;
            r.fence = 2;
            r.attempt =
                Some(RenewalAttempt { id: format!("race-{i}"), owner: format!("o{i}"), lease_expires_at: 9, fence: 2 });
            r
        })
        .collect();
    let events: Vec<Vec<CredentialEvent>> =
        contenders.iter().map(|r| vec![event(r, EventKind::RenewStarted, "race")]).collect();
    let results = join_all(contenders.iter().zip(&events).map(|(r, ev)| store.compare_and_swap(2, r, ev))).await;
    let mut winners = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        if r.map_err(|e| fail("concurrent compare-and-set", e))? {
            winners.push(i);
        }
    }
    if winners.len() != 1 {
        return Err(fail("concurrent compare-and-set", format!("{} of 8 writers on one revision won", winners.len())));
    }
    let stored = store.load(&key).await.map_err(|e| fail("load", e))?;
    let winner = winners.first().and_then(|i| contenders.get(*i));
    if stored.as_ref() != winner {
        return Err(fail("concurrent compare-and-set", "the stored record is not the winner's"));
    }
    let race_events = store
        .events(Some(&key), 0, 1000)
        .await
        .map_err(|e| fail("events", e))?
        .into_iter()
        .filter(|e| e.detail == "race")
        .count();
    if race_events != 1 {
        return Err(fail("concurrent compare-and-set", format!("{race_events} events for one winning write")));
    }
    report.passed.push("exactly one of 8 concurrent compare-and-sets wins, with exactly its events");

    // Delete: compare-and-set on the revision, with its events atomically; never on a stale revision.
    let dkey = CredentialKey::new(env, "pending-create:1234567-1");
    let d = sample_record(env, "pending-create:1234567-1");
    if !store.insert(&d, &[]).await.map_err(|e| fail("insert (delete)", e))? {
        return Err(fail("delete", "the record to delete could not be inserted"));
    }
    let absent = CredentialKey::new(env, "no-such-record");
    if store
        .delete(&absent, 1, &[event(&d, EventKind::CreateFinished, "ghost")])
        .await
        .map_err(|e| fail("delete", e))?
    {
        return Err(fail("delete", "deleting an absent record reported success"));
    }
    if store.delete(&dkey, 2, &[event(&d, EventKind::CreateFinished, "stale")]).await.map_err(|e| fail("delete", e))? {
        return Err(fail("delete", "a delete naming a wrong revision succeeded"));
    }
    if store.load(&dkey).await.map_err(|e| fail("load", e))?.as_ref() != Some(&d) {
        return Err(fail("delete", "a refused delete changed the record"));
    }
    if !store
        .delete(&dkey, 1, &[event(&d, EventKind::CreateFinished, "deleted")])
        .await
        .map_err(|e| fail("delete", e))?
    {
        return Err(fail("delete", "a delete naming the current revision was refused"));
    }
    if store.load(&dkey).await.map_err(|e| fail("load", e))?.is_some() {
        return Err(fail("delete", "the record is still there after its delete"));
    }
    if store.delete(&dkey, 1, &[event(&d, EventKind::CreateFinished, "again")]).await.map_err(|e| fail("delete", e))? {
        return Err(fail("delete", "a second delete of the same record succeeded"));
    }
    if !store.insert(&d, &[]).await.map_err(|e| fail("insert after delete", e))? {
        return Err(fail("delete", "a deleted record's key cannot be inserted again"));
    }
    let deletes = join_all((0..8).map(|_| store.delete(&dkey, 1, &[]))).await;
    let mut won: u32 = 0;
    for r in deletes {
        if r.map_err(|e| fail("concurrent delete", e))? {
            won = won.saturating_add(1);
        }
    }
    if won != 1 {
        return Err(fail("concurrent delete", format!("{won} of 8 deletes of one revision succeeded")));
    }
    let devents: Vec<String> = store
        .events(Some(&dkey), 0, 1000)
        .await
        .map_err(|e| fail("events", e))?
        .into_iter()
        .map(|e| e.detail)
        .collect();
    if devents != ["deleted"] {
        return Err(fail("delete", format!("events of deletes: expected only the successful one's, got {devents:?}")));
    }
    if store.list(Some(env)).await.map_err(|e| fail("list", e))?.len() != 2 {
        return Err(fail("delete", "a delete changed other records"));
    }
    report.passed.push("delete removes only on the current revision, once, with exactly its events");

    // A write that is never awaited (a crash before it was sent) changes nothing.
    let mut r4 = stored.unwrap_or_else(|| r2.clone());
    let before = r4.clone();
    r4.revision = r4.revision.saturating_add(1);
    drop(store.compare_and_swap(before.revision, &r4, &[]));
    let now = store.load(&key).await.map_err(|e| fail("load", e))?;
    if now.as_ref() != Some(&before) && now.as_ref() != Some(&r4) {
        return Err(fail("abandoned write", "the record is neither the old nor the new one"));
    }
    report.passed.push("an abandoned write leaves the old record or the new one, nothing in between");
    Ok(report)
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn memory_store_conforms() {
        let store = super::super::MemoryStore::new();
        let report = super::run(&store).await.unwrap();
        assert_eq!(report.passed.len(), 9);
    }
}
