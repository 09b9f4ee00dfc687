//! The completion queue: the client's calls (validate, renew, create) without uniffi's future machinery.
//!
//! A call is started by a synchronous export that takes the Kotlin side's call id: it spawns the core's future on
//! the core's runtime (`confirma::ffi::runtime::spawn_guarded`: panic containment, cancel/complete agree on who came
//! first) and returns at once. When the future finishes, the runtime thread pushes a flat [`NativeCompletion`] into
//! one process-wide queue and wakes the drainer: one long-lived JVM daemon thread (Kotlin's `Completions`) that
//! waits in [`native_drain_completions`], takes everything queued in one crossing and resumes the coroutines by id.
//! No runtime thread ever calls into the JVM (no JNA attach, no upcall), and a call costs the start crossing plus
//! its share of a batch, instead of uniffi's poll / wake / re-poll / complete / free round trips.
//! [`native_cancel_call`] cancels by id: the request future is dropped at once and nothing is queued for it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use confirma as cfis;
use confirma::ffi::{runtime as core_runtime, ErrorInfo, StatusData};

use crate::error::{NativeError, NativeErrorInfo};
use crate::models::{CreatedClient, RenewedToken};
use crate::token::SecretToken;

/// A finished call, by its id: exactly one of `status`, `renewed`, `created` and `error` is set.
#[derive(uniffi::Record)]
pub struct NativeCompletion {
    /// The id the call was started with.
    pub id: u64,
    /// A validation's answer.
    pub status: Option<StatusData>,
    /// A renewal's new token.
    pub renewed: Option<RenewedToken>,
    /// The call's error.
    pub error: Option<NativeErrorInfo>,
    /// A create's new client (its first access token included).
    #[uniffi(default)]
    pub created: Option<CreatedClient>,
}

impl NativeCompletion {
    fn empty(id: u64) -> Self {
        NativeCompletion { id, status: None, renewed: None, error: None, created: None }
    }
}

/// What a queued call yields.
pub(crate) enum Outcome {
    Status(StatusData),
    Renewed(RenewedToken),
    Created(CreatedClient),
}

struct Queue {
    done: Mutex<Vec<NativeCompletion>>,
    ready: Condvar,
    /// The calls still running, for [`native_cancel_call`].
    running: Mutex<HashMap<u64, core_runtime::CallHandle>>,
    /// The one caller waiting on its own call's slot ([`confirma_kt_start_wait`]), if any.
    waiter: Mutex<Waiter>,
}

/// [`confirma_kt_start_wait`]'s slot: call `id` (0: none) completes into `done` and unparks `thread`.
struct Waiter {
    id: u64,
    thread: Option<std::thread::Thread>,
    done: Option<NativeCompletion>,
}

/// The id in [`Waiter`] (0: none): the completion's lock-free check before it takes the waiter's lock.
static WAITING_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn queue() -> &'static Queue {
    static QUEUE: OnceLock<Queue> = OnceLock::new();
    QUEUE.get_or_init(|| Queue {
        done: Mutex::new(Vec::new()),
        ready: Condvar::new(),
        running: Mutex::new(HashMap::new()),
        waiter: Mutex::new(Waiter { id: 0, thread: None, done: None }),
    })
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Queues call `id`'s result for the drainer.
fn complete(id: u64, r: Result<Outcome, ErrorInfo>) {
    let q = queue();
    let mut c = NativeCompletion::empty(id);
    match r {
        Ok(Outcome::Status(s)) => c.status = Some(s),
        Ok(Outcome::Renewed(t)) => c.renewed = Some(t),
        Ok(Outcome::Created(t)) => c.created = Some(t),
        Err(e) => c.error = Some(NativeErrorInfo::from(e)),
    }
    if WAITING_ID.load(std::sync::atomic::Ordering::SeqCst) == id {
        let mut w = lock(&q.waiter);
        if w.id == id {
            // Its caller waits on the slot (or will take it from there, `confirma_kt_unwait`): no drainer.
            w.done = Some(c);
            if let Some(t) = w.thread.take() {
                t.unpark();
            }
            return;
        }
    }
    push(c);
}

/// Queues a completion and wakes the drainer if the queue was empty.
fn push(c: NativeCompletion) {
    let q = queue();
    let mut done = lock(&q.done);
    done.push(c);
    if done.len() == 1 {
        q.ready.notify_one();
    }
}

