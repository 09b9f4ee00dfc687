//! The native `TokenManager` (one per JS `TokenManager`) and `createClient` with a store. Options arrive
//! as milliseconds with camelCase names and are judged by the core (`confirma::ffi::ManagerInput`); every
//! call runs on the core's runtime and settles through the dispatcher like the client's calls. The core
//! runs each rotation in its own task, so an aborted call (an `AbortSignal`) only stops waiting.

use std::sync::{Mutex, PoisonError};

use confirma::ffi::runtime::contain;
use confirma::ffi::{cached_token, ErrorInfo, ManagerInput, OptionNaming, SealerInput, TimeUnit};
use confirma::{Error, OnboardingClient, SecretToken, TokenManager};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::cancel::CancelHandle;
use crate::client::NativeClient;
use crate::error::NativeError;
use crate::results::{NativeOutcome, TokenOut};
use crate::runtime::call;
use crate::store::{NativeKeyOptions, NativeStore};

/// The options of `new TokenManager(...)`, type-checked by the JS layer (milliseconds).
#[napi(object)]
pub struct NativeManagerOptions {
    pub renew_every_ms: Option<f64>,
    pub renew_at_fraction: Option<f64>,
    pub jitter: Option<f64>,
    pub lease_ms: Option<f64>,
    pub validate_interval_ms: Option<f64>,
    pub failure_backoff_ms: Option<f64>,
    pub failure_backoff_max_ms: Option<f64>,
    pub poll_interval_ms: Option<f64>,
    pub owner: Option<String>,
}

impl From<&NativeManagerOptions> for ManagerInput {
    fn from(o: &NativeManagerOptions) -> Self {
        ManagerInput {
            time_unit: TimeUnit::Milliseconds,
            naming: OptionNaming::CamelCaseWithUnits,
            renew_every: o.renew_every_ms,
            renew_at_fraction: o.renew_at_fraction,
            jitter: o.jitter,
            lease: o.lease_ms,
            validate_interval: o.validate_interval_ms,
            failure_backoff: o.failure_backoff_ms,
            failure_backoff_max: o.failure_backoff_max_ms,
            poll_interval: o.poll_interval_ms,
            owner: o.owner.clone(),
        }
    }
}

/// Builds a manager over `store`: the key options (if any) decide the sealer, else the store's own key,
/// else (a partner's store) `CONFIRMA_STORE_KEY` as the core reads it.
pub fn build_manager(
    client: OnboardingClient,
    store: &NativeStore,
    input: ManagerInput,
    key: Option<&NativeKeyOptions>,
) -> confirma::Result<TokenManager> {
    let opened = store.opened()?;
    let sealer = match (key.filter(|k| !k.is_empty()), opened.sealer) {
        (Some(k), _) => k.input().build()?,
        (None, Some(s)) => s,
        (None, None) => SealerInput::default().build()?,
    };
    TokenManager::new(client, opened.store, sealer, input.build()?)
}

#[napi]
pub struct NativeManager {
    inner: TokenManager,
    /// The task forwarding events to JavaScript, if subscribed (aborted by `close` and on drop).
    pub(crate) events: Mutex<Option<tokio::task::AbortHandle>>,
}

impl NativeManager {
    pub fn manager(&self) -> &TokenManager {
        &self.inner
    }

    pub fn stop_events(&self) {
        if let Some(h) = self.events.lock().unwrap_or_else(PoisonError::into_inner).take() {
            h.abort();
        }
    }
}

impl Drop for NativeManager {
    fn drop(&mut self) {
        self.stop_events();
    }
}

/// `new TokenManager(client, store, options)`, or the configuration / storage error as data.
#[napi(catch_unwind)]
pub fn new_native_manager(
    client: &NativeClient,
    store: &NativeStore,
    options: NativeManagerOptions,
    key: NativeKeyOptions,
) -> Either<NativeManager, NativeError> {
    let built = contain(|| {
        let m = build_manager(client.inner().clone(), store, ManagerInput::from(&options), Some(&key))?;
        Ok::<_, ErrorInfo>(NativeManager { inner: m, events: Mutex::new(None) })
    });
    match built {
        Ok(m) => Either::A(m),
        Err(e) => Either::B(NativeError::from(&e)),
    }
}

#[napi]
impl NativeManager {
    /// This instance's name in leases and events.
    #[napi(getter, catch_unwind)]
    pub fn owner(&self) -> String {
        self.inner.owner().to_string()
    }

    /// The environment this manager's records belong to.
    #[napi(getter, catch_unwind)]
    pub fn environment(&self) -> String {
        self.inner.environment().to_string()
    }

    /// The store's description (never a password).
    #[napi(catch_unwind)]
    pub fn describe_store(&self) -> String {
        self.inner.store().describe()
    }

