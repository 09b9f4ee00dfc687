//! The onboarding client: HTTP, retries by operation semantics, and response mapping.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use reqwest::Method;
use serde_json::Value;
use tracing::{debug, warn};
use url::Url;

use zeroize::Zeroizing;

use crate::config::ClientConfig;
use crate::error::{Error, ErrorKind, Operation, ResponseMeta, Result};
use crate::models::{CreatedClient, NewClient, RenewedToken, TokenStatus};
use crate::redact;
use crate::response::{
    error_for_status, parse_created, parse_error_body, parse_renewed, parse_retry_after, parse_status, truncate,
    Unreadable,
};
use crate::secret::{scrub, SecretToken};
use crate::validation::{parse_new_client_issues, token_issue, validate_new_client_issues};

/// The SDK's own version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

const PATH_CLIENT: &str = "api/v1/partner/client";
const PATH_VALIDATE: &str = "api/v1/partner/validate";
const PATH_RENEW: &str = "api/v1/partner/renew";
const REQUEST_ID_HEADERS: [&str; 4] = ["x-request-id", "request-id", "x-correlation-id", "x-ms-request-id"];
// Static names: no allocation per request, and clones of them are free.
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A call's request id, `cfsdk-` and 16 hex digits, kept on the stack (it becomes a `String` only in an error).
#[derive(Clone, Copy)]
struct RequestId([u8; 22]);

impl RequestId {
    fn random() -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut id = *b"cfsdk-0000000000000000";
        let n = fastrand::u64(..);
        for (i, b) in id.iter_mut().skip(6).enumerate() {
            let shift = 60u32.saturating_sub(u32::try_from(i).unwrap_or(0).saturating_mul(4));
            let nibble = usize::try_from((n >> shift) & 0xf).unwrap_or(0);
            *b = HEX.get(nibble).copied().unwrap_or(b'0');
        }
        RequestId(id)
    }

    fn as_str(&self) -> &str {
        // Always ASCII (built above).
        std::str::from_utf8(&self.0).unwrap_or("cfsdk")
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The CFIS onboarding client.
///
/// Cheap to clone and share between threads and tasks: clones share one connection pool.
#[derive(Clone)]
pub struct OnboardingClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    /// The three endpoint URLs, joined once.
    client_url: Url,
    validate_url: Url,
    renew_url: Url,
    config: ClientConfig,
    user_agent: String,
    user_agent_header: HeaderValue,
}

impl std::fmt::Debug for OnboardingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnboardingClient").field("base_url", &self.inner.base.as_str()).finish_non_exhaustive()
    }
}

/// A complete HTTP response. The body is our own copy, wiped when dropped (it may hold a token).
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Zeroizing<Vec<u8>>,
}

/// Why no complete response was read.
enum SendFailure {
    Http(reqwest::Error),
    /// A success answer larger than `max_response_bytes` (error answers are cut at the cap instead).
    TooLarge {
        status: u16,
        headers: HeaderMap,
        limit: usize,
    },
}

impl From<reqwest::Error> for SendFailure {
    fn from(e: reqwest::Error) -> Self {
        SendFailure::Http(e)
    }
}

/// Warns when a create or renew is dropped (cancelled) after its request may have been sent: its effect
/// is then unknown, and that must never pass silently.
struct SentGuard {
    op: Operation,
    request_id: RequestId,
    armed: bool,
}

impl Drop for SentGuard {
    fn drop(&mut self) {
        if self.armed {
            warn!(
                operation = %self.op,
                request_id = %self.request_id,
                "{} cancelled after the request was sent; the outcome is unknown (treat it as OutcomeUnknown: {})",
                self.op,
                match self.op {
                    Operation::CreateClient => "the client may exist; creating it again gives 409",
                    _ => "the token may have been rotated; validate the old token before renewing again",
                }
            );
        }
    }
}

