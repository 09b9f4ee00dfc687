//! Native (napi-rs) layer of the `confirma-sdk` npm package.
//!
//! This is deliberately thin and *internal*: the public API is the hand-written JavaScript layer in
//! `bindings-node/lib/` which wraps these exports. Every call resolves to a plain result object
//! (`{ ok, aborted, created | status | renewed, error }`) instead of rejecting, because a napi error
//! carries only a message and a status, not the structured fields (status, request id, field errors,
//! recovered token, ...) the JS error classes need. All behaviour — validation, retries, error
//! parsing, redaction — stays in the `confirma` core.
//!
//! No panic crosses into JavaScript: every export runs its synchronous part under `catch_unwind`
//! and every spawned call is polled under `catch_unwind` ([`CatchUnwind`]); a contained panic becomes
//! the core's `internal` error (`InternalError` in JS, code `CONFIRMA_INTERNAL`).

#![deny(clippy::all)]

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ffi::c_void;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use confirma::{ClientConfig, Environment, Error, OnboardingClient, SecretToken, ValidationMode};
use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use tokio::sync::watch;

/// Options for the native client, already type-checked by the JS layer.
#[napi(object)]
pub struct NativeOptions {
    /// `staging`, `production`.
    pub environment: Option<String>,
    /// A custom base URL; wins over `environment`.
    pub base_url: Option<String>,
    pub timeout_ms: Option<f64>,
    pub connect_timeout_ms: Option<f64>,
    pub total_timeout_ms: Option<f64>,
    pub max_retries: Option<f64>,
    pub max_response_bytes: Option<f64>,
    pub validation: Option<String>,
    pub user_agent_suffix: Option<String>,
    pub proxy: Option<String>,
    pub root_certificates_pem: Option<String>,
}

/// An SDK error as plain data (mapped to the exported error classes in JS).
#[napi(object)]
pub struct NativeError {
    /// snake_case kind (`permission_denied`).
    pub kind: String,
    /// Stable code (`CONFIRMA_PERMISSION_DENIED`).
    pub code: String,
    /// Full human-readable message (the core's Display; never contains a token).
    pub message: String,
    /// The error's own message without the kind prefix.
    pub detail: String,
    pub status: Option<u32>,
    pub request_id: Option<String>,
    pub retryable: bool,
    pub retry_after_ms: Option<f64>,
    pub field_errors: Option<BTreeMap<String, Vec<String>>>,
    /// `client` | `server` for validation errors.
    pub source: Option<String>,
    pub body_excerpt: Option<String>,
    /// For outcome_unknown: `create_client` | `renew_token`.
    pub operation: Option<String>,
    /// For network errors: whether the failure happened while connecting (nothing was sent).
    pub connect: Option<bool>,
    /// For outcome_unknown: the failure that made the outcome unknown (zero or one element).
    pub cause: Option<Vec<NativeError>>,
    /// A new access token recovered from a 2xx create answer that lacked the client's identifiers
    /// (wrapped in a `SecretToken` by the JS layer at once).
    pub recovered_token: Option<String>,
    /// A 2xx create/renew answer that could not be read, whole (wrapped in a `SecretToken` at once).
    pub raw_response: Option<String>,
}

#[napi(object)]
pub struct NativeCreatedClient {
    pub client_id: String,
    pub customer_code: String,
    pub payment_reference_prefix: String,
    pub access_token: String,
    /// Milliseconds since the epoch.
    pub token_expires_at_ms: Option<f64>,
}

#[napi(object)]
pub struct NativeTokenStatus {
    pub is_valid: bool,
    pub expired: bool,
    pub message: String,
}

#[napi(object)]
pub struct NativeRenewedToken {
    pub access_token: String,
    /// Milliseconds since the epoch.
    pub expires_at_ms: Option<f64>,
}

/// The settled result of one native call. Exactly one of `created`/`status`/`renewed`/`error` is set
/// unless `aborted` is true.
#[napi(object)]
pub struct NativeOutcome {
    pub ok: bool,
    pub aborted: bool,
    pub created: Option<NativeCreatedClient>,
    pub status: Option<NativeTokenStatus>,
    pub renewed: Option<NativeRenewedToken>,
    pub error: Option<NativeError>,
}

