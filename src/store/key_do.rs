//! `KeyObject`: one Durable Object per key, the authority on every request.
//!
//! It holds the stored key (record, hashes, sealed signing secrets), the live
//! counters (rate limiter, credits, last use), the signatures seen within the
//! skew window, and usage by outcome. A request's check is one call here, and
//! runs with no `await` between reading and writing state, so concurrent
//! requests are serialized and the limits are exact.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};
use std::cell::Cell;

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::{Env, Request, Response, SqlStorage, State, durable_object};

use crate::core::config::Config;
use crate::core::decision::{
    self, LiveState, Policy, PreviousSecret, RateHeaders, RequestFacts, StoredKey, Verdict,
};
use crate::core::error::Denial;
use crate::core::key_format;
use crate::core::record::{KeyRecord, KeyStatus, PatchKeyRequest, parse_body};
use crate::core::secret_box;
use crate::core::signature::MAX_SKEW_SECONDS;
use crate::core::time::rfc3339;
use crate::runtime;
use crate::store::usage::{self, UsageCounts, sql_int};
use crate::store::{answer, refuse_fetch, send_to, serve, storage_error};

pub const BINDING: &str = "KEY_OBJECT";
/// A roll's grace is at most 7 days (SPEC section 1).
pub const MAX_GRACE_SECONDS: u64 = 7 * 86_400;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyCommand {
    Ping,
    Create {
        stored: Box<StoredKey>,
        live: LiveState,
    },
    Get {
        now_ms: u64,
    },
    Check {
        facts: Box<RequestFacts>,
    },
    Authenticate {
        presented_hash: String,
        now_ms: u64,
    },
    Patch {
        body: String,
        now_ms: u64,
    },
    Roll {
        new_hash: String,
        new_prefix: String,
        grace_seconds: u64,
        now_ms: u64,
    },
    Revoke,
    Usage {
        now_ms: u64,
    },
}