impl OnboardingClient {
    /// Builds a client. Fails with [`ErrorKind::Configuration`] on a bad base URL, proxy or certificate,
    /// or an option outside its bounds (see [`ClientConfig::check`]).
    ///
    /// TLS uses rustls with the `ring` provider, installed as the process-wide default the first time a
    /// client is built — unless the application installed another provider first, which is then kept.
    pub fn new(config: ClientConfig) -> Result<Self> {
        config.check()?;
        let base = config.resolved_base_url()?;
        // ring is the crypto provider; if the application installed another one first, that one is used.
        let _ = rustls::crypto::ring::default_provider().install_default();

        let mut user_agent = format!("confirma-sdk/{VERSION}");
        if let Some(s) = config.user_agent_suffix.as_deref().filter(|s| !s.trim().is_empty()) {
            user_agent.push(' ');
            user_agent.push_str(s.trim());
        }
        let origin = base.origin();
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                attempt.error("too many redirects")
            } else if attempt.url().origin() != origin {
                // Never carry the X-Api-Key header to another origin: stop and report the redirect.
                attempt.stop()
            } else if matches!(attempt.status().as_u16(), 307 | 308) {
                attempt.follow()
            } else {
                // 301/302/303 would turn the create's POST into a GET, whose answer says nothing about the
                // create: stop, so the redirect itself is reported.
                attempt.stop()
            }
        });
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .redirect(redirect)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .no_proxy();
        if let Some(proxy) = &config.proxy {
            let p = reqwest::Proxy::all(proxy.as_str()).map_err(|_| Error::configuration("invalid proxy URL"))?;
            builder = builder.proxy(p);
        }
        if let Some(pem) = &config.extra_root_certificates_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| Error::configuration(format!("invalid PEM root certificate: {e}")))?;
            if certs.is_empty() {
                return Err(Error::configuration("no certificate found in the PEM root certificate text"));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder
            .build()
            .map_err(|e| Error::configuration(format!("cannot build the HTTP client: {}", chain(&e))))?;
        let join = |path: &str| base.join(path).map_err(|e| Error::configuration(format!("bad base URL: {e}")));
        let (client_url, validate_url, renew_url) = (join(PATH_CLIENT)?, join(PATH_VALIDATE)?, join(PATH_RENEW)?);
        let user_agent_header =
            HeaderValue::from_str(&user_agent).map_err(|_| Error::configuration("invalid User-Agent"))?;
        Ok(OnboardingClient {
            inner: Arc::new(Inner {
                http,
                base,
                client_url,
                validate_url,
                renew_url,
                config,
                user_agent,
                user_agent_header,
            }),
        })
    }

    /// The configuration the client was built from.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The resolved base URL (ends with `/`).
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// The User-Agent sent with every request.
    pub fn user_agent(&self) -> &str {
        &self.inner.user_agent
    }

    /// Creates a client account with the Partner Provisioning Token.
    ///
    /// Validated locally first (all problems at once). Retried only when the request provably did not reach
    /// the service or the service said it did not process it (429, 503); any other failure after sending is
    /// [`ErrorKind::OutcomeUnknown`] — never a second client. A 409 ([`ErrorKind::Conflict`]) means the
    /// client exists: use the existing-client path (validate or renew its token).
    pub async fn create_client(
        &self,
        provisioning_token: &SecretToken,
        new_client: &NewClient,
    ) -> Result<CreatedClient> {
        self.create_owned(provisioning_token, new_client.normalized()).await
    }

    /// [`create_client`](Self::create_client) of a request already normalized.
    async fn create_owned(&self, provisioning_token: &SecretToken, new_client: NewClient) -> Result<CreatedClient> {
        let lang = self.inner.config.language;
        check_token("provisioningToken", provisioning_token).map_err(|e| e.with_language(lang))?;
        validate_new_client_issues(&new_client, self.inner.config.validation)
            .map_err(|i| Error::client_issues(i).with_language(lang))?;
        let body = serde_json::to_vec(&new_client).map_err(|e| Error::invalid_input("newClient", e.to_string()))?;
        self.create_raw(provisioning_token, body).await
    }

    /// Like [`create_client`](Self::create_client), from loosely typed input shaped like the API contract
    /// (camelCase or snake_case keys), as bindings receive it from dicts and plain objects. Structural
    /// problems are reported as validation errors with field paths.
    pub async fn create_client_from_value(
        &self,
        provisioning_token: &SecretToken,
        new_client: &Value,
    ) -> Result<CreatedClient> {
        let parsed = self.parse_new_client(new_client)?;
        self.create_owned(provisioning_token, parsed.into_normalized()).await
    }

    /// Parses and validates loosely typed input with this client's validation mode.
    pub fn parse_new_client(&self, new_client: &Value) -> Result<NewClient> {
        parse_new_client_issues(new_client, self.inner.config.validation)
            .map_err(|i| Error::client_issues(i).with_language(self.inner.config.language))
    }

    async fn create_raw(&self, token: &SecretToken, body: Vec<u8>) -> Result<CreatedClient> {
        self.execute(
            Operation::CreateClient,
            Method::POST,
            &self.inner.client_url,
            token,
            Some(body.into()),
            |reply, _| {
                if !(200..300).contains(&reply.status) {
                    return Err(None);
                }
                parse_created(&reply.body).map_err(|u| Some(unreadable_success(reply, u, true)))
            },
        )
        .await
    }

    /// Checks whether an access token is valid.
    ///
    /// An unknown or expired token is not an error: the result says `is_valid: false` (and `expired` for
    /// an expired one), whether the service answers 200 or 401. Retried on transient failures.
    pub async fn validate_token(&self, token: &SecretToken) -> Result<TokenStatus> {
        check_token("token", token).map_err(|e| e.with_language(self.inner.config.language))?;
        self.execute(Operation::ValidateToken, Method::GET, &self.inner.validate_url, token, None, |reply, secret| {
            match reply.status {
                200..=299 => parse_status(&reply.body).map_err(|u| Some(unreadable_success(reply, u, false))),
                401 => {
                    let body = parse_error_body(content_type(&reply.headers), &reply.body, secret);
                    let message = body.message.unwrap_or_else(|| "Token is not valid".into());
                    let expired = message.to_ascii_lowercase().contains("expired");
                    Ok(TokenStatus { is_valid: false, expired, message })
                }
                _ => Err(None),
            }
        })
        .await
    }

    /// Renews an access token (also an expired one). The old token stops working.
    ///
    /// Never repeated after the request may have reached the service: a lost response would otherwise
    /// rotate the token twice and lose the one never seen. Such a failure is [`ErrorKind::OutcomeUnknown`].
    pub async fn renew_token(&self, token: &SecretToken) -> Result<RenewedToken> {
        check_token("token", token).map_err(|e| e.with_language(self.inner.config.language))?;
        self.execute(Operation::RenewToken, Method::GET, &self.inner.renew_url, token, None, |reply, _| {
            if !(200..300).contains(&reply.status) {
                return Err(None);
            }
            parse_renewed(&reply.body).map_err(|u| Some(unreadable_success(reply, u, true)))
        })
        .await
    }

    /// Runs one operation with retries. `on_reply` turns a complete response into a value, or into an
    /// error (`Some`), or declines (`None`) so the generic status mapping applies.
    async fn execute<T>(
        &self,
        op: Operation,
        method: Method,
        url: &Url,
        token: &SecretToken,
        body: Option<Bytes>,
        on_reply: impl Fn(&Reply, &str) -> std::result::Result<T, Option<Error>>,
    ) -> Result<T> {
        let cfg = &self.inner.config;
        let request_id = RequestId::random();
        let started = Instant::now();
        // `check` bounds the total timeout to 24 h, so this cannot overflow; if it ever did, the
        // deadline would simply be now (one attempt, then a timeout).
        let deadline = started.checked_add(cfg.total_timeout).unwrap_or(started);
        let secret = token.expose();
        let (key, request_id_header) = call_headers(token, &request_id)?;
        let mut guard = SentGuard { op, request_id, armed: false };
        let mut attempt: u32 = 0;
        loop {
            attempt = attempt.saturating_add(1);
            let remaining = deadline.saturating_duration_since(Instant::now());
            let attempt_started = Instant::now();
            let err = if remaining.is_zero() {
                Error::Timeout {
                    message: format!("the total deadline of {:?} passed", cfg.total_timeout),
                    meta: ResponseMeta { status: None, request_id: Some(request_id.to_string()) },
                }
            } else {
                let limit = cfg.timeout.min(remaining);
                guard.armed = !op.is_idempotent();
                let sent = tokio::time::timeout(
                    limit,
                    self.send(&method, url, key.clone(), request_id_header.clone(), body.as_ref()),
                )
                .await;
                guard.armed = false;
                match sent {
                    Ok(Ok(reply)) => {
                        debug!(operation = %op, attempt, status = reply.status, elapsed_ms = millis(attempt_started.elapsed()), request_id = %request_id, "CFIS response");
                        match on_reply(&reply, secret) {
                            Ok(v) => return Ok(v),
                            Err(Some(e)) => e,
                            Err(None) => status_error(&reply, secret, request_id.as_str()),
                        }
                    }
                    Ok(Err(SendFailure::Http(e))) => transport_error(&e, secret, request_id.as_str()),
                    Ok(Err(SendFailure::TooLarge { status, headers, limit })) => Error::unexpected(
                        format!(
                            "the answer is larger than the {limit}-byte limit (max_response_bytes) and was not read"
                        ),
                        "",
                        ResponseMeta {
                            status: Some(status),
                            request_id: response_request_id(&headers).or_else(|| Some(request_id.to_string())),
                        },
                    ),
                    Err(_) => Error::Timeout {
                        message: if limit < cfg.timeout {
                            format!("the total deadline of {:?} passed", cfg.total_timeout)
                        } else {
                            format!("no complete response within {:?}", cfg.timeout)
                        },
                        meta: ResponseMeta { status: None, request_id: Some(request_id.to_string()) },
                    },
                }
            };
            if err.kind() == ErrorKind::OutcomeUnknown {
                return Err(err);
            }
            let may_retry = attempt <= cfg.retry.max_retries && retry_safe(op, &err);
            if may_retry {
                let delay = err.retry_after().unwrap_or_else(|| cfg.retry.backoff(attempt));
                if Instant::now().checked_add(delay).is_some_and(|t| t < deadline) {
                    warn!(operation = %op, attempt, kind = %err.kind(), status = err.status().unwrap_or(0), delay_ms = millis(delay), request_id = %request_id, "CFIS call failed; retrying");
                    tokio::time::sleep(delay).await;
                    continue;
                }
                debug!(operation = %op, attempt, "no time left in the total deadline for another attempt");
            }
            let err = finalize(op, err).with_language(cfg.language);
            debug!(operation = %op, attempts = attempt, kind = %err.kind(), elapsed_ms = millis(started.elapsed()), request_id = %request_id, "CFIS call failed");
            return Err(err);
        }
    }

    async fn send(
        &self,
        method: &Method,
        url: &Url,
        key: HeaderValue,
        request_id: HeaderValue,
        body: Option<&Bytes>,
    ) -> std::result::Result<Reply, SendFailure> {
        let mut req = self
            .inner
            .http
            .request(method.clone(), url.clone())
            .header(X_API_KEY, key)
            .header(ACCEPT, APPLICATION_JSON)
            .header(USER_AGENT, self.inner.user_agent_header.clone())
            .header(X_REQUEST_ID, request_id);
        if let Some(b) = body {
            req = req.header(CONTENT_TYPE, APPLICATION_JSON).body(b.clone());
        }
        let mut resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = std::mem::take(resp.headers_mut());
        let limit = self.inner.config.max_response_bytes;
        let success = (200..300).contains(&status);
        let declared = resp.content_length().and_then(|n| usize::try_from(n).ok());
        if success && declared.is_some_and(|n| n > limit) {
            return Err(SendFailure::TooLarge { status, headers, limit });
        }
        // Read in chunks, never more than the cap: a success answer over it is refused; an error answer is
        // cut there (its status already says what happened).
        let mut body = Zeroizing::new(Vec::with_capacity(declared.unwrap_or(0).min(limit).min(64 * 1024)));
        while let Some(chunk) = resp.chunk().await? {
            let room = limit.saturating_sub(body.len());
            if chunk.len() > room {
                if success {
                    return Err(SendFailure::TooLarge { status, headers, limit });
                }
                body.extend_from_slice(chunk.get(..room).unwrap_or_default());
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply { status, headers, body })
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A call's `X-Api-Key` (for a token checked with [`check_token`], marked sensitive: never logged) and
/// `X-Request-Id` values, in one buffer that is wiped when the last of them (and of their clones inside
/// reqwest/hyper) is dropped. Two allocations per call; cloning either value per attempt allocates nothing.
fn call_headers(token: &SecretToken, request_id: &RequestId) -> Result<(HeaderValue, HeaderValue)> {
    let bad = |_| Error::invalid_input("token", "must be visible ASCII characters without spaces or line breaks");
    let secret = token.expose().as_bytes();
    let mut buf = Zeroizing::new(Vec::with_capacity(secret.len().saturating_add(request_id.0.len())));
    buf.extend_from_slice(secret);
    buf.extend_from_slice(&request_id.0);
    let all = Bytes::from_owner(buf);
    let mut key = HeaderValue::from_maybe_shared(all.slice(..secret.len())).map_err(bad)?;
    key.set_sensitive(true);
    let id = HeaderValue::from_maybe_shared(all.slice(secret.len()..)).map_err(bad)?;
    Ok((key, id))
}

fn check_token(name: &str, token: &SecretToken) -> Result<()> {
    match token_issue(token.expose()) {
        Some((code, problem)) => {
            let mut issue = crate::form::FieldIssue::new(name, code, problem);
            if code == "token_too_long" {
                issue.params.insert("max".into(), crate::validation::TOKEN_MAX_LENGTH.to_string());
            }
            Err(Error::client_issues(vec![issue]))
        }
        None => Ok(()),
    }
}

fn content_type(h: &HeaderMap) -> Option<&str> {
    h.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())
}

fn response_request_id(h: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS
        .iter()
        .find_map(|name| h.get(*name))
        .and_then(|v| v.to_str().ok())
        .map(|s| truncate(s.trim(), 128))
        .filter(|s| !s.is_empty())
}

fn meta_of(reply: &Reply, request_id: &str, trace_id: Option<String>) -> ResponseMeta {
    ResponseMeta {
        status: Some(reply.status),
        request_id: response_request_id(&reply.headers).or(trace_id).or_else(|| Some(request_id.to_string())),
    }
}

fn status_error(reply: &Reply, secret: &str, request_id: &str) -> Error {
    let body = parse_error_body(content_type(&reply.headers), &reply.body, secret);
    let retry_after = reply.headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
    let meta = meta_of(reply, request_id, body.trace_id.clone());
    if (300..400).contains(&reply.status) {
        let target = reply
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .and_then(|l| Url::parse(l).ok())
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|| "an unknown location".into());
        return Error::unexpected(
            format!(
                "the service redirected to {target}; redirects to another origin are not followed so the API key is never sent there"
            ),
            body.excerpt,
            meta,
        );
    }
    error_for_status(reply.status, body, retry_after, meta)
}

