//! uniffi exports of the Confirma CFIS onboarding SDK core, for Kotlin/JVM and Android.
//!
//! This crate is a thin translation layer: every rule (validation, retries, error parsing, redaction)
//! lives in the `confirma` core. The generated Kotlin (package `com.confirmafinance.sdk`) is wrapped by a
//! small hand-written Kotlin layer (`OnboardingClient`, `ClientConfig`, `ConfirmaException`) that gives
//! the public API its Kotlin shape; the `Native*` types below are its plumbing.
//!
//! Async calls run on ONE process-wide tokio runtime (two worker threads, created on first use). Each
//! exported async function spawns the core's future onto it and awaits the task through a guard that
//! aborts the task when the uniffi future is dropped — which is what happens when the Kotlin coroutine
//! is cancelled, so cancelling a coroutine cancels the HTTP request.

// `NativeError` is the error's FFI shape: uniffi lowers records by value (it has no `Box` for them), and one is
// built per failed call, so its size does not matter.
#![allow(clippy::result_large_err)]
// Panic-free by construction, as the core (the one deliberate panic is `probe_panic`, for the tests).
#![deny(
    clippy::string_slice,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use confirma as cfis;

uniffi::setup_scaffolding!("confirma");

// ---------------------------------------------------------------------------------------------------
// The one global runtime, and cancellation.
// ---------------------------------------------------------------------------------------------------

/// The runtime, built on first use. A failure to build it (no threads left) is an internal error on the
/// call that needed it, never a panic.
fn runtime() -> Result<&'static tokio::runtime::Runtime, NativeError> {
    static RT: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("confirma-worker")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the Confirma SDK's runtime: {e}"))
    })
    .as_ref()
    .map_err(|e| NativeError::from(cfis::Error::internal(e.clone())))
}

static ACTIVE_CALLS: AtomicU64 = AtomicU64::new(0);

/// Counts a task as active from spawn until its future is dropped (finished or aborted).
struct ActiveGuard;

impl ActiveGuard {
    fn new() -> Self {
        ACTIVE_CALLS.fetch_add(1, Ordering::SeqCst);
        ActiveGuard
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        ACTIVE_CALLS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Aborts the spawned task when the awaiting (uniffi) future is dropped before the task finished.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs a core future on the global runtime. A panic inside it becomes the core's `Internal` error
/// (`ConfirmaException.Internal`), never an unwind across the FFI boundary.
async fn on_runtime<T, F>(fut: F) -> Result<T, NativeError>
where
    F: Future<Output = Result<T, cfis::Error>> + Send + 'static,
    T: Send + 'static,
{
    let guard = ActiveGuard::new();
    let mut handle = AbortOnDrop(runtime()?.spawn(async move {
        let _guard = guard;
        fut.await
    }));
    match (&mut handle.0).await {
        Ok(result) => result.map_err(NativeError::from),
        Err(join_error) if join_error.is_panic() => Err(contained_panic(join_error.into_panic().as_ref())),
        // Only an abort ends a task without a result, and only this function's guard aborts (when the caller
        // stopped waiting), so nobody sees this; kept typed all the same.
        Err(_) => Err(NativeError::from(cfis::Error::internal("the native task was cancelled"))),
    }
}

/// The core's `Internal` error for a contained panic (`Error::from_panic`: its text when it is a string, redacted).
fn contained_panic(payload: &(dyn std::any::Any + Send)) -> NativeError {
    NativeError::from(cfis::Error::from_panic(payload))
}

/// Runs the body of a synchronous export, containing a panic as the core's `Internal` error. (uniffi also
/// catches panics, but reports them as its own `InternalException`; this keeps every failure typed.)
fn contain<T>(body: impl FnOnce() -> Result<T, NativeError>) -> Result<T, NativeError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body))
        .unwrap_or_else(|payload| Err(contained_panic(payload.as_ref())))
}

/// The number of SDK calls currently running on the native runtime (diagnostics; cancelled calls
/// leave this count as soon as their request is dropped).
#[uniffi::export]
pub fn native_active_calls() -> u64 {
    ACTIVE_CALLS.load(Ordering::SeqCst)
}

/// The version of the native SDK core.
#[uniffi::export]
pub fn native_sdk_version() -> String {
    cfis::VERSION.to_string()
}

// ---------------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------------

