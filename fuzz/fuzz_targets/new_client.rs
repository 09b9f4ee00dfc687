//! Arbitrary bytes → JSON → `parse_new_client` in both modes; what it accepts must also pass
//! `validate_new_client` once normalized, survive a serde round trip, and be accepted again when the
//! wire form is parsed (the sandbox/server parses exactly what the SDK sends).
#![no_main]

use confirma::validation::{parse_new_client, validate_new_client, ValidationMode};
use confirma::NewClient;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    for mode in [ValidationMode::Strict, ValidationMode::Lenient] {
        check(&value, mode);
    }
    // Serde's own decoding of the same input (NewClient::from_json) must not panic either.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = NewClient::from_json(text);
    }
});

fn check(value: &serde_json::Value, mode: ValidationMode) {
    let parsed = match parse_new_client(value, mode) {
        Ok(c) => c,
        Err(errors) => {
            assert!(!errors.is_empty(), "an error without field errors");
            return;
        }
    };
    let wire = parsed.normalized();
    assert_eq!(wire.normalized(), wire, "normalized() is not idempotent");
    if let Err(e) = validate_new_client(&wire, mode) {
        panic!("accepted by parse_new_client but its normalized form fails validation ({mode}): {e:?}");
    }
    let json = serde_json::to_value(&wire).expect("a NewClient serialises");
    let back: NewClient = serde_json::from_value(json.clone()).expect("the wire form deserialises");
    assert_eq!(back, wire, "serde round trip changed the client");
    match parse_new_client(&json, mode) {
        Ok(again) => assert_eq!(again, wire, "parsing the wire form changed the client"),
        Err(e) => panic!("the wire form of an accepted client is rejected ({mode}): {e:?}"),
    }
}
