//! The `KEYS` namespace: `h:<hash>` -> key id. An in-isolate cache of these
//! immutable pairs saves a KV read on the hot path; it is safe because the
//! key's Durable Object still decides (a revoked or rolled-out hash maps to
//! an id whose object refuses it).

use std::cell::RefCell;
use std::collections::HashMap;

use worker::Env;

use crate::core::error::Denial;

const BINDING: &str = "KEYS";
/// KV's edge cache for reads; the Durable Object stays the authority.
const EDGE_CACHE_TTL_SECONDS: u64 = 60;
const ISOLATE_CACHE_CAPACITY: usize = 10_000;

thread_local! {
    static ID_BY_HASH: RefCell<HashMap<String, String>> = RefCell::new(HashMap::new());
}

fn entry_name(hash: &str) -> String {
    format!("h:{hash}")
}

fn namespace(env: &Env) -> Result<worker::KvStore, Denial> {
    env.kv(BINDING).map_err(|_| Denial::ConfigInvalid {
        variable: BINDING.into(),
        reason: "the KV namespace binding is missing".into(),
    })
}

/// The id of the key with this hash, if any.
pub async fn key_id_for_hash(env: &Env, hash: &str) -> Result<Option<String>, Denial> {
    if let Some(id) = ID_BY_HASH.with(|cache| cache.borrow().get(hash).cloned()) {
        return Ok(Some(id));
    }
    let found = namespace(env)?
        .get(&entry_name(hash))
        .cache_ttl(EDGE_CACHE_TTL_SECONDS)
        .text()
        .await
        .map_err(|error| {
            worker::console_error!("keygate: KV read failed: {error}");
            Denial::StoreUnavailable
        })?;
    if let Some(id) = &found {
        ID_BY_HASH.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.len() >= ISOLATE_CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(hash.to_string(), id.clone());
        });
    }
    Ok(found)
}

/// Maps a hash to its key id; with `ttl_seconds` the entry expires (a rolled-out key's grace).
pub async fn put_hash(
    env: &Env,
    hash: &str,
    key_id: &str,
    ttl_seconds: Option<u64>,
) -> Result<(), Denial> {
    let mut put = namespace(env)?
        .put(&entry_name(hash), key_id)
        .map_err(|_| Denial::StoreUnavailable)?;
    if let Some(ttl) = ttl_seconds {
        // KV's minimum TTL is 60 s; the Durable Object ends the grace exactly.
        put = put.expiration_ttl(ttl.max(60));
    }
    put.execute().await.map_err(|error| {
        worker::console_error!("keygate: KV write failed: {error}");
        Denial::StoreUnavailable
    })
}

pub async fn delete_hash(env: &Env, hash: &str) -> Result<(), Denial> {
    ID_BY_HASH.with(|cache| cache.borrow_mut().remove(hash));
    namespace(env)?
        .delete(&entry_name(hash))
        .await
        .map_err(|error| {
            worker::console_error!("keygate: KV delete failed: {error}");
            Denial::StoreUnavailable
        })
}

/// A cheap read that proves the namespace answers (for the health check).
pub async fn ping(env: &Env) -> Result<(), Denial> {
    namespace(env)?
        .get("health:ping")
        .text()
        .await
        .map(|_| ())
        .map_err(|_| Denial::StoreUnavailable)
}