/// An API token: a client access token or the Partner Provisioning Token.
///
/// `toString()` is always `[REDACTED]`; the raw value is kept in native memory (wiped when the object is
/// released) and read only through [reveal], where it must leave the program (e.g. to store it).
#[derive(uniffi::Object, PartialEq, Eq)]
#[uniffi::export(Display, Eq, Hash)]
pub struct SecretToken(cfis::SecretToken);

/// Kotlin's `hashCode()`: only the length is hashed, never the token text (equal tokens have equal lengths, so
/// the `equals`/`hashCode` contract holds; equality itself is the core's constant-time comparison).
impl std::hash::Hash for SecretToken {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.expose().len().hash(state)
    }
}

impl std::fmt::Display for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(cfis::REDACTED)
    }
}

impl std::fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(cfis::REDACTED)
    }
}

#[uniffi::export]
impl SecretToken {
    /// Wraps a raw token. Throws `ConfirmaException.Validation` (field `token`) for a string that is not valid
    /// Unicode (an unpaired UTF-16 surrogate), which cannot be encoded as UTF-8.
    #[uniffi::constructor]
    pub fn new(value: TokenText) -> Arc<Self> {
        Arc::new(SecretToken(cfis::SecretToken::new(value.0)))
    }

    /// The raw token. Call this only where the value must leave the program (to store it securely).
    pub fn reveal(&self) -> String {
        self.0.expose().to_string()
    }
}

/// A token's text as it crosses the FFI: UTF-8 bytes, encoded on the Kotlin side by `tokenUtf8` (see
/// `uniffi.toml`), which turns a string that is not valid Unicode into `ConfirmaException.Validation` instead of
/// the generated string converter's `CharacterCodingException`. In Kotlin it is a plain `String`.
pub struct TokenText(String);

uniffi::custom_type!(TokenText, Vec<u8>, {
    lower: |t| t.0.into_bytes(),
    try_lift: |bytes| Ok(TokenText(String::from_utf8(bytes)?)),
});

fn wrap_token(t: cfis::SecretToken) -> Arc<SecretToken> {
    Arc::new(SecretToken(t))
}

// ---------------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------------

/// Which CFIS environment to talk to. Tokens are issued per environment. (A custom base URL, such as
/// the local sandbox's, is set with `ClientConfig.baseUrl`.)
#[derive(uniffi::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    /// `https://staging-integrations.confirmafinance.com`.
    Staging,
    /// `https://integrations.confirmafinance.com`.
    Production,
}

/// How thoroughly requests are checked before they are sent.
#[derive(uniffi::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValidationMode {
    /// Presence, ISO codes, e-mail and URL syntax, and the Finnish rules (postal code, Business ID
    /// check digit, VAT number) for country FI. The default.
    Strict,
    /// Presence of required fields and ISO country/language codes only.
    Lenient,
}

impl From<ValidationMode> for cfis::ValidationMode {
    fn from(v: ValidationMode) -> Self {
        match v {
            ValidationMode::Strict => cfis::ValidationMode::Strict,
            ValidationMode::Lenient => cfis::ValidationMode::Lenient,
        }
    }
}

/// The CFIS service a client subscribes to (sent as `LIFECYCLE`, `INTERMEDIATION`, `COOP`).
#[derive(uniffi::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceType {
    /// Invoice Lifecycle service.
    Lifecycle,
    /// Invoice Intermediation service.
    Intermediation,
    /// Co-Op service.
    Coop,
}

/// The role of a contact person (one PRIMARY contact is required, at most one per role).
#[derive(uniffi::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactRole {
    /// The primary contact (required).
    Primary,
    /// The technical contact.
    Technical,
    /// The accountant.
    Accountant,
}

/// The `service` section of a new client.
#[derive(uniffi::Record, Clone, Debug)]
pub struct Service {
    /// The service type (`type` on the wire).
    pub service_type: ServiceType,
    /// Your partner code, as agreed with Confirma Finance.
    pub partner_code: String,
}

/// The `client` section of a new client: the company being onboarded. Empty optional strings count
/// as absent.
#[derive(uniffi::Record, Clone, Debug)]
pub struct ClientDetails {
    /// Company name.
    pub name: String,
    /// Business ID (Finnish Y-tunnus `1234567-8` for country FI).
    pub business_code: String,
    /// Street address.
    pub postal_address: String,
    /// Postal code, validated against the country.
    pub postal_code: String,
    /// Postal district (city).
    pub postal_district: String,
    /// ISO 3166-1 alpha-2 country code (`FI`).
    pub country_code: String,
    /// E-mail address.
    pub email: String,
    /// ISO 639-1 language code (`FI`, `SV`, `EN`, ...).
    pub language_code: String,
    /// VAT registration number (`FI` + the 8 digits of the Business ID for Finland).
    #[uniffi(default)]
    pub vat_reg_nbr: Option<String>,
    /// Telephone number.
    #[uniffi(default)]
    pub telephone: Option<String>,
    /// Web site URL.
    #[uniffi(default)]
    pub website: Option<String>,
}

