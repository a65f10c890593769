//! The contract served by poem: `cargo run -p sse-examples --bin poem`.

use poem::http::{Method, StatusCode};
use poem::middleware::Cors;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response};
use sse_hub::hub::cors;
use std::sync::Arc;

use crate::{Ready, ServerConfig, Shutdown, Stop};

/// Serves the contract with poem; see [`Serve`](crate::Serve). The routes
/// run on [`sse_poem::serve`] rather than `poem::Server`, which has no
/// request timeout and ignores accept errors without waiting.
pub fn serve(config: ServerConfig, stop: Stop, ready: Ready) -> std::io::Result<()> {
    super::tokio_runtime()?.block_on(async {
        let hub = crate::open_hub(config.hub.clone()).await?;
        let options = config.serve_options(&hub)?;
        let listener = sse_poem::serve::bind(&config.addr)?;
        ready(listener.local_addr()?);
        let shutdown = Shutdown::on(stop, hub.clone());
        let routes = sse_poem::routes(hub.clone()).map_to_response().boxed();
        let endpoint = match cors(&config.cors_origins) {
            Some(cors) => routes.with(cors).around(preflight_no_content).boxed(),
            None => routes,
        };
        let server =
            sse_poem::serve::serve(listener, endpoint, options, shutdown.clone().started());
        shutdown.run(server).await;
        Ok(())
    })
}

/// poem's own CORS middleware for `--cors-origin`: the listed origins,
/// with credentials, and the contract's methods and headers. poem refuses
/// a request from another origin with `403`.
fn cors(origins: &[String]) -> Option<Cors> {
    if origins.is_empty() {
        return None;
    }
    let max_age = i32::try_from(cors::MAX_AGE.as_secs()).unwrap_or(i32::MAX);
    Some(
        Cors::new()
            .allow_origins(origins.iter().map(String::as_str))
            .allow_credentials(true)
            .allow_methods(cors::ALLOWED_METHODS)
            .allow_headers(cors::ALLOWED_HEADERS)
            .max_age(max_age),
    )
}

/// poem answers preflights `200`; the contract says `204`.
async fn preflight_no_content<E: Endpoint>(
    endpoint: Arc<E>,
    request: Request,
) -> poem::Result<Response> {
    let preflight = request.method() == Method::OPTIONS;
    let mut response = endpoint.call(request).await?.into_response();
    if preflight && response.status() == StatusCode::OK {
        response.set_status(StatusCode::NO_CONTENT);
    }
    Ok(response)
}
