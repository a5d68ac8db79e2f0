//! CORS at the edge (SPEC section 2 step 4): preflights are answered here and
//! never proxied; real responses echo an allowed `Origin`.

use worker::{Headers, Response};

use crate::core::config::Config;
use crate::edge::SentHeaders;

const ALLOW_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
const ALLOW_HEADERS: [&str; 6] = [
    "Authorization",
    "ApiKey",
    "X-API-Key",
    "Content-Type",
    "X-Keygate-Timestamp",
    "X-Keygate-Signature",
];
const EXPOSE_HEADERS: &str = "RateLimit, RateLimit-Policy, Retry-After, X-Request-Id";
const PREFLIGHT_MAX_AGE_SECONDS: &str = "600";

/// Whether `CORS_ALLOWED_ORIGINS` (empty or `*`: any) admits this origin.
fn origin_admitted(config: &Config, origin: &str) -> bool {
    config.cors_allowed_origins.is_empty()
        || config.cors_allowed_origins.iter().any(|allowed| {
            allowed == "*" || allowed.eq_ignore_ascii_case(origin.trim_end_matches('/'))
        })
}

/// Whether a request is a CORS preflight, which carries no key.
pub fn is_preflight(method: &str, headers: &SentHeaders) -> bool {
    method == "OPTIONS"
        && headers.get("Origin").is_some()
        && headers.get("Access-Control-Request-Method").is_some()
}

/// The 204 answer to a preflight; it allows the origin only when admitted.
pub fn preflight(config: &Config, headers: &SentHeaders, request_id: &str) -> Response {
    let out = Headers::new();
    let _ = out.set("X-Request-Id", request_id);
    let _ = out.set("Vary", "Origin, Access-Control-Request-Headers");
    let origin = headers.get("Origin").unwrap_or_default();
    if origin_admitted(config, origin) {
        let mut allowed: Vec<String> = ALLOW_HEADERS.iter().map(|h| h.to_string()).collect();
        // Clients may send their own headers to the origin as well.
        if let Some(requested) = headers.get("Access-Control-Request-Headers") {
            for name in requested
                .split(',')
                .map(str::trim)
                .filter(|n| valid_token(n))
            {
                if !allowed.iter().any(|a| a.eq_ignore_ascii_case(name)) {
                    allowed.push(name.to_string());
                }
            }
        }
        let _ = out.set("Access-Control-Allow-Origin", origin);
        let _ = out.set("Access-Control-Allow-Methods", ALLOW_METHODS);
        let _ = out.set("Access-Control-Allow-Headers", &allowed.join(", "));
        let _ = out.set("Access-Control-Max-Age", PREFLIGHT_MAX_AGE_SECONDS);
        let _ = out.set("Access-Control-Expose-Headers", EXPOSE_HEADERS);
    }
    Response::builder()
        .with_status(204)
        .with_headers(out)
        .empty()
}

fn valid_token(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

/// Echoes an admitted `Origin` on a real response (success or denial).
pub fn echo_origin(config: &Config, origin: Option<&str>, headers: &Headers) {
    let Some(origin) = origin else { return };
    let _ = headers.append("Vary", "Origin");
    if origin_admitted(config, origin) {
        let _ = headers.set("Access-Control-Allow-Origin", origin);
        let _ = headers.set("Access-Control-Expose-Headers", EXPOSE_HEADERS);
    }
}
