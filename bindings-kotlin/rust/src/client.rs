//! `NativeClient`: the core's `OnboardingClient` with its three calls as uniffi async methods.

use std::sync::Arc;

use confirma as cfis;
use confirma::ffi::{describe_config, runtime::runtime, CreatedData, RenewedData, StatusData};
use confirma::NewClient;

use crate::config::NativeClientConfig;
use crate::error::NativeError;
use crate::models::{parse_json, CreatedClient, RenewedToken};
use crate::queue::{self, Outcome};
use crate::runtime::{block, contain, run};
use crate::token::{SecretToken, TokenText};

/// The native onboarding client (plumbing: use the Kotlin `OnboardingClient`).
#[derive(uniffi::Object)]
pub struct NativeClient {
    inner: cfis::OnboardingClient,
}

impl NativeClient {
    /// The core's client (for a `TokenManager`).
    pub(crate) fn core(&self) -> &cfis::OnboardingClient {
        &self.inner
    }
}

#[uniffi::export]
impl NativeClient {
    /// Builds a client; fails with a configuration error on a bad option, base URL, proxy or certificate.
    #[uniffi::constructor]
    pub fn new(config: NativeClientConfig) -> Result<Arc<Self>, NativeError> {
        contain(|| {
            let config = config.build()?;
            // reqwest's client builder may touch the runtime (DNS resolver); build inside it.
            let _enter = runtime()?.enter();
            Ok(Arc::new(NativeClient { inner: cfis::OnboardingClient::new(config)? }))
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

    /// The effective configuration as the core describes it (`confirma::ffi::describe_config`, JSON): for the
    /// SDK's own tests (the cross-language parity runner).
    pub fn describe_config(&self) -> Result<String, NativeError> {
        contain(|| Ok(describe_config(self.inner.config()).to_string()))
    }

    /// Creates a client account with the Partner Provisioning Token.
    pub async fn create_client(
        &self,
        provisioning_token: Arc<SecretToken>,
        new_client: NewClient,
    ) -> Result<CreatedClient, NativeError> {
        let client = self.inner.clone();
        run(async move { client.create_client(provisioning_token.core(), &new_client).await.map(CreatedData::from) })
            .await
            .map(CreatedClient::from)
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
        run(async move {
            client.create_client_from_value(provisioning_token.core(), &value).await.map(CreatedData::from)
        })
        .await
        .map(CreatedClient::from)
    }

    /// Checks whether an access token is valid.
    pub async fn validate_token(&self, token: Arc<SecretToken>) -> Result<StatusData, NativeError> {
        let client = self.inner.clone();
        run(async move { client.validate_token(token.core()).await.map(StatusData::from) }).await
    }

    /// Renews an access token (also an expired one). The old token stops working.
    pub async fn renew_token(&self, token: Arc<SecretToken>) -> Result<RenewedToken, NativeError> {
        let client = self.inner.clone();
        run(async move { client.renew_token(token.core()).await.map(RenewedData::from) }).await.map(RenewedToken::from)
    }

    // ---- the String overloads' hot path: the token's text crosses, no `SecretToken` object is made and freed ----

    /// [Self::create_client] with the provisioning token's text.
    pub async fn create_client_text(
        &self,
        provisioning_token: TokenText,
        new_client: NewClient,
    ) -> Result<CreatedClient, NativeError> {
        let client = self.inner.clone();
        let token = provisioning_token.into_secret();
        run(async move { client.create_client(&token, &new_client).await.map(CreatedData::from) })
            .await
            .map(CreatedClient::from)
    }

    /// [Self::create_client_json] with the provisioning token's text.
    pub async fn create_client_json_text(
        &self,
        provisioning_token: TokenText,
        new_client_json: String,
    ) -> Result<CreatedClient, NativeError> {
        let client = self.inner.clone();
        let token = provisioning_token.into_secret();
        let value = parse_json(&new_client_json)?;
        run(async move { client.create_client_from_value(&token, &value).await.map(CreatedData::from) })
            .await
            .map(CreatedClient::from)
    }

    /// [Self::validate_token] with the token's text.
    pub async fn validate_token_text(&self, token: TokenText) -> Result<StatusData, NativeError> {
        let client = self.inner.clone();
        let token = token.into_secret();
        run(async move { client.validate_token(&token).await.map(StatusData::from) }).await
    }

    /// [Self::renew_token] with the token's text.
    pub async fn renew_token_text(&self, token: TokenText) -> Result<RenewedToken, NativeError> {
        let client = self.inner.clone();
        let token = token.into_secret();
        run(async move { client.renew_token(&token).await.map(RenewedData::from) }).await.map(RenewedToken::from)
    }

    // ---- the `…Blocking` API: synchronous, run to completion on the caller's thread (never a runtime worker) ----

    /// Blocking [Self::create_client].
    pub fn create_client_blocking(
        &self,
        provisioning_token: Arc<SecretToken>,
        new_client: NewClient,
    ) -> Result<CreatedClient, NativeError> {
        block(async { self.inner.create_client(provisioning_token.core(), &new_client).await.map(CreatedData::from) })
            .map(CreatedClient::from)
    }

    /// Blocking [Self::create_client_text].
    pub fn create_client_text_blocking(
        &self,
        provisioning_token: TokenText,
        new_client: NewClient,
    ) -> Result<CreatedClient, NativeError> {
        let token = provisioning_token.into_secret();
        block(async { self.inner.create_client(&token, &new_client).await.map(CreatedData::from) })
            .map(CreatedClient::from)
    }

    /// Blocking [Self::create_client_json].
    pub fn create_client_json_blocking(
        &self,
        provisioning_token: Arc<SecretToken>,
        new_client_json: String,
    ) -> Result<CreatedClient, NativeError> {
        let value = parse_json(&new_client_json)?;
        block(async {
            self.inner.create_client_from_value(provisioning_token.core(), &value).await.map(CreatedData::from)
        })
        .map(CreatedClient::from)
    }

    /// Blocking [Self::validate_token].
    pub fn validate_token_blocking(&self, token: Arc<SecretToken>) -> Result<StatusData, NativeError> {
        block(async { self.inner.validate_token(token.core()).await.map(StatusData::from) })
    }

    /// Blocking [Self::validate_token_text].
    pub fn validate_token_text_blocking(&self, token: TokenText) -> Result<StatusData, NativeError> {
        let token = token.into_secret();
        block(async { self.inner.validate_token(&token).await.map(StatusData::from) })
    }

    /// Blocking [Self::renew_token].
    pub fn renew_token_blocking(&self, token: Arc<SecretToken>) -> Result<RenewedToken, NativeError> {
        block(async { self.inner.renew_token(token.core()).await.map(RenewedData::from) }).map(RenewedToken::from)
    }

    /// Blocking [Self::renew_token_text].
    pub fn renew_token_text_blocking(&self, token: TokenText) -> Result<RenewedToken, NativeError> {
        let token = token.into_secret();
        block(async { self.inner.renew_token(&token).await.map(RenewedData::from) }).map(RenewedToken::from)
    }

    // ---- the completion queue (`queue`): start by id, the result comes back through `native_drain_completions` ----

    /// Starts [Self::validate_token] as call `id`.
    pub fn validate_token_queued(&self, token: Arc<SecretToken>, id: u64) -> Result<(), NativeError> {
        let client = self.inner.clone();
        queue::start(id, async move { client.validate_token(token.core()).await.map(|s| Outcome::Status(s.into())) })
    }

    /// Starts [Self::renew_token] as call `id`.
    pub fn renew_token_queued(&self, token: Arc<SecretToken>, id: u64) -> Result<(), NativeError> {
        let client = self.inner.clone();
        queue::start(id, async move {
            client.renew_token(token.core()).await.map(|r| Outcome::Renewed(RenewedData::from(r).into()))
        })
    }
}
