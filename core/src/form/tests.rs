//! The form kit's tests: every code has a message in every language, every rule produces its code, the
//! schema accepts the fixtures' valid payloads and its patterns agree with the rules.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::*;
use crate::validation::{parse_new_client, token_issue, POSTAL_CODE_RULES};

fn valid() -> Value {
    json!({
        "service": {"type": "LIFECYCLE", "partnerCode": "QUICK3"},
        "client": {"name": "Testiasiakas Oy", "businessCode": "1572860-0", "vatRegNbr": "FI15728600",
                   "postalAddress": "Testikuja 7", "postalCode": "00100", "postalDistrict": "HELSINKI",
                   "countryCode": "FI", "telephone": "", "email": "laskutus@testiasiakas.fi",
                   "website": "www.testiasiakas.fi", "languageCode": "FI"},
        "contacts": [{"role": "PRIMARY", "name": "Maija Meikäläinen", "email": "maija@testiasiakas.fi"}]
    })
}

fn with(mutate: impl Fn(&mut Value)) -> Value {
    let mut v = valid();
    mutate(&mut v);
    v
}

/// `(code, field, issues)`: one failing input per code, and where the issue must be.
fn rule_table() -> Vec<(&'static str, &'static str, Vec<FieldIssue>)> {
    let strict = |v: Value| validate_form(&v, ValidationMode::Strict);
    let token = |t: &str| {
        let (code, msg) = token_issue(t).unwrap();
        let issue = crate::Error::invalid_input("token", msg).issues()[0].clone();
        assert_eq!(issue.code, code, "the recognised code of a token problem is the rule's code");
        vec![issue]
    };
    vec![
        ("required", "client.name", strict(with(|v| v["client"]["name"] = json!("  ")))),
        ("type_string", "client.name", strict(with(|v| v["client"]["name"] = json!(5)))),
        ("type_object", "client", strict(with(|v| v["client"] = json!("Oy")))),
        ("type_array", "contacts", strict(with(|v| v["contacts"] = json!({"role": "PRIMARY"})))),
        ("form_object", "$", strict(json!([1, 2]))),
        ("unknown_field", "client.emial", strict(with(|v| v["client"]["emial"] = json!("x@y.fi")))),
        ("service_type_unknown", "service.type", strict(with(|v| v["service"]["type"] = json!("GOLD")))),
        ("contact_role_unknown", "contacts[0].role", strict(with(|v| v["contacts"][0]["role"] = json!("BOSS")))),
        ("country_code_format", "client.countryCode", strict(with(|v| v["client"]["countryCode"] = json!("XX")))),
        ("language_code_format", "client.languageCode", strict(with(|v| v["client"]["languageCode"] = json!("QQ")))),
        ("email_format", "client.email", strict(with(|v| v["client"]["email"] = json!("laskutus(at)yritys.fi")))),
        ("website_format", "client.website", strict(with(|v| v["client"]["website"] = json!("not a url")))),
        ("postal_code_format", "client.postalCode", strict(with(|v| v["client"]["postalCode"] = json!("0010")))),
        (
            "business_id_format",
            "client.businessCode",
            strict(with(|v| v["client"]["businessCode"] = json!("157286-0"))),
        ),
        (
            "business_id_check_digit",
            "client.businessCode",
            strict(with(|v| {
                v["client"]["businessCode"] = json!("1572860-1");
                v["client"]["vatRegNbr"] = json!("");
            })),
        ),
        ("vat_format", "client.vatRegNbr", strict(with(|v| v["client"]["vatRegNbr"] = json!("FI1572860")))),
        ("vat_mismatch", "client.vatRegNbr", strict(with(|v| v["client"]["vatRegNbr"] = json!("FI01120389")))),
        (
            "duplicate_role",
            "contacts[1].role",
            strict(with(|v| {
                v["contacts"].as_array_mut().unwrap().push(json!({"role": "primary", "name": "B", "email": "b@c.fi"}))
            })),
        ),
        ("primary_contact_required", "contacts", strict(with(|v| v["contacts"][0]["role"] = json!("TECHNICAL")))),
        ("token_too_long", "token", token(&"a".repeat(5000))),
        ("token_format", "token", token("tok en")),
        (
            "invalid",
            "clientId",
            crate::Error::invalid_input("clientId", "must be 1..=128 characters").issues().to_vec(),
        ),
        (
            "server",
            "client.name",
            crate::Error::server_validation(
                "bad".into(),
                [("client.name".to_string(), vec!["Name is on a sanctions list".to_string()])].into(),
                crate::ResponseMeta::default(),
            )
            .issues()
            .to_vec(),
        ),
    ]
}