/// Starts `fut` as call `id`; its completion is queued for the drainer.
pub(crate) fn start<F>(id: u64, fut: F) -> Result<(), NativeError>
where
    F: Future<Output = Result<Outcome, cfis::Error>> + Send + 'static,
{
    Ok(spawn(id, fut)?)
}

fn spawn<F>(id: u64, fut: F) -> Result<(), ErrorInfo>
where
    F: Future<Output = Result<Outcome, cfis::Error>> + Send + 'static,
{
    let q = queue();
    let handle = core_runtime::spawn_guarded(fut, move |r: Result<Outcome, ErrorInfo>| {
        // The call is COMPLETED before this runs; `start` below holds `running` while it checks that, so the
        // handle is either never inserted or removed here.
        lock(&q.running).remove(&id);
        complete(id, r);
    })?;
    let mut running = lock(&q.running);
    if !handle.is_completed() {
        running.insert(id, handle);
    }
    Ok(())
}

/// Waits up to `max_wait_ms` for finished calls and takes all of them (empty on timeout). Called by one JVM
/// daemon thread, in a loop.
#[uniffi::export]
pub fn native_drain_completions(max_wait_ms: u32) -> Vec<NativeCompletion> {
    let q = queue();
    let mut done = lock(&q.done);
    if done.is_empty() {
        done = q
            .ready
            .wait_timeout(done, Duration::from_millis(u64::from(max_wait_ms)))
            .map(|(g, _)| g)
            .unwrap_or_else(|p| p.into_inner().0);
    }
    std::mem::take(&mut *done)
}

/// Cancels call `id`: its request is dropped at once and nothing is queued for it. `false` if it had already
/// finished (its completion is queued or delivered) or is unknown.
#[uniffi::export]
pub fn native_cancel_call(id: u64) -> bool {
    let handle = lock(&queue().running).remove(&id);
    handle.is_some_and(|h| h.cancel())
}

// ---- the hot path's own C exports: no uniffi structures at all ----
//
// uniffi's generated Kotlin allocates JNA structures for every call (a `RustCallStatus` per crossing, a `RustBuffer`
// per string argument and per by-value result, each a native `Memory` with a Cleaner `PhantomReference`), and
// clones the object handle in one more crossing. At tens of thousands of calls a second those phantom references
// are most of the JVM's garbage and its GC pauses. The String-token validate and renew therefore start through one
// plain C function (JNA direct mapping of primitives and a `byte[]`: nothing allocated on the Java side), keyed by a
// registered client; the result comes back through the queue as above. Failures to start are queued as the call's
// error, so the export returns nothing.

/// The clients registered for the hot path, by key (`native_hot_register`).
fn clients() -> &'static std::sync::RwLock<HashMap<u64, cfis::OnboardingClient>> {
    static CLIENTS: OnceLock<std::sync::RwLock<HashMap<u64, cfis::OnboardingClient>>> = OnceLock::new();
    CLIENTS.get_or_init(Default::default)
}

/// Registers a client for [`confirma_kt_start`]; returns its key (never 0).
#[uniffi::export]
pub fn native_hot_register(client: std::sync::Arc<crate::client::NativeClient>) -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let key = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    clients().write().unwrap_or_else(|p| p.into_inner()).insert(key, client.core().clone());
    key
}

/// Forgets a registered client (its calls still running finish first).
#[uniffi::export]
pub fn native_hot_unregister(key: u64) {
    clients().write().unwrap_or_else(|p| p.into_inner()).remove(&key);
}

/// A copy of the token's UTF-8 bytes that JNA passed in a Kotlin byte array.
///
/// # Safety
/// `token` points to `len` readable bytes (or `len` is 0).
unsafe fn token_bytes(token: *const u8, len: u32) -> Vec<u8> {
    if token.is_null() || len == 0 {
        Vec::new()
    } else {
        // SAFETY: the caller guarantees `len` readable bytes.
        unsafe { std::slice::from_raw_parts(token, len as usize) }.to_vec()
    }
}

/// Overwrites a copy of a token's bytes that is not kept (a token that failed to decode).
fn wipe(mut bytes: Vec<u8>) {
    bytes.iter_mut().for_each(|b| *b = 0);
    std::hint::black_box(&bytes);
}

/// The token of a hot-path call, from its UTF-8 bytes.
fn token_from(bytes: Vec<u8>) -> Result<cfis::SecretToken, ErrorInfo> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(cfis::SecretToken::new(text)),
        Err(e) => {
            wipe(e.into_bytes());
            Err(ErrorInfo::of(&cfis::Error::invalid_input("token", "is not valid UTF-8")))
        }
    }
}

