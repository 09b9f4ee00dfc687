//! TEMPORARY shim until main's `core: hardening API` lands (never committed).
use std::time::Duration;
pub trait ErrorExt {
    fn recovered_token(&self) -> Option<&confirma::SecretToken>;
    fn raw_response(&self) -> Option<&confirma::SecretToken>;
}
impl ErrorExt for confirma::Error {
    fn recovered_token(&self) -> Option<&confirma::SecretToken> {
        None
    }
    fn raw_response(&self) -> Option<&confirma::SecretToken> {
        None
    }
}
pub fn internal(m: String) -> confirma::Error {
    confirma::Error::configuration(m)
}
pub fn duration_from_secs_f64(name: &str, v: f64) -> confirma::Result<Duration> {
    if !(v > 0.0) || !v.is_finite() || v > 86400.0 {
        return Err(confirma::Error::configuration(format!("{name} bad")));
    }
    Ok(Duration::from_secs_f64(v))
}
