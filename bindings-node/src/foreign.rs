//! A partner's store written in JavaScript/TypeScript (the `CredentialStore` interface of `index.d.ts`):
//! its seven async methods are reached through one adapter function the JS layer builds
//! (`(method, argsJson) => Promise<replyJson>`), called through a weak thread-safe function, its promise
//! awaited on the core's runtime. The adapter never throws: a method that throws or rejects comes back as
//! `{ "error": "<Type>: <message>" }`, a value as `{ "ok": value }`; what the value must look like is
//! checked here, so garbage becomes a `RowStoreError` (→ `StorageError`, retryable), never a crash. The
//! record's encoding, the checks and the protocol are the core's (`confirma::ffi::foreign_store`).

use std::sync::Arc;

use confirma::ffi::{foreign_store, EventRow, RowFuture, RowStore, RowStoreError, StoreRow};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;
use serde_json::{json, Value};

use crate::store::NativeStore;

type Adapter =
    ThreadsafeFunction<FnArgs<(String, String)>, Promise<String>, FnArgs<(String, String)>, Status, false, true>;

struct JsRowStore {
    adapter: Adapter,
    description: String,
}

/// Wraps a partner's store (through the JS layer's adapter) as a native store.
#[napi(catch_unwind)]
pub fn new_foreign_store(
    adapter: Function<FnArgs<(String, String)>, Promise<String>>,
    description: String,
) -> Result<NativeStore> {
    let adapter = adapter.build_threadsafe_function().weak::<true>().callee_handled::<false>().build()?;
    let rows = Arc::new(JsRowStore { adapter, description });
    Ok(NativeStore::of(foreign_store(rows), None))
}

fn problem(what: String) -> RowStoreError {
    RowStoreError(what)
}

impl JsRowStore {
    async fn invoke(&self, method: &'static str, args: Value) -> std::result::Result<Value, RowStoreError> {
        let call = self.adapter.call_async_catch((method.to_string(), args.to_string()).into());
        let promise = call
            .await
            .map_err(|e| problem(format!("Error: the store's {method} could not be called: {}", e.reason)))?;
        let text = promise.await.map_err(|e| problem(format!("Error: {method}: {}", e.reason)))?;
        let mut reply: Value = serde_json::from_str(&text)
            .map_err(|e| problem(format!("TypeError: {method} resolved to something unreadable: {e}")))?;
        if let Some(err) = reply.get("error") {
            return Err(problem(match err {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }));
        }
        Ok(reply.get_mut("ok").map(Value::take).unwrap_or(Value::Null))
    }
}

fn garbage(method: &str, expected: &str, got: &Value) -> RowStoreError {
    let shown = match got {
        Value::Null => "null".to_string(),
        Value::Bool(_) => "a boolean".to_string(),
        Value::Number(_) => "a number".to_string(),
        Value::String(_) => "a string".to_string(),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    };
    problem(format!("TypeError: {method} must resolve to {expected} (it resolved to {shown})"))
}

fn field<'a>(v: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    v.get(camel).or_else(|| v.get(snake))
}

fn text(v: &Value, camel: &str, snake: &str) -> Option<String> {
    field(v, camel, snake).and_then(Value::as_str).map(str::to_string)
}

fn uint(v: &Value, camel: &str, snake: &str) -> Option<u64> {
    let f = field(v, camel, snake)?;
    f.as_u64().or_else(|| f.as_f64().filter(|x| x.fract() == 0.0 && *x >= 0.0 && *x < 9.007e15).map(|x| x as u64))
}

fn int(v: &Value, camel: &str, snake: &str) -> Option<i64> {
    let f = field(v, camel, snake)?;
    f.as_i64().or_else(|| f.as_f64().filter(|x| x.fract() == 0.0 && x.abs() < 9.007e15).map(|x| x as i64))
}

