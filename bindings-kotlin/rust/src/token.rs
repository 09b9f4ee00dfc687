//! `SecretToken`: the core's secret token as a uniffi object, and the UTF-8 text it is built from.

use std::sync::Arc;

use confirma as cfis;

/// An API token: a client access token or the Partner Provisioning Token.
///
/// `toString()` is always `[REDACTED]`; the raw value is kept in native memory (wiped when the object is
/// released) and read only through [reveal], where it must leave the program (e.g. to store it).
#[derive(uniffi::Object, PartialEq, Eq)]
#[uniffi::export(Display, Eq, Hash)]
pub struct SecretToken(cfis::SecretToken);

impl SecretToken {
    /// The core's token as the Kotlin object.
    pub(crate) fn wrap(t: cfis::SecretToken) -> Arc<SecretToken> {
        Arc::new(SecretToken(t))
    }

    /// The core's token.
    pub(crate) fn core(&self) -> &cfis::SecretToken {
        &self.0
    }
}

/// Kotlin's `hashCode()`: only the length is hashed, never the token text (equal tokens have equal lengths, so
/// the `equals`/`hashCode` contract holds; equality itself is the core's constant-time comparison).
impl std::hash::Hash for SecretToken {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.expose().len().hash(state)
    }
}

impl std::fmt::Display for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(cfis::REDACTED)
    }
}

impl std::fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(cfis::REDACTED)
    }
}

#[uniffi::export]
impl SecretToken {
    /// Wraps a raw token. Throws `ConfirmaException.Validation` (field `token`) for a string that is not valid
    /// Unicode (an unpaired UTF-16 surrogate), which cannot be encoded as UTF-8.
    #[uniffi::constructor]
    pub fn new(value: TokenText) -> Arc<Self> {
        SecretToken::wrap(cfis::SecretToken::new(value.0))
    }

    /// The raw token. Call this only where the value must leave the program (to store it securely).
    pub fn reveal(&self) -> String {
        self.0.expose().to_string()
    }
}

/// A token's text as it crosses the FFI: UTF-8 bytes, encoded on the Kotlin side by `tokenUtf8` (see
/// `uniffi.toml`), which turns a string that is not valid Unicode into `ConfirmaException.Validation` instead of
/// the generated string converter's `CharacterCodingException`. In Kotlin it is a plain `String`.
pub struct TokenText(String);

impl TokenText {
    /// The core's token (the String overloads' exports: no `SecretToken` object crosses).
    pub(crate) fn into_secret(self) -> cfis::SecretToken {
        cfis::SecretToken::new(self.0)
    }
}

uniffi::custom_type!(TokenText, Vec<u8>, {
    lower: |t| t.0.into_bytes(),
    try_lift: |bytes| Ok(TokenText(String::from_utf8(bytes)?)),
});
