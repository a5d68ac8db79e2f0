//! The admin API under `ADMIN_PREFIX` (SPEC section 3): health, console,
//! key management, audit and verify. Never proxied.

pub mod auth;
pub mod console;
pub mod keys;
pub mod verify;

use serde_json::json;
use worker::{Env, Method, Request, Response};

use crate::core::config::Config;
use crate::core::error::Denial;
use crate::runtime::respond;
use crate::store::key_do::{self, KeyCommand};
use crate::store::kv;
use crate::store::owner_do::{self, RegistryCommand};

/// Admin bodies are small JSON documents; anything larger is refused (413).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Whether `path` is under the admin prefix.
pub fn owns_path(config: &Config, path: &str) -> bool {
    path == config.admin_prefix
        || path
            .strip_prefix(&config.admin_prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

pub async fn handle(request: Request, env: &Env, config: &Config, request_id: &str) -> Response {
    match route(request, env, config, request_id).await {
        Ok(response) => response,
        Err(denial) => respond::problem(&denial, request_id),
    }
}

async fn read_body(request: &mut Request) -> Result<Vec<u8>, Denial> {
    let too_large = Denial::PayloadTooLarge {
        limit_bytes: MAX_BODY_BYTES as u64,
    };
    let declared = request
        .headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|n| n.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large);
    }
    let body = request
        .bytes()
        .await
        .map_err(|_| Denial::bad_request("the request body could not be read"))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large);
    }
    Ok(body)
}

async fn route(
    mut request: Request,
    env: &Env,
    config: &Config,
    request_id: &str,
) -> Result<Response, Denial> {
    let path = request.path();
    let rest = path
        .strip_prefix(&config.admin_prefix)
        .unwrap_or_default()
        .to_string();
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    // `worker::Method` turns unknown methods into GET; refuse them first.
    let raw_method = request.inner().method();
    let method = request.method();
    if method.as_ref() != raw_method {
        return Err(Denial::MethodNotAllowed);
    }

    if let Some(console_rest) = rest.strip_prefix("/console") {
        only(&method, &[Method::Get, Method::Head])?;
        return console::asset(&config.admin_prefix, console_rest, request_id)
            .ok_or_else(|| Denial::not_found("no console asset at this path"));
    }
    match segments.as_slice() {
        ["health"] => {
            only(&method, &[Method::Get, Method::Head])?;
            return Ok(health(env, request_id).await);
        }
        ["v1", ..] => {}
        _ => return Err(Denial::not_found("no admin route at this path")),
    }

    let principal = auth::authenticate(&request, env, config).await?;
    if segments.as_slice() == ["v1", "verify"] {
        only(&method, &[Method::Post])?;
        let body = read_body(&mut request).await?;
        return verify::verify(env, config, &principal, &body, request_id).await;
    }
    principal.require_admin()?;
    match segments.as_slice() {
        ["v1", "keys"] => match method {
            Method::Post => {
                let body = read_body(&mut request).await?;
                keys::create(env, config, &principal, &body, request_id).await
            }
            Method::Get => {
                let query = request
                    .query::<keys::ListQuery>()
                    .map_err(|e| Denial::bad_request(format!("query: {e}")))?;
                keys::list(env, &principal, query, request_id).await
            }
            _ => Err(Denial::MethodNotAllowed),
        },
        ["v1", "keys", id] => match method {
            Method::Get => keys::get(env, &principal, id, request_id).await,
            Method::Patch => {
                let body = read_body(&mut request).await?;
                keys::patch(env, &principal, id, &body, request_id).await
            }
            Method::Delete => keys::revoke(env, &principal, id, request_id).await,
            _ => Err(Denial::MethodNotAllowed),
        },
        ["v1", "keys", id, "roll"] => {
            only(&method, &[Method::Post])?;
            let body = read_body(&mut request).await?;
            keys::roll(env, config, &principal, id, &body, request_id).await
        }
        ["v1", "keys", id, "usage"] => {
            only(&method, &[Method::Get])?;
            keys::usage(env, &principal, id, request_id).await
        }
        ["v1", "usage"] => {
            only(&method, &[Method::Get])?;
            keys::gateway_usage(env, &principal, request_id).await
        }
        ["v1", "audit"] => {
            only(&method, &[Method::Get])?;
            let query = request
                .query::<keys::AuditQuery>()
                .map_err(|e| Denial::bad_request(format!("query: {e}")))?;
            keys::audit(env, &principal, query, request_id).await
        }
        _ => Err(Denial::not_found("no admin route at this path")),
    }
}

fn only(method: &Method, allowed: &[Method]) -> Result<(), Denial> {
    if allowed.contains(method) {
        Ok(())
    } else {
        Err(Denial::MethodNotAllowed)
    }
}

/// Liveness plus a round trip to KV and to each Durable Object class.
async fn health(env: &Env, request_id: &str) -> Response {
    let status = |result: Result<bool, Denial>| match result {
        Ok(_) => "ok",
        Err(_) => "unavailable",
    };
    let kv = status(kv::ping(env).await.map(|_| true));
    let key_object = status(key_do::send::<bool>(env, "health", &KeyCommand::Ping).await);
    let owner_registry =
        status(owner_do::send::<bool>(env, "health", &RegistryCommand::Ping).await);
    let healthy = [kv, key_object, owner_registry].iter().all(|s| *s == "ok");
    respond::json(
        if healthy { 200 } else { 503 },
        &json!({
            "status": if healthy { "ok" } else { "degraded" },
            "version": env!("CARGO_PKG_VERSION"),
            "checks": { "kv": kv, "key_object": key_object, "owner_registry": owner_registry },
        }),
        request_id,
    )
}
