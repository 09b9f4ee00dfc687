//! `confirma form`: the onboarding form kit from the command line — the form's JSON Schema in a language,
//! a check of a filled or partly filled form with end-user messages, and the message catalogue.

use std::io::Read;
use std::path::PathBuf;

use clap::Subcommand;
use confirma::form::{self, FieldIssue, Language};
use confirma::ValidationMode;
use serde_json::{json, Value};

use crate::output::stdout_all;
use crate::{exit, Failure};

#[derive(Subcommand)]
pub(crate) enum FormCmd {
    /// Print the onboarding form's JSON Schema (2020-12, with the `x-confirma-form` UI extension: groups,
    /// field order, prefill, the terms step, the messages) in a language, as pretty JSON.
    Schema {
        /// fi, sv or en.
        #[arg(long, default_value = "en")]
        lang: String,
    },
    /// Check a filled or partly filled form (JSON shaped like the API contract; `-` reads stdin): every
    /// problem with its field, end-user message and code. Exit 0 when there is none, 3 when there is any.
    Check {
        /// The form as JSON, or `-` for stdin.
        file: String,
        /// fi, sv or en: the language of the end-user messages.
        #[arg(long, default_value = "en")]
        lang: String,
        /// Client-side validation mode.
        #[arg(long, default_value = "strict", value_parser = ["strict", "lenient"])]
        validation: String,
        /// List only what is still missing (required fields left empty), as for a prefilled form.
        #[arg(long)]
        missing: bool,
        /// Print `{"valid": …, "language": …, "issues": [{field, code, params, message, userMessage}]}`.
        #[arg(long)]
        json: bool,
    },
    /// Print the end-user message catalogue (code → template with {param} placeholders) of a language.
    Messages {
        /// fi, sv or en.
        #[arg(long, default_value = "en")]
        lang: String,
    },
}

impl FormCmd {
    pub(crate) fn json(&self) -> bool {
        matches!(self, FormCmd::Check { json: true, .. })
    }
}

fn language(s: &str) -> Result<Language, Failure> {
    Ok(s.parse::<Language>()?)
}

fn write(text: &str) -> Result<(), Failure> {
    stdout_all(text).map_err(|e| Failure(exit::INTERNAL_OR_OTHER, format!("writing to stdout failed: {e}"), None))
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

fn read_form(file: &str) -> Result<Value, Failure> {
    let (name, text) = if file == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Failure::usage(format!("reading the form from stdin: {e}")))?;
        ("stdin".to_string(), s)
    } else {
        let path = PathBuf::from(file);
        let s = std::fs::read_to_string(&path).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
        (path.display().to_string(), s)
    };
    serde_json::from_str(&text).map_err(|e| Failure(exit::VALIDATION, format!("{name}: not valid JSON: {e}"), None))
}

fn issue_json(i: &FieldIssue, lang: Language) -> Value {
    json!({
        "field": i.field,
        "code": i.code,
        "params": i.params,
        "message": i.message,
        "userMessage": i.user_message(lang),
    })
}

pub(crate) fn run(cmd: FormCmd) -> Result<(), Failure> {
    match cmd {
        FormCmd::Schema { lang } => write(&format!("{}\n", pretty(&form::schema(language(&lang)?)))),
        FormCmd::Messages { lang } => {
            let catalog: serde_json::Map<String, Value> =
                form::catalog(language(&lang)?).into_iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            write(&format!("{}\n", pretty(&Value::Object(catalog))))
        }
        FormCmd::Check { file, lang, validation, missing, json } => {
            let lang = language(&lang)?;
            let mode = validation.parse::<ValidationMode>()?;
            let value = read_form(&file)?;
            let issues = if missing { form::missing_fields(&value) } else { form::validate_form(&value, mode) };
            if json {
                let out = json!({
                    "valid": issues.is_empty(),
                    "language": lang.as_str(),
                    "issues": issues.iter().map(|i| issue_json(i, lang)).collect::<Vec<_>>(),
                });
                write(&format!("{out}\n"))?;
            } else if issues.is_empty() {
                write(if missing { "nothing is missing\n" } else { "the form is valid\n" })?;
            } else {
                let mut text = String::new();
                for i in &issues {
                    text.push_str(&format!("{}: {} [{}]\n", i.field, i.user_message(lang), i.code));
                }
                write(&text)?;
            }
            if issues.is_empty() {
                Ok(())
            } else {
                let what = if missing { "missing" } else { "problem" };
                let n = issues.len();
                // The issues are already on stdout: no JSON error object after them.
                Err(Failure(exit::VALIDATION, format!("{n} {what}{}", if n == 1 { "" } else { "s" }), None))
            }
        }
    }
}
