//! The token lifecycle as the bindings receive it (features `ffi` + `store`): manager options with the
//! binding's units checked once ([`ManagerInput`]) and the store key ([`SealerInput`]). Statuses and events
//! need no copy here: [`CredentialStatus`](crate::CredentialStatus) and [`ManagerEvent`](crate::ManagerEvent)
//! are plain data already (times in epoch milliseconds, names through `as_str`, never a token). Every
//! binding's `TokenManager` translates these, so the lifecycle has one set of defaults, bounds and names in
//! every language.

use std::time::Duration;

use crate::config::{duration_from_millis, duration_from_secs_f64};
use crate::error::{Error, Result};
use crate::ffi::ErrorInfo;
use crate::ffi::{OptionNaming, TimeUnit};
use crate::manager::{ManagerEvent, ManagerOptions, TokenManager};
use crate::store::{CredentialStore, Sealer, StoreKey};

/// The longest duration a lifecycle option takes (a year: `renew_every` may be long).
const MAX_LIFECYCLE: Duration = Duration::from_secs(366 * 24 * 3600);

/// `TokenManager` options as a binding receives them: every one optional (absent = the core's default),
/// durations in the binding's [`TimeUnit`], names in its [`OptionNaming`] for error messages.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ManagerInput {
    /// The unit of the durations.
    pub time_unit: TimeUnit,
    /// How option names are spelled in error messages.
    pub naming: OptionNaming,
    /// With no known expiry, renew this often (default 24 h).
    pub renew_every: Option<f64>,
    /// With a known lifetime, renew at this fraction of it (default 2/3; above 0, below 1).
    pub renew_at_fraction: Option<f64>,
    /// The spread of renewal times, both ways, as a fraction of the interval (default 0.1; 0 to 0.5).
    pub jitter: Option<f64>,
    /// How long a renewal claim holds (default: the client's total timeout + 30 s).
    pub lease: Option<f64>,
    /// Validate a stored token on first use unless an instance did within this (default 1 h).
    pub validate_interval: Option<f64>,
    /// The first back-off after a failed renewal (default 30 s).
    pub failure_backoff: Option<f64>,
    /// The longest back-off (default 1 h).
    pub failure_backoff_max: Option<f64>,
    /// How often to re-read the store while another instance holds the lease (default 100 ms).
    pub poll_interval: Option<f64>,
    /// This instance's name in leases and events (default `<host>/<pid>/<random>`).
    pub owner: Option<String>,
}

impl ManagerInput {
    /// Parses and checks every option; a problem is a `Configuration` error naming the option as the
    /// caller spells it.
    pub fn build(&self) -> Result<ManagerOptions> {
        let mut o = ManagerOptions::default();
        if let Some(d) = self.duration("renew_every", self.renew_every)? {
            o.renew_every = d;
        }
        if let Some(d) = self.duration("lease", self.lease)? {
            o.lease = Some(d);
        }
        if let Some(d) = self.duration("validate_interval", self.validate_interval)? {
            o.validate_interval = d;
        }
        if let Some(d) = self.duration("failure_backoff", self.failure_backoff)? {
            o.failure_backoff = d;
        }
        if let Some(d) = self.duration("failure_backoff_max", self.failure_backoff_max)? {
            o.failure_backoff_max = d;
        }
        if let Some(d) = self.duration("poll_interval", self.poll_interval)? {
            o.poll_interval = d;
        }
        if let Some(f) = self.renew_at_fraction {
            if !(f.is_finite() && f > 0.0 && f < 1.0) {
                return Err(self.problem("renew_at_fraction", "must be above 0 and below 1"));
            }
            o.renew_at_fraction = f;
        }
        if let Some(j) = self.jitter {
            if !(j.is_finite() && (0.0..=0.5).contains(&j)) {
                return Err(self.problem("jitter", "must be between 0 and 0.5"));
            }
            o.jitter = j;
        }
        if o.failure_backoff_max < o.failure_backoff {
            let (max, min) =
                (self.naming.duration_name("failure_backoff_max"), self.naming.duration_name("failure_backoff"));
            return Err(Error::configuration(format!("{max} must not be shorter than {min}")));
        }
        if let Some(owner) = &self.owner {
            let owner = owner.trim();
            if owner.is_empty() || owner.len() > 200 || owner.chars().any(char::is_control) {
                return Err(self.problem("owner", "must be 1 to 200 printable characters"));
            }
            o.owner = Some(owner.to_string());
        }
        Ok(o)
    }

    fn problem(&self, snake: &str, what: &str) -> Error {
        Error::configuration(format!("{} {what}", self.naming.name(snake)))
    }