impl NativeOutcome {
    fn empty(ok: bool) -> Self {
        NativeOutcome { ok, aborted: false, created: None, status: None, renewed: None, error: None }
    }
    fn error(e: NativeError) -> Self {
        NativeOutcome { error: Some(e), ..Self::empty(false) }
    }
    fn aborted() -> Self {
        NativeOutcome { aborted: true, ..Self::empty(false) }
    }
}

fn native_error(e: &Error) -> NativeError {
    let kind = e.kind();
    let (operation, cause) = match e {
        Error::OutcomeUnknown { operation, cause, .. } => {
            (Some(operation.as_str().to_string()), Some(vec![native_error(cause)]))
        }
        _ => (None, None),
    };
    let connect = match e {
        Error::Network { connect, .. } => Some(*connect),
        _ => None,
    };
    NativeError {
        kind: kind.as_str().to_string(),
        code: kind.code(),
        message: e.to_string(),
        detail: e.message().to_string(),
        status: e.status().map(u32::from),
        request_id: e.request_id().map(str::to_string),
        retryable: e.is_retryable(),
        retry_after_ms: e.retry_after().map(|d| d.as_secs_f64() * 1000.0),
        field_errors: (kind == confirma::ErrorKind::Validation).then(|| e.field_errors().clone()),
        source: e.validation_source().map(|s| s.as_str().to_string()),
        body_excerpt: e.body_excerpt().map(str::to_string),
        operation,
        connect,
        cause,
        recovered_token: e.recovered_token().map(|t| t.expose().to_string()),
        raw_response: e.raw_response().map(|t| t.expose().to_string()),
    }
}

/// The core's `internal` error for a contained panic (`InternalError` in JS).
fn panic_error(payload: &(dyn std::any::Any + Send)) -> NativeError {
    native_error(&Error::from_panic(payload))
}

/// Runs the synchronous part of an export; a panic is contained and handed to `on_panic` as the
/// core's `internal` error.
fn contain<T>(f: impl FnOnce() -> T, on_panic: impl FnOnce(NativeError) -> T) -> T {
    panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| on_panic(panic_error(&*payload)))
}

/// A duration option in milliseconds, converted (and bounded) by the core.
fn millis(ms: Option<f64>, name: &str) -> std::result::Result<Option<Duration>, Error> {
    ms.map(|v| confirma::duration_from_millis(name, v)).transpose()
}

fn build_config(o: NativeOptions) -> std::result::Result<ClientConfig, Error> {
    let environment = match (o.base_url, o.environment) {
        (Some(url), _) => Environment::Custom(url),
        (None, Some(env)) => match env.trim().to_ascii_lowercase().as_str() {
            "staging" => Environment::Staging,
            "production" => Environment::Production,
            _ => {
                return Err(Error::configuration(format!(
                    "unknown environment `{env}` (expected 'staging' or 'production', or pass baseUrl)"
                )))
            }
        },
        (None, None) => {
            return Err(Error::configuration("environment ('staging' | 'production') or baseUrl is required"))
        }
    };
    let mut config = ClientConfig::new(environment);
    if let Some(t) = millis(o.timeout_ms, "timeoutMs")? {
        config = config.timeout(t);
    }
    if let Some(t) = millis(o.connect_timeout_ms, "connectTimeoutMs")? {
        config = config.connect_timeout(t);
    }
    if let Some(t) = millis(o.total_timeout_ms, "totalTimeoutMs")? {
        config = config.total_timeout(t);
    }
    if let Some(n) = o.max_retries {
        // The JS layer passes a non-negative integer; clamp so the core's range check reports it.
        config = config.max_retries(if n >= u32::MAX as f64 { u32::MAX } else { n.max(0.0) as u32 });
    }
    if let Some(n) = o.max_response_bytes {
        // A non-negative integer from the JS layer; `as` saturates, and the core's range check reports it.
        config = config.max_response_bytes(n as usize);
    }
    if let Some(v) = o.validation {
        config = config.validation(v.parse::<ValidationMode>()?);
    }
    if let Some(s) = o.user_agent_suffix {
        config = config.user_agent_suffix(s);
    }
    if let Some(p) = o.proxy {
        config = config.proxy(p);
    }
    if let Some(pem) = o.root_certificates_pem {
        config = config.extra_root_certificates_pem(pem);
    }
    Ok(config)
}

