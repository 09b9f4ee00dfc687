//! Request and response models of the onboarding API (camelCase on the wire).

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::secret::SecretToken;

/// The CFIS service a client subscribes to.
///
/// Sent as `LIFECYCLE`, `INTERMEDIATION` or `COOP`; a value this SDK does not know is kept as
/// [`ServiceType::Other`] rather than rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServiceType {
    /// Invoice Lifecycle service.
    Lifecycle,
    /// Invoice Intermediation service.
    Intermediation,
    /// Co-Op service.
    Coop,
    /// A service type this SDK version does not know, kept verbatim.
    Other(String),
}

impl ServiceType {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            ServiceType::Lifecycle => "LIFECYCLE",
            ServiceType::Intermediation => "INTERMEDIATION",
            ServiceType::Coop => "COOP",
            ServiceType::Other(s) => s,
        }
    }

    /// Parses a wire value (case-insensitive; `CO-OP` and `CO_OP` mean `COOP`).
    pub fn parse(value: &str) -> Self {
        let norm: String = value.trim().chars().filter(|c| *c != '-' && *c != '_').collect();
        match norm.to_ascii_uppercase().as_str() {
            "LIFECYCLE" => ServiceType::Lifecycle,
            "INTERMEDIATION" => ServiceType::Intermediation,
            "COOP" => ServiceType::Coop,
            _ => ServiceType::Other(value.to_string()),
        }
    }
}

impl fmt::Display for ServiceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ServiceType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ServiceType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ServiceType::parse(&String::deserialize(d)?))
    }
}

/// The role of a contact person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContactRole {
    /// The primary contact (required).
    Primary,
    /// The technical contact.
    Technical,
    /// The accountant.
    Accountant,
}

impl ContactRole {
    /// The wire value.
    pub fn as_str(&self) -> &'static str {
        match self {
            ContactRole::Primary => "PRIMARY",
            ContactRole::Technical => "TECHNICAL",
            ContactRole::Accountant => "ACCOUNTANT",
        }
    }

    /// Parses a wire value, case-insensitively.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_uppercase().as_str() {
            "PRIMARY" => Some(ContactRole::Primary),
            "TECHNICAL" => Some(ContactRole::Technical),
            "ACCOUNTANT" => Some(ContactRole::Accountant),
            _ => None,
        }
    }
}

impl fmt::Display for ContactRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ContactRole {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ContactRole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ContactRole::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown contact role `{s}` (expected PRIMARY, TECHNICAL or ACCOUNTANT)"))
        })
    }
}

fn empty_as_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v: Option<String> = Option::deserialize(d)?;
    Ok(v.filter(|s| !s.trim().is_empty()))
}

/// The `service` section of a new client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// Service type (`type` on the wire).
    #[serde(rename = "type")]
    pub service_type: ServiceType,
    /// Your partner code, as agreed with Confirma Finance.
    pub partner_code: String,
}

/// The `client` section of a new client: the company being onboarded.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientDetails {
    /// Company name.
    #[serde(default)]
    pub name: String,
    /// Business ID (Finnish Y-tunnus `1234567-8` for `countryCode` FI).
    #[serde(default)]
    pub business_code: String,
    /// VAT registration number (`FI` + the 8 digits of the business ID for Finland).
    #[serde(default, deserialize_with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub vat_reg_nbr: Option<String>,
    /// Street address.
    #[serde(default)]
    pub postal_address: String,
    /// Postal code, validated against the country.
    #[serde(default)]
    pub postal_code: String,
    /// Postal district (city).
    #[serde(default)]
    pub postal_district: String,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default)]
    pub country_code: String,
    /// Telephone number.
    #[serde(default, deserialize_with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub telephone: Option<String>,
    /// E-mail address.
    #[serde(default)]
    pub email: String,
    /// Web site URL.
    #[serde(default, deserialize_with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// ISO 639-1 language code (`FI`, `SV`, `EN`, ...; `DK` is accepted for Danish).
    #[serde(default)]
    pub language_code: String,
}

/// A contact person of the new client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// The contact's role; one PRIMARY contact is required, at most one contact per role.
    pub role: ContactRole,
    /// Full name.
    #[serde(default)]
    pub name: String,
    /// E-mail address.
    #[serde(default)]
    pub email: String,
    /// Telephone number.
    #[serde(default, deserialize_with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub telephone: Option<String>,
}

