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

use serde::Serialize;
use serde::de::DeserializeOwned;
use worker::{Env, Method, Request, RequestInit, Stub};

use crate::core::error::Denial;

/// Logs a storage failure with what failed, and fails closed.
pub(crate) fn storage_error(what: &str, error: impl std::fmt::Display) -> Denial {
    worker::console_error!("keygate: {what}: {error}");
    Denial::StoreUnavailable
}

/// Sends a command to the object named `name` of the class bound as `binding`.
pub(crate) async fn send_to<C: Serialize, T: DeserializeOwned>(
    env: &Env,
    binding: &str,
    name: &str,
    command: &C,
) -> Result<T, Denial> {
    let stub = env
        .durable_object(binding)
        .and_then(|namespace| namespace.get_by_name(name))
        .map_err(|error| storage_error(binding, error))?;
    call(&stub, command).await
}

/// Sends one JSON command to a Durable Object and reads its `Result` back.
/// Transport failures fail closed as `store_unavailable`.
async fn call<C: Serialize, T: DeserializeOwned>(stub: &Stub, command: &C) -> Result<T, Denial> {
    let body = serde_json::to_string(command).map_err(|_| Denial::StoreUnavailable)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let request =
        Request::new_with_init("https://do/", &init).map_err(|_| Denial::StoreUnavailable)?;
    let mut response = stub
        .fetch_with_request(request)
        .await
        .map_err(|error| storage_error("durable object call failed", error))?;
    let answer: Result<T, Denial> = response
        .json()
        .await
        .map_err(|error| storage_error("durable object answer unreadable", error))?;
    answer
}

/// Serializes a command's answer; the caller wraps it in a 200.
pub(crate) fn answer<T: Serialize>(result: &Result<T, Denial>) -> worker::Result<worker::Response> {
    worker::Response::from_json(result)
}

/// Reads a command from a Durable Object's request body.
pub(crate) async fn read_command<C: DeserializeOwned>(mut request: Request) -> Result<C, Denial> {
    request
        .json()
        .await
        .map_err(|error| storage_error("bad durable object command", error))
}
