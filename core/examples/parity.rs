//! The core's expectation for the cross-language parity test (`tests/parity/`): what a binding for
//! `<language>` (python, node, kotlin) must expose for every sample error and every configuration case,
//! in the canonical format of `tests/parity/README.md`.
//!
//! ```text
//! cargo run -p confirma --features ffi --example parity -- python tests/parity/configs.json
//! ```

use confirma::ffi::{describe_config, samples, BindingInfo, ConfigInput, ErrorInfo, OptionNaming, TimeUnit};
use serde_json::{json, Map, Value};

fn dump(e: &ErrorInfo) -> Value {
    json!({
        "kind": e.kind_name,
        "code": e.code,
        "message": e.message,
        "display": e.display,
        "status": e.status,
        "requestId": e.request_id,
        "retryable": e.retryable,
        "retryAfterMs": e.retry_after_ms,
        "fieldErrors": e.field_errors,
        "issues": e.issues,
        "source": e.source,
        "operation": e.operation,
        "connect": e.connect,
        "bodyExcerpt": e.body_excerpt,
        "recoveredToken": e.recovered_token.as_ref().map(|t| t.expose().to_string()),
        "rawResponse": e.raw_response.as_ref().map(|t| t.expose().to_string()),
        "cause": e.cause.as_deref().map(dump),
    })
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s == "NaN" => Some(f64::NAN),
        Value::String(s) if s == "Infinity" => Some(f64::INFINITY),
        Value::String(s) if s == "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let language = args.next().unwrap_or_else(|| "python".into());
    let cases_path = args.next().unwrap_or_else(|| "tests/parity/configs.json".into());
    let (time_unit, naming) = match language.as_str() {
        "python" => (TimeUnit::Seconds, OptionNaming::SnakeCase),
        "node" => (TimeUnit::Milliseconds, OptionNaming::CamelCaseWithUnits),
        "kotlin" => (TimeUnit::Milliseconds, OptionNaming::CamelCase),
        other => {
            eprintln!("unknown language {other} (python, node, kotlin)");
            std::process::exit(2);
        }
    };
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(&cases_path).expect("read the cases"))
        .expect("the cases are JSON");

    let mut errors = Map::new();
    for (name, e) in samples::errors() {
        errors.insert(name.to_string(), dump(&ErrorInfo::of(&e)));
    }

    let mut configs = Map::new();
    for case in cases["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name").to_string();
        if let Some(reason) = case.get("skip").and_then(|s| s.get(&language)).and_then(Value::as_str) {
            configs.insert(name, json!({ "skipped": reason }));
            continue;
        }
        let o = &case["options"];
        let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
        let duration = |k: &str| {
            o.get(k).and_then(number).map(|secs| if time_unit == TimeUnit::Milliseconds { secs * 1000.0 } else { secs })
        };
        let input = ConfigInput {
            binding: BindingInfo {
                language: language.clone(),
                language_version: "0".into(),
                binding_version: "0".into(),
            },
            time_unit,
            naming,
            environment: text("environment"),
            base_url: text("baseUrl"),
            timeout: duration("timeout"),
            connect_timeout: duration("connectTimeout"),
            total_timeout: duration("totalTimeout"),
            max_retries: o.get("maxRetries").and_then(number),
            max_response_bytes: o.get("maxResponseBytes").and_then(number),
            validation: text("validation"),
            user_agent_suffix: text("userAgentSuffix"),
            proxy: text("proxy"),
            root_certificates_pem: text("rootCertificatesPem"),
            language: text("language"),
        };
        let outcome = input.build().and_then(|c| confirma::OnboardingClient::new(c.clone()).map(|_| c));
        configs.insert(
            name,
            match outcome {
                Ok(c) => json!({ "ok": true, "config": describe_config(&c) }),
                Err(e) => {
                    json!({ "ok": false, "code": e.kind().code(), "kind": e.kind().as_str(), "message": e.message() })
                }
            },
        );
    }
    let out = json!({ "language": language, "errors": errors, "configs": configs });
    println!("{}", serde_json::to_string_pretty(&out).expect("serializable"));
}
