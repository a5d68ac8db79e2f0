//! Building responses: problem+json denials and JSON bodies, each with its
//! `X-Request-Id`.

use serde::Serialize;
use worker::{Headers, Response};

use crate::core::decision::RateHeaders;
use crate::core::error::{Denial, PROBLEM_CONTENT_TYPE};

/// The RFC 9457 response for a denial. Never fails: a denial must always be answerable.
pub fn problem(denial: &Denial, request_id: &str) -> Response {
    let rendered = denial.to_problem(request_id);
    let headers = Headers::new();
    let _ = headers.set("Content-Type", PROBLEM_CONTENT_TYPE);
    let _ = headers.set("Cache-Control", "no-store");
    for (name, value) in &rendered.headers {
        let _ = headers.set(name, value);
    }
    Response::builder()
        .with_status(rendered.status)
        .with_headers(headers)
        .fixed(rendered.body.into_bytes())
}

/// A JSON response with the request id; admin bodies are never cached.
pub fn json<T: Serialize>(status: u16, value: &T, request_id: &str) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let headers = Headers::new();
    let _ = headers.set("Content-Type", "application/json");
    let _ = headers.set("Cache-Control", "no-store");
    let _ = headers.set("X-Request-Id", request_id);
    Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(body)
}

pub fn no_content(request_id: &str) -> Response {
    let headers = Headers::new();
    let _ = headers.set("X-Request-Id", request_id);
    Response::builder()
        .with_status(204)
        .with_headers(headers)
        .empty()
}

/// Adds the draft-ietf-httpapi-ratelimit-headers fields.
pub fn add_rate_headers(headers: &Headers, rate: &RateHeaders) {
    let _ = headers.set("RateLimit-Policy", &rate.policy_header());
    let _ = headers.set("RateLimit", &rate.ratelimit_header());
}