#[test]
fn every_code_has_a_message_in_every_language() {
    let all: BTreeSet<&str> = codes().iter().copied().collect();
    assert_eq!(all.len(), codes().len(), "codes are unique");
    for lang in Language::ALL {
        for code in codes() {
            let t = template(code, lang).unwrap_or_else(|| panic!("code `{code}` has no {lang} message"));
            assert!(t.trim().len() > 5, "{code} ({lang}) is empty");
            assert!(t.ends_with('.'), "{code} ({lang}) is a sentence: {t}");
        }
        let listed: BTreeSet<&str> = catalog(lang).keys().copied().collect();
        assert_eq!(listed, all, "the {lang} catalogue has exactly the codes");
    }
    // The three languages differ (a copy-pasted English text in the Finnish table would pass the above).
    for code in codes() {
        let texts: BTreeSet<&str> = Language::ALL.iter().map(|l| template(code, *l).unwrap()).collect();
        assert_eq!(texts.len(), 3, "{code}: the same text in two languages");
    }
}

#[test]
fn every_rule_produces_its_code() {
    let table = rule_table();
    let produced: BTreeSet<&str> = table.iter().map(|(c, _, _)| *c).collect();
    assert_eq!(produced, CODES.iter().copied().collect::<BTreeSet<_>>(), "one failing input per rule code");
    for (code, field, issues) in &table {
        let issue =
            issues.iter().find(|i| i.code == *code).unwrap_or_else(|| panic!("`{code}` not produced; got {issues:?}"));
        assert_eq!(issue.field, *field, "{code}");
        for lang in Language::ALL {
            let t = template(code, lang).unwrap();
            for name in placeholders(t) {
                assert!(
                    issue.params.contains_key(name),
                    "{code} ({lang}) needs parameter `{name}`: {:?}",
                    issue.params
                );
            }
            let text = issue.user_message(lang);
            assert!(!text.contains('{') && !text.contains('}'), "{code} ({lang}): {text}");
        }
        // Server texts are this SDK's texts (the sandbox shares the rules): they are recognised as the same
        // code. The one exception: the check digit and the shape share one developer text.
        if !matches!(*code, "invalid" | "server") {
            let (recognised, _) =
                recognize(&issue.message).unwrap_or_else(|| panic!("`{}` not recognised", issue.message));
            let expected = if *code == "business_id_check_digit" { "business_id_format" } else { code };
            assert_eq!(recognised, expected, "{}", issue.message);
        }
    }
}

#[test]
fn issues_carry_todays_texts_and_params() {
    let v = with(|v| {
        v["client"]["vatRegNbr"] = json!("FI01120389");
        v["client"]["postalCode"] = json!("123");
        v["client"]["countryCode"] = json!("se");
    });
    let issues = validate_form(&v, ValidationMode::Strict);
    let fe = parse_new_client(&v, ValidationMode::Strict).unwrap_err();
    let grouped = crate::validation::field_errors_of(&issues);
    assert_eq!(grouped, fe, "the issues' messages are exactly the field errors");
    let postal = issues.iter().find(|i| i.code == "postal_code_format").unwrap();
    assert_eq!(
        postal.params,
        BTreeMap::from([
            ("country".to_string(), "SE".to_string()),
            ("length".to_string(), "5".to_string()),
            ("example".to_string(), "111 20".to_string()),
        ])
    );
    assert_eq!(postal.user_message(Language::Fi), "Postinumerossa pitää olla 5 numeroa, esimerkiksi 111 20.");
    assert_eq!(postal.user_message(Language::Sv), "Postnumret ska bestå av 5 siffror, till exempel 111 20.");
    // Lenient mode: presence and ISO codes only.
    assert!(validate_form(&with(|v| v["client"]["businessCode"] = json!("1")), ValidationMode::Lenient).is_empty());
    assert!(validate_form(&valid(), ValidationMode::Strict).is_empty());
    let vat = validate_form(&with(|v| v["client"]["vatRegNbr"] = json!("FI01120389")), ValidationMode::Strict);
    assert_eq!(vat[0].params["expected"], "FI15728600");
}

