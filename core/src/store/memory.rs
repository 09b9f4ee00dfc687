//! [`MemoryStore`]: credentials in process memory, for tests and for applications that persist elsewhere.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{CredentialEvent, CredentialKey, CredentialRecord, CredentialStore, StoreError, StoreFuture};

/// A store in process memory (lost at exit). Thread-safe; one process only.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    records: BTreeMap<CredentialKey, CredentialRecord>,
    events: Vec<CredentialEvent>,
    next_seq: u64,
}

impl Inner {
    fn append(&mut self, events: &[CredentialEvent]) {
        for e in events {
            self.next_seq = self.next_seq.saturating_add(1);
            let mut e = e.clone();
            e.seq = self.next_seq;
            self.events.push(e);
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn ready<'a, T: Send + 'a>(r: Result<T, StoreError>) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(r))
}

impl CredentialStore for MemoryStore {
    fn load<'a>(&'a self, key: &'a CredentialKey) -> StoreFuture<'a, Option<CredentialRecord>> {
        ready(Ok(self.lock().records.get(key).cloned()))
    }

    fn insert<'a>(&'a self, record: &'a CredentialRecord, events: &'a [CredentialEvent]) -> StoreFuture<'a, bool> {
        let mut inner = self.lock();
        let key = record.key();
        if inner.records.contains_key(&key) {
            return ready(Ok(false));
        }
        inner.records.insert(key, record.clone());
        inner.append(events);
        ready(Ok(true))
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected_revision: u64,
        record: &'a CredentialRecord,
        events: &'a [CredentialEvent],
    ) -> StoreFuture<'a, bool> {
        let mut inner = self.lock();
        match inner.records.get_mut(&record.key()) {
            Some(current) if current.revision == expected_revision => {
                *current = record.clone();
                inner.append(events);
                ready(Ok(true))
            }
            _ => ready(Ok(false)),
        }
    }

    fn delete<'a>(
        &'a self,
        key: &'a CredentialKey,
        expected_revision: u64,
        events: &'a [CredentialEvent],
    ) -> StoreFuture<'a, bool> {
        let mut inner = self.lock();
        if inner.records.get(key).is_some_and(|r| r.revision == expected_revision) {
            inner.records.remove(key);
            inner.append(events);
            return ready(Ok(true));
        }
        ready(Ok(false))
    }

    fn list<'a>(&'a self, environment: Option<&'a str>) -> StoreFuture<'a, Vec<CredentialRecord>> {
        let inner = self.lock();
        ready(Ok(inner.records.values().filter(|r| environment.is_none_or(|e| r.environment == e)).cloned().collect()))
    }

    fn events<'a>(
        &'a self,
        key: Option<&'a CredentialKey>,
        after_seq: u64,
        limit: u32,
    ) -> StoreFuture<'a, Vec<CredentialEvent>> {
        let inner = self.lock();
        let out = inner
            .events
            .iter()
            .filter(|e| e.seq > after_seq)
            .filter(|e| key.is_none_or(|k| e.environment == k.environment && e.client_id == k.client_id))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        ready(Ok(out))
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}