/// A contact person of the new client.
#[derive(uniffi::Record, Clone, Debug)]
pub struct Contact {
    /// The contact's role.
    pub role: ContactRole,
    /// Full name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Telephone number.
    #[uniffi(default)]
    pub telephone: Option<String>,
}

/// Everything needed to create a client: the `service`, `client` and `contacts` sections.
#[derive(uniffi::Record, Clone, Debug)]
pub struct NewClient {
    /// The service the client subscribes to.
    pub service: Service,
    /// The company.
    pub client: ClientDetails,
    /// Contact persons (a PRIMARY contact is required).
    #[uniffi(default)]
    pub contacts: Vec<Contact>,
}

/// The result of creating a client: its identifiers and its first access token.
#[derive(uniffi::Record)]
pub struct CreatedClient {
    /// CFIS client identifier.
    pub client_id: String,
    /// Confirma Finance customer code.
    pub customer_code: String,
    /// Payment reference prefix of the client.
    pub payment_reference_prefix: String,
    /// The client's API access token (redacted in `toString()`). Store it securely.
    pub access_token: Arc<SecretToken>,
    /// When the access token expires, if the service said.
    pub token_expires_at: Option<SystemTime>,
}

/// The answer of a token validation. An unknown or expired token is not an error.
#[derive(uniffi::Record)]
pub struct TokenStatus {
    /// Whether the token is valid now.
    pub is_valid: bool,
    /// Whether the token is known but expired (renew it).
    pub expired: bool,
    /// The service's message ("Token is valid", "Token has expired", ...).
    pub message: String,
}

/// A renewed access token. The old token stops working.
#[derive(uniffi::Record)]
pub struct RenewedToken {
    /// The new access token (redacted in `toString()`). Store it securely.
    pub access_token: Arc<SecretToken>,
    /// When the new token expires, if the service said.
    pub expires_at: Option<SystemTime>,
}

fn opt(s: Option<String>) -> Option<String> {
    s.filter(|v| !v.trim().is_empty())
}

impl From<NewClient> for cfis::NewClient {
    fn from(n: NewClient) -> Self {
        cfis::NewClient {
            service: cfis::Service {
                service_type: match n.service.service_type {
                    ServiceType::Lifecycle => cfis::ServiceType::Lifecycle,
                    ServiceType::Intermediation => cfis::ServiceType::Intermediation,
                    ServiceType::Coop => cfis::ServiceType::Coop,
                },
                partner_code: n.service.partner_code,
            },
            client: cfis::ClientDetails {
                name: n.client.name,
                business_code: n.client.business_code,
                vat_reg_nbr: opt(n.client.vat_reg_nbr),
                postal_address: n.client.postal_address,
                postal_code: n.client.postal_code,
                postal_district: n.client.postal_district,
                country_code: n.client.country_code,
                telephone: opt(n.client.telephone),
                email: n.client.email,
                website: opt(n.client.website),
                language_code: n.client.language_code,
            },
            contacts: n
                .contacts
                .into_iter()
                .map(|c| cfis::Contact {
                    role: match c.role {
                        ContactRole::Primary => cfis::ContactRole::Primary,
                        ContactRole::Technical => cfis::ContactRole::Technical,
                        ContactRole::Accountant => cfis::ContactRole::Accountant,
                    },
                    name: c.name,
                    email: c.email,
                    telephone: opt(c.telephone),
                })
                .collect(),
        }
    }
}

