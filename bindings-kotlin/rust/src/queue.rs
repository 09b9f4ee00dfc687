//! The completion queue: the hot calls (validate, renew) without uniffi's future machinery.
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
use crate::models::RenewedToken;

/// A finished call, by its id: exactly one of `status`, `renewed` and `error` is set.
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
}

/// What a queued call yields.
pub(crate) enum Outcome {
    Status(StatusData),
    Renewed(RenewedToken),
}

struct Queue {
    done: Mutex<Vec<NativeCompletion>>,
    ready: Condvar,
    /// The calls still running, for [`native_cancel_call`].
    running: Mutex<HashMap<u64, core_runtime::CallHandle>>,
}

fn queue() -> &'static Queue {
    static QUEUE: OnceLock<Queue> = OnceLock::new();
    QUEUE.get_or_init(|| Queue {
        done: Mutex::new(Vec::new()),
        ready: Condvar::new(),
        running: Mutex::new(HashMap::new()),
    })
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Queues call `id`'s result for the drainer.
fn complete(id: u64, r: Result<Outcome, ErrorInfo>) {
    let q = queue();
    let mut c = NativeCompletion { id, status: None, renewed: None, error: None };
    match r {
        Ok(Outcome::Status(s)) => c.status = Some(s),
        Ok(Outcome::Renewed(t)) => c.renewed = Some(t),
        Err(e) => c.error = Some(NativeErrorInfo::from(e)),
    }
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

/// The token (from its UTF-8 bytes) and the registered client `key` of a hot-path call.
fn token_and_client(key: u64, bytes: Vec<u8>) -> Result<(cfis::SecretToken, cfis::OnboardingClient), ErrorInfo> {
    let text = String::from_utf8(bytes)
        .map_err(|_| ErrorInfo::of(&cfis::Error::invalid_input("token", "is not valid UTF-8")))?;
    let token = cfis::SecretToken::new(text);
    let client = clients()
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .cloned()
        .ok_or_else(|| ErrorInfo::of(&cfis::Error::internal("this OnboardingClient is closed")))?;
    Ok((token, client))
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
    let started = std::panic::catch_unwind(move || -> Result<(), ErrorInfo> {
        let (token, client) = token_and_client(key, bytes)?;
        match op {
            OP_VALIDATE => {
                spawn(id, async move { client.validate_token(&token).await.map(|s| Outcome::Status(s.into())) })
            }
            OP_RENEW => spawn(id, async move {
                client
                    .renew_token(&token)
                    .await
                    .map(|r| Outcome::Renewed(crate::models::RenewedToken::from(confirma::ffi::RenewedData::from(r))))
            }),
            _ => Err(ErrorInfo::of(&cfis::Error::internal("unknown hot-path operation"))),
        }
    });
    match started {
        Ok(Ok(())) => {}
        Ok(Err(e)) => complete(id, Err(e)),
        Err(payload) => complete(id, Err(ErrorInfo::from_panic(&*payload))),
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
    let mut c = NativeCompletion { id, status: None, renewed: None, error: None };
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
        if !rest.is_empty() {
            rest.push(c);
            continue;
        }
        let fast = match (&c.status, &c.renewed, &c.error) {
            (Some(s), None, None) if s.message.len() <= FAST_MESSAGE_MAX => Some(s),
            _ => None,
        };
        let need = fast.map_or(9, |s| s.message.len().saturating_add(12));
        let Some(slot) = out.get_mut(at..at.saturating_add(need)) else {
            rest.push(c);
            continue;
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
        at = at.saturating_add(need);
    }
    if !rest.is_empty() {
        let q = queue();
        let mut done = lock(&q.done);
        rest.append(&mut done);
        *done = rest;
    }
    i32::try_from(at).unwrap_or(0)
}