/// The body of `POST /api/v1/partner/client`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewClient {
    /// The service the client subscribes to.
    pub service: Service,
    /// The company.
    pub client: ClientDetails,
    /// Contact persons.
    #[serde(default)]
    pub contacts: Vec<Contact>,
}

impl NewClient {
    /// The request as it is sent: every string trimmed, blank optional strings dropped, and the country and
    /// language codes in upper case (as the CFIS documentation shows them).
    pub fn normalized(&self) -> NewClient {
        self.clone().into_normalized()
    }

    /// [`normalized`](Self::normalized) of an owned request: strings that are already trimmed are kept,
    /// not copied.
    pub(crate) fn into_normalized(self) -> NewClient {
        fn t(mut s: String) -> String {
            s.truncate(s.trim_end().len());
            let lead = s.len().saturating_sub(s.trim_start().len());
            if lead > 0 {
                // `lead` ends where the first non-whitespace character starts: a character boundary.
                s.drain(..lead);
            }
            s
        }
        fn opt(s: Option<String>) -> Option<String> {
            s.map(t).filter(|s| !s.is_empty())
        }
        fn upper(mut s: String) -> String {
            s.make_ascii_uppercase();
            s
        }
        let c = self.client;
        NewClient {
            service: Service {
                service_type: match self.service.service_type {
                    ServiceType::Other(s) => ServiceType::parse(s.trim()),
                    known => known,
                },
                partner_code: t(self.service.partner_code),
            },
            client: ClientDetails {
                name: t(c.name),
                business_code: t(c.business_code),
                vat_reg_nbr: opt(c.vat_reg_nbr).map(upper),
                postal_address: t(c.postal_address),
                postal_code: t(c.postal_code),
                postal_district: t(c.postal_district),
                country_code: upper(t(c.country_code)),
                telephone: opt(c.telephone),
                email: t(c.email),
                website: opt(c.website),
                language_code: upper(t(c.language_code)),
            },
            contacts: self
                .contacts
                .into_iter()
                .map(|k| Contact { role: k.role, name: t(k.name), email: t(k.email), telephone: opt(k.telephone) })
                .collect(),
        }
    }

    /// Parses a new client from JSON shaped like the API contract (camelCase keys).
    pub fn from_json(json: &str) -> Result<Self, crate::Error> {
        serde_json::from_str(json).map_err(|e| crate::Error::invalid_input("newClient", e.to_string()))
    }
}

/// The result of creating a client: its identifiers and its first access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedClient {
    /// CFIS client identifier.
    pub client_id: String,
    /// Confirma Finance customer code.
    pub customer_code: String,
    /// Payment reference prefix of the client.
    pub payment_reference_prefix: String,
    /// The client's API access token. Store it securely.
    pub access_token: SecretToken,
    /// When the access token expires, if the service said.
    pub token_expires_at: Option<DateTime<Utc>>,
}

/// The answer of `GET /api/v1/partner/validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStatus {
    /// Whether the token is valid now.
    pub is_valid: bool,
    /// Whether the token is known but expired (renew it).
    pub expired: bool,
    /// The service's message ("Token is valid", "Token has expired", ...).
    pub message: String,
}

/// The answer of `GET /api/v1/partner/renew`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewedToken {
    /// The new access token; the old one stops working.
    pub access_token: SecretToken,
    /// When the new token expires, if the service said.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The earliest timestamp the SDK reports (1970-01-01T00:00:00Z): every host language can hold it.
pub const MIN_TIMESTAMP: DateTime<Utc> = DateTime::<Utc>::UNIX_EPOCH;

/// The latest timestamp the SDK reports (9999-12-31T23:59:59Z): Python's `datetime` ends there.
pub const MAX_TIMESTAMP: DateTime<Utc> = match DateTime::<Utc>::from_timestamp(253_402_300_799, 0) {
    Some(t) => t,
    None => DateTime::<Utc>::MAX_UTC,
};

/// Clamps a timestamp into [`MIN_TIMESTAMP`] ..= [`MAX_TIMESTAMP`], so that converting it in any binding
/// cannot fail after a successful call.
pub fn clamp_timestamp(t: DateTime<Utc>) -> DateTime<Utc> {
    t.clamp(MIN_TIMESTAMP, MAX_TIMESTAMP)
}

