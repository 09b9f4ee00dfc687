//! The message catalogues: one end-user text per stable code, in Finnish, Swedish and English.
//!
//! Templates name their parameters in braces (`{expected}`). Each language has its own table, so a code
//! missing from one of them is caught by the tests (`every_code_has_a_message_in_every_language`).

use std::collections::BTreeMap;

use super::Language;

/// Every message code, in a stable order. The first group is produced by the core's validation rules, the
/// last three are not: `invalid` (an argument check without a more precise code), `server` (a server
/// field error not recognised) and `terms_required` (the UI's terms-acceptance step, which the API payload
/// does not carry).
pub const CODES: [&str; 23] = [
    "required",
    "type_string",
    "type_object",
    "type_array",
    "form_object",
    "unknown_field",
    "service_type_unknown",
    "contact_role_unknown",
    "country_code_format",
    "language_code_format",
    "email_format",
    "website_format",
    "postal_code_format",
    "business_id_format",
    "business_id_check_digit",
    "vat_format",
    "vat_mismatch",
    "duplicate_role",
    "primary_contact_required",
    "token_too_long",
    "token_format",
    "invalid",
    "server",
];

/// Codes the UI uses that no validation rule produces.
pub const UI_CODES: [&str; 1] = ["terms_required"];

const FI: &[(&str, &str)] = &[
    ("required", "Tämä tieto on pakollinen."),
    ("type_string", "Anna tieto tekstinä."),
    ("type_object", "Tämän osion tiedot ovat virheellisessä muodossa. Täytä tiedot uudelleen."),
    ("type_array", "Luettelon tiedot ovat virheellisessä muodossa. Täytä tiedot uudelleen."),
    ("form_object", "Lomaketta ei voitu lukea. Täytä lomake uudelleen."),
    ("unknown_field", "Tämä tieto ei kuulu lomakkeeseen."),
    ("service_type_unknown", "Valitse jokin tarjolla olevista palveluista."),
    ("contact_role_unknown", "Valitse yhteyshenkilön rooli luettelosta."),
    ("country_code_format", "Anna maa kaksikirjaimisena maatunnuksena, esimerkiksi FI."),
    ("language_code_format", "Anna kieli kaksikirjaimisena kielikoodina, esimerkiksi FI, SV tai EN."),
    ("email_format", "Tarkista sähköpostiosoite. Sen pitää olla muotoa nimi@yritys.fi."),
    ("website_format", "Tarkista verkkosivujen osoite, esimerkiksi www.yritys.fi."),
    ("postal_code_format", "Postinumerossa pitää olla {length} numeroa, esimerkiksi {example}."),
    (
        "business_id_format",
        "Anna Y-tunnus oikeassa muodossa: seitsemän numeroa, väliviiva ja tarkistusnumero, esimerkiksi {example}.",
    ),
    (
        "business_id_check_digit",
        "Y-tunnus ei ole oikein: sen viimeinen numero (tarkistusnumero) ei täsmää. Tarkista tunnus.",
    ),
    ("vat_format", "Anna ALV-numero muodossa FI ja kahdeksan numeroa, esimerkiksi {example}."),
    ("vat_mismatch", "ALV-numero ei vastaa Y-tunnusta. ALV-numero on FI ja Y-tunnuksen numerot ilman väliviivaa."),
    ("duplicate_role", "Kullakin roolilla voi olla vain yksi yhteyshenkilö."),
    ("primary_contact_required", "Lisää pääyhteyshenkilö."),
    ("token_too_long", "Käyttöavain on liian pitkä (enintään {max} merkkiä)."),
    ("token_format", "Käyttöavaimessa on merkkejä, jotka eivät ole sallittuja, kuten välilyöntejä tai rivinvaihtoja."),
    ("invalid", "Tarkista tämä tieto."),
    ("server", "Palvelu ei hyväksynyt tätä tietoa. Tarkista se."),
    ("terms_required", "Hyväksy käyttöehdot, jotta voit jatkaa."),
];

