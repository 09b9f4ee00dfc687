//! The form kit for bindings: languages as strings, forms as JSON values or JSON text, issues as
//! [`IssueData`] (with the end-user message already in the chosen language). Every binding's
//! `formSchema` / `validateForm` / `missingFields` / `messageCatalog` is one call here.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::form::{self, FieldIssue, Language};
use crate::validation::ValidationMode;

/// One field issue as every binding exposes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueData {
    /// API field path (`client.businessCode`, `contacts[0].email`).
    pub field: String,
    /// Stable code (`business_id_check_digit`).
    pub code: String,
    /// The code's parameters.
    pub params: BTreeMap<String, String>,
    /// Developer English (today's field-error text, or the server's text).
    pub message: String,
    /// End-user text in the chosen language.
    pub user_message: String,
}

impl IssueData {
    /// An issue with its end-user text in `lang`.
    pub fn of(issue: &FieldIssue, lang: Language) -> Self {
        IssueData {
            field: issue.field.clone(),
            code: issue.code.clone(),
            params: issue.params.clone(),
            message: issue.message.clone(),
            user_message: issue.user_message(lang),
        }
    }
}

/// A language name (`fi`, `sv`, `en`, `fi-FI`; absent or blank = English), or a `Configuration` error.
pub fn language(name: Option<&str>) -> Result<Language> {
    match name.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Language::En),
        Some(s) => s.parse(),
    }
}

/// A validation mode name (absent = strict), or a `Configuration` error.
pub fn validation_mode(name: Option<&str>) -> Result<ValidationMode> {
    match name.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(ValidationMode::Strict),
        Some(s) => s.parse(),
    }
}

fn parse_json(form_json: &str) -> Result<Value> {
    serde_json::from_str(form_json).map_err(|e| Error::invalid_input("form", format!("is not valid JSON: {e}")))
}

/// The form schema in a language.
pub fn schema(lang: Option<&str>) -> Result<Value> {
    Ok(form::schema(language(lang)?))
}

/// The form schema in a language, as JSON text.
pub fn schema_json(lang: Option<&str>) -> Result<String> {
    Ok(schema(lang)?.to_string())
}

/// Every problem of a form value (`[]` = valid).
pub fn validate_form(value: &Value, lang: Option<&str>, validation: Option<&str>) -> Result<Vec<IssueData>> {
    let lang = language(lang)?;
    let mode = validation_mode(validation)?;
    Ok(form::validate_form(value, mode).iter().map(|i| IssueData::of(i, lang)).collect())
}

/// [`validate_form`] of JSON text; text that is not JSON is a `Validation` error on `form`.
pub fn validate_form_json(form_json: &str, lang: Option<&str>, validation: Option<&str>) -> Result<Vec<IssueData>> {
    let lang_parsed = language(lang)?;
    validation_mode(validation)?;
    let value = parse_json(form_json).map_err(|e| e.with_language(lang_parsed))?;
    validate_form(&value, lang, validation)
}

/// What is missing from a partially filled form.
pub fn missing_fields(value: &Value, lang: Option<&str>) -> Result<Vec<IssueData>> {
    let lang = language(lang)?;
    Ok(form::missing_fields(value).iter().map(|i| IssueData::of(i, lang)).collect())
}

/// [`missing_fields`] of JSON text.
pub fn missing_fields_json(form_json: &str, lang: Option<&str>) -> Result<Vec<IssueData>> {
    let lang_parsed = language(lang)?;
    let value = parse_json(form_json).map_err(|e| e.with_language(lang_parsed))?;
    missing_fields(&value, lang)
}

/// Code → end-user template (`{param}` placeholders) in a language.
pub fn message_catalog(lang: Option<&str>) -> Result<BTreeMap<String, String>> {
    Ok(form::catalog(language(lang)?).into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

/// Issues as a JSON array (`field`, `code`, `params`, `message`, `userMessage`).
pub fn issues_json(issues: &[IssueData]) -> String {
    serde_json::to_string(issues).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn languages_and_errors() {
        assert_eq!(language(None).unwrap(), Language::En);
        assert_eq!(language(Some(" FI-fi ")).unwrap(), Language::Fi);
        assert_eq!(language(Some("sv_SE")).unwrap(), Language::Sv);
        let e = language(Some("de")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration);
        assert!(e.to_string().contains("`fi`, `sv` or `en`"));
        assert_eq!(validate_form_json("{", Some("fi"), None).unwrap_err().kind(), ErrorKind::Validation);
        assert_eq!(validate_form_json("{}", Some("xx"), None).unwrap_err().kind(), ErrorKind::Configuration);
        assert_eq!(validate_form_json("{}", None, Some("loose")).unwrap_err().kind(), ErrorKind::Configuration);
        let issues =
            validate_form_json(r#"{"client": {"businessCode": "1572860-1", "countryCode": "FI"}}"#, Some("sv"), None)
                .unwrap();
        let bid = issues.iter().find(|i| i.field == "client.businessCode").unwrap();
        assert_eq!(bid.code, "business_id_check_digit");
        assert!(bid.user_message.starts_with("FO-numret"), "{}", bid.user_message);
        let json: Value = serde_json::from_str(&issues_json(&issues)).unwrap();
        assert_eq!(json[0]["userMessage"], json!(issues[0].user_message));
        assert_eq!(message_catalog(Some("fi")).unwrap()["required"], "Tämä tieto on pakollinen.");
        assert!(schema_json(Some("en")).unwrap().contains("x-confirma-form"));
    }

    use serde_json::json;
}
