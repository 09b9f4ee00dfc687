//! Hostile strings (any Unicode: multi-byte, combining marks, RTL, NUL, ...) in every field of an
//! otherwise valid new client, strict and lenient: the validators never panic, and the same invariants
//! as `new_client` hold. Each field keeps its valid value, is replaced by an arbitrary string, or has a
//! character range of its valid value replaced by an arbitrary string (so near-valid values like
//! `"€5728600"` for `vatRegNbr` with country FI come up quickly).
#![no_main]

use arbitrary::Arbitrary;
use confirma::validation::{parse_new_client, validate_new_client, ValidationMode};
use confirma::NewClient;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

#[derive(Arbitrary, Debug)]
enum Field {
    Keep,
    Replace(String),
    Splice { start: u8, end: u8, insert: String },
    Remove,
}

#[derive(Arbitrary, Debug)]
struct Input {
    country: Country,
    extra_key: Option<String>,
    fields: [Field; 17],
}

#[derive(Arbitrary, Debug)]
enum Country {
    Fi,
    Se,
    No,
    Other(String),
}

const PATHS: [(&str, &str); 17] = [
    ("service", "type"),
    ("service", "partnerCode"),
    ("client", "name"),
    ("client", "businessCode"),
    ("client", "vatRegNbr"),
    ("client", "postalAddress"),
    ("client", "postalCode"),
    ("client", "postalDistrict"),
    ("client", "countryCode"),
    ("client", "telephone"),
    ("client", "email"),
    ("client", "website"),
    ("client", "languageCode"),
    ("contacts", "role"),
    ("contacts", "name"),
    ("contacts", "email"),
    ("contacts", "telephone"),
];

fn valid(country: &str) -> Value {
    json!({
        "service": {"type": "LIFECYCLE", "partnerCode": "QUICK3"},
        "client": {"name": "Testiasiakas Oy", "businessCode": "1572860-0", "vatRegNbr": "FI15728600",
                   "postalAddress": "Testikuja 7", "postalCode": "00100", "postalDistrict": "HELSINKI",
                   "countryCode": country, "telephone": "+358 40 123 4567", "email": "laskutus@testiasiakas.fi",
                   "website": "https://www.testiasiakas.fi", "languageCode": "FI"},
        "contacts": [{"role": "PRIMARY", "name": "Maija Meikäläinen", "email": "maija@testiasiakas.fi",
                      "telephone": "+358 40 765 4321"}]
    })
}

fn slot<'a>(v: &'a mut Value, section: &str) -> &'a mut serde_json::Map<String, Value> {
    let node = if section == "contacts" { &mut v[section][0] } else { &mut v[section] };
    node.as_object_mut().expect("an object")
}

fuzz_target!(|input: Input| {
    let country = match &input.country {
        Country::Fi => "FI",
        Country::Se => "SE",
        Country::No => "NO",
        Country::Other(s) => s.as_str(),
    };
    let mut v = valid(country);
    for ((section, key), field) in PATHS.iter().zip(&input.fields) {
        let obj = slot(&mut v, section);
        match field {
            Field::Keep => {}
            Field::Remove => {
                obj.remove(*key);
            }
            Field::Replace(s) => {
                obj.insert(key.to_string(), Value::String(s.clone()));
            }
            Field::Splice { start, end, insert } => {
                let old: Vec<char> = obj.get(*key).and_then(Value::as_str).unwrap_or_default().chars().collect();
                let a = (*start as usize).min(old.len());
                let b = (*end as usize).clamp(a, old.len());
                let new: String =
                    old[..a].iter().chain(insert.chars().collect::<Vec<_>>().iter()).chain(&old[b..]).collect();
                obj.insert(key.to_string(), Value::String(new));
            }
        }
    }
    if let Some(k) = &input.extra_key {
        slot(&mut v, "client").insert(k.clone(), Value::String("x".into()));
    }
    for mode in [ValidationMode::Strict, ValidationMode::Lenient] {
        if let Ok(c) = parse_new_client(&v, mode) {
            let wire = c.normalized();
            assert_eq!(wire.normalized(), wire);
            if let Err(e) = validate_new_client(&wire, mode) {
                panic!("accepted but the normalized form fails validation ({mode}): {e:?}");
            }
            let json = serde_json::to_value(&wire).expect("serialises");
            let back: NewClient = serde_json::from_value(json.clone()).expect("deserialises");
            assert_eq!(back, wire);
            assert!(parse_new_client(&json, mode).is_ok(), "the wire form of an accepted client is rejected");
        }
    }
});
