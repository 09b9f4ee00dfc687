//! `NativeTokenManager`: the core's `TokenManager` (the rotation protocol, the schedule, the store) as uniffi
//! methods; its options through `confirma::ffi::ManagerInput` (units, defaults, bounds, names: the core's).
//!
//! Cancellation: every async method runs on the core's runtime through [`run`], whose task is aborted when the
//! Kotlin coroutine is cancelled. The core runs the work that must not be abandoned (a rotation, a
//! reconciliation, a create) in a detached task of its own, so a cancelled caller only stops waiting: the
//! rotation completes and is persisted.

use std::sync::Arc;

use confirma as cfis;
use confirma::ffi::{CreatedData, ManagerInput, OptionNaming, TimeUnit};
use confirma::store::{CredentialState, EventKind};
use confirma::{CredentialStatus, Health, NewClient};

use crate::client::NativeClient;
use crate::error::NativeError;
use crate::models::CreatedClient;
use crate::runtime::{contain, run};
use crate::store::NativeStore;
use crate::token::SecretToken;

/// Where a credential is in its life (the core's `CredentialState`).
#[uniffi::remote(Enum)]
pub enum CredentialState {
    /// The token is usable.
    Active,
    /// A renewal was claimed and its intent written: a renew call may be in flight.
    Renewing,
    /// A renew call may or may not have rotated the token (timeout, reset, crash): to be reconciled.
    Ambiguous,
    /// The token was rotated and the new one is gone: the client needs a new token (Confirma Finance support).
    Lost,
    /// The record of a pending create (client id `pending-create:<business code>`): no token.
    Creating,
}

/// How a credential is doing (the core's `Health`).
#[uniffi::remote(Enum)]
pub enum Health {
    /// Active, last renewal fine.
    Healthy,
    /// Usable, but renewals fail (the current token is served while valid) or one is being reconciled.
    Degraded,
    /// Lost: the client needs a new token.
    Lost,
}

/// What happened to a credential (the core's `EventKind`).
#[uniffi::remote(Enum)]
pub enum EventKind {
    /// Credentials saved by a create.
    Created,
    /// Credentials imported (an existing token).
    Imported,
    /// The token was validated with the service.
    Validated,
    /// A renewal was claimed and its intent written.
    RenewStarted,
    /// A new token was committed.
    Rotated,
    /// A renewal failed without rotating (the old token still works).
    RenewFailed,
    /// A renewal's outcome is unknown.
    Ambiguous,
    /// An ambiguous renewal was resolved (the record is usable again).
    Reconciled,
    /// The token was rotated and the new one is gone.
    Lost,
    /// A create was recorded (a pending-create record) before its request was sent.
    CreateStarted,
    /// A pending create ended and its record was removed.
    CreateFinished,
}

/// `TokenManager` options as Kotlin hands them over (plumbing for `TokenManagerOptions`): durations in
/// milliseconds, every one optional (absent = the core's default).
#[derive(uniffi::Record, Clone, Debug, Default)]
pub struct NativeManagerOptions {
    /// With no known expiry, renew this often.
    #[uniffi(default)]
    pub renew_every_ms: Option<f64>,
    /// With a known lifetime, renew at this fraction of it.
    #[uniffi(default)]
    pub renew_at_fraction: Option<f64>,
    /// The spread of renewal times, as a fraction of the interval.
    #[uniffi(default)]
    pub jitter: Option<f64>,
    /// How long a renewal claim holds.
    #[uniffi(default)]
    pub lease_ms: Option<f64>,
    /// Validate a stored token on first use unless an instance did within this.
    #[uniffi(default)]
    pub validate_interval_ms: Option<f64>,
    /// The first back-off after a failed renewal.
    #[uniffi(default)]
    pub failure_backoff_ms: Option<f64>,
    /// The longest back-off.
    #[uniffi(default)]
    pub failure_backoff_max_ms: Option<f64>,
    /// How often to re-read the store while another instance holds the lease.
    #[uniffi(default)]
    pub poll_interval_ms: Option<f64>,
    /// This instance's name in leases and events.
    #[uniffi(default)]
    pub owner: Option<String>,
}

impl NativeManagerOptions {
    fn build(&self) -> Result<cfis::ManagerOptions, cfis::Error> {
        // A struct literal without `..`: an option the core adds fails this build until it is passed on.
        ManagerInput {
            time_unit: TimeUnit::Milliseconds,
            naming: OptionNaming::CamelCase,
            renew_every: self.renew_every_ms,
            renew_at_fraction: self.renew_at_fraction,
            jitter: self.jitter,
            lease: self.lease_ms,
            validate_interval: self.validate_interval_ms,
            failure_backoff: self.failure_backoff_ms,
            failure_backoff_max: self.failure_backoff_max_ms,
            poll_interval: self.poll_interval_ms,
            owner: self.owner.clone(),
        }
        .build()
    }
}

