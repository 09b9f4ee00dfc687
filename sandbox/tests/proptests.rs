//! Property tests against a running sandbox (in-process, over loopback): arbitrary JSON bodies (and
//! arbitrary bytes) POSTed to the create endpoint and the admin API never get a 5xx and never kill the
//! handler (an answer always comes back), in strict and lenient mode. ~200 cases in all.

use confirma_sandbox::{Sandbox, SandboxConfig, ValidationMode};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

const PPT: &str = "cfis_ppt_proptest_token_0123456789";

struct Env {
    rt: tokio::runtime::Runtime,
    sb: Sandbox,
    http: reqwest::Client,
}

impl Env {
    fn start(validation: ValidationMode) -> Env {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let config = SandboxConfig { provisioning_token: Some(PPT.into()), validation, ..Default::default() };
        let sb = rt.block_on(Sandbox::start(config)).unwrap();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        Env { rt, sb, http }
    }

    /// POSTs `body`; the status and the body text. A transport error (no answer) fails the test.
    fn post(&self, path: &str, body: Vec<u8>) -> (u16, String) {
        let url = format!("{}{path}", self.sb.base_url());
        self.rt.block_on(async {
            let resp = self
                .http
                .post(url)
                .header("X-Api-Key", PPT)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("no answer from the sandbox on {path}: {e}"));
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap_or_default())
        })
    }
}

fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,20}",
        "[\\x00€ڎ\u{0301}\u{200f}\u{202e}\u{feff}\u{1f600}0-9A-Za-z @.:/\\-]{0,12}",
        "(FI|€|ڎ)[0-9€ڎ]{0,9}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        hostile().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 20, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("service".to_string()),
                    Just("client".to_string()),
                    Just("contacts".to_string()),
                    Just("advanceSeconds".to_string()),
                    Just("validation".to_string()),
                    Just("tokenTtlSeconds".to_string()),
                    hostile(),
                ],
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn valid_client(seed: u32) -> Value {
    let bid = confirma_sandbox::valid_business_id(seed);
    json!({
        "service": {"type": "LIFECYCLE", "partnerCode": "QUICK3"},
        "client": {"name": "Testiasiakas Oy", "businessCode": bid, "vatRegNbr": format!("FI{}", bid.replace('-', "")),
                   "postalAddress": "Testikuja 7", "postalCode": "00100", "postalDistrict": "HELSINKI",
                   "countryCode": "FI", "email": "laskutus@testiasiakas.fi", "languageCode": "FI"},
        "contacts": [{"role": "PRIMARY", "name": "Maija Meikäläinen", "email": "maija@testiasiakas.fi"}]
    })
}

const FIELDS: [(&str, &str); 12] = [
    ("service", "type"),
    ("service", "partnerCode"),
    ("client", "name"),
    ("client", "businessCode"),
    ("client", "vatRegNbr"),
    ("client", "postalCode"),
    ("client", "countryCode"),
    ("client", "email"),
    ("client", "website"),
    ("client", "languageCode"),
    ("contacts", "role"),
    ("contacts", "email"),
];

/// A body for the create endpoint: arbitrary JSON, arbitrary bytes, or a valid client with hostile
/// values in some fields (or a whole section replaced by arbitrary JSON).
fn create_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        json_value().prop_map(|v| v.to_string().into_bytes()),
        any::<Vec<u8>>(),
        (any::<u32>(), proptest::collection::vec(proptest::option::weighted(0.3, hostile()), FIELDS.len())).prop_map(
            |(seed, values)| {
                let mut v = valid_client(seed);
                for ((section, key), value) in FIELDS.iter().zip(values) {
                    if let Some(s) = value {
                        let node = if *section == "contacts" { &mut v[section][0][key] } else { &mut v[section][key] };
                        *node = Value::String(s);
                    }
                }
                v.to_string().into_bytes()
            }
        ),
        (any::<u32>(), prop_oneof![Just("service"), Just("client"), Just("contacts")], json_value()).prop_map(
            |(seed, section, value)| {
                let mut v = valid_client(seed);
                v[section] = value;
                v.to_string().into_bytes()
            }
        ),
    ]
}

fn run(env: &Env, cases: u32, strategy: impl Strategy<Value = (u8, Vec<u8>)>) {
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    runner
        .run(&strategy, |(target, body)| {
            let path = match target % 8 {
                0 => "/_sandbox/clock",
                1 => "/_sandbox/config",
                _ => "/api/v1/partner/client",
            };
            let (status, text) = env.post(path, body);
            prop_assert!(status < 500, "{path}: {status} {text}");
            if path == "/_sandbox/config" {
                // Undo any config change so that later cases run against the configuration under test.
                env.post("/_sandbox/reset", Vec::new());
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_bodies_never_get_a_5xx_strict() {
    let env = Env::start(ValidationMode::Strict);
    run(&env, 120, (any::<u8>(), create_body()));
}

#[test]
fn arbitrary_bodies_never_get_a_5xx_lenient() {
    let env = Env::start(ValidationMode::Lenient);
    run(&env, 80, (any::<u8>(), create_body()));
}

/// The input: the sandbox's handler task used to die on it (no answer at all).
#[test]
fn multi_byte_vat_number_is_a_400_with_a_field_error() {
    let env = Env::start(ValidationMode::Strict);
    for vat in ["€1234567", "\u{0}ڎ1234567"] {
        let mut v = valid_client(7);
        v["client"]["vatRegNbr"] = Value::String(vat.into());
        let (status, text) = env.post("/api/v1/partner/client", v.to_string().into_bytes());
        assert_eq!(status, 400, "{text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert!(
            body["errors"].as_object().is_some_and(|e| e.keys().any(|k| k.to_ascii_lowercase().contains("vatregnbr"))),
            "{text}"
        );
    }
}