impl TryFrom<cfis::NewClient> for NewClient {
    type Error = cfis::Error;
    fn try_from(n: cfis::NewClient) -> Result<Self, cfis::Error> {
        let service_type = match &n.service.service_type {
            cfis::ServiceType::Lifecycle => ServiceType::Lifecycle,
            cfis::ServiceType::Intermediation => ServiceType::Intermediation,
            cfis::ServiceType::Coop => ServiceType::Coop,
            cfis::ServiceType::Other(_) => {
                return Err(cfis::Error::invalid_input(
                    "service.type",
                    "must be one of LIFECYCLE, INTERMEDIATION, COOP",
                ))
            }
        };
        Ok(NewClient {
            service: Service { service_type, partner_code: n.service.partner_code },
            client: ClientDetails {
                name: n.client.name,
                business_code: n.client.business_code,
                vat_reg_nbr: n.client.vat_reg_nbr,
                postal_address: n.client.postal_address,
                postal_code: n.client.postal_code,
                postal_district: n.client.postal_district,
                country_code: n.client.country_code,
                telephone: n.client.telephone,
                email: n.client.email,
                website: n.client.website,
                language_code: n.client.language_code,
            },
            contacts: n
                .contacts
                .into_iter()
                .map(|c| Contact {
                    role: match c.role {
                        cfis::ContactRole::Primary => ContactRole::Primary,
                        cfis::ContactRole::Technical => ContactRole::Technical,
                        cfis::ContactRole::Accountant => ContactRole::Accountant,
                    },
                    name: c.name,
                    email: c.email,
                    telephone: c.telephone,
                })
                .collect(),
        })
    }
}

fn system_time(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<SystemTime> {
    t.map(SystemTime::from)
}

// ---------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------

/// The kind of an SDK error (the same set as the core's `ErrorKind`).
#[derive(uniffi::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request was rejected as invalid, by the SDK before sending or by the service.
    Validation,
    /// The token is missing, unknown or for another environment (401).
    Authentication,
    /// The token may not do this (403).
    PermissionDenied,
    /// The client already exists (409).
    Conflict,
    /// Too many requests (429).
    RateLimited,
    /// The service failed or is unavailable (5xx).
    ServiceUnavailable,
    /// The call did not finish within its time limit.
    Timeout,
    /// The connection failed or broke.
    Network,
    /// A create or renew failed after the request may have reached the service.
    OutcomeUnknown,
    /// The service answered something the SDK could not understand.
    UnexpectedResponse,
    /// The client was configured wrongly.
    Configuration,
    /// The SDK itself failed (a contained panic): a bug, please report it.
    Internal,
}

impl From<cfis::ErrorKind> for ErrorKind {
    fn from(k: cfis::ErrorKind) -> Self {
        use cfis::ErrorKind as K;
        match k {
            K::Validation => ErrorKind::Validation,
            K::Authentication => ErrorKind::Authentication,
            K::PermissionDenied => ErrorKind::PermissionDenied,
            K::Conflict => ErrorKind::Conflict,
            K::RateLimited => ErrorKind::RateLimited,
            K::ServiceUnavailable => ErrorKind::ServiceUnavailable,
            K::Timeout => ErrorKind::Timeout,
            K::Network => ErrorKind::Network,
            K::OutcomeUnknown => ErrorKind::OutcomeUnknown,
            K::UnexpectedResponse => ErrorKind::UnexpectedResponse,
            K::Configuration => ErrorKind::Configuration,
            // `Internal`, and any kind a newer core adds: the SDK failed.
            _ => ErrorKind::Internal,
        }
    }
}

/// Everything the core says about one error (plumbing for `ConfirmaException`).
#[derive(uniffi::Record, Clone, Debug)]
pub struct NativeErrorInfo {
    /// The kind.
    pub kind: ErrorKind,
    /// `validation`, `permission_denied`, ... (the core's `ErrorKind::as_str`).
    pub kind_name: String,
    /// `CONFIRMA_VALIDATION`, ...
    pub code: String,
    /// The core's full Display text (never contains a token).
    pub display: String,
    /// The core's message without the kind prefix.
    pub detail: String,
    /// HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// The request id, where there is one.
    pub request_id: Option<String>,
    /// Whether the same call may succeed later.
    pub retryable: bool,
    /// `Retry-After`, in milliseconds.
    pub retry_after_ms: Option<u64>,
    /// Field path → problems (validation errors).
    pub field_errors: HashMap<String, Vec<String>>,
    /// `client` or `server` (validation errors).
    pub validation_source: Option<String>,
    /// `create_client`, `validate_token` or `renew_token` (outcome-unknown errors).
    pub operation: Option<String>,
    /// A bounded, token-scrubbed excerpt of an unexpected body.
    pub body_excerpt: Option<String>,
}