const SV: &[(&str, &str)] = &[
    ("required", "Uppgiften är obligatorisk."),
    ("type_string", "Ange uppgiften som text."),
    ("type_object", "Uppgifterna i det här avsnittet har fel format. Fyll i dem på nytt."),
    ("type_array", "Uppgifterna i listan har fel format. Fyll i dem på nytt."),
    ("form_object", "Formuläret kunde inte läsas. Fyll i formuläret på nytt."),
    ("unknown_field", "Uppgiften hör inte till formuläret."),
    ("service_type_unknown", "Välj en av de tjänster som erbjuds."),
    ("contact_role_unknown", "Välj kontaktpersonens roll i listan."),
    ("country_code_format", "Ange landet med en landskod på två bokstäver, till exempel FI."),
    ("language_code_format", "Ange språket med en språkkod på två bokstäver, till exempel FI, SV eller EN."),
    ("email_format", "Kontrollera e-postadressen. Den ska ha formen namn@foretag.fi."),
    ("website_format", "Kontrollera webbplatsens adress, till exempel www.foretag.fi."),
    ("postal_code_format", "Postnumret ska bestå av {length} siffror, till exempel {example}."),
    (
        "business_id_format",
        "Ange FO-numret i rätt form: sju siffror, ett bindestreck och en kontrollsiffra, till exempel {example}.",
    ),
    (
        "business_id_check_digit",
        "FO-numret är inte korrekt: den sista siffran (kontrollsiffran) stämmer inte. Kontrollera numret.",
    ),
    ("vat_format", "Ange momsregistreringsnumret som FI följt av åtta siffror, till exempel {example}."),
    (
        "vat_mismatch",
        "Momsregistreringsnumret motsvarar inte FO-numret. Det består av FI och FO-numrets siffror utan bindestreck.",
    ),
    ("duplicate_role", "Varje roll kan bara ges till en kontaktperson."),
    ("primary_contact_required", "Lägg till en huvudkontaktperson."),
    ("token_too_long", "Åtkomstnyckeln är för lång (högst {max} tecken)."),
    ("token_format", "Åtkomstnyckeln innehåller otillåtna tecken, till exempel mellanslag eller radbrytningar."),
    ("invalid", "Kontrollera uppgiften."),
    ("server", "Tjänsten godkände inte uppgiften. Kontrollera den."),
    ("terms_required", "Du måste godkänna villkoren för att kunna fortsätta."),
];

const EN: &[(&str, &str)] = &[
    ("required", "This information is required."),
    ("type_string", "Enter this information as text."),
    ("type_object", "The details in this section are in the wrong format. Please fill them in again."),
    ("type_array", "The details in this list are in the wrong format. Please fill them in again."),
    ("form_object", "The form could not be read. Please fill it in again."),
    ("unknown_field", "This information is not part of the form."),
    ("service_type_unknown", "Choose one of the services offered."),
    ("contact_role_unknown", "Choose the contact person's role from the list."),
    ("country_code_format", "Enter the country as a two-letter country code, for example FI."),
    ("language_code_format", "Enter the language as a two-letter language code, for example FI, SV or EN."),
    ("email_format", "Check the email address. It should look like name@company.fi."),
    ("website_format", "Check the website address, for example www.company.fi."),
    ("postal_code_format", "The postal code must have {length} digits, for example {example}."),
    ("business_id_format", "Enter the Business ID in the right form: seven digits, a hyphen and a check digit, for example {example}."),
    ("business_id_check_digit", "The Business ID is not correct: its last digit (the check digit) does not match. Please check the number."),
    ("vat_format", "Enter the VAT number as FI followed by eight digits, for example {example}."),
    ("vat_mismatch", "The VAT number does not match the Business ID. It is FI followed by the Business ID's digits without the hyphen."),
    ("duplicate_role", "Each role can be given to one contact person only."),
    ("primary_contact_required", "Add a primary contact person."),
    ("token_too_long", "The access key is too long (at most {max} characters)."),
    ("token_format", "The access key contains characters that are not allowed, such as spaces or line breaks."),
    ("invalid", "Please check this information."),
    ("server", "The service did not accept this information. Please check it."),
    ("terms_required", "You must accept the terms and conditions to continue."),
];

fn table(lang: Language) -> &'static [(&'static str, &'static str)] {
    match lang {
        Language::Fi => FI,
        Language::Sv => SV,
        Language::En => EN,
    }
}

/// The template of a code in a language, if the catalogue has one.
pub fn template(code: &str, lang: Language) -> Option<&'static str> {
    table(lang).iter().find(|(c, _)| *c == code).map(|(_, t)| *t)
}

/// Code → template with `{param}` placeholders, for one language (every code, UI codes included).
pub fn catalog(lang: Language) -> BTreeMap<&'static str, &'static str> {
    table(lang).iter().copied().collect()
}