/// A success answer that could not be used. Its body never goes into the error as text (it may hold a
/// token); for create and renew it is kept whole as a secret (`keep_raw`), with any token recovered from it.
fn unreadable_success(reply: &Reply, unreadable: Unreadable, keep_raw: bool) -> Error {
    let raw = keep_raw.then(|| Box::new(SecretToken::new(String::from_utf8_lossy(&reply.body).into_owned())));
    Error::UnexpectedResponse {
        message: format!("could not read the success response: {}", unreadable.why),
        body_excerpt: String::new(),
        meta: ResponseMeta { status: Some(reply.status), request_id: response_request_id(&reply.headers) },
        recovered_token: unreadable.recovered_token.map(Box::new),
        raw_response: raw,
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        src = s.source();
    }
    parts.join(": ")
}

fn transport_error(e: &reqwest::Error, secret: &str, request_id: &str) -> Error {
    // The text is built from the causes below reqwest's own error, whose Display only names the URL (the
    // operation is reported separately); no editing of reqwest's wording.
    let causes = std::error::Error::source(e).map(chain).unwrap_or_default();
    let what = if e.is_connect() {
        "connect error"
    } else if e.is_timeout() {
        "operation timed out"
    } else if e.is_redirect() {
        "redirect refused"
    } else if e.is_body() || e.is_decode() {
        "error reading the response body"
    } else {
        "error sending the request"
    };
    let text = if causes.is_empty() { what.to_string() } else { format!("{what}: {causes}") };
    let text = redact::redact_text(&scrub(&text, secret));
    let meta = ResponseMeta { status: e.status().map(|s| s.as_u16()), request_id: Some(request_id.to_string()) };
    if e.is_connect() {
        Error::Network { message: format!("could not connect: {text}"), connect: true, meta }
    } else if e.is_timeout() {
        Error::Timeout { message: text, meta }
    } else if e.is_redirect() {
        Error::unexpected(text, "", meta)
    } else if e.is_body() || e.is_decode() {
        Error::Network { message: format!("the response was cut off: {text}"), connect: false, meta }
    } else {
        Error::Network { message: format!("the connection failed after sending: {text}"), connect: false, meta }
    }
}

