//! `confirma::ffi::{CreatedData, StatusData, RenewedData}` → plain result objects, and the settled outcome
//! of one call. Timestamps arrive as clamped epoch milliseconds (exact in an `f64`, valid for a JS `Date`).

use confirma::ffi::{CreatedData, ErrorInfo, RenewedData, StatusData};
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
