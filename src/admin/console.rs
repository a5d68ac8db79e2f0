//! The admin console (SPEC section 5): three static files embedded in the
//! wasm, served under a strict Content-Security-Policy (no inline script, no
//! other origin, no framing). The page talks to the admin API like any client.

use worker::{Headers, Response};

const PAGE: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/console.js");
const STYLE: &str = include_str!("console/console.css");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The console asset at `rest` (the path after `/console`), if there is one.
/// The page names its assets and the API by `{{ADMIN_PREFIX}}`, filled in here.
pub fn asset(admin_prefix: &str, rest: &str, request_id: &str) -> Option<Response> {
    let (body, content_type) = match rest {
        "" | "/" => (
            PAGE.replace("{{ADMIN_PREFIX}}", admin_prefix),
            "text/html; charset=utf-8",
        ),
        "/console.js" => (SCRIPT.to_string(), "text/javascript; charset=utf-8"),
        "/console.css" => (STYLE.to_string(), "text/css; charset=utf-8"),
        _ => return None,
    };
    let headers = Headers::new();
    for (name, value) in [
        ("Content-Type", content_type),
        ("Content-Security-Policy", CSP),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-store"),
        ("X-Request-Id", request_id),
    ] {
        let _ = headers.set(name, value);
    }
    Some(
        Response::builder()
            .with_status(200)
            .with_headers(headers)
            .fixed(body.into_bytes()),
    )
}
