//! Keygate: API-key authentication at the edge.
//!
//! `core` is pure logic tested natively. The Worker glue, compiled only for
//! wasm32, has one module per front door (`edge` for proxied requests,
//! `admin` for the admin API and console) plus `store` (KV and the Durable
//! Objects) and `runtime` (configuration, clock, responses).

pub mod core;

#[cfg(target_arch = "wasm32")]
mod admin;
#[cfg(target_arch = "wasm32")]
mod edge;
#[cfg(target_arch = "wasm32")]
mod runtime;
#[cfg(target_arch = "wasm32")]
mod store;

#[cfg(target_arch = "wasm32")]
use worker::{Context, Env, Request, event, web_sys};

/// Every request enters here: a bad configuration refuses everything (503),
/// the admin prefix goes to the admin API, and everything else is the edge.
#[cfg(target_arch = "wasm32")]
#[event(fetch)]
async fn fetch(
    request: web_sys::Request,
    env: Env,
    ctx: Context,
) -> worker::Result<web_sys::Response> {
    // The raw `web_sys` types: the edge path is hot, and `worker::Request`
    // would read `cf` and more on every request; the admin API uses them.
    let request_id = runtime::new_request_id();
    let config = match runtime::config(&env) {
        Ok(config) => config,
        Err(denial) => return Ok(runtime::respond::problem(&denial, &request_id).into()),
    };
    let url = request.url();
    if admin::owns_path(&config, edge::path_of(&url)) {
        let request = Request::from(request);
        return Ok(admin::handle(request, &env, &config, &request_id)
            .await
            .into());
    }
    Ok(edge::handle(request, &url, &env, &ctx, &config, &request_id).await)
}
