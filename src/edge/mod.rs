//! The proxied path (SPEC section 2), top to bottom: HTTPS, preflight,
//! credential, key check (format, KV, the key's object), proxy, and the
//! headers every answer carries.

pub mod check;
pub mod cors;
pub mod gateway_usage;
pub mod proxy;

use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use worker::{Context, Env, Headers};

use crate::core::config::Config;
use crate::core::credentials::{Credential, extract_credential};
use crate::core::decision::{RateHeaders, RequestFacts, SignatureFacts};
use crate::core::domains::requesting_host;
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
    /// A refused origin is never echoed back to the browser.
    origin_refused: bool,
}

impl From<Denial> for Refusal {
    fn from(denial: Denial) -> Refusal {
        Refusal {
            denial,
            ratelimit: None,
            counted: false,
            origin_refused: false,
        }
    }
}

/// The client's request headers, read from the runtime in one call (the
/// runtime joins a repeated header's values with `, `).
pub struct SentHeaders(Vec<(String, String)>);

impl SentHeaders {
    fn of(request: &web_sys::Request) -> SentHeaders {
        // One JSON string instead of several wasm<->JS calls per header.
        let pairs = js_sys::JSON::stringify(&js_sys::Array::from(&request.headers()))
            .ok()
            .and_then(|json| json.as_string())
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default();
        SentHeaders(pairs)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(sent, _)| sent.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

/// The path of a serialized request URL (`/v1/x` of `https://h/v1/x?a=1`).
pub fn path_of(url: &str) -> &str {
    let target = raw_target(url);
    target.split_once('?').map_or(target, |(path, _)| path)
}

/// `url` is `request.url()`, already read by the caller.
pub async fn handle(
    request: web_sys::Request,
    url: &str,
    env: &Env,
    ctx: &Context,
    config: &Config,
    request_id: &str,
) -> web_sys::Response {
    let sent = SentHeaders::of(&request);
    let origin = sent.get("Origin");
    if config.require_https && !url.starts_with("https:") {
        gateway_usage::record(Denial::HttpsRequired.code(), runtime::now_ms(), env, ctx);
        let response = respond::problem(&Denial::HttpsRequired, request_id).into();
        return finish(response, None, config, origin);
    }
    let method = request.method();
    if cors::is_preflight(&method, &sent) {
        return cors::preflight(config, &sent, request_id).into();
    }
    match admit_and_forward(&request, url, &method, &sent, env, config, request_id).await {
        Ok((response, rate)) => finish(response, Some(&rate), config, origin),
        Err(refusal) => {
            if !refusal.counted {
                gateway_usage::record(refusal.denial.code(), runtime::now_ms(), env, ctx);
            }
            let response = respond::problem(&refusal.denial, request_id).into();
            let echo = origin.filter(|_| !refusal.origin_refused);
            finish(response, refusal.ratelimit.as_ref(), config, echo)
        }
    }
}

/// Adds the RateLimit fields and CORS echo to any answer.
fn finish(
    response: web_sys::Response,
    rate: Option<&RateHeaders>,
    config: &Config,
    origin: Option<&str>,
) -> web_sys::Response {
    let headers = Headers(response.headers());
    if let Some(rate) = rate {
        respond::add_rate_headers(&headers, rate);
    }
    cors::echo_origin(config, origin, &headers);
    response
}

/// The raw path and query as the client sent them (`/v1/x?b=2&a=1`).
fn raw_target(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme
        .find('/')
        .map_or("/", |slash| &after_scheme[slash..])
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
    request: &web_sys::Request,
    url: &str,
    method: &str,
    sent: &SentHeaders,
    env: &Env,
    config: &Config,
    request_id: &str,
) -> Result<(web_sys::Response, RateHeaders), Refusal> {
    let target = raw_target(url);
    let from_query = if config.allow_query_key {
        query_keys(target)
    } else {
        Vec::new()
    };
    let key = match extract_credential(sent.pairs(), &from_query) {
        Ok(Credential::Key(key)) => key,
        Ok(Credential::None) => return Err(Denial::MissingKey.into()),
        Err(_) => return Err(Denial::AmbiguousCredentials.into()),
    };
    let origin_url = config.require_origin()?;
    let origin_secret = config.require_origin_secret()?;

    let path = target.split('?').next().unwrap_or("/");
    let origin_host = requesting_host(sent.get("Origin"), sent.get("Referer"));
    let timestamp = sent.get("X-Keygate-Timestamp").map(str::to_owned);
    let signature = sent.get("X-Keygate-Signature").map(str::to_owned);
    // Only a request that claims a signature has its body read to hash it.
    let buffered_body = if signature.is_some() && !matches!(method, "GET" | "HEAD") {
        let bytes = read_body(request)
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
        requirement: config.routes.requirement(method, path),
        method: method.to_string(),
        target: target.to_string(),
        origin_host,
        signature: Some(SignatureFacts {
            timestamp,
            signature,
            body_sha256: sha256_hex(buffered_body.as_deref().unwrap_or_default()),
        }),
        now_ms: runtime::now_ms(),
        confined_to_owner: None,
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
            origin_refused: verdict.origin_refused,
        });
    };
    let forward_target = if from_query.is_empty() {
        target.to_string()
    } else {
        without_query_key(target)
    };
    let response = proxy::forward(
        request,
        method,
        sent,
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
        origin_refused: false,
    })?;
    let _ = response.headers().set("X-Request-Id", request_id);
    Ok((response, rate))
}

/// The whole request body (signed requests only).
async fn read_body(request: &web_sys::Request) -> Result<Vec<u8>, JsValue> {
    let buffer = JsFuture::from(request.array_buffer()?).await?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}