/// The registered client `key` of a hot-path call.
fn client(key: u64) -> Result<cfis::OnboardingClient, ErrorInfo> {
    clients()
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .cloned()
        .ok_or_else(|| ErrorInfo::of(&cfis::Error::internal("this OnboardingClient is closed")))
}

/// The token (from its UTF-8 bytes) and the registered client `key` of a hot-path call.
fn token_and_client(key: u64, bytes: Vec<u8>) -> Result<(cfis::SecretToken, cfis::OnboardingClient), ErrorInfo> {
    let token = token_from(bytes)?;
    Ok((token, client(key)?))
}

/// A hot-path call's token: its text (the String overloads) or a Kotlin `SecretToken`'s handle.
enum Token {
    Text(cfis::SecretToken),
    Object(std::sync::Arc<SecretToken>),
}

impl Token {
    /// Takes over an owned `SecretToken` handle (Kotlin's `callWithHandle` clones one per call); 0 is none.
    ///
    /// # Safety
    /// `handle` is 0 or an owned handle of a live `SecretToken`, as uniffi lowers one.
    unsafe fn from_handle(handle: u64) -> Option<Self> {
        if handle == 0 {
            return None;
        }
        <std::sync::Arc<SecretToken> as uniffi::Lift<crate::UniFfiTag>>::try_lift(uniffi::Handle::from_raw_unchecked(
            handle,
        ))
        .ok()
        .map(Token::Object)
    }

    fn core(&self) -> &cfis::SecretToken {
        match self {
            Token::Text(t) => t,
            Token::Object(t) => t.core(),
        }
    }
}

/// Spawns operation `op` (validate or renew) of `client` with `token` as call `id`.
fn spawn_op(id: u64, op: u32, client: cfis::OnboardingClient, token: Token) -> Result<(), ErrorInfo> {
    match op {
        OP_VALIDATE => {
            spawn(id, async move { client.validate_token(token.core()).await.map(|s| Outcome::Status(s.into())) })
        }
        OP_RENEW => spawn(id, async move {
            client
                .renew_token(token.core())
                .await
                .map(|r| Outcome::Renewed(crate::models::RenewedToken::from(confirma::ffi::RenewedData::from(r))))
        }),
        _ => Err(ErrorInfo::of(&cfis::Error::internal("unknown hot-path operation"))),
    }
}

/// Queues the error of a call that could not start (or the panic that stopped it).
fn started(id: u64, r: std::thread::Result<Result<(), ErrorInfo>>) {
    match r {
        Ok(Ok(())) => {}
        Ok(Err(e)) => complete(id, Err(e)),
        Err(payload) => complete(id, Err(ErrorInfo::from_panic(&*payload))),
    }
}

/// `confirma_kt_start`'s operations.
const OP_VALIDATE: u32 = 0;
const OP_RENEW: u32 = 1;

/// Starts call `id`: operation `op` (0 validate, 1 renew) of client `key` with the token's UTF-8 text
/// (`token`, `len` bytes; Kotlin's `tokenUtf8`). Its result, or why it could not start, arrives through the queue.
///
/// # Safety
/// `token` points to `len` readable bytes for the duration of the call (or `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn confirma_kt_start(key: u64, op: u32, token: *const u8, len: u32, id: u64) {
    // SAFETY: as this function's contract says.
    let bytes = unsafe { token_bytes(token, len) };
    started(
        id,
        std::panic::catch_unwind(move || -> Result<(), ErrorInfo> {
            let (token, client) = token_and_client(key, bytes)?;
            spawn_op(id, op, client, Token::Text(token))
        }),
    );
}

/// [`confirma_kt_start`] for the `SecretToken` overloads: `token` is an owned handle of the Kotlin `SecretToken`
/// (cloned by its `callWithHandle`; this export always takes it over, also when the call cannot start).
///
/// # Safety
/// `token` is an owned handle of a live `SecretToken`, as uniffi lowers one.
#[no_mangle]
pub unsafe extern "C" fn confirma_kt_start_object(key: u64, op: u32, token: u64, id: u64) {
    // SAFETY: as this function's contract says.
    let token = unsafe { Token::from_handle(token) };
    started(
        id,
        std::panic::catch_unwind(move || -> Result<(), ErrorInfo> {
            let token = token.ok_or_else(|| ErrorInfo::of(&cfis::Error::internal("no token handle")))?;
            spawn_op(id, op, client(key)?, token)
        }),
    );
}

