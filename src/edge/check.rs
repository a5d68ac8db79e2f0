//! The key check shared by the proxied path and `POST /v1/verify`: format and
//! checksum (no storage), hash, KV lookup, then one call to the key's object.

use worker::Env;

use crate::core::config::Config;
use crate::core::decision::{RequestFacts, Verdict};
use crate::core::error::Denial;
use crate::core::hashing::hash_key;
use crate::core::key_format::parse_key;
use crate::store::key_do::{self, KeyCommand};
use crate::store::kv;

/// Decides `facts` for `key`; `facts.presented_hash` is filled in here.
/// `Err` only for storage failures (which fail closed).
pub async fn check_key(
    env: &Env,
    config: &Config,
    key: &str,
    mut facts: RequestFacts,
) -> Result<Verdict, Denial> {
    if parse_key(key, &config.key_prefix).is_err() {
        return Ok(Verdict::unidentified(Denial::MalformedKey));
    }
    let hash = hash_key(config.secrets.key_pepper.as_deref(), key);
    let Some(key_id) = kv::key_id_for_hash(env, &hash).await? else {
        return Ok(Verdict::unidentified(Denial::InvalidKey));
    };
    facts.presented_hash = hash;
    key_do::send(
        env,
        &key_id,
        &KeyCommand::Check {
            facts: Box::new(facts),
        },
    )
    .await
}