/// The end-user text of a code with its parameters. An unknown code reads as `invalid`; a placeholder
/// without a parameter is left out.
pub fn message(code: &str, params: &BTreeMap<String, String>, lang: Language) -> String {
    let t = template(code, lang).or_else(|| template("invalid", lang)).unwrap_or("");
    fill(t, params)
}

fn fill(template: &str, params: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let (before, after) = rest.split_at(open);
        out.push_str(before);
        match after.find('}') {
            Some(close) => {
                let name = after.get(1..close).unwrap_or("");
                if let Some(v) = params.get(name) {
                    out.push_str(v);
                }
                rest = after.get(close.saturating_add(1)..).unwrap_or("");
            }
            None => {
                out.push_str(after);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The placeholders a template names.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = rest.get(open.saturating_add(1)..).unwrap_or("");
        let Some(close) = after.find('}') else { break };
        out.push(after.get(..close).unwrap_or(""));
        rest = after.get(close.saturating_add(1)..).unwrap_or("");
    }
    out
}

/// The code and parameters of a developer-English field message (this SDK's own texts, which the sandbox
/// shares, and the common ASP.NET validation texts), or `None`.
pub fn recognize(text: &str) -> Option<(&'static str, BTreeMap<String, String>)> {
    use crate::validation::{
        postal_code_rule, CONTACT_ROLES_TEXT, EXAMPLE_BUSINESS_ID, EXAMPLE_VAT_NUMBER, SERVICE_TYPES_TEXT,
        TOKEN_MAX_LENGTH,
    };
    let t = text.trim();
    let p = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
    };
    let none = BTreeMap::new;
    let exact: Option<(&'static str, BTreeMap<String, String>)> = match t {
        "is required" | "must not be blank" => Some(("required", none())),
        "must be a string" => Some(("type_string", none())),
        "must be an object" => Some(("type_object", none())),
        "must be an array" => Some(("type_array", none())),
        "must be a JSON object with service, client and contacts" => Some(("form_object", none())),
        "is not a known field" => Some(("unknown_field", none())),
        "must be an ISO 3166-1 alpha-2 country code (e.g. FI)" => Some(("country_code_format", none())),
        "must be an ISO 639-1 language code (e.g. FI, SV, EN)" => Some(("language_code_format", none())),
        "must be a valid e-mail address" => Some(("email_format", none())),
        "must be an http(s) URL" => Some(("website_format", none())),
        "must be a Finnish Business ID: 7 digits, a hyphen and a valid check digit (e.g. 1572860-0)" => {
            Some(("business_id_format", p(&[("example", EXAMPLE_BUSINESS_ID)])))
        }
        "must be FI followed by 8 digits (e.g. FI15728600)" => {
            Some(("vat_format", p(&[("example", EXAMPLE_VAT_NUMBER)])))
        }
        "must be FI followed by the 8 digits of the business ID" => Some(("vat_mismatch", none())),
        "a PRIMARY contact is required" => Some(("primary_contact_required", none())),
        "is too long (over 4096 characters)" => Some(("token_too_long", p(&[("max", &TOKEN_MAX_LENGTH.to_string())]))),
        "must be visible ASCII characters without spaces or line breaks" => Some(("token_format", none())),
        _ => None,
    };
    if exact.is_some() {
        return exact;
    }
    if t == format!("must be one of {SERVICE_TYPES_TEXT}") {
        return Some(("service_type_unknown", p(&[("allowed", SERVICE_TYPES_TEXT)])));
    }
    if t == format!("must be one of {CONTACT_ROLES_TEXT}") {
        return Some(("contact_role_unknown", p(&[("allowed", CONTACT_ROLES_TEXT)])));
    }
    if t.starts_with("duplicate role ") {
        return Some(("duplicate_role", none()));
    }
    if let Some(country) = t.strip_prefix("must be ").and_then(|r| r.rsplit_once(" for country ")).map(|(_, c)| c) {
        if let Some(rule) = postal_code_rule(country) {
            return Some((
                "postal_code_format",
                p(&[("country", rule.country), ("length", &rule.length.to_string()), ("example", rule.example)]),
            ));
        }
    }
    // ASP.NET's data-annotation texts ("The Name field is required.", "The Email field is not a valid
    // e-mail address.").
    let lower = t.to_ascii_lowercase();
    if lower.ends_with("is required.") || lower.ends_with("is required") {
        return Some(("required", none()));
    }
    if (lower.contains("e-mail") || lower.contains("email")) && lower.contains("not a valid") {
        return Some(("email_format", none()));
    }
    None
}