/// A record with its live figures and, once, its signing secret.
#[derive(Debug, Serialize, Deserialize)]
pub struct Issued {
    pub record: KeyRecord,
    pub signing_secret: Option<String>,
    pub changed_fields: Vec<String>,
    /// The hash a roll replaced, and until when it still works (ms; `None`: not at all).
    pub replaced_hash: Option<(String, Option<u64>)>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Revoked {
    pub owner: String,
    pub hashes: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct UsageReport {
    pub key_id: String,
    #[serde(flatten)]
    pub counts: UsageCounts,
    pub last_used_at: Option<String>,
    pub credits_remaining: Option<u64>,
    pub rate_limit: RateHeaders,
}

#[durable_object]
pub struct KeyObject {
    state: State,
    sql: SqlStorage,
    env: Env,
    cached: RefCell<Option<(StoredKey, LiveState)>>,
    /// Writes held back for at most [`FLUSH_DELAY_MS`] (see [`Pending`]).
    pending: RefCell<Pending>,
    /// When the alarm is known to be set for.
    alarm_at: Cell<Option<u64>>,
}

/// Writing the limiter window and usage on every request would double the
/// cost of the hot path, so they are kept in memory and flushed by the alarm
/// within [`FLUSH_DELAY_MS`]; reads of usage flush first. Credits are written
/// through on every change, since a lost decrement would give credit away.
/// An object is only evicted after being idle far longer than the delay, so
/// only a crash or redeploy can lose the last second of counts (documented in
/// docs/architecture.md).
#[derive(Default)]
struct Pending {
    live_dirty: bool,
    usage: std::collections::BTreeMap<&'static str, u64>,
    since_ms: u64,
}

impl Pending {
    fn is_empty(&self) -> bool {
        !self.live_dirty && self.usage.is_empty()
    }
}

const FLUSH_DELAY_MS: u64 = 1_000;

impl worker::DurableObject for KeyObject {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        for statement in [
            "CREATE TABLE IF NOT EXISTS key_state (slot INTEGER PRIMARY KEY, stored TEXT NOT NULL, live TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS seen_signature (signature TEXT PRIMARY KEY, at_ms INTEGER NOT NULL)",
            usage::SCHEMA,
        ] {
            if let Err(error) = sql.exec(statement, None) {
                worker::console_error!("keygate: key object schema: {error}");
            }
        }
        KeyObject {
            state,
            sql,
            env,
            cached: RefCell::new(None),
            pending: RefCell::new(Pending::default()),
            alarm_at: Cell::new(None),
        }
    }

    async fn fetch(&self, _request: Request) -> worker::Result<Response> {
        refuse_fetch()
    }

    /// Flushes held-back writes and prunes old usage buckets; comes back
    /// hourly while the key exists, so idle keys are pruned too.
    async fn alarm(&self) -> worker::Result<Response> {
        self.alarm_at.set(None);
        let now_ms = runtime::now_ms();
        if let Err(denial) = self.flush().and_then(|()| usage::prune(&self.sql, now_ms)) {
            worker::console_error!("keygate: key object alarm: {denial}");
        }
        if self.load().ok().flatten().is_some() {
            self.set_alarm(usage::next_prune_ms(now_ms));
        }
        Response::ok("flushed")
    }
}

#[wasm_bindgen]
impl KeyObject {
    /// The RPC entry point (see `store::call`): a JSON [`KeyCommand`] in,
    /// its JSON `Result` out.
    pub fn command(&self, command: String) -> String {
        serve(&command, |command| self.run(command))
    }
}

fn store_error(error: impl std::fmt::Display) -> Denial {
    storage_error("key object storage", error)
}

fn unknown_key() -> Denial {
    Denial::not_found("no key with this id")
}

/// Gives the key a fresh signing secret, stored sealed; returns the plaintext
/// (shown once) when `wanted`.
fn issue_signing_secret(
    stored: &mut StoredKey,
    config: &Config,
    wanted: bool,
) -> Result<Option<String>, Denial> {
    if !wanted {
        return Ok(None);
    }
    let key = config.require_signing_key()?;
    let secret = key_format::generate_signing_secret(&config.key_prefix)
        .map_err(|_| Denial::StoreUnavailable)?;
    let sealed = secret_box::seal(key, &secret).map_err(|_| Denial::StoreUnavailable)?;
    stored.sealed_signing_secret = Some(sealed);
    Ok(Some(secret))
}

impl KeyObject {
    fn run(&self, command: KeyCommand) -> String {
        let config = match runtime::config(&self.env) {
            Ok(config) => config,
            Err(denial) => return answer::<()>(&Err(denial)),
        };
        match command {
            KeyCommand::Ping => answer(&Ok(true)),
            KeyCommand::Create { stored, live } => answer(&self.create(*stored, live, &config)),
            KeyCommand::Get { now_ms } => answer(&self.view(now_ms)),
            KeyCommand::Check { facts } => {
                let verdict = self.check(&facts, &config);
                self.schedule_flush(facts.now_ms);
                answer(&verdict)
            }
            KeyCommand::Authenticate {
                presented_hash,
                now_ms,
            } => answer(&self.authenticate(&presented_hash, now_ms)),
            KeyCommand::Patch { body, now_ms } => answer(&self.patch(&body, now_ms, &config)),
            KeyCommand::Roll {
                new_hash,
                new_prefix,
                grace_seconds,
                now_ms,
            } => answer(&self.roll(new_hash, new_prefix, grace_seconds, now_ms, &config)),
            KeyCommand::Revoke => answer(&self.revoke()),
            KeyCommand::Usage { now_ms } => answer(&self.usage(now_ms, &config)),
        }
    }

    /// The stored key and live state, read from SQLite once per object lifetime.
    fn load(&self) -> Result<Option<(StoredKey, LiveState)>, Denial> {
        self.ensure_loaded()?;
        Ok(self.cached.borrow().clone())
    }

