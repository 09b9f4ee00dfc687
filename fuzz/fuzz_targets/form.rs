//! Arbitrary bytes → JSON → `form::validate_form` (strict and lenient) and `form::missing_fields`: no
//! panic on any shape; every issue carries a known code whose end-user message renders in every language
//! without a leftover placeholder; the issues are exactly `parse_new_client`'s field errors; `[]` means
//! the form parses; `missing_fields` lists only `required` issues and never the partner's code.
#![no_main]

use confirma::form::{self, Language};
use confirma::validation::{field_errors_of, parse_new_client, ValidationMode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    for mode in [ValidationMode::Strict, ValidationMode::Lenient] {
        let issues = form::validate_form(&value, mode);
        for i in &issues {
            assert!(form::codes().contains(&i.code.as_str()), "unknown code {}", i.code);
            assert!(!i.message.is_empty(), "an issue without developer text");
            for lang in Language::ALL {
                let text = i.user_message(lang);
                assert!(!text.is_empty() && !text.contains('{'), "{} ({lang}): {text}", i.code);
            }
        }
        match parse_new_client(&value, mode) {
            Ok(_) => assert!(issues.is_empty(), "parsed, yet issues: {issues:?}"),
            Err(fe) => assert_eq!(field_errors_of(&issues), fe, "issues and field errors differ"),
        }
    }
    for i in form::missing_fields(&value) {
        assert_eq!(i.code, "required");
        assert_ne!(i.field, "service.partnerCode");
    }
});
