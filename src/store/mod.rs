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
use worker::{Method, Request, RequestInit, Stub};

use crate::core::error::Denial;

/// Sends one JSON command to a Durable Object and reads its `Result` back.
/// Transport failures fail closed as `store_unavailable`.
pub(crate) async fn call<C: Serialize, T: DeserializeOwned>(
    stub: &Stub,
    command: &C,
) -> Result<T, Denial> {
    let body = serde_json::to_string(command).map_err(|_| Denial::StoreUnavailable)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let request =
        Request::new_with_init("https://do/", &init).map_err(|_| Denial::StoreUnavailable)?;
    let mut response = stub.fetch_with_request(request).await.map_err(|error| {
        worker::console_error!("keygate: durable object call failed: {error}");
        Denial::StoreUnavailable
    })?;
    let answer: Result<T, Denial> = response.json().await.map_err(|error| {
        worker::console_error!("keygate: durable object answer unreadable: {error}");
        Denial::StoreUnavailable
    })?;
    answer
}

/// Serializes a command's answer; the caller wraps it in a 200.
pub(crate) fn answer<T: Serialize>(result: &Result<T, Denial>) -> worker::Result<worker::Response> {
    worker::Response::from_json(result)
}

/// Reads a command from a Durable Object's request body.
pub(crate) async fn read_command<C: DeserializeOwned>(mut request: Request) -> Result<C, Denial> {
    request.json().await.map_err(|error| {
        worker::console_error!("keygate: bad durable object command: {error}");
        Denial::StoreUnavailable
    })
}
