//! Secret values (access tokens, provisioning tokens).
//!
//! A [`SecretToken`] never shows its value through `Debug` or `Display`, is wiped from memory when
//! dropped, and is read only through the explicit [`SecretToken::expose`].

use std::fmt;

use zeroize::Zeroizing;

/// The text every redacted token is shown as.
pub const REDACTED: &str = "[REDACTED]";

/// An API token (a client access token or the Partner Provisioning Token).
///
/// `Debug` and `Display` print `[REDACTED]`; the value is zeroized on drop. Read it with
/// [`expose`](SecretToken::expose) only where it must leave the program (to store it in your database).
///
/// Equality is constant-time (it does not reveal how much of two tokens agree); there is deliberately no
/// `Hash`, so raw token text never feeds a hash table.
#[derive(Clone)]
pub struct SecretToken(Zeroizing<String>);

impl PartialEq for SecretToken {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for SecretToken {}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

impl SecretToken {
    /// Wraps a raw token.
    pub fn new(value: impl Into<String>) -> Self {
        SecretToken(Zeroizing::new(value.into()))
    }

    /// The raw token. Call this only where the value must leave the program (storage, a header).
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// Whether the token is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretToken({REDACTED})")
    }
}

impl fmt::Display for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for SecretToken {
    fn from(value: String) -> Self {
        SecretToken::new(value)
    }
}

impl From<&str> for SecretToken {
    fn from(value: &str) -> Self {
        SecretToken::new(value)
    }
}

impl From<&SecretToken> for SecretToken {
    fn from(value: &SecretToken) -> Self {
        value.clone()
    }
}

/// Replaces every occurrence of `secret` in `text` with `[REDACTED]` (used on server-provided text that
/// could echo a token back).
pub(crate) fn scrub(text: &str, secret: &str) -> String {
    if secret.len() < 4 {
        return text.to_string();
    }
    text.replace(secret, REDACTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let t = SecretToken::new("canary-secret-value");
        assert_eq!(format!("{t:?}"), "SecretToken([REDACTED])");
        assert_eq!(format!("{t}"), "[REDACTED]");
        assert_eq!(format!("{:#?}", Some(&t)), "Some(\n    SecretToken([REDACTED]),\n)");
        assert_eq!(t.expose(), "canary-secret-value");
    }

    #[test]
    fn constant_time_equality() {
        assert_eq!(SecretToken::new("abc"), SecretToken::new("abc"));
        assert_ne!(SecretToken::new("abc"), SecretToken::new("abd"));
        assert_ne!(SecretToken::new("abc"), SecretToken::new("abcd"));
    }

    #[test]
    fn scrub_replaces_echoed_secret() {
        assert_eq!(scrub("bad key abcdef1234 given", "abcdef1234"), "bad key [REDACTED] given");
        assert_eq!(scrub("short", "ab"), "short");
    }
}
