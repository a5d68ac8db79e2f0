//! Worker-side support shared by the three front doors: the configuration
//! (parsed once per isolate), the clock and request ids.

pub mod respond;

use std::cell::RefCell;
use std::rc::Rc;

use worker::Env;

use crate::core::config::Config;
use crate::core::error::Denial;
use crate::core::key_format;

thread_local! {
    static CONFIG: RefCell<Option<Result<Rc<Config>, Denial>>> = const { RefCell::new(None) };
}

/// The isolate's configuration. A bad value is logged once and then refused
/// on every request (503 `config_invalid`), never worked around.
pub fn config(env: &Env) -> Result<Rc<Config>, Denial> {
    CONFIG.with(|cell| {
        if let Some(cached) = cell.borrow().as_ref() {
            return cached.clone();
        }
        let parsed = Config::from_lookup(|name| read_var(env, name))
            .map(Rc::new)
            .map_err(|error| {
                worker::console_error!(
                    "keygate: configuration variable {} is invalid: {}",
                    error.variable,
                    error.reason
                );
                Denial::from(error)
            });
        if let Ok(config) = &parsed {
            for warning in config.warnings() {
                worker::console_warn!("keygate: {warning}");
            }
        }
        *cell.borrow_mut() = Some(parsed.clone());
        parsed
    })
}

/// Vars and secrets share one namespace in `env`; either may hold a value.
fn read_var(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .ok()
        .map(|s| s.to_string())
        .or_else(|| env.var(name).ok().map(|v| v.to_string()))
}

/// Milliseconds since the epoch from the Worker's clock (never `SystemTime`).
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// A fresh request id, `req_` + 22 base62 characters.
pub fn new_request_id() -> String {
    let mut bytes = [0u8; 16];
    // Without randomness the id is still unique enough to correlate logs by time.
    if getrandom::fill(&mut bytes).is_err() {
        bytes[..8].copy_from_slice(&now_ms().to_be_bytes());
    }
    format!("req_{}", key_format::base62_fixed(&bytes, 22))
}
