//! The models as Kotlin sees them: the core's own request types (remote uniffi types, no conversion code),
//! and the three results (the core's `confirma::ffi` result data, with Kotlin's `SecretToken` and `Instant`).
//!
//! Each `#[uniffi::remote(...)]` item below is not a type of this crate: it restates the fields of the core
//! type of the same name so that uniffi generates its FFI impls here (see the crate docs for why). The
//! compiler checks the restatement against the core's definition (every field, by name and type). The order
//! of the fields is Kotlin's constructor order; the docs are Kotlin's KDoc.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use confirma as cfis;
use confirma::ffi::{CreatedData, RenewedData, StatusData};
use confirma::{ClientDetails, Contact, ContactRole, NewClient, Service, ServiceType, ValidationMode};

use crate::error::NativeError;
use crate::runtime::contain;
use crate::token::SecretToken;

// ---------------------------------------------------------------------------------------------------
// Requests: the core's types
// ---------------------------------------------------------------------------------------------------

/// Everything needed to create a client: the `service`, `client` and `contacts` sections.
#[uniffi::remote(Record)]
pub struct NewClient {
    /// The service the client subscribes to.
    pub service: Service,
    /// The company.
    pub client: ClientDetails,
    /// Contact persons (a PRIMARY contact is required).
    #[uniffi(default)]
    pub contacts: Vec<Contact>,
}

/// The `service` section of a new client.
#[uniffi::remote(Record)]
pub struct Service {
    /// The service type (`type` on the wire).
    pub service_type: ServiceType,
    /// Your partner code, as agreed with Confirma Finance.
    pub partner_code: String,
}

/// The `client` section of a new client: the company being onboarded. Empty optional strings count
/// as absent.
#[uniffi::remote(Record)]
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
#[uniffi::remote(Record)]
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

/// The role of a contact person (one PRIMARY contact is required, at most one per role).
#[uniffi::remote(Enum)]
pub enum ContactRole {
    /// The primary contact (required).
    Primary,
    /// The technical contact.
    Technical,
    /// The accountant.
    Accountant,
}

/// How thoroughly requests are checked before they are sent.
#[uniffi::remote(Enum)]
pub enum ValidationMode {
    /// Presence, ISO codes, e-mail and URL syntax, and the Finnish rules (postal code, Business ID
    /// check digit, VAT number) for country FI. The default.
    Strict,
    /// Presence of required fields and ISO country/language codes only.
    Lenient,
}

// The core's `ServiceType` keeps a value it does not know as `Other(String)`, which Kotlin's plain
// `enum class ServiceType { LIFECYCLE, INTERMEDIATION, COOP }` cannot hold: it crosses as its wire string
// (the core's `as_str` / `parse`), lifted into the hand-written Kotlin enum by `serviceTypeOf` (uniffi.toml),
// which makes an unknown value a `ConfirmaException.Validation` on `service.type`.
uniffi::custom_type!(ServiceType, String, {
    remote,
    lower: |s| s.as_str().to_string(),
    try_lift: |s| Ok(ServiceType::parse(&s)),
});

/// Parses and validates JSON shaped like the API contract (camelCase or snake_case keys) into a
/// [NewClient]; every problem is reported at once as a validation error with field paths.
/// `language` (`fi`, `sv`, `en`; absent = English) is the end-user language of the error's issues.
#[uniffi::export(default(language = None))]
pub fn native_parse_new_client(
    json: String,
    validation: ValidationMode,
    language: Option<String>,
) -> Result<NewClient, NativeError> {
    contain(|| {
        let lang = cfis::ffi::form::language(language.as_deref())?;
        let value = parse_json(&json).map_err(|e| e.with_language(lang))?;
        Ok(cfis::validation::parse_new_client_issues(&value, validation)
            .map_err(|i| cfis::Error::client_issues(i).with_language(lang))?)
    })
}

/// JSON text (how Kotlin hands over loosely typed input) as a value; bad JSON is a validation error on `newClient`.
pub(crate) fn parse_json(json: &str) -> Result<serde_json::Value, cfis::Error> {
    serde_json::from_str(json).map_err(|e| cfis::Error::invalid_input("newClient", format!("is not valid JSON: {e}")))
}

// ---------------------------------------------------------------------------------------------------
// Results: the core's result data, timestamps (clamped epoch milliseconds) as `Instant`
// ---------------------------------------------------------------------------------------------------

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

impl From<CreatedData> for CreatedClient {
    fn from(c: CreatedData) -> Self {
        CreatedClient {
            client_id: c.client_id,
            customer_code: c.customer_code,
            payment_reference_prefix: c.payment_reference_prefix,
            access_token: SecretToken::wrap(c.access_token),
            token_expires_at: c.token_expires_at_ms.and_then(instant),
        }
    }
}

/// The answer of a token validation. An unknown or expired token is not an error.
#[uniffi::remote(Record)]
#[uniffi(name = "TokenStatus")]
pub struct StatusData {
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

impl From<RenewedData> for RenewedToken {
    fn from(r: RenewedData) -> Self {
        RenewedToken { access_token: SecretToken::wrap(r.access_token), expires_at: r.expires_at_ms.and_then(instant) }
    }
}

/// Epoch milliseconds (clamped by the core to 1970..=9999, so never negative) as uniffi's `Instant`.
fn instant(ms: i64) -> Option<SystemTime> {
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(u64::try_from(ms).ok()?))
}