/// Per-call cancellation handle, created by the JS layer for calls that have an `AbortSignal`.
///
/// The call and the handle agree atomically on who finished first: `cancel()` returns `false` when the
/// call has already completed (its result is on its way to JavaScript and must not be discarded — a
/// renewed token would otherwise be lost), and a call that was cancelled first never delivers a result.
#[napi]
pub struct CancelHandle {
    state: Arc<CallState>,
}

struct CallState {
    /// RUNNING → CANCELLED (by `cancel`) or RUNNING → COMPLETED (by the call), exactly once.
    phase: AtomicU8,
    tx: watch::Sender<bool>,
}

const RUNNING: u8 = 0;
const CANCELLED: u8 = 1;
const COMPLETED: u8 = 2;

#[napi]
impl CancelHandle {
    #[napi(constructor)]
    pub fn new() -> Self {
        CancelHandle { state: Arc::new(CallState { phase: AtomicU8::new(RUNNING), tx: watch::Sender::new(false) }) }
    }

    /// Cancels the call this handle was passed to: the in-flight request is dropped at once. Returns
    /// `false` if the call had already completed (then its outcome is delivered as usual).
    #[napi]
    pub fn cancel(&self) -> bool {
        match self.state.phase.compare_exchange(RUNNING, CANCELLED, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                self.state.tx.send_replace(true);
                true
            }
            Err(phase) => phase == CANCELLED,
        }
    }
}

impl Default for CancelHandle {
    fn default() -> Self {
        Self::new()
    }
}

/// Polls a future, turning a panic inside it into `Err` (no panic crosses into the runtime or FFI).
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::result::Result<F::Output, NativeError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.0.as_mut();
        match panic::catch_unwind(AssertUnwindSafe(move || fut.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => Poll::Ready(Err(panic_error(&*payload))),
        }
    }
}

/// Races `fut` against the cancel handle. Panics inside become an internal error; cancellation drops
/// the request future at once.
async fn run<F>(fut: F, cancel: Option<Arc<CallState>>) -> NativeOutcome
where
    F: Future<Output = NativeOutcome> + Send + 'static,
{
    let task = CatchUnwind(Box::pin(fut));
    let joined = match &cancel {
        None => task.await,
        Some(state) => {
            let mut rx = state.tx.subscribe();
            tokio::select! {
                biased;
                _ = rx.wait_for(|c| *c) => return NativeOutcome::aborted(),
                r = task => r,
            }
        }
    };
    if let Some(state) = &cancel {
        if state.phase.compare_exchange(RUNNING, COMPLETED, Ordering::AcqRel, Ordering::Acquire).is_err() {
            // Cancelled at the same moment: JavaScript has already rejected the call.
            return NativeOutcome::aborted();
        }
    }
    joined.unwrap_or_else(NativeOutcome::error)
}

// ---------------------------------------------------------------------------------------------
// Batched completion: one thread-safe function per JS environment (main thread or worker) delivers
// every completed call. Tokio tasks queue `(deferred, outcome)` pairs; at most one wake-up of the JS
// thread is in flight, and its callback settles the whole queue. The thread-safe function is unref'd
// while no call is in flight, so it never keeps the process alive.

/// A `napi_deferred` travelling through tokio (only ever used on its own JS thread).
struct Deferred(sys::napi_deferred);
// SAFETY: the pointer is only dereferenced by Node-API calls made on the JS thread that created it.
unsafe impl Send for Deferred {}

struct DispatchQueue {
    items: Vec<(Deferred, NativeOutcome)>,
    /// Set by the finalizer once Node has torn the thread-safe function down (env teardown).
    closed: bool,
}

struct Dispatcher {
    env: sys::napi_env,
    /// Set once, right after creation and before any call can use it.
    tsfn: AtomicPtr<sys::napi_threadsafe_function__>,
    queue: Mutex<DispatchQueue>,
    /// A wake-up of the JS thread is pending: later completions just join the queue.
    wake_pending: AtomicBool,
    /// Calls started and not yet settled (touched on the JS thread only).
    in_flight: Cell<usize>,
}

// SAFETY: `env`, `tsfn` handles are used per Node-API's rules: `napi_call_threadsafe_function` from any
// thread (under `queue`'s lock, which the finalizer also takes, so never after teardown), everything
// else (`in_flight`, ref/unref, deferreds) on the JS thread only.
unsafe impl Send for Dispatcher {}
unsafe impl Sync for Dispatcher {}