#[test]
fn languages_parse() {
    for (s, l) in [
        ("fi", Language::Fi),
        ("FI", Language::Fi),
        ("fi-FI", Language::Fi),
        ("sv_SE", Language::Sv),
        (" en ", Language::En),
    ] {
        assert_eq!(s.parse::<Language>().unwrap(), l, "{s}");
    }
    for bad in ["", "de", "finnish", "f"] {
        let e = bad.parse::<Language>().unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Configuration, "{bad}");
    }
    assert_eq!(Language::Sv.to_string(), "sv");
    assert_eq!(Language::default(), Language::En);
}

#[test]
fn missing_fields_of_a_prefilled_form() {
    let prefilled = json!({"client": {"name": "Testiasiakas Oy", "businessCode": "1572860-0", "countryCode": "FI",
                                      "postalCode": "00100"}});
    let missing: Vec<String> = missing_fields(&prefilled).into_iter().map(|i| i.field).collect();
    assert_eq!(
        missing,
        [
            "client.email",
            "client.languageCode",
            "client.postalAddress",
            "client.postalDistrict",
            "contacts",
            "service.type"
        ]
    );
    assert!(missing_fields(&valid()).is_empty());
    let mut no_partner = valid();
    no_partner["service"].as_object_mut().unwrap().remove("partnerCode");
    assert!(missing_fields(&no_partner).is_empty(), "the partner code is the partner's, not the user's");
    let half_contact = with(|v| v["contacts"][0]["email"] = json!(""));
    assert_eq!(
        missing_fields(&half_contact).iter().map(|i| i.field.as_str()).collect::<Vec<_>>(),
        ["contacts[0].email"]
    );
    for junk in [json!(null), json!(3), json!("x"), json!([])] {
        let m = missing_fields(&junk);
        assert!(m.iter().all(|i| i.code == "required"));
        assert_eq!(m.len(), 10, "{junk}: every required field and the contacts");
    }
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::draft202012::options().build(schema).expect("the generated schema compiles")
}

/// Every `newClient` in the scenario files.
fn fixture_payloads() -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let mut out = Vec::new();
    fn collect(v: &Value, name: &str, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    if k == "newClient" {
                        out.push((name.to_string(), x.clone()));
                    } else {
                        collect(x, name, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| collect(x, name, out)),
            _ => {}
        }
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            collect(&v, &path.file_name().unwrap().to_string_lossy(), &mut out);
        }
    }
    let spec: Value = serde_yaml::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/cfis-onboarding.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    let examples =
        &spec["paths"]["/api/v1/partner/client"]["post"]["requestBody"]["content"]["application/json"]["examples"];
    for (name, e) in examples.as_object().unwrap() {
        out.push((format!("openapi:{name}"), e["value"].clone()));
    }
    out
}

