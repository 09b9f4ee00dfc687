//! Python values → `serde_json::Value` for a new client (the core validates the shape and the values).

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple};
use serde_json::Value;

use crate::error::invalid;

/// Deeper nesting is an input error (never a stack overflow).
const MAX_DEPTH: usize = 32;

/// The name of a value's type, for `TypeError` messages.
pub fn type_name(value: &Bound<'_, PyAny>) -> String {
    value.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".into())
}

/// A new client (a dict, a mapping, or `confirma.NewClient` parts) as JSON. `path` names the field in errors.
pub fn to_json(py: Python<'_>, v: &Bound<'_, PyAny>, path: &str, depth: usize) -> PyResult<Value> {
    let here = if path.is_empty() { "newClient" } else { path };
    if depth > MAX_DEPTH {
        return Err(invalid(py, here, "is nested too deeply"));
    }
    if v.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return match s.to_cow() {
            Ok(s) => Ok(Value::String(s.into_owned())),
            Err(_) => Err(invalid(py, here, "is not valid Unicode text")),
        };
    }
    if v.cast::<PyInt>().is_ok() {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = v.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Ok(Value::String(v.str()?.to_string()));
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return match serde_json::Number::from_f64(f.value()) {
            Some(n) => Ok(Value::Number(n)),
            None => Err(invalid(py, here, "must be a finite number")),
        };
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut map = serde_json::Map::new();
        for (k, val) in d.iter() {
            let key = key_of(py, &k, here)?;
            let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            map.insert(key, to_json(py, &val, &child, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    if v.cast::<PyList>().is_ok() || v.cast::<PyTuple>().is_ok() {
        let mut out = Vec::new();
        for (i, item) in v.try_iter()?.enumerate() {
            out.push(to_json(py, &item?, &format!("{here}[{i}]"), depth + 1)?);
        }
        return Ok(Value::Array(out));
    }
    if let Ok(m) = v.cast::<PyMapping>() {
        let mut map = serde_json::Map::new();
        for item in m.items()?.iter() {
            let (k, val): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
            let key = key_of(py, &k, here)?;
            let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            map.insert(key, to_json(py, &val, &child, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    // confirma.NewClient parts (Service, ClientDetails, Contact) nested in a dict.
    if let Ok(to_dict) = v.getattr("to_dict") {
        if to_dict.is_callable() {
            return to_json(py, &to_dict.call0()?, path, depth + 1);
        }
    }
    Err(invalid(py, here, format!("has an unsupported value of type {}", type_name(v))))
}

fn key_of(py: Python<'_>, k: &Bound<'_, PyAny>, here: &str) -> PyResult<String> {
    match k.cast::<PyString>() {
        Ok(s) => s
            .to_cow()
            .map(|c| c.into_owned())
            .map_err(|_| invalid(py, here, "has a key that is not valid Unicode text")),
        Err(_) => Err(invalid(py, here, format!("keys must be strings, not {}", type_name(k)))),
    }
}
