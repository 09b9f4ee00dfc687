//! The sandbox's in-memory state: clients, tokens, the clock and counters, and the runtime configuration.
//! The bottom layer: it depends on nothing else in the crate (the pending faults live in `faults`).
//!
//! One `std::sync::Mutex` guards it (see `shared`); it is never held across an `.await`, and every critical
//! section is a few hash-map operations.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use confirma::ValidationMode;

/// The shape of a successful renew response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum)]
pub enum RenewShape {
    /// `{"accessToken": NEW, "tokenExpiresAt": ..., "message": "Token renewed"}` (the default).
    #[default]
    AccessToken,
    /// `{"Message": NEW}`, the shape of the developer portal's example.
    Message,
}

impl RenewShape {
    /// `"accessToken"` or `"message"`, as the admin config API spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            RenewShape::AccessToken => "accessToken",
            RenewShape::Message => "message",
        }
    }
}

/// Longest duration accepted for a TTL, grace period or clock move (100 years), to keep dates in range.
pub(crate) const MAX_DURATION_SECS: f64 = 100.0 * 366.0 * 24.0 * 3600.0;

pub(crate) fn random_alnum(n: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric).take(n).collect()
}

/// The part of the configuration the admin API may change at run time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RuntimeConfig {
    pub token_ttl: Option<Duration>,
    pub grace: Duration,
    pub validation: ValidationMode,
    pub expired_status: u16,
    pub renew_shape: RenewShape,
    /// What renewing an already-renewed token (within its grace period) does: `false` → 401 "already
    /// renewed"; `true` → the same new token again (an idempotent renewal).
    pub renew_replaced_same: bool,
}

/// Distinct unknown `/api/` paths counted separately before they are folded into one bucket.
const MAX_PATH_KEYS: usize = 256;
const OTHER_PATHS: &str = "(other)";

pub(crate) struct State {
    pub cfg: RuntimeConfig,
    /// Normalized business code → client.
    clients: HashMap<String, Client>,
    tokens: HashMap<String, Token>,
    clock_offset: TimeDelta,
    requests_served: u64,
    requests_by_path: HashMap<String, u64>,
    client_seq: u64,
}

struct Client {
    #[allow(dead_code)]
    client_id: String,
}

struct Token {
    expires_at: Option<DateTime<Utc>>,
    /// Set once the token was renewed: it stops working at this (sandbox) time.
    replaced_until: Option<DateTime<Utc>>,
    /// The token that replaced it.
    replaced_by: Option<String>,
}

/// What the sandbox knows about a presented client token.
pub(crate) enum TokenState {
    Unknown,
    Valid,
    Expired,
}

/// The outcome of a renew.
pub(crate) enum Renewal {
    Unknown,
    Replaced,
    Renewed { token: String, expires_at: Option<DateTime<Utc>> },
}

pub(crate) struct CreatedClient {
    pub client_id: String,
    pub customer_code: String,
    pub payment_reference_prefix: String,
    pub access_token: String,
    pub token_expires_at: Option<DateTime<Utc>>,
}

pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn add(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(d).ok().and_then(|d| now.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn new_access_token() -> String {
    format!("cfis_at_{}", random_alnum(40))
}

impl State {
    pub fn new(cfg: RuntimeConfig) -> Self {
        State {
            cfg,
            clients: HashMap::new(),
            tokens: HashMap::new(),
            clock_offset: TimeDelta::zero(),
            requests_served: 0,
            requests_by_path: HashMap::new(),
            client_seq: 0,
        }
    }

    /// The sandbox clock: real UTC time plus the admin-controlled offset.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now().checked_add_signed(self.clock_offset).unwrap_or_else(Utc::now)
    }

    pub fn advance_clock(&mut self, by: TimeDelta) -> DateTime<Utc> {
        self.clock_offset = self.clock_offset.checked_add(&by).unwrap_or(self.clock_offset);
        self.now()
    }

    /// Counts an API request.
    pub fn count_request(&mut self, counted_path: &str) {
        self.requests_served += 1;
        if let Some(n) = self.requests_by_path.get_mut(counted_path) {
            *n += 1;
        } else {
            let key = if self.requests_by_path.len() < MAX_PATH_KEYS { counted_path } else { OTHER_PATHS };
            *self.requests_by_path.entry(key.to_string()).or_insert(0) += 1;
        }
    }

    /// Looks a client token up, forgetting it if its grace period is over.
    fn token_state_at(&mut self, token: &str, now: DateTime<Utc>) -> TokenState {
        let Some(t) = self.tokens.get(token) else {
            return TokenState::Unknown;
        };
        if t.replaced_until.is_some_and(|until| now >= until) {
            self.tokens.remove(token);
            return TokenState::Unknown;
        }
        if t.expires_at.is_some_and(|exp| now >= exp) {
            TokenState::Expired
        } else {
            TokenState::Valid
        }
    }

    pub fn token_state(&mut self, token: &str) -> TokenState {
        let now = self.now();
        self.token_state_at(token, now)
    }

    pub fn renew(&mut self, token: &str) -> Renewal {
        let now = self.now();
        if let TokenState::Unknown = self.token_state_at(token, now) {
            return Renewal::Unknown;
        }
        let grace = self.cfg.grace;
        let Some(old) = self.tokens.get_mut(token) else {
            return Renewal::Unknown;
        };
        if old.replaced_until.is_some() {
            if self.cfg.renew_replaced_same {
                if let Some(new) = old.replaced_by.clone() {
                    if let Some(t) = self.tokens.get(&new) {
                        return Renewal::Renewed { expires_at: t.expires_at, token: new };
                    }
                }
            }
            return Renewal::Replaced;
        }
        if grace.is_zero() {
            self.tokens.remove(token);
        } else {
            old.replaced_until = Some(add(now, grace));
        }
        let (new, expires_at) = self.issue_token(now);
        if let Some(old) = self.tokens.get_mut(token) {
            old.replaced_by = Some(new.clone());
        }
        Renewal::Renewed { token: new, expires_at }
    }

    fn issue_token(&mut self, now: DateTime<Utc>) -> (String, Option<DateTime<Utc>>) {
        // Whole seconds, so the expiry the client reads is exactly the one enforced.
        let expires_at = self.cfg.token_ttl.map(|ttl| {
            let t = add(now, ttl);
            DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
        });
        loop {
            let token = new_access_token();
            if !self.tokens.contains_key(&token) {
                self.tokens.insert(token.clone(), Token { expires_at, replaced_until: None, replaced_by: None });
                return (token, expires_at);
            }
        }
    }

    /// Creates a client unless one with the same business code exists (`None`).
    pub fn create_client(&mut self, business_code: &str) -> Option<CreatedClient> {
        let key = business_code.trim().to_lowercase();
        if self.clients.contains_key(&key) {
            return None;
        }
        self.client_seq += 1;
        let seq = self.client_seq;
        let client_id = format!("cl_{:016x}", fastrand::u64(..));
        let customer_code = format!("CF{:06}", 100_000 + seq);
        let payment_reference_prefix = format!("{}", 10_000 + seq);
        let now = self.now();
        let (access_token, token_expires_at) = self.issue_token(now);
        self.clients.insert(key, Client { client_id: client_id.clone() });
        Some(CreatedClient { client_id, customer_code, payment_reference_prefix, access_token, token_expires_at })
    }

    pub fn state_json(&mut self) -> serde_json::Value {
        let now = self.now();
        self.tokens.retain(|_, t| t.replaced_until.is_none_or(|until| now < until));
        let live = self.tokens.values().filter(|t| t.expires_at.is_none_or(|exp| now < exp)).count();
        let by_path: BTreeMap<&String, &u64> = self.requests_by_path.iter().collect();
        serde_json::json!({
            "clients": self.clients.len(),
            "liveTokens": live,
            "requestsServed": self.requests_served,
            "requestsByPath": by_path,
            "now": rfc3339(now),
        })
    }
}
