//! The proxied path (SPEC section 2), top to bottom: HTTPS, preflight,
//! credential, key check (format, KV, the key's object), proxy, and the
//! headers every answer carries.

pub mod check;
pub mod cors;
pub mod gateway_usage;
pub mod proxy;

use worker::{Context, Env, Request, Response};

use crate::core::config::Config;
use crate::core::credentials::{Credential, extract_credential};
use crate::core::decision::{RateHeaders, RequestFacts, SignatureFacts};
use crate::core::domains::host_of;
use crate::core::error::Denial;
use crate::core::hashing::sha256_hex;
use crate::runtime::{self, respond};

/// Signed bodies must be read to be hashed; this bounds the memory that takes.
const MAX_SIGNED_BODY_BYTES: usize = 32 * 1024 * 1024;

/// A refusal with what its response needs besides the problem body.
struct Refusal {
    denial: Denial,
    ratelimit: Option<RateHeaders>,
    /// Whether the key's object counted it (else it is counted per gateway).
    counted: bool,
}

impl From<Denial> for Refusal {
    fn from(denial: Denial) -> Refusal {
        Refusal {
            denial,
            ratelimit: None,
            counted: false,
        }
    }
}

pub async fn handle(
    request: Request,
    env: &Env,
    ctx: &Context,
    config: &Config,
    request_id: &str,
) -> Response {
    let origin = request.headers().get("Origin").ok().flatten();
    let url = request.url().ok();
    if config.require_https && url.as_ref().is_some_and(|u| u.scheme() != "https") {
        gateway_usage::record(Denial::HttpsRequired.code(), runtime::now_ms(), env, ctx);
        return finish(
            respond::problem(&Denial::HttpsRequired, request_id),
            None,
            config,
            origin.as_deref(),
        );
    }
    if cors::is_preflight(&request.method(), request.headers()) {
        return cors::preflight(config, request.headers(), request_id);
    }
    match admit_and_forward(request, env, config, request_id).await {
        Ok((response, rate)) => finish(response, Some(&rate), config, origin.as_deref()),
        Err(refusal) => {
            if !refusal.counted {
                gateway_usage::record(refusal.denial.code(), runtime::now_ms(), env, ctx);
            }
            let response = respond::problem(&refusal.denial, request_id);
            // A refused origin is never echoed back to the browser.
            let echo = match refusal.denial {
                Denial::DomainNotAllowed { .. } => None,
                _ => origin.as_deref(),
            };
            finish(response, refusal.ratelimit.as_ref(), config, echo)
        }
    }
}

/// Adds the request id, RateLimit fields and CORS echo to any answer.
fn finish(
    response: Response,
    rate: Option<&RateHeaders>,
    config: &Config,
    origin: Option<&str>,
) -> Response {
    let headers = response.headers();
    if let Some(rate) = rate {
        respond::add_rate_headers(headers, rate);
    }
    cors::echo_origin(config, origin, headers);
    response
}

/// The raw path and query as the client sent them (`/v1/x?b=2&a=1`).
fn raw_target(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    match after_scheme.find('/') {
        Some(slash) => after_scheme[slash..].to_string(),
        None => "/".to_string(),
    }
}

/// Whether a raw `name=value` query pair is the `api_key` parameter. The name
/// is decoded, so extraction and stripping agree (`api%5Fkey` is one too).
fn is_query_key_pair(pair: &str) -> bool {
    worker::url::form_urlencoded::parse(pair.as_bytes())
        .next()
        .is_some_and(|(name, _)| name == "api_key")
}

/// The target with every `api_key` parameter removed, for the origin; the
/// other pairs are kept exactly as sent.
fn without_query_key(target: &str) -> String {
    let Some((path, query)) = target.split_once('?') else {
        return target.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !is_query_key_pair(pair))
        .collect();
    if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
}

/// Every `api_key` parameter, percent-decoded (each one is a credential candidate).
fn query_keys(target: &str) -> Vec<String> {
    let query = target.split_once('?').map_or("", |(_, query)| query);
    query
        .split('&')
        .filter(|pair| is_query_key_pair(pair))
        .flat_map(|pair| worker::url::form_urlencoded::parse(pair.as_bytes()))
        .map(|(_, value)| value.into_owned())
        .collect()
}

async fn admit_and_forward(
    mut request: Request,
    env: &Env,
    config: &Config,
    request_id: &str,
) -> Result<(Response, RateHeaders), Refusal> {
    let target = raw_target(&request.inner().url());
    let headers: Vec<(String, String)> = request.headers().entries().collect();
    let from_query = if config.allow_query_key {
        query_keys(&target)
    } else {
        Vec::new()
    };
    let key = match extract_credential(&headers, &from_query) {
        Ok(Credential::Key(key)) => key,
        Ok(Credential::None) => return Err(Denial::MissingKey.into()),
        Err(_) => return Err(Denial::AmbiguousCredentials.into()),
    };
    let origin_url = config.require_origin()?;
    let origin_secret = config.require_origin_secret()?;

    // The raw method: `worker::Method` would turn unknown methods into GET.
    let method = request.inner().method();
    let path = target.split('?').next().unwrap_or("/").to_string();
    let header = |name: &str| request.headers().get(name).ok().flatten();
    let origin_host = header("Origin")
        .and_then(|o| host_of(&o))
        .or_else(|| header("Referer").and_then(|r| host_of(&r)));
    let timestamp = header("X-Keygate-Timestamp");
    let signature = header("X-Keygate-Signature");
    // Only a request that claims a signature has its body read to hash it.
    let buffered_body = if signature.is_some() && !matches!(method.as_str(), "GET" | "HEAD") {
        let bytes = request
            .bytes()
            .await
            .map_err(|_| Denial::bad_request("the request body could not be read"))?;
        if bytes.len() > MAX_SIGNED_BODY_BYTES {
            return Err(Denial::PayloadTooLarge {
                limit_bytes: MAX_SIGNED_BODY_BYTES as u64,
            }
            .into());
        }
        Some(bytes)
    } else {
        None
    };
    let facts = RequestFacts {
        presented_hash: String::new(),
        requirement: config.routes.requirement(&method, &path),
        method,
        target: target.clone(),
        origin_host,
        signature: Some(SignatureFacts {
            timestamp,
            signature,
            body_sha256: sha256_hex(buffered_body.as_deref().unwrap_or_default()),
        }),
        now_ms: runtime::now_ms(),
    };
    let now_seconds = facts.now_ms / 1000;
    let verdict = check::check_key(env, config, &key, facts).await?;
    let counted = verdict.identity.is_some();
    let (Some(identity), Some(rate), None) = (
        verdict.identity,
        verdict.ratelimit.clone(),
        verdict.denial.clone(),
    ) else {
        return Err(Refusal {
            denial: verdict.denial.unwrap_or(Denial::InvalidKey),
            ratelimit: verdict.ratelimit,
            counted,
        });
    };
    let forward_target = if !from_query.is_empty() {
        without_query_key(&target)
    } else {
        target
    };
    let response = proxy::forward(
        request,
        &headers,
        proxy::Forward {
            origin_url,
            origin_secret,
            timeout_ms: config.origin_timeout_ms,
            target: &forward_target,
            request_id,
            identity: &identity,
            now_seconds,
            buffered_body,
        },
    )
    .await
    .map_err(|denial| Refusal {
        denial,
        ratelimit: Some(rate.clone()),
        counted: true,
    })?;
    let _ = response.headers().set("X-Request-Id", request_id);
    Ok((response, rate))
}
