//! Redaction of text the service sent before any of it is kept in an error.
//!
//! A token this SDK sent is scrubbed exactly (see [`SecretToken`](crate::SecretToken)); this module also hides tokens it has
//! never seen: values under token-like JSON keys, and any token-shaped run of characters.

use serde_json::Value;

use crate::secret::REDACTED;

/// Characters a token can be made of (URL-safe base64, hex, JWT segments, `cfis_at_…`).
fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '~' | '+' | '=')
}

/// Whether a run of token characters looks like a credential rather than a word: at least 16 characters
/// with a letter and a digit, or at least 20 with three upper- and three lower-case letters (random text).
pub(crate) fn is_token_shaped(run: &str) -> bool {
    let len = run.chars().count();
    if len < 16 {
        return false;
    }
    let (mut upper, mut lower, mut digit) = (0usize, 0usize, 0usize);
    for c in run.chars() {
        if c.is_ascii_uppercase() {
            upper = upper.saturating_add(1);
        } else if c.is_ascii_lowercase() {
            lower = lower.saturating_add(1);
        } else if c.is_ascii_digit() {
            digit = digit.saturating_add(1);
        }
    }
    let letters = upper.saturating_add(lower);
    (letters > 0 && digit > 0) || (len >= 20 && upper >= 3 && lower >= 3)
}

/// Whether `text` holds a token-shaped run (what [`redact_text`] would replace). Allocates nothing.
pub(crate) fn has_token_shaped(text: &str) -> bool {
    text.split(|c: char| !token_char(c)).any(is_token_shaped)
}

/// [`redact_text`] of an owned text: the text itself when there is nothing to redact (no allocation).
pub(crate) fn redact_owned(text: String) -> String {
    if has_token_shaped(&text) {
        redact_text(&text)
    } else {
        text
    }
}

/// Replaces every token-shaped run in `text` with `[REDACTED]`.
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if is_token_shaped(run) {
            out.push_str(REDACTED);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if token_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Whether a JSON key names a credential (`accessToken`, `api_key`, `newKey`, `secret`, `password`, …).
pub(crate) fn is_secret_key(key: &str) -> bool {
    let k: String = key.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
    ["token", "secret", "password", "passwd", "apikey", "credential", "authorization", "cookie"]
        .iter()
        .any(|w| k.contains(w))
        || matches!(k.as_str(), "key" | "newkey" | "xapikey" | "jwt" | "bearer")
}

/// Redacts a JSON value in place: values under credential keys, token-shaped strings, and
/// token-shaped keys.
pub fn redact_json(value: &mut Value) {
    match value {
        Value::String(s) => {
            let r = redact_text(s);
            if r != *s {
                *s = r;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (k, mut v) in entries {
                if is_secret_key(&k) && !v.is_null() {
                    v = Value::String(REDACTED.into());
                } else {
                    redact_json(&mut v);
                }
                map.insert(redact_text(&k), v);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shapes() {
        assert!(is_token_shaped("cfis_at_abcdefghijklmnopqrstuvwxyz0123456789ABCD"));
        assert!(is_token_shaped("eyJhbGciOiJIUzI1NiJ9"));
        assert!(is_token_shaped("AbcDefGhiJklMnoPqrStu"));
        assert!(!is_token_shaped("Asiakasnumerotunnistetiedot"));
        assert!(!is_token_shaped("error_description"));
        assert!(!is_token_shaped("1572860-0"));
    }

    #[test]
    fn text_and_json() {
        assert_eq!(redact_text("key cfis_at_Zx81Qw0aBcDeFgHiJkLm is bad"), "key [REDACTED] is bad");
        assert_eq!(redact_text("€ Token has expired."), "€ Token has expired.");
        let mut v = serde_json::json!({"accessToken": "short", "message": "ok", "nested": [{"api_key": 5}], "x": "abc123def456ghi789"});
        redact_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"accessToken": REDACTED, "message": "ok", "nested": [{"api_key": REDACTED}], "x": REDACTED})
        );
    }
}
