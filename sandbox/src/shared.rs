//! What every request handler shares: the fixed identity of the sandbox (provisioning token, partner
//! code, start-up config), the state behind its lock, and the pending faults behind theirs.
//!
//! Neither lock is ever held across an `.await`, and no code holds both at once.

use std::sync::{Mutex, MutexGuard};

use crate::faults::{FaultKind, FaultQueue};
use crate::state::{RuntimeConfig, State};

pub(crate) struct Shared {
    pub provisioning_token: String,
    pub partner_code: String,
    pub startup: RuntimeConfig,
    state: Mutex<State>,
    faults: Mutex<FaultQueue>,
}

impl Shared {
    pub fn new(provisioning_token: String, partner_code: String, startup: RuntimeConfig) -> Self {
        Shared {
            provisioning_token,
            partner_code,
            state: Mutex::new(State::new(startup.clone())),
            faults: Mutex::new(FaultQueue::default()),
            startup,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn faults(&self) -> MutexGuard<'_, FaultQueue> {
        self.faults.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Forgets everything (clients, tokens, clock, counters, faults) and restores the start-up config.
    pub fn reset(&self) {
        *self.lock() = State::new(self.startup.clone());
        self.faults().clear();
    }

    /// Counts an API request and takes the first pending fault that applies to its path.
    pub fn begin_api_request(&self, counted_path: &str, endpoint_path: &str) -> Option<FaultKind> {
        self.lock().count_request(counted_path);
        self.faults().take(endpoint_path)
    }

    /// The counts `GET /_sandbox/state` answers with.
    pub fn state_json(&self) -> serde_json::Value {
        let mut state = self.lock().state_json();
        let pending = self.faults().pending();
        state["faultsPending"] = serde_json::json!(pending);
        state
    }
}
