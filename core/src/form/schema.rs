//! The onboarding form's JSON Schema (2020-12), generated from the core's rules: the required fields,
//! patterns and enumerations come from [`crate::validation`] and [`crate::models`], the texts from the
//! tables below. Nothing in the output is written by hand twice.

use serde_json::{json, Map, Value};

use super::{catalog, Language};
use crate::models::{ContactRole, ServiceType};
use crate::validation::{
    BUSINESS_ID_PATTERN, EMAIL_MAX_LENGTH, EXAMPLE_BUSINESS_ID, EXAMPLE_VAT_NUMBER, POSTAL_CODE_RULES,
    REQUIRED_CLIENT_FIELDS, REQUIRED_CONTACT_FIELDS, REQUIRED_SERVICE_FIELDS, TWO_LETTER_CODE_PATTERN,
    VAT_NUMBER_PATTERN,
};

/// Texts in the order of [`Language::ALL`]: Finnish, Swedish, English.
type Texts = [&'static str; 3];

/// One field of the form, in display order.
#[derive(Debug, Clone, Copy)]
pub struct FormField {
    /// The API field path; array items as `contacts[]`.
    pub path: &'static str,
    /// `service`, `company` or `contacts`.
    pub group: &'static str,
    /// The HTML input type: `text`, `email`, `tel`, `select`.
    pub input: &'static str,
    /// The HTML `autocomplete` token.
    pub autocomplete: Option<&'static str>,
    /// Whether partners commonly prefill it from their own records.
    pub prefill: bool,
    /// Filled by the partner, not shown to the user (`service.partnerCode`).
    pub hidden: bool,
    /// Title in fi, sv, en.
    pub title: Texts,
    /// Description in fi, sv, en.
    pub description: Texts,
}

const fn f(
    path: &'static str,
    group: &'static str,
    input: &'static str,
    autocomplete: Option<&'static str>,
    prefill: bool,
    title: Texts,
    description: Texts,
) -> FormField {
    FormField { path, group, input, autocomplete, prefill, hidden: false, title, description }
}

/// Every field of the form, in display order.
pub const FIELDS: [FormField; 17] = [
    f(
        "service.type",
        "service",
        "select",
        None,
        false,
        ["Palvelu", "Tjänst", "Service"],
        [
            "Confirma Financen palvelu, jonka yritys ottaa käyttöön.",
            "Den tjänst från Confirma Finance som företaget tar i bruk.",
            "The Confirma Finance service the company signs up for.",
        ],
    ),
    FormField {
        path: "service.partnerCode",
        group: "service",
        input: "hidden",
        autocomplete: None,
        prefill: true,
        hidden: true,
        title: ["Kumppanitunnus", "Partnerkod", "Partner code"],
        description: [
            "Kumppanin tunnus. Kumppani täyttää sen, ei käyttäjä.",
            "Partnerns kod. Partnern fyller i den, inte användaren.",
            "The partner's code. Filled in by the partner, not by the user.",
        ],
    },
    f(
        "client.name",
        "company",
        "text",
        Some("organization"),
        true,
        ["Yrityksen nimi", "Företagets namn", "Company name"],
        ["Yrityksen virallinen nimi.", "Företagets officiella namn.", "The company's official name."],
    ),
    f(
        "client.businessCode",
        "company",
        "text",
        None,
        true,
        ["Y-tunnus", "FO-nummer", "Business ID"],
        [
            "Yrityksen Y-tunnus, esimerkiksi 1572860-0.",
            "Företagets FO-nummer, till exempel 1572860-0.",
            "The company's Finnish Business ID, for example 1572860-0.",
        ],
    ),
    f(
        "client.vatRegNbr",
        "company",
        "text",
        None,
        true,
        ["ALV-numero", "Momsregistreringsnummer", "VAT number"],
        [
            "Vapaaehtoinen. FI ja Y-tunnuksen numerot ilman väliviivaa, esimerkiksi FI15728600.",
            "Frivilligt. FI och FO-numrets siffror utan bindestreck, till exempel FI15728600.",
            "Optional. FI followed by the Business ID's digits without the hyphen, for example FI15728600.",
        ],
    ),
    f(
        "client.postalAddress",
        "company",
        "text",
        Some("street-address"),
        true,
        ["Katuosoite", "Gatuadress", "Street address"],
        ["Yrityksen postiosoite.", "Företagets postadress.", "The company's postal address."],
    ),
    f(
        "client.postalCode",
        "company",
        "text",
        Some("postal-code"),
        true,
        ["Postinumero", "Postnummer", "Postal code"],
        ["Esimerkiksi 00100.", "Till exempel 00100.", "For example 00100."],
    ),
    f(
        "client.postalDistrict",
        "company",
        "text",
        Some("address-level2"),
        true,
        ["Postitoimipaikka", "Postanstalt", "Post office"],
        ["Esimerkiksi HELSINKI.", "Till exempel HELSINGFORS.", "For example HELSINKI."],
    ),
    f(
        "client.countryCode",
        "company",
        "text",
        Some("country"),
        true,
        ["Maa", "Land", "Country"],
        [
            "Kaksikirjaiminen maatunnus, esimerkiksi FI.",
            "Landskod på två bokstäver, till exempel FI.",
            "Two-letter country code, for example FI.",
        ],
    ),
    f(
        "client.languageCode",
        "company",
        "select",
        None,
        true,
        ["Asiointikieli", "Kommunikationsspråk", "Language"],
        [
            "Kieli, jolla yritys haluaa asioida.",
            "Det språk som företaget vill använda i kontakterna.",
            "The language the company wants to be contacted in.",
        ],
    ),
    f(
        "client.email",
        "company",
        "email",
        Some("email"),
        true,
        ["Sähköposti", "E-post", "Email"],
        [
            "Yrityksen yleinen sähköpostiosoite.",
            "Företagets allmänna e-postadress.",
            "The company's general email address.",
        ],
    ),
    f(
        "client.telephone",
        "company",
        "tel",
        Some("tel"),
        true,
        ["Puhelinnumero", "Telefonnummer", "Telephone"],
        ["Vapaaehtoinen.", "Frivilligt.", "Optional."],
    ),
    f(
        "client.website",
        "company",
        "text",
        Some("url"),
        true,
        ["Verkkosivut", "Webbplats", "Website"],
        [
            "Vapaaehtoinen, esimerkiksi www.yritys.fi.",
            "Frivilligt, till exempel www.foretag.fi.",
            "Optional, for example www.company.fi.",
        ],
    ),
    f(
        "contacts[].role",
        "contacts",
        "select",
        None,
        false,
        ["Rooli", "Roll", "Role"],
        [
            "Yhteyshenkilön rooli. Pääyhteyshenkilö on pakollinen.",
            "Kontaktpersonens roll. En huvudkontaktperson är obligatorisk.",
            "The contact person's role. A primary contact is required.",
        ],
    ),
    f(
        "contacts[].name",
        "contacts",
        "text",
        Some("name"),
        false,
        ["Nimi", "Namn", "Name"],
        ["Yhteyshenkilön nimi.", "Kontaktpersonens namn.", "The contact person's name."],
    ),
    f(
        "contacts[].email",
        "contacts",
        "email",
        Some("email"),
        false,
        ["Sähköposti", "E-post", "Email"],
        ["Yhteyshenkilön sähköpostiosoite.", "Kontaktpersonens e-postadress.", "The contact person's email address."],
    ),
    f(
        "contacts[].telephone",
        "contacts",
        "tel",
        Some("tel"),
        false,
        ["Puhelinnumero", "Telefonnummer", "Telephone"],
        ["Vapaaehtoinen.", "Frivilligt.", "Optional."],
    ),
];

const GROUPS: [(&str, Texts); 3] = [
    ("service", ["Palvelu", "Tjänst", "Service"]),
    ("company", ["Yrityksen tiedot", "Företagets uppgifter", "Company details"]),
    ("contacts", ["Yhteyshenkilöt", "Kontaktpersoner", "Contact persons"]),
];

const FORM_TITLE: Texts = ["Asiakkaaksi liittyminen", "Anslutning som kund", "Client onboarding"];
const FORM_DESCRIPTION: Texts = [
    "Tarkista ja täydennä yrityksen tiedot, valitse palvelu ja hyväksy käyttöehdot.",
    "Kontrollera och komplettera företagets uppgifter, välj tjänst och godkänn villkoren.",
    "Check and complete the company's details, choose a service and accept the terms and conditions.",
];
const TERMS_TITLE: Texts = ["Hyväksyn käyttöehdot", "Jag godkänner villkoren", "I accept the terms and conditions"];
const TERMS_DESCRIPTION: Texts = [
    "Lue palvelun käyttöehdot ennen hyväksymistä. Hyväksyntä on pakollinen.",
    "Läs tjänstens villkor innan du godkänner dem. Godkännandet är obligatoriskt.",
    "Read the service's terms and conditions before accepting them. Acceptance is required.",
];

fn service_label(t: &ServiceType) -> Texts {
    match t {
        ServiceType::Lifecycle => ["Laskujen elinkaaripalvelu", "Fakturornas livscykeltjänst", "Invoice Lifecycle"],
        ServiceType::Intermediation => ["Laskujen välityspalvelu", "Fakturaförmedling", "Invoice Intermediation"],
        ServiceType::Coop => ["Co-Op-palvelu", "Co-Op-tjänsten", "Co-Op"],
        ServiceType::Other(_) => ["", "", ""],
    }
}

fn role_label(r: ContactRole) -> Texts {
    match r {
        ContactRole::Primary => ["Pääyhteyshenkilö", "Huvudkontaktperson", "Primary contact"],
        ContactRole::Technical => ["Tekninen yhteyshenkilö", "Teknisk kontaktperson", "Technical contact"],
        ContactRole::Accountant => ["Kirjanpitäjä", "Bokförare", "Accountant"],
    }
}

const SERVICE_TYPES: [ServiceType; 3] = [ServiceType::Lifecycle, ServiceType::Intermediation, ServiceType::Coop];
const ROLES: [ContactRole; 3] = [ContactRole::Primary, ContactRole::Technical, ContactRole::Accountant];
/// The contact languages a form offers (the core accepts any ISO 639-1 code).
const LANGUAGE_OPTIONS: [(&str, Texts); 3] = [
    ("FI", ["suomi", "finska", "Finnish"]),
    ("SV", ["ruotsi", "svenska", "Swedish"]),
    ("EN", ["englanti", "engelska", "English"]),
];

fn pick(t: &Texts, lang: Language) -> &'static str {
    t.get(lang.index()).copied().unwrap_or("")
}

