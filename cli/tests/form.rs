//! `confirma form`: the schema, a form check with end-user messages in each language, and the exit codes;
//! the server side of the same codes through `client create` against a sandbox.

use std::process::{Command, Stdio};

use serde_json::{json, Value};

mod common;
use common::{SandboxProc, BIN};

fn run(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    common::run_cli(args, &[], stdin)
}

fn form(business_id: &str) -> Value {
    json!({
        "service": {"type": "LIFECYCLE", "partnerCode": "P1"},
        "client": {"name": "Lomake Oy", "businessCode": business_id, "postalAddress": "Katu 1", "postalCode": "00100",
                   "postalDistrict": "HELSINKI", "countryCode": "FI", "email": "info@lomake.fi", "languageCode": "FI"},
        "contacts": [{"role": "PRIMARY", "name": "Liisa Lomake", "email": "liisa@lomake.fi"}]
    })
}

#[test]
fn schema_in_each_language_is_pretty_json_from_the_core() {
    for (lang, title) in [("fi", "Y-tunnus"), ("sv", "FO-nummer"), ("en", "Business ID")] {
        let (code, out, err) = run(&["form", "schema", "--lang", lang], None);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("\n  \""), "pretty-printed");
        let schema: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(schema, confirma::form::schema(lang.parse().unwrap()), "exactly the core's schema");
        assert_eq!(schema["properties"]["client"]["properties"]["businessCode"]["title"], title);
        assert_eq!(schema["x-confirma-form"]["language"], lang);
    }
    let (code, _, err) = run(&["form", "schema", "--lang", "de"], None);
    assert_eq!(code, 2, "an unknown language is a usage/configuration error");
    assert!(err.contains("`fi`, `sv` or `en`"), "{err}");
}

#[test]
fn check_shows_end_user_messages_and_exits_3() {
    let dir = std::env::temp_dir().join(format!("confirma-cli-form-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, form("1572860-1").to_string()).unwrap();
    let bad = bad.to_string_lossy().to_string();

    let (code, out, err) = run(&["form", "check", &bad, "--lang", "fi"], None);
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.contains("client.businessCode: Y-tunnus ei ole oikein"), "{out}");
    assert!(out.contains("[business_id_check_digit]"), "{out}");
    assert!(err.contains("1 problem"), "{err}");

    let (code, out, _) = run(&["form", "check", &bad, "--lang", "sv", "--json"], None);
    assert_eq!(code, 3);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["language"], "sv");
    assert_eq!(v["issues"][0]["field"], "client.businessCode");
    assert_eq!(v["issues"][0]["code"], "business_id_check_digit");
    assert!(v["issues"][0]["userMessage"].as_str().unwrap().starts_with("FO-numret"));
    assert!(
        v["issues"][0]["message"].as_str().unwrap().starts_with("must be a Finnish Business ID"),
        "developer text kept"
    );

    // From stdin; a valid form exits 0; lenient mode skips the check digit.
    let good = form("1572860-0").to_string();
    let (code, out, err) = run(&["form", "check", "-", "--lang", "en"], Some(&good));
    assert_eq!((code, out.as_str()), (0, "the form is valid\n"), "{err}");
    let (code, _, _) = run(&["form", "check", &bad, "--validation", "lenient"], None);
    assert_eq!(code, 0);

    // A prefilled form: what is missing.
    let prefilled =
        json!({"client": {"name": "Lomake Oy", "businessCode": "1572860-0", "countryCode": "FI"}}).to_string();
    let (code, out, _) = run(&["form", "check", "-", "--missing", "--json", "--lang", "fi"], Some(&prefilled));
    assert_eq!(code, 3);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let fields: Vec<&str> = v["issues"].as_array().unwrap().iter().map(|i| i["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        [
            "client.email",
            "client.languageCode",
            "client.postalAddress",
            "client.postalCode",
            "client.postalDistrict",
            "contacts",
            "service.type"
        ]
    );
    assert!(v["issues"].as_array().unwrap().iter().all(|i| i["userMessage"] == "Tämä tieto on pakollinen."));

    // Not JSON, a missing file: typed exits, never a panic.
    let (code, _, err) = run(&["form", "check", "-"], Some("{not json"));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("not valid JSON"), "{err}");
    let (code, _, _) = run(&["form", "check", "/nonexistent/form.json"], None);
    assert_eq!(code, 2);
    for odd in ["[]", "null", "\"x\"", "{\"contacts\": 5, \"client\": []}"] {
        let (code, out, err) = run(&["form", "check", "-", "--json"], Some(odd));
        assert_eq!(code, 3, "{odd}: {err}");
        assert!(serde_json::from_str::<Value>(out.trim()).is_ok(), "{odd}: {out}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn messages_lists_the_catalogue() {
    let (code, out, _) = run(&["form", "messages", "--lang", "sv"], None);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_object().unwrap().len(), confirma::form::codes().len());
    assert_eq!(v["required"], "Uppgiften är obligatorisk.");
}

/// A server-side rejection (the sandbox's lenient-mode check is skipped with --validation lenient, so the
/// sandbox's strict rules answer 400): the JSON error carries the issues with recognised codes.
#[test]
fn server_field_errors_carry_recognised_codes() {
    let sb = SandboxProc::start(&[]);
    let ppt = sb.info["provisioningToken"].as_str().unwrap().to_string();
    let partner = sb.info["partnerCode"].as_str().unwrap().to_string();
    let dir = std::env::temp_dir().join(format!("confirma-cli-form-srv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut body = form("1572860-1");
    body["service"]["partnerCode"] = json!(partner);
    let file = dir.join("client.json");
    std::fs::write(&file, body.to_string()).unwrap();
    let url = sb.url().to_string();
    let out = Command::new(BIN)
        .args([
            "client",
            "create",
            "--base-url",
            &url,
            "--file",
            file.to_str().unwrap(),
            "--json",
            "--validation",
            "lenient",
        ])
        .env("CONFIRMA_PROVISIONING_TOKEN", &ppt)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["error"]["source"], "server");
    let issue = &v["error"]["issues"][0];
    assert_eq!(issue["field"], "client.businessCode");
    assert_eq!(issue["code"], "business_id_format", "the sandbox's text is recognised");
    std::fs::remove_dir_all(&dir).ok();
}
