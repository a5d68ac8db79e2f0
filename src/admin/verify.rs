//! `POST /v1/verify`: the edge decision without proxying, for origins that
//! check keys themselves. Counts against limits and credits like a proxied
//! request; every decision is a 200 with `valid` and `code`.

use serde::{Deserialize, Serialize};
use worker::{Env, Response};

use crate::admin::auth::Principal;
use crate::core::config::Config;
use crate::core::decision::{RequestFacts, Verdict};
use crate::core::domains::host_of_origin_or_host;
use crate::core::error::Denial;
use crate::core::key_format::KeyKind;
use crate::core::record::parse_body;
use crate::core::routes::Requirement;
use crate::core::scopes::validate_scope;
use crate::edge::check::check_key;
use crate::runtime::{self, respond};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    key: String,
    method: Option<String>,
    path: Option<String>,
    origin: Option<String>,
    scope: Option<String>,
    cost: Option<u32>,
}

#[derive(Serialize)]
struct RateFigures {
    limit: u32,
    remaining: u32,
    reset: u64,
}

#[derive(Serialize)]
struct VerifyAnswer {
    valid: bool,
    code: &'static str,
    status: u16,
    key_id: Option<String>,
    owner: Option<String>,
    kind: Option<KeyKind>,
    scopes: Option<Vec<String>>,
    ratelimit: Option<RateFigures>,
    credits_remaining: Option<u64>,
}

fn facts_of(
    request: &VerifyRequest,
    config: &Config,
    confined_to_owner: Option<&str>,
) -> Result<RequestFacts, Denial> {
    let method = request
        .method
        .as_deref()
        .unwrap_or("GET")
        .to_ascii_uppercase();
    if method.is_empty() || method.len() > 16 || !method.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(Denial::bad_request(
            "`method` must be an HTTP method such as GET",
        ));
    }
    let target = request.path.clone().unwrap_or_else(|| "/".to_string());
    if !target.starts_with('/') || target.len() > 8192 {
        return Err(Denial::bad_request("`path` must start with `/`"));
    }
    let path = target.split('?').next().unwrap_or("/");
    let mut requirement: Requirement = config.routes.requirement(&method, path);
    if let Some(scope) = &request.scope {
        validate_scope(scope).map_err(|e| Denial::bad_request(format!("`scope`: {e}")))?;
        requirement.scope = scope.clone();
    }
    if let Some(cost) = request.cost {
        requirement.cost = cost;
    }
    Ok(RequestFacts {
        presented_hash: String::new(),
        method,
        target: target.clone(),
        origin_host: request.origin.as_deref().and_then(host_of_origin_or_host),
        requirement,
        signature: None,
        now_ms: runtime::now_ms(),
        confined_to_owner: confined_to_owner.map(str::to_owned),
    })
}

pub async fn verify(
    env: &Env,
    config: &Config,
    principal: &Principal,
    body: &[u8],
    request_id: &str,
) -> Result<Response, Denial> {
    let request: VerifyRequest = parse_body(body)?;
    // An owner's admin key may only verify its own owner's keys; the key's
    // object refuses another owner's before counting anything.
    let facts = facts_of(&request, config, principal.confined_to())?;
    let key = request.key.trim();
    let verdict = if key.is_empty() {
        Verdict::unidentified(Denial::MissingKey)
    } else {
        check_key(env, config, key, facts).await?
    };
    let identity = verdict.identity.as_ref();
    let answer = VerifyAnswer {
        valid: verdict.denial.is_none(),
        code: verdict.denial.as_ref().map_or("ok", Denial::code),
        status: verdict.denial.as_ref().map_or(200, Denial::status),
        key_id: identity.map(|i| i.key_id.clone()),
        owner: identity.map(|i| i.owner.clone()),
        kind: identity.map(|i| i.kind),
        scopes: identity.map(|i| i.scopes.clone()),
        ratelimit: verdict.ratelimit.as_ref().map(|rate| RateFigures {
            limit: rate.limit,
            remaining: rate.remaining,
            reset: rate.reset_seconds,
        }),
        credits_remaining: verdict.credits_remaining,
    };
    Ok(respond::json(200, &answer, request_id))
}