/// Whether `err` may be retried for `op` without risking a duplicate effect.
pub fn retry_safe(op: Operation, err: &Error) -> bool {
    match err {
        Error::Network { connect: true, .. } | Error::RateLimited { .. } => true,
        Error::ServiceUnavailable { meta, .. } if meta.status == Some(503) => true,
        Error::ServiceUnavailable { meta, .. } if matches!(meta.status, Some(502) | Some(504)) => op.is_idempotent(),
        Error::Timeout { .. } | Error::Network { .. } => op.is_idempotent(),
        _ => false,
    }
}

/// Whether a failure of `op` leaves its effect unknown (only for state-changing operations).
pub fn outcome_ambiguous(op: Operation, err: &Error) -> bool {
    if op.is_idempotent() {
        return false;
    }
    match err {
        Error::Timeout { .. } => true,
        Error::Network { connect, .. } => !connect,
        Error::ServiceUnavailable { meta, .. } => meta.status != Some(503),
        Error::UnexpectedResponse { meta, .. } => meta.status.is_none_or(|s| (200..300).contains(&s)),
        _ => false,
    }
}

fn finalize(op: Operation, err: Error) -> Error {
    if !outcome_ambiguous(op, &err) {
        return err;
    }
    let message = match op {
        Operation::CreateClient if err.recovered_token().is_some() => "CFIS created the client and issued its access token, but its answer lacked the client's identifiers. The token is in this error's recovered token: store it now (it is the client's only token). Do not create the client again (it exists: 409 Conflict); ask Confirma Finance support for the identifiers with the request id",
        Operation::RenewToken if err.raw_response().is_some() => "CFIS answered the renewal but the new token could not be read from the answer. The whole answer is kept, as a secret, in this error's raw response: the new token is probably in it. Validate the old token: if it is no longer valid, recover the new token from the raw response; do not renew blindly again",
        Operation::CreateClient => "the request may have reached CFIS and the client may have been created. Do not create it again blindly: retrying gives 409 Conflict if it exists; then take the existing-client path (validate or renew its token), or contact Confirma Finance support with the request id",
        Operation::RenewToken => "the request may have reached CFIS and the token may have been rotated. Validate the old token: if it is still valid, renewing again is safe; if not, the new token was lost and the client's token must be re-issued (contact Confirma Finance support with the request id)",
        Operation::ValidateToken => "the outcome is unknown",
    };
    let meta = ResponseMeta { status: err.status(), request_id: err.request_id().map(str::to_string) };
    Error::OutcomeUnknown { operation: op, message: message.into(), cause: Box::new(err), meta }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(status: Option<u16>) -> ResponseMeta {
        ResponseMeta { status, request_id: None }
    }

    #[test]
    fn retry_decisions_follow_operation_semantics() {
        use Operation::*;
        let connect = Error::Network { message: String::new(), connect: true, meta: meta(None) };
        let reset = Error::Network { message: String::new(), connect: false, meta: meta(None) };
        let timeout = Error::Timeout { message: String::new(), meta: meta(None) };
        let s = |code| Error::ServiceUnavailable { message: String::new(), retry_after: None, meta: meta(Some(code)) };
        let rate = Error::RateLimited { message: String::new(), retry_after: None, meta: meta(Some(429)) };
        for op in [CreateClient, RenewToken] {
            assert!(retry_safe(op, &connect) && retry_safe(op, &rate) && retry_safe(op, &s(503)));
            assert!(
                !retry_safe(op, &reset)
                    && !retry_safe(op, &timeout)
                    && !retry_safe(op, &s(502))
                    && !retry_safe(op, &s(500))
            );
            assert!(outcome_ambiguous(op, &reset) && outcome_ambiguous(op, &timeout) && outcome_ambiguous(op, &s(500)));
            assert!(
                !outcome_ambiguous(op, &connect) && !outcome_ambiguous(op, &s(503)) && !outcome_ambiguous(op, &rate)
            );
        }
        assert!(
            retry_safe(ValidateToken, &reset)
                && retry_safe(ValidateToken, &timeout)
                && retry_safe(ValidateToken, &s(502))
        );
        assert!(!retry_safe(ValidateToken, &s(500)));
        assert!(!outcome_ambiguous(ValidateToken, &reset));
    }
}