/// `createClient` through the queue (the `Created` outcome), for every overload: the provisioning token as an owned
/// `SecretToken` handle (`token_handle`, not 0: taken over, also when the call cannot start) or as UTF-8 text
/// (`token`, `len` bytes); the form as the uniffi serialisation of a `NewClient` (`json` 0: Kotlin's
/// `FfiConverterTypeNewClient.write`) or as JSON text (`json` 1, the `createClientFromJson` overloads). A JSON text
/// that does not parse is the same `Validation` error on `newClient` as the uniffi exports give; every other failure
/// to start is queued as the call's error. A create is never repeated once its request may have been sent, and a
/// cancel (`native_cancel_call`) drops the request future at once, exactly as the uniffi future's drop did.
///
/// # Safety
/// `token_handle` is 0 or an owned handle of a live `SecretToken`; `token` points to `len` readable bytes (or `len`
/// is 0); `form` to `form_len` readable bytes (or `form_len` is 0); all for the duration of the call.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn confirma_kt_create(
    key: u64,
    token_handle: u64,
    token: *const u8,
    len: u32,
    json: u32,
    form: *const u8,
    form_len: u32,
    id: u64,
) {
    // SAFETY: as this function's contract says.
    let object = unsafe { Token::from_handle(token_handle) };
    // SAFETY: as this function's contract says.
    let bytes = if object.is_some() { Vec::new() } else { unsafe { token_bytes(token, len) } };
    // SAFETY: as this function's contract says (the form is no secret: plain `token_bytes` copy).
    let form = unsafe { token_bytes(form, form_len) };
    started(
        id,
        std::panic::catch_unwind(move || -> Result<(), ErrorInfo> {
            let token = match object {
                Some(t) => t,
                None => Token::Text(token_from(bytes)?),
            };
            let client = client(key)?;
            let done = |r: Result<cfis::CreatedClient, cfis::Error>| {
                r.map(|c| Outcome::Created(CreatedClient::from(confirma::ffi::CreatedData::from(c))))
            };
            if json != 0 {
                let text = String::from_utf8(form)
                    .map_err(|_| ErrorInfo::of(&cfis::Error::invalid_input("newClient", "is not valid UTF-8")))?;
                let value = crate::models::parse_json(&text).map_err(|e| ErrorInfo::of(&e))?;
                spawn(id, async move { done(client.create_client_from_value(token.core(), &value).await) })
            } else {
                let new_client = <cfis::NewClient as uniffi::Lift<crate::UniFfiTag>>::try_read(&mut form.as_slice())
                    .map_err(|e| ErrorInfo::of(&cfis::Error::internal(format!("the form did not cross: {e}"))))?;
                spawn(id, async move { done(client.create_client(token.core(), &new_client).await) })
            }
        }),
    );
}

// ---- concurrency 1: the caller waits briefly on its own call's slot before it suspends ----
//
// A suspended call resumes through three cross-thread wake-ups (the runtime worker that finishes it → the drainer →
// the caller's dispatcher). When a call is the only one in flight, the Kotlin side calls [`confirma_kt_start_wait`]
// instead of [`confirma_kt_start`]: the call is registered in the one waiter slot, started, and the caller's thread
// parks (never spins: the contestant may share one CPU with the runtime) for at most `max_wait_us`; the runtime
// worker that finishes it puts the completion in the slot and unparks that thread directly. One wake-up, as in the
// `…Blocking` path. If it takes longer, the caller suspends as usual and calls [`confirma_kt_unwait`], which moves a
// completion that arrived meanwhile into the queue (or frees the slot), so nothing is lost in between.

/// Writes completion `c` as one record in [`confirma_kt_drain`]'s format into `out`: a validation's answer inline if
/// it fits, anything else parked for [`native_take_completion`] (`out` has at least 9 bytes). The bytes written.
fn write_record(c: NativeCompletion, out: &mut [u8]) -> usize {
    let fast = match (&c.status, &c.renewed, &c.error, &c.created) {
        (Some(s), None, None, None) if s.message.len() <= FAST_MESSAGE_MAX => Some(s),
        _ => None,
    };
    let need = fast.map_or(9, |s| s.message.len().saturating_add(12));
    let Some(slot) = out.get_mut(..need) else {
        if out.len() < 9 {
            return 0;
        }
        return write_record(park(c), out);
    };
    let (head, tail) = slot.split_at_mut(9);
    head.copy_from_slice(&[[if fast.is_some() { 1u8 } else { 2 }].as_slice(), &c.id.to_le_bytes()].concat());
    match fast {
        Some(s) => {
            let len = u16::try_from(s.message.len()).unwrap_or(0);
            let (flags, text) = tail.split_at_mut(3);
            flags.copy_from_slice(&[
                u8::from(s.is_valid) | u8::from(s.expired).wrapping_shl(1),
                len.to_le_bytes()[0],
                len.to_le_bytes()[1],
            ]);
            text.copy_from_slice(s.message.as_bytes());
        }
        None => {
            lock(parked()).insert(c.id, c);
        }
    }
    need
}

