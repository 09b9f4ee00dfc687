//! The form kit (`formSchema`, `validateForm`, `missingFields`, `messageCatalog`): one call each into
//! `confirma::ffi::form`. JSON crosses as text both ways (the JS layer stringifies the form and parses the
//! answer), and every export answers `{ json }` or `{ error }` — an unknown language is the core's
//! configuration error, as data, never a throw.

use std::collections::BTreeMap;

use confirma::ffi::form;
use confirma::ffi::runtime::contain;
use confirma::ffi::{ErrorInfo, IssueData};
use napi_derive::napi;

use crate::error::NativeError;

/// One field issue as plain data (also carried by validation errors).
#[napi(object)]
pub struct NativeIssue {
    /// API field path (`client.businessCode`, `contacts[0].email`).
    pub field: String,
    /// Stable code (`business_id_check_digit`).
    pub code: String,
    pub params: BTreeMap<String, String>,
    /// Developer English (or the server's text).
    pub message: String,
    /// End-user text in the chosen language.
    pub user_message: String,
}

impl From<&IssueData> for NativeIssue {
    fn from(i: &IssueData) -> Self {
        NativeIssue {
            field: i.field.clone(),
            code: i.code.clone(),
            params: i.params.clone(),
            message: i.message.clone(),
            user_message: i.user_message.clone(),
        }
    }
}

/// The answer of a form-kit export: JSON text, or the error.
#[napi(object)]
pub struct NativeFormOutcome {
    pub json: Option<String>,
    pub error: Option<NativeError>,
}

fn outcome(result: Result<String, ErrorInfo>) -> NativeFormOutcome {
    match result {
        Ok(json) => NativeFormOutcome { json: Some(json), error: None },
        Err(e) => NativeFormOutcome { json: None, error: Some(NativeError::from(&e)) },
    }
}

/// The form's JSON Schema (2020-12, with `x-confirma-form`) in a language, as JSON text.
#[napi(catch_unwind)]
pub fn form_schema(language: Option<String>) -> NativeFormOutcome {
    outcome(contain(|| Ok(form::schema_json(language.as_deref())?)))
}

/// Every problem of a form (JSON text): the issues as a JSON array (`[]` = valid).
#[napi(catch_unwind)]
pub fn validate_form(form_json: String, language: Option<String>, validation: Option<String>) -> NativeFormOutcome {
    outcome(contain(|| {
        let issues = form::validate_form_json(&form_json, language.as_deref(), validation.as_deref())?;
        Ok(form::issues_json(&issues))
    }))
}

/// What is missing from a partially filled form (JSON text): `required` issues as a JSON array.
#[napi(catch_unwind)]
pub fn missing_fields(form_json: String, language: Option<String>) -> NativeFormOutcome {
    outcome(contain(|| Ok(form::issues_json(&form::missing_fields_json(&form_json, language.as_deref())?))))
}

/// Code → end-user template (`{param}` placeholders) in a language, as a JSON object.
#[napi(catch_unwind)]
pub fn message_catalog(language: Option<String>) -> NativeFormOutcome {
    outcome(contain(|| {
        let catalog = form::message_catalog(language.as_deref())?;
        Ok(serde_json::to_string(&catalog).unwrap_or_else(|_| "{}".into()))
    }))
}