    fn duration(&self, snake: &str, value: Option<f64>) -> Result<Option<Duration>> {
        let Some(v) = value else { return Ok(None) };
        let name = self.naming.duration_name(snake);
        let (secs, unit) = match self.time_unit {
            TimeUnit::Seconds => (v, "seconds"),
            TimeUnit::Milliseconds => (v / 1000.0, "milliseconds"),
        };
        if !secs.is_finite() || secs <= 0.0 {
            return Err(Error::configuration(format!("{name} must be a finite number of {unit} greater than zero")));
        }
        if secs > MAX_LIFECYCLE.as_secs_f64() {
            return Err(Error::configuration(format!("{name} must be at most a year")));
        }
        // Within 24 h the client's own conversion applies (and its bounds); longer ones are exact enough here.
        let d = match self.time_unit {
            TimeUnit::Seconds if secs <= 86_400.0 => duration_from_secs_f64(&name, v)?,
            TimeUnit::Milliseconds if secs <= 86_400.0 => duration_from_millis(&name, v)?,
            _ => Duration::try_from_secs_f64(secs)
                .map_err(|_| Error::configuration(format!("{name} is not a valid duration")))?,
        };
        Ok(Some(d))
    }
}

/// The store key as a binding receives it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SealerInput {
    /// The key, base64 of 32 bytes; `None` = `CONFIRMA_STORE_KEY`.
    pub key: Option<String>,
    /// Previous keys (key rotation); with `key` absent, `CONFIRMA_STORE_PREVIOUS_KEYS` is read too.
    pub previous_keys: Vec<String>,
    /// Store tokens in clear when there is no key: the explicit opt-in.
    pub plaintext: bool,
}

impl std::fmt::Debug for SealerInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealerInput")
            .field("key", &self.key.as_ref().map(|_| crate::REDACTED))
            .field("previous_keys", &self.previous_keys.len())
            .field("plaintext", &self.plaintext)
            .finish()
    }
}

impl SealerInput {
    /// The sealer: the given key (with its previous keys), else the environment's, else plaintext if opted
    /// into, else a `Storage` error saying how to set a key.
    pub fn build(&self) -> Result<Sealer> {
        let previous =
            self.previous_keys.iter().map(|k| StoreKey::from_base64(k)).collect::<std::result::Result<Vec<_>, _>>()?;
        match self.key.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
            Some(k) => Ok(Sealer::encrypted(StoreKey::from_base64(k)?).with_previous_keys(previous)),
            None => Ok(Sealer::from_env(self.plaintext)?.with_previous_keys(previous)),
        }
    }

    /// The sealer of an in-memory store: as [`build`](Self::build), except that with no key anywhere (and no
    /// plaintext opt-in) tokens are sealed under a random key of that store — nothing it holds outlives the
    /// process, so there is no key to keep, and statuses say `encrypted` as with every other store.
    pub fn build_for_memory(&self) -> Result<Sealer> {
        let no_key = self.key.as_deref().map(str::trim).is_none_or(str::is_empty)
            && std::env::var(crate::store::KEY_ENV).map(|v| v.trim().is_empty()).unwrap_or(true);
        if no_key && !self.plaintext {
            return Ok(Sealer::encrypted(StoreKey::generate()?));
        }
        self.build()
    }
}

/// A manager's events as a binding delivers them (an iterator, an `EventEmitter`, a `Flow`): in order; a
/// reader that falls more than the buffer (256 events) behind skips what it missed — counted in
/// [`missed`](Self::missed) and logged — and never slows the manager down.
pub struct EventStream {
    rx: tokio::sync::broadcast::Receiver<ManagerEvent>,
    missed: u64,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").field("missed", &self.missed).finish_non_exhaustive()
    }
}

impl EventStream {
    /// The events of `manager` from now on.
    pub fn new(manager: &TokenManager) -> Self {
        EventStream { rx: manager.subscribe(), missed: 0 }
    }

    /// The next event; `None` once the manager is gone.
    pub async fn next(&mut self) -> Option<ManagerEvent> {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match self.rx.recv().await {
                Ok(e) => return Some(e),
                Err(RecvError::Closed) => return None,
                Err(RecvError::Lagged(n)) => self.lagged(n),
            }
        }
    }

    /// The next event if one is waiting.
    pub fn try_next(&mut self) -> Option<ManagerEvent> {
        use tokio::sync::broadcast::error::TryRecvError;
        loop {
            match self.rx.try_recv() {
                Ok(e) => return Some(e),
                Err(TryRecvError::Lagged(n)) => self.lagged(n),
                Err(_) => return None,
            }
        }
    }

    /// How many events this reader skipped because it fell behind.
    pub fn missed(&self) -> u64 {
        self.missed
    }

    fn lagged(&mut self, n: u64) {
        self.missed = self.missed.saturating_add(n);
        tracing::warn!(target: "confirma", missed = n, "a token-event reader fell behind and skipped events");
    }
}