thread_local! {
    static DISPATCHER: RefCell<Option<Arc<Dispatcher>>> = const { RefCell::new(None) };
}

impl Dispatcher {
    /// The dispatcher of the calling JS thread's environment, created on first use.
    fn current(env: &Env) -> Result<Arc<Dispatcher>> {
        let raw_env = env.raw();
        if let Some(d) = DISPATCHER.with(|d| d.borrow().as_ref().filter(|d| d.env == raw_env).cloned()) {
            return Ok(d);
        }
        let d = Arc::new(Dispatcher {
            env: raw_env,
            tsfn: AtomicPtr::new(ptr::null_mut()),
            queue: Mutex::new(DispatchQueue { items: Vec::new(), closed: false }),
            wake_pending: AtomicBool::new(false),
            in_flight: Cell::new(0),
        });
        let context = Arc::into_raw(d.clone()) as *mut c_void;
        let mut tsfn: sys::napi_threadsafe_function = ptr::null_mut();
        let mut name = ptr::null_mut();
        let label = "confirma-dispatch";
        // SAFETY: plain Node-API calls on the JS thread with valid out-pointers.
        unsafe {
            check(sys::napi_create_string_utf8(raw_env, label.as_ptr().cast(), label.len() as isize, &mut name))?;
            let status = sys::napi_create_threadsafe_function(
                raw_env,
                ptr::null_mut(),
                ptr::null_mut(),
                name,
                0,
                1,
                context,
                Some(finalize_dispatcher),
                context,
                Some(dispatch_batch),
                &mut tsfn,
            );
            if status != sys::Status::napi_ok {
                drop(Arc::from_raw(context as *const Dispatcher));
                check(status)?;
            }
            check(sys::napi_unref_threadsafe_function(raw_env, tsfn))?;
        }
        d.tsfn.store(tsfn, Ordering::Release);
        DISPATCHER.with(|slot| *slot.borrow_mut() = Some(d.clone()));
        Ok(d)
    }

    /// Creates the promise of one call (JS thread).
    fn begin(&self) -> Result<(Deferred, sys::napi_value)> {
        let mut deferred = ptr::null_mut();
        let mut promise = ptr::null_mut();
        // SAFETY: JS thread, valid out-pointers.
        unsafe {
            check(sys::napi_create_promise(self.env, &mut deferred, &mut promise))?;
            if self.in_flight.get() == 0 {
                check(sys::napi_ref_threadsafe_function(self.env, self.tsfn.load(Ordering::Relaxed)))?;
            }
        }
        self.in_flight.set(self.in_flight.get() + 1);
        Ok((Deferred(deferred), promise))
    }

    /// Queues a finished call (any thread) and wakes the JS thread unless a wake-up is pending.
    fn complete(&self, deferred: Deferred, outcome: NativeOutcome) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.closed {
            return;
        }
        q.items.push((deferred, outcome));
        if self.wake_pending.swap(true, Ordering::AcqRel) {
            return;
        }
        // The queue is unbounded, so a call fails only while Node tears the environment down
        // (`napi_closing`) or when it cannot allocate; try a few times before giving up.
        let mut status = sys::Status::napi_generic_failure;
        for _ in 0..3 {
            // SAFETY: not closed (checked under the lock the finalizer takes).
            status = unsafe {
                sys::napi_call_threadsafe_function(
                    self.tsfn.load(Ordering::Acquire),
                    ptr::null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                )
            };
            if status == sys::Status::napi_ok || status == sys::Status::napi_closing {
                break;
            }
        }
        if status == sys::Status::napi_ok {
            return;
        }
        // No wake-up is queued after all: clear the flag, or every later completion would wait for a
        // wake-up that never comes and its promise would never settle. The next completion retries
        // and its wake-up settles everything queued.
        self.wake_pending.store(false, Ordering::Release);
        if status == sys::Status::napi_closing {
            // The environment is going away: these promises can no longer be settled.
            q.closed = true;
            q.items.clear();
        }
    }
}

fn check(status: sys::napi_status) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::from_status(Status::from(status)))
    }
}

