//! The native client (one per JS `OnboardingClient`) and its three calls.

use confirma::ffi::runtime::contain;
use confirma::ffi::{describe_config, ConfigInput, CreatedData, RenewedData, StatusData};
use confirma::{Error, OnboardingClient, SecretToken};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::cancel::CancelHandle;
use crate::config::NativeOptions;
use crate::error::NativeError;
use crate::results::NativeOutcome;
use crate::runtime::call;

#[napi]
pub struct NativeClient {
    inner: OnboardingClient,
}

/// Builds a native client, or returns the configuration (or internal) error as data.
#[napi(catch_unwind)]
pub fn new_native_client(options: NativeOptions) -> Either<NativeClient, NativeError> {
    let built = contain(|| {
        let config = ConfigInput::from(options).build()?;
        Ok(NativeClient { inner: OnboardingClient::new(config)? })
    });
    match built {
        Ok(client) => Either::A(client),
        Err(e) => Either::B(NativeError::from(&e)),
    }
}

impl NativeClient {
    pub fn inner(&self) -> &OnboardingClient {
        &self.inner
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

    /// The effective configuration as the core describes it (JSON text). Not part of the public API.
    #[napi(catch_unwind)]
    pub fn describe_config(&self) -> String {
        describe_config(self.inner.config()).to_string()
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
                let value: serde_json::Value = serde_json::from_str(&new_client_json)
                    .map_err(|e| Error::invalid_input("newClient", e.to_string()))?;
                client.create_client_from_value(&token, &value).await.map(CreatedData::from)
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
            async move { client.validate_token(&SecretToken::new(token)).await.map(StatusData::from) }
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
            async move { client.renew_token(&SecretToken::new(token)).await.map(RenewedData::from) }
        })
    }
}
