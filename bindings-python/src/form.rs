//! The onboarding form kit (`confirma.form_schema`, `validate_form`, `missing_fields`, `message_catalog`):
//! one call each into the core's `confirma::ffi::form`. Issues and the schema cross as JSON text, which
//! `confirma/_form.py` turns into `FieldIssue`s and dicts.

use confirma::ffi::form as core_form;
use pyo3::prelude::*;

use crate::convert::to_json;
use crate::error::core_err;
use crate::runtime::contain;

/// The form's JSON Schema in a language, as JSON text.
#[pyfunction]
#[pyo3(signature = (language=None))]
pub fn _form_schema(py: Python<'_>, language: Option<&str>) -> PyResult<String> {
    contain(py, || core_form::schema_json(language).map_err(|e| core_err(py, &e)))
}

/// Every issue of a form (a dict, a mapping, a `NewClient`), as a JSON array.
#[pyfunction]
#[pyo3(signature = (form, language=None, validation=None))]
pub fn _validate_form(
    py: Python<'_>,
    form: &Bound<'_, PyAny>,
    language: Option<&str>,
    validation: Option<&str>,
) -> PyResult<String> {
    contain(py, || {
        // The language and the mode are checked before the form is read.
        core_form::language(language)
            .and_then(|_| core_form::validation_mode(validation))
            .map_err(|e| core_err(py, &e))?;
        let value = to_json(py, form, "", 0)?;
        let issues = core_form::validate_form(&value, language, validation).map_err(|e| core_err(py, &e))?;
        Ok(core_form::issues_json(&issues))
    })
}

/// What a partly filled form still lacks, as a JSON array of issues.
#[pyfunction]
#[pyo3(signature = (form, language=None))]
pub fn _missing_fields(py: Python<'_>, form: &Bound<'_, PyAny>, language: Option<&str>) -> PyResult<String> {
    contain(py, || {
        core_form::language(language).map_err(|e| core_err(py, &e))?;
        let value = to_json(py, form, "", 0)?;
        let issues = core_form::missing_fields(&value, language).map_err(|e| core_err(py, &e))?;
        Ok(core_form::issues_json(&issues))
    })
}

/// Code → end-user template in a language.
#[pyfunction]
#[pyo3(signature = (language=None))]
pub fn _message_catalog(
    py: Python<'_>,
    language: Option<&str>,
) -> PyResult<std::collections::BTreeMap<String, String>> {
    contain(py, || core_form::message_catalog(language).map_err(|e| core_err(py, &e)))
}

/// Registers the functions on `confirma._native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_form_schema, m)?)?;
    m.add_function(wrap_pyfunction!(_validate_form, m)?)?;
    m.add_function(wrap_pyfunction!(_missing_fields, m)?)?;
    m.add_function(wrap_pyfunction!(_message_catalog, m)?)?;
    Ok(())
}
