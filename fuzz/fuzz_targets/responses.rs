//! The success-body parsers of create, renew and validate, on arbitrary bytes: never panic; what they
//! accept holds a usable token and timestamps inside the range every binding can represent.
#![no_main]

use confirma::models::{MAX_TIMESTAMP, MIN_TIMESTAMP};
use confirma::response::{parse_created, parse_renewed, parse_status};
use confirma::validation::token_problem;
use confirma::SecretToken;
use libfuzzer_sys::fuzz_target;

fn assert_redacted(token: &SecretToken) {
    let t = token.expose();
    // A token that is part of the redaction text itself ("REDA") cannot be told apart.
    if format!("{:?}{}", SecretToken::new(""), SecretToken::new("")).contains(t) {
        return;
    }
    assert!(!format!("{token:?}").contains(t), "Debug shows the token");
    assert!(!format!("{token}").contains(t), "Display shows the token");
}

fuzz_target!(|data: &[u8]| {
    match parse_created(data) {
        Ok(created) => check_created(&created),
        Err(e) => {
            if let Some(t) = &e.recovered_token {
                assert!(token_problem(t.expose()).is_none(), "created: unusable token recovered");
                assert_redacted(t);
                // The explanation names keys and fixed words, never values. To tell a value from a word that
                // happens to equal it ("customerCode"), the token is swapped for a marker that appears
                // nowhere else, and the marker must not show.
                let body = String::from_utf8_lossy(data);
                if body.matches(t.expose()).count() == 1 {
                    let marker = "Qz9Xk7Qz9Xk7Wv5";
                    let swapped = body.replace(t.expose(), marker);
                    if let Err(e2) = parse_created(swapped.as_bytes()) {
                        if e2.recovered_token.as_ref().is_some_and(|r| r.expose() == marker) {
                            assert!(!format!("{e2:?}").contains(marker), "created: the error shows the token: {e2:?}");
                        }
                    }
                }
            }
        }
    }
    match parse_renewed(data) {
        Ok(renewed) => check_renewed(&renewed),
        Err(e) => assert!(e.recovered_token.as_ref().is_none_or(|t| token_problem(t.expose()).is_none())),
    }
    let _ = parse_status(data);
});

fn check_created(created: &confirma::CreatedClient) {
    assert!(token_problem(created.access_token.expose()).is_none(), "created: unusable token accepted");
    if let Some(t) = created.token_expires_at {
        assert!((MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&t), "created: expiry {t} out of range");
    }
    assert_redacted(&created.access_token);
}

fn check_renewed(renewed: &confirma::RenewedToken) {
    assert!(token_problem(renewed.access_token.expose()).is_none(), "renewed: unusable token accepted");
    if let Some(t) = renewed.expires_at {
        assert!((MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&t), "renewed: expiry {t} out of range");
    }
    assert_redacted(&renewed.access_token);
}
