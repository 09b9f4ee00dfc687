//! A partner's store written in JavaScript/TypeScript (the `CredentialStore` interface of `index.d.ts`).
//!
//! Each of its six row methods is reached through its own weak thread-safe function, typed end to end: the
//! arguments cross as napi values (`StoreRowJs` / `EventRowJs` objects with camelCase fields, numbers,
//! strings, `null`), and what the method's promise resolves to is converted here with `FromNapiValue`
//! (`Option<StoreRowJs>`, `bool`, `Vec<…>`). The JS side is the partner's method behind a one-line shim
//! (`lib/lifecycle.js`) that only turns a synchronous throw into a rejection. The promise is awaited on the
//! core's runtime; a rejection becomes `RowStoreError("<Name>: <message>")`, a value of the wrong type or a
//! number that is not a whole number in range (negative, fractional, beyond 2^53 − 1) becomes
//! `RowStoreError("TypeError: <method> must resolve to …")` — a `StorageError` (retryable), never a crash.
//! The record's encoding, the checks on the rows and the protocol are the core's
//! (`confirma::ffi::foreign_store`).

use std::cell::Cell;
use std::ptr;
use std::rc::Rc;
use std::sync::Arc;

use confirma::ffi::{foreign_store, EventRow, RowFuture, RowStore, RowStoreError, StoreRow};
use napi::bindgen_prelude::*;
use napi::sys;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;
use tokio::sync::oneshot;

use crate::store::NativeStore;

/// A credential row as it crosses to and from JavaScript: `{ environment, clientId, revision, data }`.
/// `revision` is a number (a BigInt is accepted back).
#[napi(object)]
pub struct StoreRowJs {
    pub environment: String,
    pub client_id: String,
    pub revision: Either<f64, BigInt>,
    pub data: String,
}

/// An event row as it crosses to and from JavaScript: `{ seq, environment, clientId, at, kind, data }`.
#[napi(object)]
pub struct EventRowJs {
    pub seq: Either<f64, BigInt>,
    pub environment: String,
    pub client_id: String,
    pub at: Either<f64, BigInt>,
    pub kind: String,
    pub data: String,
}

/// A value a partner's method resolved to: of the expected type, or what it was instead (`"a string"`).
pub enum Checked<T> {
    Good(T),
    Wrong(&'static str),
}

impl<T: FromNapiValue> FromNapiValue for Checked<T> {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        match unsafe { T::from_napi_value(env, value) } {
            Ok(v) => Ok(Checked::Good(v)),
            Err(_) => {
                // A getter or a proxy trap may have thrown while the value was read: that is garbage too.
                let mut pending = false;
                if unsafe { sys::napi_is_exception_pending(env, &mut pending) } == sys::Status::napi_ok && pending {
                    let mut exception = ptr::null_mut();
                    unsafe { sys::napi_get_and_clear_last_exception(env, &mut exception) };
                }
                Ok(Checked::Wrong(unsafe { shown(env, value) }))
            }
        }
    }
}

/// How a settled call reads on the Rust side: the checked value, or the failure as `"<Name>: <message>"`.
type Settled<T> = std::result::Result<Checked<T>, String>;

/// What a partner's method returned: a promise (or, from a synchronous method, a value) whose outcome is
/// delivered to the awaiting Rust task.
pub struct Answer<T>(oneshot::Receiver<Settled<T>>);

impl<T: FromNapiValue + 'static> FromNapiValue for Answer<T> {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        let (tx, rx) = oneshot::channel();
        let mut is_promise = false;
        check_status!(unsafe { sys::napi_is_promise(env, value, &mut is_promise) })?;
        if !is_promise {
            let _ = tx.send(Ok(unsafe { Checked::from_napi_value(env, value)? }));
            return Ok(Answer(rx));
        }
        let on_value = Rc::new(Cell::new(Some(tx)));
        let on_failure = on_value.clone();
        PromiseRaw::<Checked<T>>::new(env, value)
            .then(move |ctx| {
                if let Some(tx) = on_value.take() {
                    let _ = tx.send(Ok(ctx.value));
                }
                Ok(())
            })?
            .catch(move |ctx: CallbackContext<Unknown>| {
                if let Some(tx) = on_failure.take() {
                    let _ = tx.send(Err(unsafe { failure_text(env, ctx.value.raw()) }));
                }
                Ok(())
            })?;
        Ok(Answer(rx))
    }
}