/// The wire name of a field path's last segment (`client.businessCode` → `businessCode`).
fn leaf(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

fn required(path: &str) -> bool {
    let name = leaf(path);
    if path.starts_with("service.") {
        REQUIRED_SERVICE_FIELDS.contains(&name)
    } else if path.starts_with("client.") {
        REQUIRED_CLIENT_FIELDS.contains(&name)
    } else {
        REQUIRED_CONTACT_FIELDS.contains(&name)
    }
}

/// Options (value → label) of a select field.
fn options(path: &str, lang: Language) -> Option<Vec<(String, &'static str)>> {
    match path {
        "service.type" => {
            Some(SERVICE_TYPES.iter().map(|t| (t.as_str().to_string(), pick(&service_label(t), lang))).collect())
        }
        "contacts[].role" => {
            Some(ROLES.iter().map(|r| (r.as_str().to_string(), pick(&role_label(*r), lang))).collect())
        }
        "client.languageCode" => {
            Some(LANGUAGE_OPTIONS.iter().map(|(c, l)| ((*c).to_string(), pick(l, lang))).collect())
        }
        _ => None,
    }
}

/// The pattern a field must match (its shape; for the Finnish rules, when `countryCode` is FI).
fn pattern(path: &str) -> Option<&'static str> {
    match path {
        "client.businessCode" => Some(BUSINESS_ID_PATTERN),
        "client.vatRegNbr" => Some(VAT_NUMBER_PATTERN),
        "client.postalCode" => POSTAL_CODE_RULES.iter().find(|r| r.country == "FI").map(|r| r.pattern),
        "client.countryCode" | "client.languageCode" => Some(TWO_LETTER_CODE_PATTERN),
        _ => None,
    }
}