fn to_row(method: &str, v: &Value) -> std::result::Result<StoreRow, RowStoreError> {
    let bad = || garbage(method, "rows { environment, clientId, revision, data }", v);
    Ok(StoreRow {
        environment: text(v, "environment", "environment").ok_or_else(bad)?,
        client_id: text(v, "clientId", "client_id").ok_or_else(bad)?,
        revision: uint(v, "revision", "revision").ok_or_else(bad)?,
        data: text(v, "data", "data").ok_or_else(bad)?,
    })
}

fn to_event(v: &Value) -> std::result::Result<EventRow, RowStoreError> {
    let bad = || garbage("events", "event rows { seq, environment, clientId, at, kind, data }", v);
    Ok(EventRow {
        seq: uint(v, "seq", "seq").ok_or_else(bad)?,
        environment: text(v, "environment", "environment").ok_or_else(bad)?,
        client_id: text(v, "clientId", "client_id").ok_or_else(bad)?,
        at: int(v, "at", "at").ok_or_else(bad)?,
        kind: text(v, "kind", "kind").ok_or_else(bad)?,
        data: text(v, "data", "data").ok_or_else(bad)?,
    })
}

fn row_json(r: &StoreRow) -> Value {
    json!({ "environment": r.environment, "clientId": r.client_id, "revision": r.revision, "data": r.data })
}

fn events_json(events: &[EventRow]) -> Value {
    Value::Array(
        events
            .iter()
            .map(|e| {
                json!({ "seq": e.seq, "environment": e.environment, "clientId": e.client_id, "at": e.at,
                        "kind": e.kind, "data": e.data })
            })
            .collect(),
    )
}

fn boolean(method: &str, v: Value) -> std::result::Result<bool, RowStoreError> {
    v.as_bool().ok_or_else(|| garbage(method, "a boolean", &v))
}

fn array(method: &str, v: Value) -> std::result::Result<Vec<Value>, RowStoreError> {
    match v {
        Value::Array(a) => Ok(a),
        other => Err(garbage(method, "an array", &other)),
    }
}

impl RowStore for JsRowStore {
    fn load(&self, environment: String, client_id: String) -> RowFuture<'_, Option<StoreRow>> {
        Box::pin(async move {
            let v = self.invoke("load", json!([environment, client_id])).await?;
            if v.is_null() {
                return Ok(None);
            }
            to_row("load", &v).map(Some)
        })
    }

    fn insert(&self, row: StoreRow, events: Vec<EventRow>) -> RowFuture<'_, bool> {
        Box::pin(async move {
            let v = self.invoke("insert", json!([row_json(&row), events_json(&events)])).await?;
            boolean("insert", v)
        })
    }

    fn compare_and_swap(&self, expected_revision: u64, row: StoreRow, events: Vec<EventRow>) -> RowFuture<'_, bool> {
        Box::pin(async move {
            let v =
                self.invoke("compareAndSwap", json!([expected_revision, row_json(&row), events_json(&events)])).await?;
            boolean("compareAndSwap", v)
        })
    }

    fn delete(
        &self,
        environment: String,
        client_id: String,
        expected_revision: u64,
        events: Vec<EventRow>,
    ) -> RowFuture<'_, bool> {
        Box::pin(async move {
            let v =
                self.invoke("delete", json!([environment, client_id, expected_revision, events_json(&events)])).await?;
            boolean("delete", v)
        })
    }

    fn list(&self, environment: Option<String>) -> RowFuture<'_, Vec<StoreRow>> {
        Box::pin(async move {
            let v = self.invoke("list", json!([environment])).await?;
            array("list", v)?.iter().map(|r| to_row("list", r)).collect()
        })
    }

    fn events(
        &self,
        environment: Option<String>,
        client_id: Option<String>,
        after_seq: u64,
        limit: u32,
    ) -> RowFuture<'_, Vec<EventRow>> {
        Box::pin(async move {
            let v = self.invoke("events", json!([environment, client_id, after_seq, limit])).await?;
            array("events", v)?.iter().map(to_event).collect()
        })
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}