/// Parses a timestamp as the service may send it: RFC 3339, or an ISO date-time without offset (read as
/// UTC, as ASP.NET emits it), or a plain `YYYY-MM-DD` date (midnight UTC). The result is clamped with
/// [`clamp_timestamp`].
pub fn parse_timestamp(value: &str) -> Option<DateTime<Utc>> {
    parse_timestamp_unclamped(value.trim()).map(clamp_timestamp)
}

fn parse_timestamp_unclamped(v: &str) -> Option<DateTime<Utc>> {
    if v.len() > 64 {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    // RFC 3339 allows only 4-digit years; a far-future expiry (`+10126-01-01T00:00:00Z`) still parses here
    // and is clamped by the caller.
    let zoned = match v.strip_suffix('Z').or_else(|| v.strip_suffix('z')) {
        Some(rest) => format!("{rest}+00:00"),
        None => v.to_string(),
    };
    if let Ok(t) = DateTime::parse_from_str(&zoned, "%Y-%m-%dT%H:%M:%S%.f%:z") {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, fmt) {
            return Some(t.and_utc());
        }
    }
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_type_round_trip_and_unknown_preserved() {
        assert_eq!(ServiceType::parse("co-op"), ServiceType::Coop);
        assert_eq!(ServiceType::parse("lifecycle"), ServiceType::Lifecycle);
        let other = ServiceType::parse("FACTORING");
        assert_eq!(other, ServiceType::Other("FACTORING".into()));
        assert_eq!(serde_json::to_string(&other).unwrap(), "\"FACTORING\"");
    }

    #[test]
    fn empty_optional_strings_are_absent() {
        let c: ClientDetails =
            serde_json::from_str(r#"{"name":"A","telephone":"","website":"  ","vatRegNbr":null}"#).unwrap();
        assert_eq!(c.telephone, None);
        assert_eq!(c.website, None);
        let json = serde_json::to_value(&c).unwrap();
        assert!(json.get("telephone").is_none());
    }

    #[test]
    fn normalized_trims_and_upper_cases_codes() {
        let c: NewClient = serde_json::from_value(serde_json::json!({
            "service": {"type": " lifecycle ", "partnerCode": " P "},
            "client": {"name": " A Oy ", "countryCode": " fi ", "languageCode": "sv", "telephone": "  ", "vatRegNbr": "fi15728600"},
            "contacts": [{"role": "PRIMARY", "name": " N ", "email": " n@x.fi "}]
        })).unwrap();
        let n = c.normalized();
        assert_eq!(n.service.service_type, ServiceType::Lifecycle);
        assert_eq!((n.service.partner_code.as_str(), n.client.name.as_str()), ("P", "A Oy"));
        assert_eq!((n.client.country_code.as_str(), n.client.language_code.as_str()), ("FI", "SV"));
        assert_eq!(n.client.telephone, None);
        assert_eq!(n.client.vat_reg_nbr.as_deref(), Some("FI15728600"));
        assert_eq!(n.contacts[0].email, "n@x.fi");
    }

    #[test]
    fn timestamps_in_several_shapes() {
        assert!(parse_timestamp("2027-01-02T03:04:05Z").is_some());
        assert!(parse_timestamp("2027-01-02T03:04:05.123+02:00").is_some());
        assert!(parse_timestamp("2027-01-02T03:04:05.1234567").is_some());
        assert!(parse_timestamp("2027-01-02").is_some());
        assert!(parse_timestamp("next tuesday").is_none());
        assert_eq!(parse_timestamp("1900-01-01"), Some(MIN_TIMESTAMP));
        for far in ["+262142-01-01", "-262143-01-01", "99999-12-31", "0000-01-01T00:00:00Z"] {
            assert!(parse_timestamp(far).is_none_or(|t| (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&t)), "{far}");
        }
        assert_eq!(parse_timestamp("+10000-01-01T00:00:00"), Some(MAX_TIMESTAMP));
        assert_eq!(parse_timestamp("+10126-03-04T05:06:07.5Z"), Some(MAX_TIMESTAMP));
        assert_eq!(parse_timestamp("+10126-03-04T05:06:07+02:00"), Some(MAX_TIMESTAMP));
        assert_eq!(MAX_TIMESTAMP.to_rfc3339(), "9999-12-31T23:59:59+00:00");
    }
}
