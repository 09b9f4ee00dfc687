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
            // The redacted token's own Debug text is not a leak (the token may be "ecretToken([REDACT").
            let shown = format!("{e:?}").replace(&format!("{:?}", SecretToken::new("")), "");
            if let Some(t) = &e.recovered_token {
                assert!(token_problem(t.expose()).is_none(), "created: unusable token recovered");
                assert_redacted(t);
                // Short tokens can coincide with words of the explanation ("clientId"); long ones never do.
                if t.expose().len() >= 12 {
                    assert!(!shown.contains(t.expose()), "created: the error shows the recovered token: {shown}");
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