    /// Fills the cache from SQLite when empty; whether the key exists.
    fn ensure_loaded(&self) -> Result<bool, Denial> {
        if self.cached.borrow().is_some() {
            return Ok(true);
        }
        #[derive(Deserialize)]
        struct Row {
            stored: String,
            live: String,
        }
        let rows: Vec<Row> = self
            .sql
            .exec("SELECT stored, live FROM key_state WHERE slot = 1", None)
            .and_then(|cursor| cursor.to_array())
            .map_err(store_error)?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(false);
        };
        let stored: StoredKey = serde_json::from_str(&row.stored).map_err(store_error)?;
        let live: LiveState = serde_json::from_str(&row.live).map_err(store_error)?;
        *self.cached.borrow_mut() = Some((stored, live));
        Ok(true)
    }

    /// Writes what [`Pending`] held back.
    fn flush(&self) -> Result<(), Denial> {
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        let dirty_live = pending
            .live_dirty
            .then(|| self.cached.borrow().as_ref().map(|(_, live)| live.clone()))
            .flatten();
        if let Some(live) = dirty_live {
            self.save_live(&live)?;
        }
        for (outcome, n) in pending.usage {
            usage::count(&self.sql, outcome, n, pending.since_ms)?;
        }
        Ok(())
    }

    /// Sets the alarm without waiting for it: the runtime's output gate
    /// holds this call's answer until the alarm is stored, and breaks the
    /// object (failing the call) if it cannot be, so nothing is lost.
    fn set_alarm(&self, at_ms: u64) {
        let at = js_sys::Date::new(&JsValue::from_f64(at_ms as f64));
        let set = self
            .state
            .as_raw()
            .storage()
            .and_then(|storage| storage.set_alarm(at, JsValue::NULL.unchecked_into()));
        match set {
            Ok(_) => self.alarm_at.set(Some(at_ms)),
            Err(error) => worker::console_error!(
                "keygate: key object alarm not set: {}",
                worker::Error::from(error)
            ),
        }
    }

    /// Makes sure held-back writes are flushed within the delay.
    fn schedule_flush(&self, now_ms: u64) {
        if self.pending.borrow().is_empty() {
            return;
        }
        let deadline = now_ms + FLUSH_DELAY_MS;
        if self.alarm_at.get().is_none_or(|at| at > deadline) {
            self.set_alarm(deadline);
        }
    }

    fn save(&self, stored: &StoredKey, live: &LiveState) -> Result<(), Denial> {
        let stored_text = serde_json::to_string(stored).map_err(store_error)?;
        let live_text = serde_json::to_string(live).map_err(store_error)?;
        self.sql
            .exec(
                "INSERT INTO key_state (slot, stored, live) VALUES (1, ?, ?) ON CONFLICT(slot) DO UPDATE SET stored = excluded.stored, live = excluded.live",
                vec![stored_text.into(), live_text.into()],
            )
            .map_err(store_error)?;
        *self.cached.borrow_mut() = Some((stored.clone(), live.clone()));
        self.pending.borrow_mut().live_dirty = false;
        Ok(())
    }

    fn save_live(&self, live: &LiveState) -> Result<(), Denial> {
        let live_text = serde_json::to_string(live).map_err(store_error)?;
        self.sql
            .exec(
                "UPDATE key_state SET live = ? WHERE slot = 1",
                vec![live_text.into()],
            )
            .map_err(store_error)?;
        if let Some((_, cached_live)) = self.cached.borrow_mut().as_mut() {
            *cached_live = live.clone();
        }
        Ok(())
    }

    fn create(
        &self,
        mut stored: StoredKey,
        live: LiveState,
        config: &Config,
    ) -> Result<Issued, Denial> {
        if self.load()?.is_some() {
            return Err(Denial::bad_request("a key with this id already exists"));
        }
        let wanted = stored.record.require_signature;
        let signing_secret = issue_signing_secret(&mut stored, config, wanted)?;
        self.save(&stored, &live)?;
        Ok(Issued {
            record: record_view(&stored, &live),
            signing_secret,
            changed_fields: Vec::new(),
            replaced_hash: None,
        })
    }

    fn view(&self, _now_ms: u64) -> Result<Issued, Denial> {
        let (stored, live) = self.load()?.ok_or_else(unknown_key)?;
        Ok(Issued {
            record: record_view(&stored, &live),
            signing_secret: None,
            changed_fields: Vec::new(),
            replaced_hash: None,
        })
    }

