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
        let shutdown = Shutdown::on(stop, hub.clone(), config.drain_timeout);
        let routes = sse_poem::routes(hub.clone()).map_to_response().boxed();
        let endpoint = match cors(&config.cors_origins) {
            Some(cors) => {
                let listed: Arc<[String]> = config.cors_origins.clone().into();
                routes
                    .with(cors)
                    .around(preflight_no_content)
                    .around(move |endpoint, request| {
                        unlisted_origin_is_not_cors(endpoint, request, listed.clone())
                    })
                    .boxed()
            }
            None => routes,
        };
        let server =
            sse_poem::serve::serve(listener, endpoint, options, shutdown.clone().started());
        shutdown.run(server).await;
        Ok(())
    })
}

/// poem's own CORS middleware for `--cors-origin`: the listed origins,
/// with credentials, and the contract's methods and headers (other
/// origins never reach it, see [`unlisted_origin_is_not_cors`]).
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

/// poem's middleware refuses a request from an origin it does not list
/// with `403`, even the server's own demo page (a browser sends `Origin`
/// with every `POST`). Such a request is served as any request without
/// `Origin`, with no CORS headers: a browser then keeps another origin's
/// page from reading the answer (and from sending a JSON publish at all,
/// as its preflight gets no CORS headers), as with the other frameworks.
async fn unlisted_origin_is_not_cors<E: Endpoint>(
    endpoint: Arc<E>,
    mut request: Request,
    listed: Arc<[String]>,
) -> poem::Result<E::Output> {
    let origin = request.headers().get(poem::http::header::ORIGIN);
    let is_listed =
        origin.is_some_and(|origin| listed.iter().any(|l| l.as_bytes() == origin.as_bytes()));
    if !is_listed {
        request.headers_mut().remove(poem::http::header::ORIGIN);
    }
    endpoint.call(request).await
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