#[test]
fn schema_accepts_every_valid_fixture_and_rejects_shape_errors() {
    let payloads = fixture_payloads();
    let mut accepted = 0;
    for lang in Language::ALL {
        let v = validator(&schema(lang));
        for (name, p) in &payloads {
            if parse_new_client(p, ValidationMode::Strict).is_ok() {
                let errors: Vec<String> = v.iter_errors(p).map(|e| format!("{e} at {}", e.instance_path())).collect();
                assert!(errors.is_empty(), "{name} ({lang}): valid for the core, not for the schema: {errors:?}");
                accepted += 1;
            }
        }
        assert!(v.is_valid(&valid()));
    }
    assert!(accepted >= 3 * 5, "only {accepted} valid fixtures found");
    // What the schema can express, it rejects like the core.
    let v = validator(&schema(Language::En));
    for (code, _, _) in rule_table() {
        let input = match code {
            "required" => with(|v| v["client"]["name"] = json!("")),
            "type_string" => with(|v| v["client"]["name"] = json!(5)),
            "type_object" => with(|v| v["client"] = json!("Oy")),
            "type_array" => with(|v| v["contacts"] = json!({})),
            "form_object" => json!([1]),
            "unknown_field" => with(|v| v["client"]["emial"] = json!("x")),
            "service_type_unknown" => with(|v| v["service"]["type"] = json!("GOLD")),
            "contact_role_unknown" => with(|v| v["contacts"][0]["role"] = json!("BOSS")),
            "country_code_format" => with(|v| v["client"]["countryCode"] = json!("FIN")),
            "language_code_format" => with(|v| v["client"]["languageCode"] = json!("fin")),
            "postal_code_format" => with(|v| v["client"]["postalCode"] = json!("0010")),
            "business_id_format" => with(|v| v["client"]["businessCode"] = json!("157286-0")),
            "vat_format" => with(|v| v["client"]["vatRegNbr"] = json!("FI1572860")),
            "primary_contact_required" => with(|v| v["contacts"][0]["role"] = json!("TECHNICAL")),
            // Not expressible in JSON Schema (check digit, cross-field, uniqueness, URL/email parsing) or
            // not about the payload.
            _ => continue,
        };
        assert!(!v.is_valid(&input), "{code}: the schema accepts {input}");
        assert!(!validate_form(&input, ValidationMode::Strict).is_empty(), "{code}");
    }
}

#[test]
fn patterns_agree_with_the_rules() {
    let matches =
        |pattern: &str, s: &str| validator(&json!({"type": "string", "pattern": pattern})).is_valid(&json!(s));
    let ids =
        ["1572860-0", "0112038-9", "1572860-1", "157286-0", "15728600", "1572860-00", "a572860-0", "", "1572860_0"];
    for id in ids {
        let shape = matches(crate::validation::BUSINESS_ID_PATTERN, id);
        let core = validate_form(
            &with(|v| {
                v["client"]["businessCode"] = json!(id);
                v["client"]["vatRegNbr"] = json!("");
            }),
            ValidationMode::Strict,
        );
        let core_shape_ok = !core.iter().any(|i| i.code == "business_id_format" || i.code == "required");
        assert_eq!(shape, core_shape_ok, "business id {id:?}: pattern {shape}, core {core:?}");
    }
    for vat in ["FI15728600", "fi15728600", "FI1572860", "SE15728600", "FI157286000", "FI1572860a"] {
        let shape = matches(crate::validation::VAT_NUMBER_PATTERN, vat);
        let core = validate_form(&with(|v| v["client"]["vatRegNbr"] = json!(vat)), ValidationMode::Strict);
        assert_eq!(shape, !core.iter().any(|i| i.code == "vat_format"), "vat {vat:?}");
    }
    for rule in POSTAL_CODE_RULES {
        for code in ["00100", "0150", "111 20", "11120", "1234", "123456", "12a45", "1 2345"] {
            let pattern = matches(rule.pattern, code);
            let core = crate::validation::postal_code_problem(rule.country, code).is_none();
            assert_eq!(pattern, core, "{} postal code {code:?}", rule.country);
        }
        assert!(matches(rule.pattern, rule.example), "{}: the example matches", rule.country);
    }
    for code in ["FI", "se", "XX", "FIN", "F1", ""] {
        let pattern = matches(crate::validation::TWO_LETTER_CODE_PATTERN, code);
        // The pattern is the shape; the list of codes is the core's (XX has the shape, is not a country).
        assert_eq!(pattern, code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()), "{code:?}");
        if crate::validation::is_country_code(code) {
            assert!(pattern, "{code}");
        }
    }
}