    fn check(&self, facts: &RequestFacts, config: &Config) -> Result<Verdict, Denial> {
        if !self.ensure_loaded()? {
            return Ok(Verdict::unidentified(Denial::InvalidKey));
        }
        // The hot path borrows the cached key rather than cloning it.
        let (verdict, live, credits_changed, live_changed) = {
            let cache = self.cached.borrow();
            let Some((stored, cached_live)) = cache.as_ref() else {
                return Ok(Verdict::unidentified(Denial::InvalidKey));
            };
            let (rate_policy, rate_limit) = stored.record.effective_rate_limit(config);
            let signing_secret = match stored.presented(&facts.presented_hash, facts.now_ms) {
                Some(presented) if stored.record.require_signature && facts.signature.is_some() => {
                    match stored.sealed_secret_for(presented) {
                        Some(sealed) => Some(
                            secret_box::open(config.require_signing_key()?, sealed)
                                .map_err(store_error)?,
                        ),
                        None => None,
                    }
                }
                _ => None,
            };
            let policy = Policy {
                rate_policy,
                rate_limit,
                signing_secret: signing_secret.as_deref(),
            };
            let mut live = cached_live.clone();
            let verdict = decision::decide(stored, &mut live, facts, &policy, |signature| {
                self.signature_seen(signature, facts.now_ms)
            });
            let credits_changed = live.credits != cached_live.credits;
            let live_changed = live != *cached_live;
            (verdict, live, credits_changed, live_changed)
        };
        if credits_changed {
            self.save_live(&live)?;
        } else if live_changed {
            if let Some((_, cached_live)) = self.cached.borrow_mut().as_mut() {
                *cached_live = live;
            }
            self.pending.borrow_mut().live_dirty = true;
        }
        if let Some(signature) = &verdict.accepted_signature {
            self.remember_signature(signature, facts.now_ms)?;
        }
        if verdict.identity.is_some() {
            let mut pending = self.pending.borrow_mut();
            if pending.usage.is_empty() {
                pending.since_ms = facts.now_ms;
            }
            *pending.usage.entry(verdict.outcome()).or_default() += 1;
        }
        Ok(verdict)
    }

    fn authenticate(&self, presented_hash: &str, now_ms: u64) -> Result<KeyRecord, Denial> {
        let Some((stored, live)) = self.load()? else {
            return Err(Denial::InvalidKey);
        };
        if stored.presented(presented_hash, now_ms).is_none() {
            return Err(Denial::InvalidKey);
        }
        match stored.record.status(stored.expires_ms, now_ms) {
            KeyStatus::Active => Ok(record_view(&stored, &live)),
            KeyStatus::Disabled => Err(Denial::KeyDisabled),
            KeyStatus::Expired => Err(Denial::ExpiredKey),
        }
    }

    fn patch(&self, body: &str, now_ms: u64, config: &Config) -> Result<Issued, Denial> {
        let (mut stored, mut live) = self.load()?.ok_or_else(unknown_key)?;
        let patch: PatchKeyRequest = parse_body(body.as_bytes())?;
        let applied = patch.apply(&mut stored.record, config, now_ms)?;
        if let Some(expiry) = applied.expires_ms {
            stored.expires_ms = expiry;
        }
        if let Some(credits) = applied.credits {
            live.credits = credits.map(|spec| spec.into_credits(stored.created_ms, now_ms));
        }
        let wanted = applied.signature_turned_on;
        let signing_secret = issue_signing_secret(&mut stored, config, wanted)?;
        self.save(&stored, &live)?;
        Ok(Issued {
            record: record_view(&stored, &live),
            signing_secret,
            changed_fields: applied
                .changed_fields
                .iter()
                .map(|f| f.to_string())
                .collect(),
            replaced_hash: None,
        })
    }