/// Parks `c` for [`native_take_completion`]; what is left is the record that says so.
fn park(c: NativeCompletion) -> NativeCompletion {
    let id = c.id;
    lock(parked()).insert(id, c);
    NativeCompletion::empty(id)
}

/// [`confirma_kt_start`] (or [`confirma_kt_start_object`] when `token_handle` is not 0), then waits up to
/// `max_wait_us` on the call's own slot. Returns the bytes of the completion's record written into `buf` (`cap` ≥ 9
/// bytes; [`confirma_kt_drain`]'s format); `-2`: started, not finished yet (the caller registers its continuation,
/// then calls [`confirma_kt_unwait`]); `-3`: another caller holds the slot, nothing was started (and an owned
/// `token_handle` was released): the caller starts the call the queue's way, its continuation registered first.
///
/// # Safety
/// As [`confirma_kt_start`] and [`confirma_kt_start_object`]; `buf` points to `cap` writable bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn confirma_kt_start_wait(
    key: u64,
    op: u32,
    token_handle: u64,
    token: *const u8,
    len: u32,
    id: u64,
    max_wait_us: u32,
    buf: *mut u8,
    cap: u32,
) -> i32 {
    let q = queue();
    let claimed = !buf.is_null() && {
        let mut w = lock(&q.waiter);
        let free = w.id == 0;
        if free {
            *w = Waiter { id, thread: Some(std::thread::current()), done: None };
            WAITING_ID.store(id, std::sync::atomic::Ordering::SeqCst);
        }
        free
    };
    if !claimed {
        // Not started: the caller registers its continuation first and starts the call the queue's way. An owned
        // token handle is released here (the caller's retry clones another).
        // SAFETY: as this function's contract says.
        drop(unsafe { Token::from_handle(token_handle) });
        return -3;
    }
    if token_handle != 0 {
        // SAFETY: as this function's contract says.
        unsafe { confirma_kt_start_object(key, op, token_handle, id) };
    } else {
        // SAFETY: as this function's contract says.
        unsafe { confirma_kt_start(key, op, token, len, id) };
    }
    let deadline = std::time::Instant::now().checked_add(Duration::from_micros(u64::from(max_wait_us)));
    loop {
        {
            let mut w = lock(&q.waiter);
            if let Some(c) = w.done.take() {
                *w = Waiter { id: 0, thread: None, done: None };
                WAITING_ID.store(0, std::sync::atomic::Ordering::SeqCst);
                drop(w);
                // SAFETY: the caller passes `cap` writable bytes.
                let out = unsafe { std::slice::from_raw_parts_mut(buf, cap as usize) };
                return i32::try_from(write_record(c, out)).unwrap_or(0);
            }
            // Unparked before this wait (or spuriously): register again.
            w.thread = Some(std::thread::current());
        }
        let now = std::time::Instant::now();
        match deadline {
            Some(d) if d > now => std::thread::park_timeout(d.saturating_duration_since(now)),
            _ => return -2,
        }
    }
}

/// Ends [`confirma_kt_start_wait`]'s wait for call `id` after the caller registered its continuation: a completion
/// that arrived meanwhile goes to the queue (the drainer resumes the caller), later ones go there directly.
#[no_mangle]
pub extern "C" fn confirma_kt_unwait(id: u64) {
    let q = queue();
    let mut w = lock(&q.waiter);
    if w.id != id {
        return;
    }
    let done = w.done.take();
    *w = Waiter { id: 0, thread: None, done: None };
    WAITING_ID.store(0, std::sync::atomic::Ordering::SeqCst);
    drop(w);
    if let Some(c) = done {
        push(c);
    }
}