#[test]
fn schema_shape_and_localization() {
    let fi = schema(Language::Fi);
    let sv = schema(Language::Sv);
    let en = schema(Language::En);
    assert_eq!(fi["$schema"], "https://json-schema.org/draft/2020-12/schema");
    let bid = |s: &Value| s["properties"]["client"]["properties"]["businessCode"]["title"].clone();
    assert_eq!((bid(&fi), bid(&sv), bid(&en)), (json!("Y-tunnus"), json!("FO-nummer"), json!("Business ID")));
    let vat = |s: &Value| s["properties"]["client"]["properties"]["vatRegNbr"]["title"].clone();
    assert_eq!((vat(&fi), vat(&sv)), (json!("ALV-numero"), json!("Momsregistreringsnummer")));
    for s in [&fi, &sv, &en] {
        let form = &s["x-confirma-form"];
        // Every field of the table is in the schema with a title and a description.
        let order: Vec<&str> = form["fieldOrder"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(order, FIELDS.iter().map(|f| f.path).collect::<Vec<_>>());
        for f in FIELDS {
            let e = &form["fields"][f.path];
            assert!(
                !e["title"].as_str().unwrap().is_empty() && !e["description"].as_str().unwrap().is_empty(),
                "{}",
                f.path
            );
        }
        // Groups: every visible field exactly once, in display order; the partner code in none.
        let grouped: Vec<&str> = form["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["fields"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()))
            .collect();
        let visible: Vec<&str> = FIELDS.iter().filter(|f| !f.hidden).map(|f| f.path).collect();
        assert_eq!(grouped, visible);
        assert_eq!(form["fields"]["service.partnerCode"]["hidden"], true);
        assert_eq!(form["uiRequirements"][0]["id"], "acceptTerms");
        assert_eq!(form["uiRequirements"][0]["required"], true);
        assert_eq!(form["messages"].as_object().unwrap().len(), codes().len());
        let labels = s["properties"]["service"]["properties"]["type"]["x-confirma-labels"].as_object().unwrap();
        assert_eq!(labels.keys().collect::<Vec<_>>(), ["COOP", "INTERMEDIATION", "LIFECYCLE"]);
        assert!(labels.values().all(|l| !l.as_str().unwrap().is_empty()));
        let prefill = form["prefill"].as_array().unwrap();
        assert!(prefill.contains(&json!("client.businessCode")) && !prefill.contains(&json!("service.type")));
    }
    assert_eq!(fi["x-confirma-form"]["language"], "fi");
    assert_ne!(fi["title"], sv["title"]);
}

/// Blanking a field the schema marks required gives `required` there; blanking an optional one gives nothing.
#[test]
fn schema_required_is_the_rules_required() {
    let s = schema(Language::En);
    for f in FIELDS {
        let concrete = f.path.replace("[]", "[0]");
        let required = s["x-confirma-form"]["fields"][f.path]["required"].as_bool().unwrap();
        let input = with(|v| {
            let (section, name) = concrete.split_once('.').unwrap();
            let obj = if section == "contacts[0]" { &mut v["contacts"][0] } else { &mut v[section] };
            obj[name] = json!("");
        });
        let issues = validate_form(&input, ValidationMode::Strict);
        let got = issues.iter().any(|i| i.field == concrete && i.code == "required");
        assert_eq!(got, required, "{concrete}: {issues:?}");
        if !required {
            assert!(issues.is_empty(), "{concrete}: {issues:?}");
        }
    }
}

#[test]
fn errors_carry_issues_in_the_clients_language() {
    let fe: crate::FieldErrors =
        [("client.email".to_string(), vec!["The Email field is not a valid e-mail address.".to_string()])].into();
    let e = crate::Error::server_validation("rejected".into(), fe.clone(), crate::ResponseMeta::default())
        .with_language(Language::Fi);
    assert_eq!(e.field_errors(), &fe, "field_errors unchanged");
    assert_eq!(e.issues()[0].code, "email_format");
    assert_eq!(e.issues()[0].message, "The Email field is not a valid e-mail address.", "the server's text is kept");
    assert_eq!(e.language(), Language::Fi);
    assert!(e.issues()[0].user_message(e.language()).starts_with("Tarkista sähköpostiosoite"));
    let e = crate::Error::client_validation(
        [("contacts".to_string(), vec!["a PRIMARY contact is required".to_string()])].into(),
    );
    assert_eq!(e.issues()[0].code, "primary_contact_required");
    assert!(crate::Error::configuration("x").issues().is_empty());
}