/// `"a string"`, `"an array"`, `"null"`…: what a value is, for the garbage message.
unsafe fn shown(env: sys::napi_env, value: sys::napi_value) -> &'static str {
    let mut kind = sys::ValueType::napi_undefined;
    if unsafe { sys::napi_typeof(env, value, &mut kind) } != sys::Status::napi_ok {
        return "something unreadable";
    }
    match kind {
        sys::ValueType::napi_undefined => "undefined",
        sys::ValueType::napi_null => "null",
        sys::ValueType::napi_boolean => "a boolean",
        sys::ValueType::napi_number => "a number",
        sys::ValueType::napi_string => "a string",
        sys::ValueType::napi_symbol => "a symbol",
        sys::ValueType::napi_function => "a function",
        sys::ValueType::napi_bigint => "a bigint",
        _ => {
            let mut array = false;
            let _ = unsafe { sys::napi_is_array(env, value, &mut array) };
            if array {
                "an array"
            } else {
                "an object"
            }
        }
    }
}

/// A string property of an error object, if it is one.
unsafe fn string_property(env: sys::napi_env, object: sys::napi_value, name: &std::ffi::CStr) -> Option<String> {
    let mut v = ptr::null_mut();
    if unsafe { sys::napi_get_named_property(env, object, name.as_ptr(), &mut v) } != sys::Status::napi_ok {
        let mut exception = ptr::null_mut();
        unsafe { sys::napi_get_and_clear_last_exception(env, &mut exception) };
        return None;
    }
    unsafe { String::from_napi_value(env, v) }.ok()
}

/// `"<Name>: <message>"` of whatever a partner's method threw or rejected with.
unsafe fn failure_text(env: sys::napi_env, value: sys::napi_value) -> String {
    let mut is_error = false;
    let _ = unsafe { sys::napi_is_error(env, value, &mut is_error) };
    if is_error {
        let name = unsafe { string_property(env, value, c"name") }.filter(|n| !n.is_empty());
        let message = unsafe { string_property(env, value, c"message") }.unwrap_or_default();
        return format!("{}: {message}", name.as_deref().unwrap_or("Error"));
    }
    match unsafe { String::from_napi_value(env, value) } {
        Ok(s) => format!("Error: {s}"),
        Err(_) => format!("Error: {}", unsafe { shown(env, value) }),
    }
}

type Method<Args, T> = ThreadsafeFunction<Args, Answer<T>, Args, Status, false, true>;

// The arguments of each method, as they cross to JavaScript.
type LoadArgs = FnArgs<(String, String)>;
type InsertArgs = FnArgs<(StoreRowJs, Vec<EventRowJs>)>;
type CasArgs = FnArgs<(f64, StoreRowJs, Vec<EventRowJs>)>;
type DeleteArgs = FnArgs<(String, String, f64, Vec<EventRowJs>)>;
type ListArgs = Option<String>;
type EventsArgs = FnArgs<(Option<String>, Option<String>, f64, u32)>;

struct JsRowStore {
    load: Method<LoadArgs, Option<StoreRowJs>>,
    insert: Method<InsertArgs, bool>,
    compare_and_swap: Method<CasArgs, bool>,
    delete: Method<DeleteArgs, bool>,
    list: Method<ListArgs, Vec<StoreRowJs>>,
    events: Method<EventsArgs, Vec<EventRowJs>>,
    description: String,
}

fn weak<Args: JsValuesTupleIntoVec + 'static, T: FromNapiValue + 'static>(
    f: Function<Args, Answer<T>>,
) -> Result<Method<Args, T>> {
    f.build_threadsafe_function().weak::<true>().callee_handled::<false>().build()
}

/// Wraps a partner's store (its six row methods, each behind the JS layer's promise shim) as a native store.
#[napi(catch_unwind)]
#[allow(clippy::too_many_arguments)]
pub fn new_foreign_store(
    load: Function<LoadArgs, Answer<Option<StoreRowJs>>>,
    insert: Function<InsertArgs, Answer<bool>>,
    compare_and_swap: Function<CasArgs, Answer<bool>>,
    delete: Function<DeleteArgs, Answer<bool>>,
    list: Function<ListArgs, Answer<Vec<StoreRowJs>>>,
    events: Function<EventsArgs, Answer<Vec<EventRowJs>>>,
    description: String,
) -> Result<NativeStore> {
    let rows = Arc::new(JsRowStore {
        load: weak(load)?,
        insert: weak(insert)?,
        compare_and_swap: weak(compare_and_swap)?,
        delete: weak(delete)?,
        list: weak(list)?,
        events: weak(events)?,
        description,
    });
    Ok(NativeStore::of(foreign_store(rows), None))
}

fn problem(what: String) -> RowStoreError {
    RowStoreError(what)
}

const ROWS: &str = "rows { environment, clientId, revision, data }";
const EVENTS: &str = "event rows { seq, environment, clientId, at, kind, data }";

