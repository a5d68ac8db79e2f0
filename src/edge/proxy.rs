//! Forwarding an allowed request to `ORIGIN_URL` (SPEC section 2 step 9):
//! body and answer streamed, credential and client `X-Keygate-*` headers
//! stripped, identity and origin-signature headers added.

use std::time::Duration;

use futures_util::future::{Either, select};
use wasm_bindgen::JsValue;
use worker::{AbortController, Delay, Fetch, Headers, Request, Response};

use crate::core::decision::Identity;
use crate::core::error::Denial;
use crate::core::signature::origin_signature;

/// Request headers that carry a credential; they never reach the origin.
const CREDENTIAL_HEADERS: [&str; 2] = ["apikey", "x-api-key"];

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

fn forwarded_headers(request: &Request, forward: &Forward<'_>) -> Result<Headers, Denial> {
    let headers = Headers::new();
    for (name, value) in request.headers().entries() {
        let lower = name.to_ascii_lowercase();
        let is_bearer = lower == "authorization"
            && value
                .trim_start()
                .get(..7)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer "));
        if is_bearer
            || CREDENTIAL_HEADERS.contains(&lower.as_str())
            || lower.starts_with("x-keygate-")
            || lower == "host"
        {
            continue;
        }
        headers
            .append(&name, &value)
            .map_err(|_| Denial::bad_request(format!("header `{name}` cannot be forwarded")))?;
    }
    let identity = forward.identity;
    let method = request.inner().method();
    let signature = origin_signature(
        forward.origin_secret,
        forward.now_seconds,
        forward.request_id,
        &identity.key_id,
        &method,
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
    Ok(headers)
}

/// Sends the request to the origin and relays its answer, streamed.
pub async fn forward(request: Request, forward: Forward<'_>) -> Result<Response, Denial> {
    // The raw method: `worker::Method` would turn unknown methods into GET.
    let method = request.inner().method();
    let headers = forwarded_headers(&request, &forward)?;
    let body: Option<JsValue> = match (method.as_str(), forward.buffered_body) {
        ("GET" | "HEAD", _) => None,
        (_, Some(bytes)) => Some(js_sys::Uint8Array::from(bytes.as_slice()).into()),
        (_, None) => request.inner().body().map(JsValue::from),
    };
    let init = web_sys::RequestInit::new();
    init.set_method(&method);
    init.set_headers(&headers.0);
    if let Some(body) = &body {
        init.set_body(body);
    }
    init.set_redirect(web_sys::RequestRedirect::Manual);
    let url = format!("{}{}", forward.origin_url, forward.target);
    let upstream_request = web_sys::Request::new_with_str_and_init(&url, &init)
        .map_err(|_| Denial::bad_request("the request cannot be forwarded as sent"))?;

    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(Request::from(upstream_request));
    let sending = fetch.send_with_signal(&signal);
    let timeout = Delay::from(Duration::from_millis(forward.timeout_ms));
    futures_util::pin_mut!(sending);
    match select(sending, timeout).await {
        Either::Left((Ok(response), _)) => Ok(relay(response)),
        Either::Left((Err(error), _)) => {
            worker::console_warn!("keygate: origin unreachable: {error}");
            Err(Denial::OriginUnreachable)
        }
        Either::Right(_) => {
            controller.abort();
            Err(Denial::OriginTimeout)
        }
    }
}

/// A mutable copy of the origin's response around the same body stream.
fn relay(response: Response) -> Response {
    let status = response.status_code();
    let headers = Headers::new();
    for (name, value) in response.headers().entries() {
        let _ = headers.append(&name, &value);
    }
    let upstream: web_sys::Response = response.into();
    let builder = Response::builder()
        .with_status(status)
        .with_headers(headers);
    match upstream.body() {
        Some(stream) if !matches!(status, 101 | 204 | 205 | 304) => builder.stream(stream),
        _ => builder.empty(),
    }
}
