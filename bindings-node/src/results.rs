//! `confirma::ffi::{CreatedData, StatusData, RenewedData}` → plain result objects, and the settled outcome
//! of one call. Timestamps arrive as clamped epoch milliseconds (exact in an `f64`, valid for a JS `Date`).

use confirma::ffi::{CreatedData, ErrorInfo, RenewedData, StatusData};
use confirma::{CredentialStatus, SecretToken};
use napi_derive::napi;

use crate::error::NativeError;

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

/// A credential's status (`confirma::CredentialStatus`): everything but the token; times in epoch ms.
#[napi(object)]
pub struct NativeCredentialStatus {
    pub environment: String,
    pub client_id: String,
    pub customer_code: String,
    pub payment_reference_prefix: String,
    pub state: String,
    pub health: String,
    pub token_version: f64,
    pub fingerprint: String,
    pub last_renewed_at_ms: Option<f64>,
    pub expires_at_ms: Option<f64>,
    pub next_renew_at_ms: Option<f64>,
    pub last_validated_at_ms: Option<f64>,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    pub lease_holder: Option<String>,
    pub lease_expires_at_ms: Option<f64>,
    pub encrypted: bool,
}

impl From<CredentialStatus> for NativeCredentialStatus {
    fn from(s: CredentialStatus) -> Self {
        let ms = |t: Option<i64>| t.map(|v| v as f64);
        NativeCredentialStatus {
            environment: s.environment,
            client_id: s.client_id,
            customer_code: s.customer_code,
            payment_reference_prefix: s.payment_reference_prefix,
            state: s.state.as_str().to_string(),
            health: s.health.as_str().to_string(),
            token_version: s.token_version as f64,
            fingerprint: s.fingerprint,
            last_renewed_at_ms: ms(s.last_renewed_at),
            expires_at_ms: ms(s.expires_at),
            next_renew_at_ms: ms(s.next_renew_at),
            last_validated_at_ms: ms(s.last_validated_at),
            consecutive_failures: s.consecutive_failures,
            last_error: s.last_error,
            lease_holder: s.lease_holder,
            lease_expires_at_ms: ms(s.lease_expires_at),
            encrypted: s.encrypted,
        }
    }
}

/// The settled result of one native call. Exactly one of the result fields or `error` is set unless
/// `aborted` is true (or the call has no result: a store that connected).
#[napi(object)]
pub struct NativeOutcome {
    pub ok: bool,
    pub aborted: bool,
    pub created: Option<NativeCreatedClient>,
    pub status: Option<NativeTokenStatus>,
    pub renewed: Option<NativeRenewedToken>,
    /// A managed token (wrapped in a `SecretToken` by the JS layer at once).
    pub token: Option<String>,
    pub credential: Option<NativeCredentialStatus>,
    pub credentials: Option<Vec<NativeCredentialStatus>>,
    /// The store conformance suite's report (one passed check per line).
    pub report: Option<String>,
    pub error: Option<NativeError>,
}

impl NativeOutcome {
    pub fn empty(ok: bool) -> Self {
        NativeOutcome {
            ok,
            aborted: false,
            created: None,
            status: None,
            renewed: None,
            token: None,
            credential: None,
            credentials: None,
            report: None,
            error: None,
        }
    }

    pub fn error(e: &ErrorInfo) -> Self {
        NativeOutcome { error: Some(e.into()), ..Self::empty(false) }
    }

    /// A call cancelled through its `CancelHandle` (the JS layer has already rejected it).
    pub fn aborted() -> Self {
        NativeOutcome { aborted: true, ..Self::empty(false) }
    }
}

impl From<CreatedData> for NativeOutcome {
    fn from(c: CreatedData) -> Self {
        let created = NativeCreatedClient {
            client_id: c.client_id,
            customer_code: c.customer_code,
            payment_reference_prefix: c.payment_reference_prefix,
            access_token: c.access_token.expose().to_string(),
            token_expires_at_ms: c.token_expires_at_ms.map(|ms| ms as f64),
        };
        NativeOutcome { created: Some(created), ..Self::empty(true) }
    }
}

impl From<StatusData> for NativeOutcome {
    fn from(s: StatusData) -> Self {
        let status = NativeTokenStatus { is_valid: s.is_valid, expired: s.expired, message: s.message };
        NativeOutcome { status: Some(status), ..Self::empty(true) }
    }
}

impl From<RenewedData> for NativeOutcome {
    fn from(r: RenewedData) -> Self {
        let renewed = NativeRenewedToken {
            access_token: r.access_token.expose().to_string(),
            expires_at_ms: r.expires_at_ms.map(|ms| ms as f64),
        };
        NativeOutcome { renewed: Some(renewed), ..Self::empty(true) }
    }
}

/// A token handed out by the manager.
pub struct TokenOut(pub SecretToken);

impl From<TokenOut> for NativeOutcome {
    fn from(t: TokenOut) -> Self {
        NativeOutcome { token: Some(t.0.expose().to_string()), ..Self::empty(true) }
    }
}

impl From<CredentialStatus> for NativeOutcome {
    fn from(s: CredentialStatus) -> Self {
        NativeOutcome { credential: Some(s.into()), ..Self::empty(true) }
    }
}

impl From<Vec<CredentialStatus>> for NativeOutcome {
    fn from(v: Vec<CredentialStatus>) -> Self {
        NativeOutcome { credentials: Some(v.into_iter().map(Into::into).collect()), ..Self::empty(true) }
    }
}

impl From<()> for NativeOutcome {
    fn from(_: ()) -> Self {
        Self::empty(true)
    }
}
