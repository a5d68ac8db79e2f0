//! Forwarding an allowed request to `ORIGIN_URL` (SPEC section 2 step 9):
//! body and answer streamed, credential and client `X-Keygate-*` headers
//! stripped, identity and origin-signature headers added.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::core::credentials::carries_credential;
use crate::core::decision::Identity;
use crate::core::error::Denial;
use crate::core::signature::origin_signature;
use crate::edge::SentHeaders;

/// What the origin needs besides the client's request.
pub struct Forward<'a> {
    pub origin_url: &'a str,
    pub origin_secret: &'a str,
    pub timeout_ms: u64,
    /// Path and query to send (the `api_key` parameter already removed).
    pub target: &'a str,
    pub request_id: &'a str,
    pub identity: &'a Identity,
    pub now_seconds: u64,
    /// The body when it had to be read (signed requests); else it is streamed.
    pub buffered_body: Option<Vec<u8>>,
}

/// Turns the copy of the client's headers that the upstream request holds
/// into the origin's: the credential, every client `X-Keygate-*` and `Host`
/// removed, the identity headers set. `sent` are the client's headers.
fn adjust_headers(
    headers: &web_sys::Headers,
    method: &str,
    sent: &SentHeaders,
    forward: &Forward<'_>,
) -> Result<(), Denial> {
    for (name, value) in sent.pairs() {
        let lower = name.to_ascii_lowercase();
        if carries_credential(name, value) || lower.starts_with("x-keygate-") || lower == "host" {
            let _ = headers.delete(name);
        }
    }
    let identity = forward.identity;
    let signature = origin_signature(
        forward.origin_secret,
        forward.now_seconds,
        forward.request_id,
        &identity.key_id,
        method,
        forward.target,
    );
    for (name, value) in [
        ("X-Keygate-Key-Id", identity.key_id.as_str()),
        ("X-Keygate-Owner", identity.owner.as_str()),
        ("X-Keygate-Scopes", &identity.scopes.join(" ")),
        ("X-Keygate-Kind", identity.kind.as_str()),
        ("X-Keygate-Request-Id", forward.request_id),
        ("X-Keygate-Signature-Origin", &signature),
    ] {
        headers
            .set(name, value)
            .map_err(|_| Denial::bad_request(format!("header `{name}` cannot be set")))?;
    }
    Ok(())
}

/// Sends the request to the origin and relays its answer, streamed.
pub async fn forward(
    request: &web_sys::Request,
    method: &str,
    sent: &SentHeaders,
    forward: Forward<'_>,
) -> Result<web_sys::Response, Denial> {
    let body: Option<JsValue> = match (method, &forward.buffered_body) {
        ("GET" | "HEAD", _) => None,
        (_, Some(bytes)) => Some(js_sys::Uint8Array::from(bytes.as_slice()).into()),
        (_, None) => request.body().map(JsValue::from),
    };
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    // The runtime copies the client's headers into the new request once.
    init.set_headers(&request.headers());
    if let Some(body) = &body {
        init.set_body(body);
    }
    init.set_redirect(web_sys::RequestRedirect::Manual);
    // The runtime's own timer: no closure or wake-up in wasm per request.
    // It bounds the wait for the origin's answer (its status and headers);
    // the runtime does not cut a body already streaming (e2e-tested).
    init.set_signal(Some(&web_sys::AbortSignal::timeout_with_f64(
        forward.timeout_ms as f64,
    )));
    let url = format!("{}{}", forward.origin_url, forward.target);
    let upstream_request = web_sys::Request::new_with_str_and_init(&url, &init)
        .map_err(|_| Denial::bad_request("the request cannot be forwarded as sent"))?;
    adjust_headers(&upstream_request.headers(), method, sent, &forward)?;

    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    match JsFuture::from(global.fetch_with_request(&upstream_request)).await {
        Ok(response) => relay(response.unchecked_into()),
        Err(error) if error_name(&error).as_deref() == Some("TimeoutError") => {
            Err(Denial::OriginTimeout)
        }
        Err(error) => {
            worker::console_warn!(
                "keygate: origin unreachable: {}",
                worker::Error::from(error)
            );
            Err(Denial::OriginUnreachable)
        }
    }
}

fn error_name(error: &JsValue) -> Option<String> {
    js_sys::Reflect::get(error, &JsValue::from_str("name"))
        .ok()
        .and_then(|name| name.as_string())
}

/// The origin's response around the same body stream, with headers the
/// gateway may add to (the runtime copies them in the constructor).
fn relay(upstream: web_sys::Response) -> Result<web_sys::Response, Denial> {
    let status = upstream.status();
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    init.set_status_text(&upstream.status_text());
    init.set_headers(&upstream.headers());
    let body = upstream
        .body()
        .filter(|_| !matches!(status, 101 | 204 | 205 | 304));
    web_sys::Response::new_with_opt_readable_stream_and_init(body.as_ref(), &init)
        .map_err(|_| Denial::OriginUnreachable)
}