    /// The hot path of `token()`, synchronous: the token from memory (a due renewal started in the
    /// background), `null` when `token` has work to do, or the (contained) error.
    #[napi(catch_unwind)]
    pub fn cached_token(&self, client_id: String) -> Either<Option<String>, NativeError> {
        match cached_token(&self.inner, &client_id) {
            Ok(t) => Either::A(t.map(|t| t.expose().to_string())),
            Err(e) => Either::B(NativeError::from(&e)),
        }
    }

    #[napi(catch_unwind)]
    pub fn token<'env>(
        &self,
        env: &'env Env,
        client_id: String,
        cancel: Option<&CancelHandle>,
    ) -> Result<PromiseRaw<'env, NativeOutcome>> {
        let m = self.inner.clone();
        call(env, cancel, move || async move { m.token(&client_id).await.map(TokenOut) })
    }

    #[napi(catch_unwind)]
    pub fn status<'env>(
        &self,
        env: &'env Env,
        client_id: String,
        cancel: Option<&CancelHandle>,
    ) -> Result<PromiseRaw<'env, NativeOutcome>> {
        let m = self.inner.clone();
        call(env, cancel, move || async move { m.status(&client_id).await })
    }

    #[napi(catch_unwind)]
    pub fn statuses<'env>(
        &self,
        env: &'env Env,
        cancel: Option<&CancelHandle>,
    ) -> Result<PromiseRaw<'env, NativeOutcome>> {
        let m = self.inner.clone();
        call(env, cancel, move || async move { m.statuses().await })
    }

    #[napi(catch_unwind)]
    pub fn import_credentials<'env>(
        &self,
        env: &'env Env,
        client_id: String,
        token: String,
        customer_code: Option<String>,
        payment_reference_prefix: Option<String>,
        cancel: Option<&CancelHandle>,
    ) -> Result<PromiseRaw<'env, NativeOutcome>> {
        let m = self.inner.clone();
        call(env, cancel, move || async move {
            let token = SecretToken::new(token);
            m.import_credentials(&client_id, &token, customer_code.as_deref(), payment_reference_prefix.as_deref())
                .await
        })
    }

    #[napi(catch_unwind)]
    pub fn renew_now<'env>(
        &self,
        env: &'env Env,
        client_id: String,
        cancel: Option<&CancelHandle>,
    ) -> Result<PromiseRaw<'env, NativeOutcome>> {
        let m = self.inner.clone();
        call(env, cancel, move || async move { m.renew_now(&client_id).await })
    }

    #[napi(catch_unwind)]
    pub fn reconcile<'env>(
        &self,
        env: &'env Env,
        cancel: Option<&CancelHandle>,
    ) -> Result<PromiseRaw<'env, NativeOutcome>> {
        let m = self.inner.clone();
        call(env, cancel, move || async move { m.reconcile().await })
    }

    /// `POST /api/v1/partner/client` through the manager: the credentials are committed to its store
    /// before the promise resolves.
    #[napi(catch_unwind)]
    pub fn create_client<'env>(
        &self,
        env: &'env Env,
        token: String,
        new_client_json: String,
        cancel: Option<&CancelHandle>,
    ) -> Result<PromiseRaw<'env, NativeOutcome>> {
        let m = self.inner.clone();
        call(env, cancel, move || async move { create_with(&m, token, &new_client_json).await })
    }

    /// Stops forwarding events (the manager's calls keep working).
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.stop_events();
    }
}

async fn create_with(m: &TokenManager, token: String, new_client_json: &str) -> confirma::Result<NativeOutcome> {
    let token = SecretToken::new(token);
    let value: serde_json::Value =
        serde_json::from_str(new_client_json).map_err(|e| Error::invalid_input("newClient", e.to_string()))?;
    let parsed = m.client().parse_new_client(&value)?;
    m.create_client(&token, &parsed).await.map(|c| confirma::ffi::CreatedData::from(c).into())
}

/// `client.createClient(token, form, { store })`: a manager with the default options over `store` creates
/// the client and commits its credentials before the promise resolves.
#[napi(catch_unwind)]
pub fn create_client_with_store<'env>(
    env: &'env Env,
    client: &NativeClient,
    store: &NativeStore,
    key: NativeKeyOptions,
    token: String,
    new_client_json: String,
    cancel: Option<&CancelHandle>,
) -> Result<PromiseRaw<'env, NativeOutcome>> {
    let made = build_manager(client.inner().clone(), store, ManagerInput::from(&no_options()), Some(&key));
    call(env, cancel, move || async move { create_with(&made?, token, &new_client_json).await })
}

fn no_options() -> NativeManagerOptions {
    NativeManagerOptions {
        renew_every_ms: None,
        renew_at_fraction: None,
        jitter: None,
        lease_ms: None,
        validate_interval_ms: None,
        failure_backoff_ms: None,
        failure_backoff_max_ms: None,
        poll_interval_ms: None,
        owner: None,
    }
}
