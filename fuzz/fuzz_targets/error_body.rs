//! `parse_error_body` with an arbitrary content type, body and secret: never panics, never keeps the
//! secret (the token that was sent) in the message, excerpt, field errors or trace id, and the excerpt
//! stays bounded.
//!
//! Input layout (so that seeds are readable): `CONTENT-TYPE \n SECRET \n BODY`; an empty first line
//! means no content type.
#![no_main]

use confirma::response::{parse_error_body, EXCERPT_LIMIT};
use libfuzzer_sys::fuzz_target;

struct Input<'a> {
    content_type: Option<&'a str>,
    secret: &'a str,
    body: &'a [u8],
}

fn split(data: &[u8]) -> Option<Input<'_>> {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let ct = std::str::from_utf8(parts.next()?).ok()?;
    let secret = std::str::from_utf8(parts.next()?).ok()?;
    let body = parts.next().unwrap_or_default();
    Some(Input { content_type: Some(ct).filter(|c| !c.is_empty()), secret, body })
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = split(data) else { return };
    let parsed = parse_error_body(input.content_type, input.body, input.secret);
    // Bytes of the excerpt: the limit plus the "…" marker (3 bytes).
    assert!(parsed.excerpt.len() <= EXCERPT_LIMIT + 3, "excerpt of {} bytes", parsed.excerpt.len());
    if let Some(m) = &parsed.message {
        // Nothing is invented: at most every byte became U+FFFD (3 bytes), plus a ": " join.
        assert!(m.len() <= input.body.len().saturating_mul(3).saturating_add(8), "message longer than the body");
    }
    let secret = input.secret;
    // The secret is always a token the SDK sent: 4+ visible ASCII characters (shorter ones are not
    // scrubbed by design). A secret that only appears in the text through "[REDACTED]" itself (e.g.
    // "ACTE") is not a leak, so the redaction markers are taken out before looking.
    if secret.len() >= 4 && confirma::validation::token_problem(secret).is_none() {
        let leaks = |s: &str| s.replace(confirma::REDACTED, "\u{0}").contains(secret);
        assert!(!leaks(&parsed.excerpt), "secret in the excerpt");
        if let Some(m) = &parsed.message {
            assert!(!leaks(m), "secret in the message");
        }
        if let Some(t) = &parsed.trace_id {
            assert!(!leaks(t), "secret in the trace id");
        }
        for (field, msgs) in &parsed.field_errors {
            assert!(!leaks(field), "secret in a field path");
            for m in msgs {
                assert!(!leaks(m), "secret in a field error");
            }
        }
    }
});