impl NativeErrorInfo {
    fn of(e: &cfis::Error) -> Self {
        let operation = match e {
            cfis::Error::OutcomeUnknown { operation, .. } => Some(operation.as_str().to_string()),
            _ => None,
        };
        NativeErrorInfo {
            kind: e.kind().into(),
            kind_name: e.kind().as_str().to_string(),
            code: e.kind().code(),
            display: e.to_string(),
            detail: e.message().to_string(),
            status: e.status(),
            request_id: e.request_id().map(str::to_string),
            retryable: e.is_retryable(),
            retry_after_ms: e.retry_after().map(|d| d.as_millis().min(u64::MAX as u128) as u64),
            field_errors: e.field_errors().iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            validation_source: e.validation_source().map(|s| s.as_str().to_string()),
            operation,
            body_excerpt: e.body_excerpt().map(str::to_string),
        }
    }
}

/// The error every native call fails with (plumbing: the Kotlin layer turns it into a
/// `ConfirmaException`).
#[derive(uniffi::Error, Debug)]
pub enum NativeError {
    /// A failure, with the outcome-unknown cause where there is one.
    Failure {
        /// The error.
        info: NativeErrorInfo,
        /// For outcome-unknown errors: the failure that made the outcome unknown.
        cause_info: Option<NativeErrorInfo>,
        /// The new access token of a partially successful create (the core's `Error::recovered_token`).
        recovered_token: Option<Arc<SecretToken>>,
        /// A 2xx create/renew answer that could not be read, whole, as a secret (`Error::raw_response`).
        raw_response: Option<Arc<SecretToken>>,
    },
}

impl std::fmt::Display for NativeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NativeError::Failure { info, .. } => f.write_str(&info.display),
        }
    }
}