unsafe extern "C" fn dispatch_batch(
    env: sys::napi_env,
    _js_cb: sys::napi_value,
    context: *mut c_void,
    _data: *mut c_void,
) {
    if env.is_null() || context.is_null() {
        return;
    }
    let _ = panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `context` is the Arc the tsfn holds until its finalizer runs (on this thread).
        let d = unsafe { &*(context as *const Dispatcher) };
        d.wake_pending.store(false, Ordering::Release);
        let batch = std::mem::take(&mut d.queue.lock().unwrap_or_else(|e| e.into_inner()).items);
        let n = batch.len();
        for (deferred, outcome) in batch {
            // SAFETY: JS thread of `env`, inside the handle scope Node opens for this callback.
            unsafe {
                let converted = NativeOutcome::to_napi_value(env, outcome).or_else(|e| {
                    let failed = Error::internal(format!("could not hand the result to JavaScript: {}", e.reason));
                    NativeOutcome::to_napi_value(env, NativeOutcome::error(native_error(&failed)))
                });
                match converted {
                    Ok(v) => {
                        sys::napi_resolve_deferred(env, deferred.0, v);
                    }
                    Err(e) => {
                        // Not even an error object could be built: reject with a plain Error (the
                        // JS layer turns any non-SDK failure of a native call into an InternalError).
                        let mut msg = ptr::null_mut();
                        let text = format!("internal error in the native layer: {}", e.reason);
                        sys::napi_create_string_utf8(env, text.as_ptr().cast(), text.len() as isize, &mut msg);
                        let mut err = ptr::null_mut();
                        sys::napi_create_error(env, ptr::null_mut(), msg, &mut err);
                        sys::napi_reject_deferred(env, deferred.0, err);
                    }
                }
            }
        }
        if n > 0 {
            let left = d.in_flight.get().saturating_sub(n);
            d.in_flight.set(left);
            if left == 0 {
                // SAFETY: JS thread; the tsfn is alive (we are in its callback).
                unsafe { sys::napi_unref_threadsafe_function(env, d.tsfn.load(Ordering::Relaxed)) };
            }
        }
    }));
}

unsafe extern "C" fn finalize_dispatcher(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    if data.is_null() {
        return;
    }
    // SAFETY: `data` is the Arc reference handed to the tsfn at creation; released exactly once here.
    let d = unsafe { Arc::from_raw(data as *const Dispatcher) };
    let mut q = d.queue.lock().unwrap_or_else(|e| e.into_inner());
    q.closed = true;
    // The environment is going away: these promises can no longer be settled.
    q.items.clear();
    drop(q);
    let _ = DISPATCHER.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, &d)) {
                *slot = None;
            }
        }
    });
}

/// Starts one call: its promise is settled through the dispatcher of this environment.
fn start<'env, F>(env: &'env Env, fut: F, cancel: Option<Arc<CallState>>) -> Result<PromiseRaw<'env, NativeOutcome>>
where
    F: Future<Output = NativeOutcome> + Send + 'static,
{
    let d = Dispatcher::current(env)?;
    let (deferred, promise) = d.begin()?;
    napi::bindgen_prelude::spawn(async move {
        let outcome = run(fut, cancel).await;
        d.complete(deferred, outcome);
    });
    Ok(PromiseRaw::new(env.raw(), promise))
}

/// One asynchronous export: `make` (the synchronous part, run under `catch_unwind`) builds the call's
/// future. A panic in either part settles the promise with the core's `internal` error.
fn call<'env, F>(
    env: &'env Env,
    cancel: Option<&CancelHandle>,
    make: impl FnOnce() -> F,
) -> Result<PromiseRaw<'env, NativeOutcome>>
where
    F: Future<Output = NativeOutcome> + Send + 'static,
{
    let state = cancel.map(|c| c.state.clone());
    match contain(|| Ok(make()), |e| Err(Box::new(e))) {
        Ok(fut) => start(env, fut, state),
        Err(e) => start(env, std::future::ready(NativeOutcome::error(*e)), None),
    }
}

/// The native client; one per JS `OnboardingClient`.
#[napi]
pub struct NativeClient {
    inner: OnboardingClient,
}

/// Builds a native client, or returns the configuration (or internal) error as data.
#[napi(catch_unwind)]
pub fn new_native_client(options: NativeOptions) -> Either<NativeClient, NativeError> {
    contain(
        || match build_config(options).and_then(OnboardingClient::new) {
            Ok(inner) => Either::A(NativeClient { inner }),
            Err(e) => Either::B(native_error(&e)),
        },
        Either::B,
    )
}