/// A credential's status as it crosses (the core's `CredentialStatus`; times in epoch milliseconds).
#[derive(uniffi::Record, Clone, Debug)]
pub struct NativeCredentialStatus {
    /// `staging`, `production` or the custom base URL.
    pub environment: String,
    /// The CFIS client id.
    pub client_id: String,
    /// The customer code.
    pub customer_code: String,
    /// The payment reference prefix.
    pub payment_reference_prefix: String,
    /// The state.
    pub state: CredentialState,
    /// Healthy, degraded or lost.
    pub health: Health,
    /// How many tokens this credential has had.
    pub token_version: u64,
    /// The current token's fingerprint.
    pub fingerprint: String,
    /// When the current token was received (epoch ms).
    pub last_renewed_at_ms: Option<i64>,
    /// When it expires, if the service said (epoch ms).
    pub expires_at_ms: Option<i64>,
    /// The next planned renewal (epoch ms).
    pub next_renew_at_ms: Option<i64>,
    /// When the token was last validated (epoch ms).
    pub last_validated_at_ms: Option<i64>,
    /// Failed renewals in a row.
    pub consecutive_failures: u32,
    /// The last failure's error code.
    pub last_error: Option<String>,
    /// Who holds the renewal lease, if anyone.
    pub lease_holder: Option<String>,
    /// Until when (epoch ms).
    pub lease_expires_at_ms: Option<i64>,
    /// Whether the store seals tokens.
    pub encrypted: bool,
}

impl From<CredentialStatus> for NativeCredentialStatus {
    fn from(s: CredentialStatus) -> Self {
        // Destructured whole: a field the core adds fails this build until it is mapped.
        let CredentialStatus {
            environment,
            client_id,
            customer_code,
            payment_reference_prefix,
            state,
            health,
            token_version,
            fingerprint,
            last_renewed_at,
            expires_at,
            next_renew_at,
            last_validated_at,
            consecutive_failures,
            last_error,
            lease_holder,
            lease_expires_at,
            encrypted,
        } = s;
        NativeCredentialStatus {
            environment,
            client_id,
            customer_code,
            payment_reference_prefix,
            state,
            health,
            token_version,
            fingerprint,
            last_renewed_at_ms: last_renewed_at,
            expires_at_ms: expires_at,
            next_renew_at_ms: next_renew_at,
            last_validated_at_ms: last_validated_at,
            consecutive_failures,
            last_error,
            lease_holder,
            lease_expires_at_ms: lease_expires_at,
            encrypted,
        }
    }
}

fn statuses(v: Vec<CredentialStatus>) -> Vec<NativeCredentialStatus> {
    v.into_iter().map(NativeCredentialStatus::from).collect()
}

/// The core's `TokenManager` (plumbing: use the Kotlin `TokenManager`).
#[derive(uniffi::Object)]
pub struct NativeTokenManager {
    pub(crate) inner: cfis::TokenManager,
}

#[uniffi::export]
impl NativeTokenManager {
    /// A manager for `client`'s environment over `store`; a configuration error names the bad option.
    #[uniffi::constructor]
    pub fn new(
        client: Arc<NativeClient>,
        store: Arc<NativeStore>,
        options: NativeManagerOptions,
    ) -> Result<Arc<Self>, NativeError> {
        contain(|| {
            let options = options.build()?;
            let inner =
                cfis::TokenManager::new(client.core().clone(), store.store.clone(), store.sealer.clone(), options)?;
            Ok(Arc::new(NativeTokenManager { inner }))
        })
    }

    /// The hot-path handle of one client (see [`NativeManagedClient`]).
    pub fn managed(&self, client_id: String) -> Arc<NativeManagedClient> {
        Arc::new(NativeManagedClient { manager: self.inner.clone(), client_id })
    }

    /// A usable token for `client_id` (memory in the common case; a load, validation or renewal when needed).
    pub async fn token(&self, client_id: String) -> Result<Arc<SecretToken>, NativeError> {
        let m = self.inner.clone();
        run(async move { m.token(&client_id).await }).await.map(SecretToken::wrap)
    }

    /// The status of `client_id`'s credentials (no token).
    pub async fn status(&self, client_id: String) -> Result<NativeCredentialStatus, NativeError> {
        let m = self.inner.clone();
        run(async move { m.status(&client_id).await }).await.map(NativeCredentialStatus::from)
    }