/// [`TokenManager::cached_token`] inside the shared runtime's context (so a due renewal starts in the
/// background) with panics contained: the synchronous hot path of every binding's `token()` — no future, no
/// thread hop, no allocation beyond the token. `Ok(None)`: call the manager's `token` on the runtime.
pub fn cached_token(
    manager: &TokenManager,
    client_id: &str,
) -> std::result::Result<Option<crate::SecretToken>, ErrorInfo> {
    let rt = crate::ffi::runtime::runtime().map_err(|e| ErrorInfo::of(&e))?;
    let _context = rt.enter();
    crate::ffi::runtime::contain(|| Ok(manager.cached_token(client_id)))
}

/// Runs the store conformance suite ([`conformance::run`](crate::store::conformance::run)) against `store`,
/// which must be empty: what partners call on the store they wrote. Returns the report (one passed check
/// per line); a failed check is a `Storage` error naming it.
pub async fn run_conformance(store: std::sync::Arc<dyn CredentialStore>) -> std::result::Result<String, ErrorInfo> {
    match crate::store::conformance::run(&*store).await {
        Ok(report) => Ok(report.passed.join("\n")),
        Err(why) => Err(ErrorInfo::of(&Error::storage(why, false))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn manager_options_in_each_unit_with_one_set_of_bounds() {
        let py = ManagerInput { renew_every: Some(7200.0), jitter: Some(0.2), ..Default::default() }.build().unwrap();
        assert_eq!((py.renew_every, py.jitter), (Duration::from_secs(7200), 0.2));
        let js = ManagerInput {
            time_unit: TimeUnit::Milliseconds,
            naming: OptionNaming::CamelCaseWithUnits,
            poll_interval: Some(250.0),
            renew_every: Some(30.0 * 86_400_000.0),
            ..Default::default()
        }
        .build()
        .unwrap();
        assert_eq!(js.poll_interval, Duration::from_millis(250));
        assert_eq!(js.renew_every, Duration::from_secs(30 * 86_400));
        assert_eq!(ManagerInput::default().build().unwrap().renew_every, ManagerOptions::default().renew_every);
        for (bad, name) in [
            (ManagerInput { renew_every: Some(f64::NAN), ..Default::default() }, "renew_every"),
            (ManagerInput { lease: Some(0.0), ..Default::default() }, "lease"),
            (ManagerInput { renew_every: Some(400.0 * 86_400.0), ..Default::default() }, "renew_every"),
            (ManagerInput { renew_at_fraction: Some(1.0), ..Default::default() }, "renew_at_fraction"),
            (ManagerInput { jitter: Some(0.9), ..Default::default() }, "jitter"),
            (ManagerInput { owner: Some("a\nb".into()), ..Default::default() }, "owner"),
            (
                ManagerInput { failure_backoff: Some(600.0), failure_backoff_max: Some(60.0), ..Default::default() },
                "failure_backoff_max",
            ),
        ] {
            let e = bad.build().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Configuration);
            assert!(e.to_string().contains(name), "{e}");
        }
        let camel = ManagerInput {
            naming: OptionNaming::CamelCaseWithUnits,
            time_unit: TimeUnit::Milliseconds,
            poll_interval: Some(-1.0),
            ..Default::default()
        };
        assert!(camel.build().unwrap_err().to_string().contains("pollIntervalMs"));
    }

    #[test]
    fn sealer_input_takes_a_key_or_the_explicit_plaintext_opt_in() {
        let k = StoreKey::generate().unwrap();
        let s = SealerInput { key: Some(k.to_base64().to_string()), ..Default::default() }.build().unwrap();
        assert_eq!(s.key_id(), Some(k.id()));
        let bad = SealerInput { key: Some("short".into()), ..Default::default() }.build().unwrap_err();
        assert_eq!(bad.kind(), ErrorKind::Storage);
        let memory = SealerInput { key: Some(k.to_base64().to_string()), ..Default::default() }.build_for_memory();
        assert_eq!(memory.unwrap().key_id(), Some(k.id()), "a given key is used");
        if std::env::var_os(crate::store::KEY_ENV).is_none() {
            let random = SealerInput::default().build_for_memory().unwrap();
            assert!(random.is_encrypted() && random.key_id() != Some(k.id()));
            let clear = SealerInput { plaintext: true, ..Default::default() }.build_for_memory().unwrap();
            assert!(!clear.is_encrypted());
        }
        let shown = format!("{:?}", SealerInput { key: Some(k.to_base64().to_string()), ..Default::default() });
        assert!(!shown.contains(&*k.to_base64()));
    }
}
