//! Storage: the KV index of key hashes and the two Durable Objects.
//!
//! KV maps a key's hash to its id and is only a lookup: it is cached and
//! eventually consistent, so it never decides anything. The key's Durable
//! Object holds the record, the secrets' hashes and the live counters and is
//! the authority on every request; the owner registry holds each owner's keys
//! in creation order, the owner's cap and the audit log.

pub mod key_do;
pub mod kv;
pub mod owner_do;
pub mod usage;

use std::cell::RefCell;
use std::collections::HashMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen_futures::JsFuture;
use worker::{Env, ObjectNamespace};

use crate::core::error::Denial;

/// Logs a storage failure with what failed, and fails closed.
pub(crate) fn storage_error(what: &str, error: impl std::fmt::Display) -> Denial {
    worker::console_error!("keygate: {what}: {error}");
    Denial::StoreUnavailable
}

thread_local! {
    /// The namespace bindings, looked up (and type-checked) once per isolate:
    /// `env` is the same for every request an isolate serves.
    static NAMESPACES: RefCell<HashMap<&'static str, ObjectNamespace>> = RefCell::new(HashMap::new());
    /// Object ids by binding and name. `idFromName` hashes the name on every
    /// call; an id, unlike a stub, may outlive the request that made it.
    static OBJECT_IDS: RefCell<HashMap<(&'static str, String), JsValue>> = RefCell::new(HashMap::new());
}

/// Bounds [`OBJECT_IDS`]; it is emptied when full (ids are cheap to remake).
const OBJECT_ID_CACHE_CAPACITY: usize = 10_000;

fn namespace(env: &Env, binding: &'static str) -> worker::Result<ObjectNamespace> {
    if let Some(found) = NAMESPACES.with(|cache| cache.borrow().get(binding).cloned()) {
        return Ok(found);
    }
    let found = env.durable_object(binding)?;
    NAMESPACES.with(|cache| cache.borrow_mut().insert(binding, found.clone()));
    Ok(found)
}

/// Sends a command to the object named `name` of the class bound as `binding`.
pub(crate) async fn send_to<C: Serialize, T: DeserializeOwned>(
    env: &Env,
    binding: &'static str,
    name: &str,
    command: &C,
) -> Result<T, Denial> {
    let namespace = namespace(env, binding).map_err(|_| Denial::ConfigInvalid {
        variable: binding.into(),
        reason: "the Durable Object binding is missing".into(),
    })?;
    let namespace: &RawNamespace = namespace.unchecked_ref();
    let stub = object_id(namespace, binding, name)
        .and_then(|id| namespace.get(&id))
        .map_err(|error| storage_error(binding, worker::Error::from(error)))?;
    call(stub, command).await
}

/// The id of the object named `name`, made once per isolate.
fn object_id(
    namespace: &RawNamespace,
    binding: &'static str,
    name: &str,
) -> Result<JsValue, JsValue> {
    let cache_key = (binding, name.to_string());
    if let Some(id) = OBJECT_IDS.with(|ids| ids.borrow().get(&cache_key).cloned()) {
        return Ok(id);
    }
    let id = namespace.id_from_name(name)?;
    OBJECT_IDS.with(|ids| {
        let mut ids = ids.borrow_mut();
        if ids.len() >= OBJECT_ID_CACHE_CAPACITY {
            ids.clear();
        }
        ids.insert(cache_key, id.clone());
    });
    Ok(id)
}

#[wasm_bindgen]
extern "C" {
    /// A Durable Object namespace binding, for the two calls worker-rs does
    /// not offer on a kept id.
    type RawNamespace;

    #[wasm_bindgen(method, catch, js_name = idFromName)]
    fn id_from_name(this: &RawNamespace, name: &str) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn get(this: &RawNamespace, id: &JsValue) -> Result<ObjectStub, JsValue>;

    /// A Keygate object's stub as Durable Object RPC sees it (see
    /// `worker/entry.mjs`): one method taking a JSON command, answering JSON.
    type ObjectStub;

    #[wasm_bindgen(method, catch)]
    fn command(this: &ObjectStub, command: &str) -> Result<js_sys::Promise, JsValue>;
}

/// Sends one JSON command to a Durable Object and reads its `Result` back.
/// RPC rather than `fetch`: this is on every proxied request, and a string
/// in and out skips building, converting and streaming a Request and a
/// Response on both sides. Transport failures fail closed as `store_unavailable`.
async fn call<C: Serialize, T: DeserializeOwned>(
    stub: ObjectStub,
    command: &C,
) -> Result<T, Denial> {
    let command = serde_json::to_string(command).map_err(|_| Denial::StoreUnavailable)?;
    let promise = stub
        .command(&command)
        .map_err(|error| storage_error("durable object call failed", worker::Error::from(error)))?;
    let text = JsFuture::from(promise)
        .await
        .map_err(|error| storage_error("durable object call failed", worker::Error::from(error)))?
        .as_string()
        .unwrap_or_default();
    let answer: Result<T, Denial> = serde_json::from_str(&text)
        .map_err(|error| storage_error("durable object answer unreadable", error))?;
    answer
}

/// An object's side of [`call`]: decodes the command and runs it with `run`,
/// which answers synchronously (no await between reading and writing an
/// object's state, and no promise to build). An undecodable command fails closed.
pub(crate) fn serve<C: DeserializeOwned>(command: &str, run: impl FnOnce(C) -> String) -> String {
    match serde_json::from_str(command) {
        Ok(command) => run(command),
        Err(error) => answer::<()>(&Err(storage_error("bad durable object command", error))),
    }
}

/// Encodes a command's answer (should that fail, the empty answer makes
/// the caller fail closed).
pub(crate) fn answer<T: Serialize>(result: &Result<T, Denial>) -> String {
    serde_json::to_string(result).unwrap_or_else(|error| {
        storage_error("durable object answer unwritable", error);
        String::new()
    })
}

/// The objects are reached over RPC only; a `fetch` to one is refused.
pub(crate) fn refuse_fetch() -> worker::Result<worker::Response> {
    worker::Response::error("Keygate objects answer RPC commands only", 404)
}