    /// The statuses of every credential of this manager's environment.
    pub async fn statuses(&self) -> Result<Vec<NativeCredentialStatus>, NativeError> {
        let m = self.inner.clone();
        run(async move { m.statuses().await }).await.map(statuses)
    }

    /// Imports an existing client's token (validated first); replaces what is stored for the client.
    pub async fn import_credentials(
        &self,
        client_id: String,
        token: Arc<SecretToken>,
        customer_code: Option<String>,
        payment_reference_prefix: Option<String>,
    ) -> Result<NativeCredentialStatus, NativeError> {
        let m = self.inner.clone();
        run(async move {
            m.import_credentials(
                &client_id,
                token.core(),
                customer_code.as_deref(),
                payment_reference_prefix.as_deref(),
            )
            .await
        })
        .await
        .map(NativeCredentialStatus::from)
    }

    /// Renews `client_id` now, under the lease.
    pub async fn renew_now(&self, client_id: String) -> Result<NativeCredentialStatus, NativeError> {
        let m = self.inner.clone();
        run(async move { m.renew_now(&client_id).await }).await.map(NativeCredentialStatus::from)
    }

    /// Reconciles every ambiguous or abandoned record of this environment; their statuses afterwards.
    pub async fn reconcile(&self) -> Result<Vec<NativeCredentialStatus>, NativeError> {
        let m = self.inner.clone();
        run(async move { m.reconcile().await }).await.map(statuses)
    }

    /// Creates a client and commits its credentials to the store before returning.
    pub async fn create_client(
        &self,
        provisioning_token: Arc<SecretToken>,
        new_client: NewClient,
    ) -> Result<CreatedClient, NativeError> {
        let m = self.inner.clone();
        run(async move { m.create_client(provisioning_token.core(), &new_client).await.map(CreatedData::from) })
            .await
            .map(CreatedClient::from)
    }

    /// Removes the pending-create record of `business_code` once it has been dealt with; `false` if none.
    pub async fn discard_pending_create(&self, business_code: String) -> Result<bool, NativeError> {
        let m = self.inner.clone();
        run(async move { m.discard_pending_create(&business_code).await }).await
    }

    /// The environment this manager's records belong to (`staging`, `production` or the base URL).
    pub fn environment(&self) -> String {
        self.inner.environment().to_string()
    }

    /// This instance's owner name (in leases and events).
    pub fn owner(&self) -> String {
        self.inner.owner().to_string()
    }

    /// The store's description (never a password).
    pub fn store_description(&self) -> String {
        self.inner.store().describe()
    }
}

/// Kotlin's `client.createClient(token, form, store = store)`: the core's `TokenManager::create_client` over
/// `store` with the default options (the credentials are committed before this returns).
#[uniffi::export]
pub async fn native_create_client_stored(
    client: Arc<NativeClient>,
    store: Arc<NativeStore>,
    provisioning_token: Arc<SecretToken>,
    new_client: NewClient,
) -> Result<CreatedClient, NativeError> {
    let manager = NativeTokenManager::new(client, store, NativeManagerOptions::default())?;
    manager.create_client(provisioning_token, new_client).await
}

/// The hot path did not complete at once (plumbing): call `NativeTokenManager::token`, which waits for (or
/// reports) what is needed.
#[derive(uniffi::Error, Debug)]
pub enum NativeHotPathMiss {
    /// Not served from memory.
    Miss,
}

impl std::fmt::Display for NativeHotPathMiss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not served from memory")
    }
}

/// One client of a manager, for the hot path of `token` (plumbing for the Kotlin `TokenManager`): a call with only a
/// handle in and a handle out (no string to lower, no buffer to free), which is what a call through uniffi/JNA costs
/// least with.
#[derive(uniffi::Object)]
pub struct NativeManagedClient {
    manager: cfis::TokenManager,
    client_id: String,
}

#[uniffi::export]
impl NativeManagedClient {
    /// The token if the core can serve it from memory at once (`confirma::ffi::cached_token`), else [`NativeHotPathMiss`] — also for an error or a contained panic: the async `token`
    /// then does the work, or reports the error.
    pub fn token_now(&self) -> Result<Arc<SecretToken>, NativeHotPathMiss> {
        match confirma::ffi::cached_token(&self.manager, &self.client_id) {
            Ok(Some(t)) => Ok(SecretToken::wrap(t)),
            _ => Err(NativeHotPathMiss::Miss),
        }
    }
}