fn example(path: &str) -> Option<&'static str> {
    match path {
        "client.businessCode" => Some(EXAMPLE_BUSINESS_ID),
        "client.vatRegNbr" => Some(EXAMPLE_VAT_NUMBER),
        "client.postalCode" => Some("00100"),
        "client.countryCode" => Some("FI"),
        "client.languageCode" => Some("FI"),
        "client.email" => Some("laskutus@yritys.fi"),
        "contacts[].email" => Some("etunimi.sukunimi@yritys.fi"),
        "client.website" => Some("www.yritys.fi"),
        _ => None,
    }
}

/// The JSON Schema of one property.
fn property(field: &FormField, lang: Language) -> Value {
    let mut p = Map::new();
    let req = required(field.path);
    p.insert("type".into(), if req { json!("string") } else { json!(["string", "null"]) });
    p.insert("title".into(), json!(pick(&field.title, lang)));
    p.insert("description".into(), json!(pick(&field.description, lang)));
    if req {
        p.insert("minLength".into(), json!(1));
    }
    match field.path {
        "service.type" | "contacts[].role" => {
            let opts = options(field.path, lang).unwrap_or_default();
            p.insert("enum".into(), Value::Array(opts.iter().map(|(v, _)| json!(v)).collect()));
            p.insert("x-confirma-labels".into(), opts.iter().map(|(v, l)| (v.clone(), json!(l))).collect());
        }
        "client.languageCode" => {
            let opts = options(field.path, lang).unwrap_or_default();
            p.insert("pattern".into(), json!(TWO_LETTER_CODE_PATTERN));
            p.insert("examples".into(), Value::Array(opts.iter().map(|(v, _)| json!(v)).collect()));
            p.insert("x-confirma-labels".into(), opts.iter().map(|(v, l)| (v.clone(), json!(l))).collect());
        }
        "client.countryCode" => {
            p.insert("pattern".into(), json!(TWO_LETTER_CODE_PATTERN));
        }
        "client.email" | "contacts[].email" => {
            p.insert("format".into(), json!("email"));
            p.insert("maxLength".into(), json!(EMAIL_MAX_LENGTH));
        }
        _ => {}
    }
    if let Some(e) = example(field.path) {
        p.insert("examples".into(), p.get("examples").cloned().unwrap_or_else(|| json!([e])));
    }
    if field.hidden {
        p.insert("x-confirma-hidden".into(), json!(true));
    }
    Value::Object(p)
}