    fn roll(
        &self,
        new_hash: String,
        new_prefix: String,
        grace_seconds: u64,
        now_ms: u64,
        config: &Config,
    ) -> Result<Issued, Denial> {
        let (mut stored, live) = self.load()?.ok_or_else(unknown_key)?;
        let old_hash = std::mem::replace(&mut stored.hash, new_hash);
        let old_sealed = stored.sealed_signing_secret.take();
        let grace_until = (grace_seconds > 0).then(|| now_ms + grace_seconds * 1000);
        stored.previous = grace_until.map(|until_ms| PreviousSecret {
            hash: old_hash.clone(),
            until_ms,
            sealed_signing_secret: old_sealed,
        });
        let wanted = stored.record.require_signature;
        let signing_secret = issue_signing_secret(&mut stored, config, wanted)?;
        stored.record.prefix = new_prefix;
        stored.record.updated_at = rfc3339(now_ms);
        self.save(&stored, &live)?;
        Ok(Issued {
            record: record_view(&stored, &live),
            signing_secret,
            changed_fields: vec!["key".to_string()],
            replaced_hash: Some((old_hash, grace_until)),
        })
    }

    fn revoke(&self) -> Result<Revoked, Denial> {
        let (stored, _) = self.load()?.ok_or_else(unknown_key)?;
        for table in ["key_state", "seen_signature", "usage"] {
            self.sql
                .exec(&format!("DELETE FROM {table}"), None)
                .map_err(store_error)?;
        }
        *self.cached.borrow_mut() = None;
        *self.pending.borrow_mut() = Pending::default();
        let mut hashes = vec![stored.hash];
        hashes.extend(stored.previous.map(|p| p.hash));
        Ok(Revoked {
            owner: stored.record.owner,
            hashes,
        })
    }

    fn signature_seen(&self, signature: &str, _now_ms: u64) -> bool {
        self.sql
            .exec(
                "SELECT 1 AS seen FROM seen_signature WHERE signature = ?",
                vec![signature.into()],
            )
            .and_then(|cursor| cursor.to_array::<serde_json::Value>())
            // Unreadable replay state refuses the signature rather than risk a replay.
            .map_or(true, |rows| !rows.is_empty())
    }

    fn remember_signature(&self, signature: &str, now_ms: u64) -> Result<(), Denial> {
        let horizon = now_ms.saturating_sub(2 * MAX_SKEW_SECONDS * 1000);
        self.sql
            .exec(
                "DELETE FROM seen_signature WHERE at_ms < ?",
                vec![sql_int(horizon)],
            )
            .map_err(store_error)?;
        self.sql
            .exec(
                "INSERT OR IGNORE INTO seen_signature (signature, at_ms) VALUES (?, ?)",
                vec![signature.into(), sql_int(now_ms)],
            )
            .map_err(store_error)?;
        Ok(())
    }

    fn usage(&self, now_ms: u64, config: &Config) -> Result<UsageReport, Denial> {
        let (stored, live) = self.load()?.ok_or_else(unknown_key)?;
        self.flush()?;
        let (policy, limit) = stored.record.effective_rate_limit(config);
        let peek = live.limiter.peek(limit, now_ms);
        Ok(UsageReport {
            key_id: stored.record.id.clone(),
            counts: usage::read(&self.sql, now_ms)?,
            last_used_at: live.last_used_ms.map(rfc3339),
            credits_remaining: live.credits.map(|c| c.remaining),
            rate_limit: RateHeaders::new(policy, limit, peek.remaining, peek.reset_seconds),
        })
    }
}

/// The record as the API shows it: live credits and last use filled in.
fn record_view(stored: &StoredKey, live: &LiveState) -> KeyRecord {
    let mut record = stored.record.clone();
    if let (Some(view), Some(credits)) = (record.credits.as_mut(), live.credits) {
        view.remaining = credits.remaining;
    }
    record.last_used_at = live.last_used_ms.map(rfc3339);
    record
}

/// The stub of a key's object.
pub async fn send<T: serde::de::DeserializeOwned>(
    env: &Env,
    key_id: &str,
    command: &KeyCommand,
) -> Result<T, Denial> {
    send_to(env, BINDING, key_id, command).await
}
