//! `parse_retry_after` on arbitrary text: never panics, never more than one hour.
#![no_main]

use confirma::response::parse_retry_after;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|value: &str| {
    if let Some(d) = parse_retry_after(value) {
        assert!(d <= std::time::Duration::from_secs(3600), "{value:?} gave {d:?}");
    }
});
