//! The onboarding form kit: stable message codes for every validation rule, end-user message catalogues in
//! Finnish, Swedish and English, a JSON Schema of the onboarding form generated from the core's rules, and
//! the helpers a partner's UI needs ([`validate_form`], [`missing_fields`]).
//!
//! ```
//! use confirma::form::{self, Language};
//! use confirma::ValidationMode;
//! let form = serde_json::json!({"client": {"businessCode": "1572860-1", "countryCode": "FI"}});
//! let issues = form::validate_form(&form, ValidationMode::Strict);
//! let bid = issues.iter().find(|i| i.field == "client.businessCode").unwrap();
//! assert_eq!(bid.code, "business_id_check_digit");
//! assert!(bid.user_message(Language::Fi).starts_with("Y-tunnus ei ole oikein"));
//! let schema = form::schema(Language::Sv);
//! assert_eq!(schema["properties"]["client"]["properties"]["businessCode"]["title"], "FO-nummer");
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::validation::{parse_new_client_issues, ValidationMode};

mod catalog;
mod schema;

pub use catalog::{catalog, message, placeholders, recognize, template, CODES, UI_CODES};
pub use schema::{schema, FIELDS};

/// The end-user language of messages, titles and labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum Language {
    /// Finnish (`fi`).
    Fi,
    /// Swedish (`sv`).
    Sv,
    /// English (`en`), the default.
    #[default]
    En,
}

impl Language {
    /// Every language, in a stable order.
    pub const ALL: [Language; 3] = [Language::Fi, Language::Sv, Language::En];

    /// `"fi"`, `"sv"` or `"en"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Language::Fi => "fi",
            Language::Sv => "sv",
            Language::En => "en",
        }
    }

    /// The position of this language in [`Language::ALL`] (the order of every localized table).
    pub(crate) fn index(self) -> usize {
        match self {
            Language::Fi => 0,
            Language::Sv => 1,
            Language::En => 2,
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Language {
    type Err = Error;
    /// `fi`, `sv` or `en`, in any case; a region is ignored (`fi-FI`, `sv_SE`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let primary = t.split(['-', '_']).next().unwrap_or("");
        match primary.to_ascii_lowercase().as_str() {
            "fi" => Ok(Language::Fi),
            "sv" => Ok(Language::Sv),
            "en" => Ok(Language::En),
            _ => Err(Error::configuration(format!(
                "unknown language `{}` (expected `fi`, `sv` or `en`)",
                crate::response::truncate(t, 40)
            ))),
        }
    }
}

/// One problem with one field: a stable code and its parameters beside the developer-English text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct FieldIssue {
    /// The API field path: `client.businessCode`, `contacts[0].email`, `service.type`, `$` for the whole form.
    pub field: String,
    /// The stable code (one of [`codes`]).
    pub code: String,
    /// The code's parameters (`{"expected": "FI15728600"}`); never a token.
    pub params: BTreeMap<String, String>,
    /// Developer English, exactly as in [`FieldErrors`](crate::FieldErrors) (for a server error, the
    /// server's text).
    pub message: String,
}

impl FieldIssue {
    /// An issue with a code and no parameters.
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        FieldIssue { field: field.into(), code: code.to_string(), params: BTreeMap::new(), message: message.into() }
    }

    /// An issue from a developer-English text: the code is recognised from the text where possible,
    /// else `fallback` (`invalid` for this SDK's argument checks, `server` for the service's texts).
    pub fn from_text(field: impl Into<String>, text: impl Into<String>, fallback: &'static str) -> Self {
        let message = text.into();
        let (code, params) = recognize(&message).unwrap_or((fallback, BTreeMap::new()));
        FieldIssue { field: field.into(), code: code.to_string(), params, message }
    }

    /// The end-user text of this issue in a language, from the catalogue.
    pub fn user_message(&self, lang: Language) -> String {
        message(&self.code, &self.params, lang)
    }
}

/// Every message code, in a stable order: the rules' codes, then the UI's (`terms_required`).
pub fn codes() -> &'static [&'static str] {
    static ALL: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| CODES.iter().chain(UI_CODES.iter()).copied().collect())
}

/// Every problem of a form (any JSON value: a complete payload, a partial one, something else entirely),
/// as the SDK would report them before sending. `[]` means the form would be sent.
pub fn validate_form(form: &Value, mode: ValidationMode) -> Vec<FieldIssue> {
    match parse_new_client_issues(form, mode) {
        Ok(_) => Vec::new(),
        Err(issues) => issues,
    }
}

/// What is still missing from a partially filled (e.g. prefilled) form: one `required` issue per empty
/// required field (`service.partnerCode` is left out: the partner fills it, not the user), and `contacts`
/// when there is no contact at all. Any JSON value is accepted; a non-object counts as an empty form.
pub fn missing_fields(form: &Value) -> Vec<FieldIssue> {
    let empty = Value::Object(serde_json::Map::new());
    let form = if form.is_object() { form } else { &empty };
    let mut out: Vec<FieldIssue> = validate_form(form, ValidationMode::Lenient)
        .into_iter()
        .filter(|i| i.code == "required")
        .filter(|i| !matches!(i.field.as_str(), "service" | "client" | "service.partnerCode"))
        .collect();
    let contacts = form.get("contacts");
    let no_contacts = match contacts {
        None | Some(Value::Null) => true,
        Some(Value::Array(items)) => items.is_empty(),
        Some(_) => false,
    };
    if no_contacts && !out.iter().any(|i| i.field == "contacts") {
        out.push(FieldIssue::new("contacts", "required", "is required"));
    }
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

#[cfg(test)]
mod tests;
