//! Results as plain data: timestamps as epoch milliseconds, already clamped to 1970..=9999, which every
//! host language represents (Python's `datetime`, JavaScript's `Date`, Java's `Instant`).

use chrono::{DateTime, Utc};

use crate::models::{clamp_timestamp, CreatedClient, RenewedToken, TokenStatus};
use crate::secret::SecretToken;

/// A timestamp as milliseconds since the Unix epoch, clamped with [`clamp_timestamp`] (so always within
/// `0 ..= 253_402_300_799_000`, exactly representable as an `f64`).
pub fn timestamp_ms(t: DateTime<Utc>) -> i64 {
    clamp_timestamp(t).timestamp_millis()
}

/// A created client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedData {
    /// CFIS client identifier.
    pub client_id: String,
    /// Confirma Finance customer code.
    pub customer_code: String,
    /// Payment reference prefix.
    pub payment_reference_prefix: String,
    /// The client's first access token.
    pub access_token: SecretToken,
    /// When the token expires (epoch milliseconds), if the service said.
    pub token_expires_at_ms: Option<i64>,
}

impl From<CreatedClient> for CreatedData {
    fn from(c: CreatedClient) -> Self {
        CreatedData {
            client_id: c.client_id,
            customer_code: c.customer_code,
            payment_reference_prefix: c.payment_reference_prefix,
            access_token: c.access_token,
            token_expires_at_ms: c.token_expires_at.map(timestamp_ms),
        }
    }
}

/// A token validation's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusData {
    /// Whether the token is valid now.
    pub is_valid: bool,
    /// Whether the token is known but expired.
    pub expired: bool,
    /// The service's message.
    pub message: String,
}

impl From<TokenStatus> for StatusData {
    fn from(s: TokenStatus) -> Self {
        StatusData { is_valid: s.is_valid, expired: s.expired, message: s.message }
    }
}

/// A renewed token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewedData {
    /// The new access token (the old one stops working).
    pub access_token: SecretToken,
    /// When it expires (epoch milliseconds), if the service said.
    pub expires_at_ms: Option<i64>,
}

impl From<RenewedToken> for RenewedData {
    fn from(r: RenewedToken) -> Self {
        RenewedData { access_token: r.access_token, expires_at_ms: r.expires_at.map(timestamp_ms) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{MAX_TIMESTAMP, MIN_TIMESTAMP};

    #[test]
    fn timestamps_are_clamped_and_exact_in_f64() {
        assert_eq!(timestamp_ms(DateTime::<Utc>::MAX_UTC), 253_402_300_799_000);
        assert_eq!(timestamp_ms(DateTime::<Utc>::MIN_UTC), 0);
        assert_eq!(timestamp_ms(MAX_TIMESTAMP) as f64 as i64, timestamp_ms(MAX_TIMESTAMP));
        assert_eq!(timestamp_ms(MIN_TIMESTAMP), 0);
    }
}
