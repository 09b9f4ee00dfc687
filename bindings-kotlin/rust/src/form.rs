//! The onboarding form kit as Kotlin receives it (`FormSchema`, `FieldIssue`): one call each into the core's
//! `confirma::ffi::form`. Forms cross as JSON text; issues as records with the end-user message already in the
//! chosen language.

use std::collections::HashMap;

use confirma::ffi::form as core_form;
use confirma::ffi::{ErrorInfo, IssueData};
use confirma::ValidationMode;

use crate::error::NativeError;
use crate::runtime::contain;

/// One problem with one field (plumbing for the Kotlin `FieldIssue`).
#[derive(uniffi::Record, Clone, Debug, PartialEq, Eq)]
pub struct NativeFieldIssue {
    /// API field path (`client.businessCode`, `contacts[0].email`).
    pub field: String,
    /// Stable code (`business_id_check_digit`).
    pub code: String,
    /// The code's parameters.
    pub params: HashMap<String, String>,
    /// Developer English (or the server's text).
    pub message: String,
    /// End-user text in the chosen language.
    pub user_message: String,
}

impl From<IssueData> for NativeFieldIssue {
    fn from(i: IssueData) -> Self {
        NativeFieldIssue {
            field: i.field,
            code: i.code,
            params: i.params.into_iter().collect(),
            message: i.message,
            user_message: i.user_message,
        }
    }
}

fn issues(list: Vec<IssueData>) -> Vec<NativeFieldIssue> {
    list.into_iter().map(NativeFieldIssue::from).collect()
}

/// The form's JSON Schema (2020-12, with `x-confirma-form`) in a language, as JSON text.
#[uniffi::export]
pub fn native_form_schema(language: Option<String>) -> Result<String, NativeError> {
    contain(|| core_form::schema_json(language.as_deref()).map_err(|e| ErrorInfo::of(&e)))
}

/// Every problem of a form given as JSON text (`[]` = it would be sent).
#[uniffi::export]
pub fn native_validate_form(
    form_json: String,
    language: Option<String>,
    validation: ValidationMode,
) -> Result<Vec<NativeFieldIssue>, NativeError> {
    contain(|| {
        core_form::validate_form_json(&form_json, language.as_deref(), Some(validation.as_str()))
            .map(issues)
            .map_err(|e| ErrorInfo::of(&e))
    })
}

/// The required fields a partly filled form (JSON text) still lacks.
#[uniffi::export]
pub fn native_missing_fields(
    form_json: String,
    language: Option<String>,
) -> Result<Vec<NativeFieldIssue>, NativeError> {
    contain(|| {
        core_form::missing_fields_json(&form_json, language.as_deref()).map(issues).map_err(|e| ErrorInfo::of(&e))
    })
}

/// Code → end-user template (`{param}` placeholders) in a language.
#[uniffi::export]
pub fn native_message_catalog(language: Option<String>) -> Result<HashMap<String, String>, NativeError> {
    contain(|| {
        core_form::message_catalog(language.as_deref()).map(|m| m.into_iter().collect()).map_err(|e| ErrorInfo::of(&e))
    })
}
