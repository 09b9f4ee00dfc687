//! A partner's own store (placeholder until the core's `foreign_store` lands).

use pyo3::prelude::*;

pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