/// The results of [`confirma_kt_validate_blocking`] calls that do not fit its return value (an error, a long
/// message), by call id, for [`native_take_completion`].
fn parked() -> &'static Mutex<HashMap<u64, NativeCompletion>> {
    static PARKED: OnceLock<Mutex<HashMap<u64, NativeCompletion>>> = OnceLock::new();
    PARKED.get_or_init(Default::default)
}

/// Takes the parked result of call `id` (see [`confirma_kt_validate_blocking`]).
#[uniffi::export]
pub fn native_take_completion(id: u64) -> Option<NativeCompletion> {
    lock(parked()).remove(&id)
}

/// `validateTokenBlocking(String)`: validates on the caller's thread (the core's `runtime::block_on`; never a
/// runtime worker) and returns the answer without any uniffi structure: `(message length << 2) | (expired << 1) |
/// is_valid`, the message's UTF-8 written to `message` (`cap` bytes). `-1`: the result (an error, or a message
/// longer than `cap`) is parked as call `id` for [`native_take_completion`].
///
/// # Safety
/// `token` points to `len` readable bytes (or `len` is 0); `message` to `cap` writable bytes (or `cap` is 0).
#[no_mangle]
pub unsafe extern "C" fn confirma_kt_validate_blocking(
    key: u64,
    token: *const u8,
    len: u32,
    id: u64,
    message: *mut u8,
    cap: u32,
) -> i32 {
    // SAFETY: as this function's contract says.
    let bytes = unsafe { token_bytes(token, len) };
    let r = std::panic::catch_unwind(move || -> Result<StatusData, ErrorInfo> {
        let (token, client) = token_and_client(key, bytes)?;
        core_runtime::block_on(async move { client.validate_token(&token).await.map(StatusData::from) })
    })
    .unwrap_or_else(|payload| Err(ErrorInfo::from_panic(&*payload)));
    let mut c = NativeCompletion::empty(id);
    match r {
        Ok(s) => {
            let text = s.message.as_bytes();
            if !message.is_null() && text.len() <= cap as usize && text.len() < (1 << 28) {
                // SAFETY: `message` has `cap` writable bytes and `text` fits in them.
                unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), message, text.len()) };
                let n = i32::try_from(text.len()).unwrap_or(0);
                return n.wrapping_shl(2) | i32::from(s.expired).wrapping_shl(1) | i32::from(s.is_valid);
            }
            c.status = Some(s);
        }
        Err(e) => c.error = Some(NativeErrorInfo::from(e)),
    }
    lock(parked()).insert(id, c);
    -1
}

/// The longest message [`confirma_kt_drain`] writes inline (a buffer of `FAST_MESSAGE_MAX + 12` bytes or more always
/// makes progress).
const FAST_MESSAGE_MAX: usize = 16 * 1024;

/// The drainer's own C export: [`native_drain_completions`] without uniffi's per-call `RustCallStatus` and
/// `RustBuffer` structures (JNA `Memory` with a Cleaner reference each, per batch). Waits up to `max_wait_ms` for
/// finished calls and writes them into `buf` (`cap` bytes; a direct buffer, not copied): a validation's answer as
/// `[1u8][id u64 LE][is_valid | expired << 1 as u8][message length u16 LE][message UTF-8]`, anything else (a renewed
/// token, an error, a message over 16 KiB) as `[2u8][id u64 LE]`, parked for [`native_take_completion`]. Returns the
/// bytes written; what does not fit stays queued for the next call.
///
/// # Safety
/// `buf` points to `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn confirma_kt_drain(buf: *mut u8, cap: u32, max_wait_ms: u32) -> i32 {
    if buf.is_null() {
        return 0;
    }
    // SAFETY: the caller passes `cap` writable bytes.
    let out = unsafe { std::slice::from_raw_parts_mut(buf, cap as usize) };
    let batch = native_drain_completions(max_wait_ms);
    let mut at = 0usize;
    let mut rest = Vec::new();
    for c in batch {
        let need = match (&c.status, &c.renewed, &c.error, &c.created) {
            (Some(s), None, None, None) if s.message.len() <= FAST_MESSAGE_MAX => s.message.len().saturating_add(12),
            _ => 9,
        };
        match out.get_mut(at..) {
            Some(free) if rest.is_empty() && free.len() >= need => at = at.saturating_add(write_record(c, free)),
            _ => rest.push(c),
        }
    }
    if !rest.is_empty() {
        let q = queue();
        let mut done = lock(&q.done);
        rest.append(&mut done);
        *done = rest;
    }
    i32::try_from(at).unwrap_or(0)
}