/// An object schema from the fields whose path starts with `prefix`.
fn object_schema(prefix: &str, title: Texts, lang: Language) -> Value {
    let mut props = Map::new();
    let mut req = Vec::new();
    for field in FIELDS.iter().filter(|f| f.path.starts_with(prefix)) {
        let name = leaf(field.path);
        props.insert(name.to_string(), property(field, lang));
        if required(field.path) {
            req.push(json!(name));
        }
    }
    json!({
        "type": "object",
        "title": pick(&title, lang),
        "properties": props,
        "required": req,
        "additionalProperties": false,
    })
}

/// The country-dependent rules of the company section: the postal code format of every country the core
/// knows, and the Finnish Business ID and VAT number shapes for FI.
fn country_rules() -> Value {
    let country_is = |c: &str| {
        let mut pat = String::from("^");
        for ch in c.chars() {
            pat.push('[');
            pat.push(ch.to_ascii_uppercase());
            pat.push(ch.to_ascii_lowercase());
            pat.push(']');
        }
        pat.push('$');
        json!({"properties": {"countryCode": {"pattern": pat}}, "required": ["countryCode"]})
    };
    let mut rules: Vec<Value> = POSTAL_CODE_RULES
        .iter()
        .map(|r| json!({"if": country_is(r.country), "then": {"properties": {"postalCode": {"pattern": r.pattern}}}}))
        .collect();
    rules.push(json!({
        "if": country_is("FI"),
        "then": {"properties": {
            "businessCode": {"pattern": BUSINESS_ID_PATTERN},
            "vatRegNbr": {"anyOf": [{"type": "null"}, {"const": ""}, {"pattern": VAT_NUMBER_PATTERN}]},
        }},
    }));
    Value::Array(rules)
}