/// The core's version.
#[napi]
pub fn core_version() -> String {
    confirma::VERSION.to_string()
}

/// Panics on purpose inside the binding's containment, so the tests can prove that a panic becomes an
/// `InternalError` (JS) instead of crashing or hanging: `mode` is `sync` (a panic in the export
/// itself) or `async` (a panic in the spawned call). Not part of the public API.
#[napi(catch_unwind)]
#[allow(clippy::panic)]
pub fn panic_probe<'env>(env: &'env Env, mode: String) -> Result<PromiseRaw<'env, NativeOutcome>> {
    call(env, None, move || {
        if mode == "sync" {
            panic!("panic probe: sync");
        }
        async move {
            if mode == "async" {
                panic!("panic probe: async");
            }
            NativeOutcome::error(native_error(&Error::configuration(format!("unknown probe mode `{mode}`"))))
        }
    })
}

fn created(c: confirma::CreatedClient) -> NativeOutcome {
    NativeOutcome {
        created: Some(NativeCreatedClient {
            client_id: c.client_id,
            customer_code: c.customer_code,
            payment_reference_prefix: c.payment_reference_prefix,
            access_token: c.access_token.expose().to_string(),
            token_expires_at_ms: c.token_expires_at.map(|t| t.timestamp_millis() as f64),
        }),
        ..NativeOutcome::empty(true)
    }
}

fn renewed(r: confirma::RenewedToken) -> NativeOutcome {
    NativeOutcome {
        renewed: Some(NativeRenewedToken {
            access_token: r.access_token.expose().to_string(),
            expires_at_ms: r.expires_at.map(|t| t.timestamp_millis() as f64),
        }),
        ..NativeOutcome::empty(true)
    }
}

#[napi]
impl NativeClient {
    /// The User-Agent header this client sends.
    #[napi(getter, catch_unwind)]
    pub fn user_agent(&self) -> String {
        self.inner.user_agent().to_string()
    }

    /// The resolved base URL.
    #[napi(getter, catch_unwind)]
    pub fn base_url(&self) -> String {
        self.inner.base_url().to_string()
    }

    /// `POST /api/v1/partner/client`; `new_client_json` is the JSON text of the user's plain object.
    #[napi(catch_unwind)]
    pub fn create_client<'env>(
        &self,
        env: &'env Env,
        token: String,
        new_client_json: String,
        cancel: Option<&CancelHandle>,
    ) -> Result<PromiseRaw<'env, NativeOutcome>> {
        call(env, cancel, || {
            let client = self.inner.clone();
            async move {
                let token = SecretToken::new(token);
                let value: serde_json::Value = match serde_json::from_str(&new_client_json) {
                    Ok(v) => v,
                    Err(e) => {
                        return NativeOutcome::error(native_error(&Error::invalid_input("newClient", e.to_string())))
                    }
                };
                match client.create_client_from_value(&token, &value).await {
                    Ok(c) => created(c),
                    Err(e) => NativeOutcome::error(native_error(&e)),
                }
            }
        })
    }

    /// `GET /api/v1/partner/validate`.
    #[napi(catch_unwind)]
    pub fn validate_token<'env>(
        &self,
        env: &'env Env,
        token: String,
        cancel: Option<&CancelHandle>,
    ) -> Result<PromiseRaw<'env, NativeOutcome>> {
        call(env, cancel, || {
            let client = self.inner.clone();
            async move {
                match client.validate_token(&SecretToken::new(token)).await {
                    Ok(s) => NativeOutcome {
                        status: Some(NativeTokenStatus {
                            is_valid: s.is_valid,
                            expired: s.expired,
                            message: s.message,
                        }),
                        ..NativeOutcome::empty(true)
                    },
                    Err(e) => NativeOutcome::error(native_error(&e)),
                }
            }
        })
    }

    /// `GET /api/v1/partner/renew`.
    #[napi(catch_unwind)]
    pub fn renew_token<'env>(
        &self,
        env: &'env Env,
        token: String,
        cancel: Option<&CancelHandle>,
    ) -> Result<PromiseRaw<'env, NativeOutcome>> {
        call(env, cancel, || {
            let client = self.inner.clone();
            async move {
                match client.renew_token(&SecretToken::new(token)).await {
                    Ok(r) => renewed(r),
                    Err(e) => NativeOutcome::error(native_error(&e)),
                }
            }
        })
    }
}