impl From<cfis::Error> for NativeError {
    fn from(e: cfis::Error) -> Self {
        NativeError::Failure {
            info: NativeErrorInfo::of(&e),
            cause_info: e.cause().map(NativeErrorInfo::of),
            recovered_token: e.recovered_token().cloned().map(wrap_token),
            raw_response: e.raw_response().cloned().map(wrap_token),
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Configuration and client
// ---------------------------------------------------------------------------------------------------

/// The client configuration as the native layer receives it (the public `ClientConfig` is the
/// hand-written Kotlin class with `kotlin.time.Duration` fields).
#[derive(uniffi::Record, Clone, Debug)]
pub struct NativeClientConfig {
    /// Staging or production (ignored when `base_url` is set).
    pub environment: Environment,
    /// A custom base URL (a proxy, the local sandbox); plain http only for loopback hosts.
    pub base_url: Option<String>,
    /// Per-attempt timeout, milliseconds (any double: NaN, infinite, <= 0 or over 24 h is a configuration error).
    pub timeout_ms: f64,
    /// Connect timeout, milliseconds.
    pub connect_timeout_ms: f64,
    /// Total deadline of a call, retries included, milliseconds.
    pub total_timeout_ms: f64,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Client-side validation mode.
    pub validation: ValidationMode,
    /// Added to the User-Agent after `confirma-sdk/<version>`.
    pub user_agent_suffix: Option<String>,
    /// An HTTP(S) proxy URL (may contain credentials; never logged).
    pub proxy: Option<String>,
    /// Extra trusted root certificate(s), PEM.
    pub extra_root_certificates_pem: Option<String>,
    /// The largest response body read, bytes (1 KiB ..= 64 MiB, checked by the core).
    pub max_response_bytes: u64,
}

impl NativeClientConfig {
    fn to_core(&self) -> Result<cfis::ClientConfig, cfis::Error> {
        let environment = match (&self.base_url, self.environment) {
            (Some(url), _) => cfis::Environment::Custom(url.clone()),
            (None, Environment::Staging) => cfis::Environment::Staging,
            (None, Environment::Production) => cfis::Environment::Production,
        };
        let mut c = cfis::ClientConfig::new(environment)
            .timeout(cfis::duration_from_millis("timeout", self.timeout_ms)?)
            .connect_timeout(cfis::duration_from_millis("connectTimeout", self.connect_timeout_ms)?)
            .total_timeout(cfis::duration_from_millis("totalTimeout", self.total_timeout_ms)?)
            .max_retries(self.max_retries)
            .validation(self.validation.into())
            // Out of usize's range is out of the core's allowed range too: it then reports the configuration error.
            .max_response_bytes(usize::try_from(self.max_response_bytes).unwrap_or(usize::MAX));
        c.user_agent_suffix = self.user_agent_suffix.clone();
        c.proxy = self.proxy.clone();
        c.extra_root_certificates_pem = self.extra_root_certificates_pem.clone();
        Ok(c)
    }
}

/// The native onboarding client (plumbing: use the Kotlin `OnboardingClient`).
#[derive(uniffi::Object)]
pub struct NativeClient {
    inner: cfis::OnboardingClient,
}

#[uniffi::export]
impl NativeClient {
    /// Builds a client; fails with a configuration error on a bad base URL, proxy or certificate.
    #[uniffi::constructor]
    pub fn new(config: NativeClientConfig) -> Result<Arc<Self>, NativeError> {
        contain(|| {
            let cfg = config.to_core()?;
            // reqwest's client builder may touch the runtime (DNS resolver); build inside it.
            let _enter = runtime()?.enter();
            Ok(Arc::new(NativeClient { inner: cfis::OnboardingClient::new(cfg)? }))
        })
    }

    /// The resolved base URL.
    pub fn base_url(&self) -> Result<String, NativeError> {
        contain(|| Ok(self.inner.base_url().to_string()))
    }

    /// The User-Agent sent with every request.
    pub fn user_agent(&self) -> Result<String, NativeError> {
        contain(|| Ok(self.inner.user_agent().to_string()))
    }

    /// Creates a client account with the Partner Provisioning Token.
    pub async fn create_client(
        &self,
        provisioning_token: Arc<SecretToken>,
        new_client: NewClient,
    ) -> Result<CreatedClient, NativeError> {
        let client = self.inner.clone();
        let new_client: cfis::NewClient = new_client.into();
        on_runtime(async move { client.create_client(&provisioning_token.0, &new_client).await }).await.map(created)
    }

    /// Creates a client account from JSON shaped like the API contract (camelCase or snake_case keys);
    /// structural problems are validation errors with field paths.
    pub async fn create_client_json(
        &self,
        provisioning_token: Arc<SecretToken>,
        new_client_json: String,
    ) -> Result<CreatedClient, NativeError> {
        let client = self.inner.clone();
        let value = parse_json(&new_client_json)?;
        on_runtime(async move { client.create_client_from_value(&provisioning_token.0, &value).await })
            .await
            .map(created)
    }

    /// Checks whether an access token is valid.
    pub async fn validate_token(&self, token: Arc<SecretToken>) -> Result<TokenStatus, NativeError> {
        let client = self.inner.clone();
        on_runtime(async move { client.validate_token(&token.0).await }).await.map(|s| TokenStatus {
            is_valid: s.is_valid,
            expired: s.expired,
            message: s.message,
        })
    }

    /// Renews an access token (also an expired one). The old token stops working.
    pub async fn renew_token(&self, token: Arc<SecretToken>) -> Result<RenewedToken, NativeError> {
        let client = self.inner.clone();
        on_runtime(async move { client.renew_token(&token.0).await })
            .await
            .map(|r| RenewedToken { access_token: wrap_token(r.access_token), expires_at: system_time(r.expires_at) })
    }
}

fn created(c: cfis::CreatedClient) -> CreatedClient {
    CreatedClient {
        client_id: c.client_id,
        customer_code: c.customer_code,
        payment_reference_prefix: c.payment_reference_prefix,
        access_token: wrap_token(c.access_token),
        token_expires_at: system_time(c.token_expires_at),
    }
}

fn parse_json(json: &str) -> Result<serde_json::Value, cfis::Error> {
    serde_json::from_str(json).map_err(|e| cfis::Error::invalid_input("newClient", format!("is not valid JSON: {e}")))
}

/// Parses and validates JSON shaped like the API contract (camelCase or snake_case keys) into a
/// [NewClient]; every problem is reported at once as a validation error with field paths.
#[uniffi::export]
pub fn native_parse_new_client(json: String, validation: ValidationMode) -> Result<NewClient, NativeError> {
    contain(|| {
        let value = parse_json(&json)?;
        let parsed =
            cfis::validation::parse_new_client(&value, validation.into()).map_err(cfis::Error::client_validation)?;
        Ok(NewClient::try_from(parsed)?)
    })
}

/// Diagnostics for the SDK's own tests, never called by the SDK: panics on purpose in a synchronous export, to
/// prove that such a panic is contained as the `Internal` error (and never aborts the process).
#[uniffi::export]
pub fn native_panic_probe() -> Result<(), NativeError> {
    contain(|| probe_panic("sync"))
}

/// [native_panic_probe] for async exports: the panic happens inside a task on the native runtime.
#[uniffi::export]
pub async fn native_panic_probe_async() -> Result<(), NativeError> {
    on_runtime(async { probe_panic("runtime") }).await
}

#[allow(clippy::panic)]
fn probe_panic<T>(site: &str) -> T {
    panic!("panic probe ({site})")
}