/// The JSON Schema (2020-12) of the onboarding form in a language, with the `x-confirma-form` extension
/// the UI renders from (groups, field order, prefill, the terms step, the message catalogue).
pub fn schema(lang: Language) -> Value {
    let groups = |id: &str| pick(&GROUPS.iter().find(|(g, _)| *g == id).map(|(_, t)| *t).unwrap_or(["", "", ""]), lang);
    let mut service = object_schema("service.", ["Palvelu", "Tjänst", "Service"], lang);
    let mut client = object_schema("client.", ["Yrityksen tiedot", "Företagets uppgifter", "Company details"], lang);
    let contact = object_schema("contacts[].", ["Yhteyshenkilö", "Kontaktperson", "Contact person"], lang);
    if let Some(o) = service.as_object_mut() {
        o.insert("title".into(), json!(groups("service")));
    }
    if let Some(o) = client.as_object_mut() {
        o.insert("title".into(), json!(groups("company")));
        o.insert("allOf".into(), country_rules());
    }
    let contacts = json!({
        "type": "array",
        "title": groups("contacts"),
        "minItems": 1,
        "items": contact,
        "contains": {"type": "object", "properties": {"role": {"const": ContactRole::Primary.as_str()}}, "required": ["role"]},
        "x-confirma-contains-description": catalog::message("primary_contact_required", &Default::default(), lang),
    });

    // The UI extension.
    let mut fields = Map::new();
    for field in FIELDS.iter() {
        let mut e = Map::new();
        e.insert("title".into(), json!(pick(&field.title, lang)));
        e.insert("description".into(), json!(pick(&field.description, lang)));
        e.insert("required".into(), json!(required(field.path)));
        e.insert("group".into(), json!(field.group));
        e.insert("input".into(), json!(field.input));
        if let Some(a) = field.autocomplete {
            e.insert("autocomplete".into(), json!(a));
        }
        if let Some(p) = pattern(field.path) {
            e.insert("pattern".into(), json!(p));
        }
        match field.path {
            "client.postalCode" => {
                let by: Map<String, Value> =
                    POSTAL_CODE_RULES.iter().map(|r| (r.country.to_string(), json!(r.pattern))).collect();
                e.insert("patternByCountry".into(), Value::Object(by));
            }
            "client.businessCode" | "client.vatRegNbr" => {
                e.insert("patternByCountry".into(), json!({"FI": pattern(field.path)}));
            }
            "client.email" | "contacts[].email" => {
                e.insert("maxLength".into(), json!(EMAIL_MAX_LENGTH));
            }
            _ => {}
        }
        if let Some(x) = example(field.path) {
            e.insert("example".into(), json!(x));
        }
        if let Some(opts) = options(field.path, lang) {
            e.insert(
                "options".into(),
                Value::Array(opts.iter().map(|(v, l)| json!({"value": v, "label": l})).collect()),
            );
        }
        if field.prefill {
            e.insert("prefill".into(), json!(true));
        }
        if field.hidden {
            e.insert("hidden".into(), json!(true));
        }
        fields.insert(field.path.to_string(), Value::Object(e));
    }
    let group_list: Vec<Value> = GROUPS
        .iter()
        .map(|(id, title)| {
            let members: Vec<&str> = FIELDS.iter().filter(|f| f.group == *id && !f.hidden).map(|f| f.path).collect();
            let mut g = json!({"id": id, "title": pick(title, lang), "fields": members});
            if let (true, Some(o)) = (*id == "contacts", g.as_object_mut()) {
                o.insert("minItems".into(), json!(1));
                o.insert("requiredRoles".into(), json!([ContactRole::Primary.as_str()]));
            }
            g
        })
        .collect();
    let prefill: Vec<&str> = FIELDS.iter().filter(|f| f.prefill && !f.hidden).map(|f| f.path).collect();
    let messages: Map<String, Value> =
        catalog::catalog(lang).into_iter().map(|(k, v)| (k.to_string(), json!(v))).collect();

    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("urn:confirma:onboarding-form:{}", lang.as_str()),
        "title": pick(&FORM_TITLE, lang),
        "description": pick(&FORM_DESCRIPTION, lang),
        "type": "object",
        "properties": {"service": service, "client": client, "contacts": contacts},
        "required": ["service", "client", "contacts"],
        "additionalProperties": false,
        "x-confirma-form": {
            "language": lang.as_str(),
            "groups": group_list,
            "prefill": prefill,
            "uiRequirements": [{
                "id": "acceptTerms",
                "title": pick(&TERMS_TITLE, lang),
                "description": pick(&TERMS_DESCRIPTION, lang),
                "required": true,
                "code": "terms_required",
                "message": catalog::message("terms_required", &Default::default(), lang),
            }],
            "fieldOrder": FIELDS.iter().map(|f| f.path).collect::<Vec<_>>(),
            "fields": fields,
            "messages": messages,
        },
    })
}