/// Calls one of the partner's methods and awaits what its promise settles to.
async fn ask<Args: JsValuesTupleIntoVec + 'static, T: FromNapiValue + 'static>(
    f: &Method<Args, T>,
    method: &str,
    expected: &str,
    args: Args,
) -> std::result::Result<T, RowStoreError> {
    let answer = f
        .call_async_catch(args)
        .await
        .map_err(|e| problem(format!("Error: the store's {method} could not be called: {}", e.reason)))?;
    match answer.0.await {
        Ok(Ok(Checked::Good(v))) => Ok(v),
        Ok(Ok(Checked::Wrong(shown))) => {
            Err(problem(format!("TypeError: {method} must resolve to {expected} (it resolved to {shown})")))
        }
        Ok(Err(failure)) => Err(problem(failure)),
        Err(_) => Err(problem(format!("Error: the store's {method} never settled"))),
    }
}

/// The largest integer a JS number holds exactly (2^53 − 1).
const MAX_SAFE: u64 = (1 << 53) - 1;

/// A whole number in ±(2^53 − 1), from a JS number or BigInt.
fn whole(n: &Either<f64, BigInt>) -> Option<i64> {
    match n {
        Either::A(x) => (x.is_finite() && x.fract() == 0.0 && x.abs() <= MAX_SAFE as f64).then_some(*x as i64),
        Either::B(b) => match b.words.as_slice() {
            [v] if *v <= MAX_SAFE => Some(if b.sign_bit { -(*v as i64) } else { *v as i64 }),
            _ => None,
        },
    }
}

fn unsigned(n: &Either<f64, BigInt>) -> Option<u64> {
    whole(n).and_then(|v| u64::try_from(v).ok())
}

fn out_of_range(method: &str, expected: &str, field: &str) -> RowStoreError {
    problem(format!(
        "TypeError: {method} must resolve to {expected} (its {field} is not a whole number from 0 to 2^53 - 1)"
    ))
}

fn from_js_row(method: &str, r: StoreRowJs) -> std::result::Result<StoreRow, RowStoreError> {
    let revision = unsigned(&r.revision).ok_or_else(|| out_of_range(method, ROWS, "revision"))?;
    Ok(StoreRow { environment: r.environment, client_id: r.client_id, revision, data: r.data })
}

fn from_js_event(e: EventRowJs) -> std::result::Result<EventRow, RowStoreError> {
    let seq = unsigned(&e.seq).ok_or_else(|| out_of_range("events", EVENTS, "seq"))?;
    let at = whole(&e.at).ok_or_else(|| {
        problem(format!("TypeError: events must resolve to {EVENTS} (its at is not a whole number of milliseconds)"))
    })?;
    Ok(EventRow { seq, environment: e.environment, client_id: e.client_id, at, kind: e.kind, data: e.data })
}

fn js_row(r: StoreRow) -> StoreRowJs {
    StoreRowJs {
        environment: r.environment,
        client_id: r.client_id,
        revision: Either::A(r.revision as f64),
        data: r.data,
    }
}

fn js_events(events: Vec<EventRow>) -> Vec<EventRowJs> {
    events
        .into_iter()
        .map(|e| EventRowJs {
            seq: Either::A(e.seq as f64),
            environment: e.environment,
            client_id: e.client_id,
            at: Either::A(e.at as f64),
            kind: e.kind,
            data: e.data,
        })
        .collect()
}

impl RowStore for JsRowStore {
    fn load(&self, environment: String, client_id: String) -> RowFuture<'_, Option<StoreRow>> {
        Box::pin(async move {
            let row = ask(&self.load, "load", ROWS, (environment, client_id).into()).await?;
            row.map(|r| from_js_row("load", r)).transpose()
        })
    }

    fn insert(&self, row: StoreRow, events: Vec<EventRow>) -> RowFuture<'_, bool> {
        Box::pin(async move { ask(&self.insert, "insert", "a boolean", (js_row(row), js_events(events)).into()).await })
    }

    fn compare_and_swap(&self, expected_revision: u64, row: StoreRow, events: Vec<EventRow>) -> RowFuture<'_, bool> {
        Box::pin(async move {
            let args = (expected_revision as f64, js_row(row), js_events(events));
            ask(&self.compare_and_swap, "compareAndSwap", "a boolean", args.into()).await
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
            let args = (environment, client_id, expected_revision as f64, js_events(events));
            ask(&self.delete, "delete", "a boolean", args.into()).await
        })
    }

    fn list(&self, environment: Option<String>) -> RowFuture<'_, Vec<StoreRow>> {
        Box::pin(async move {
            let rows = ask(&self.list, "list", &format!("an array of {ROWS}"), environment).await?;
            rows.into_iter().map(|r| from_js_row("list", r)).collect()
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
            let args = (environment, client_id, after_seq as f64, limit);
            let events = ask(&self.events, "events", &format!("an array of {EVENTS}"), args.into()).await?;
            events.into_iter().map(from_js_event).collect()
        })
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}
