//! The contract served by warp: `cargo run -p sse-examples --bin warp`.

use sse_hub::hub::cors;
use warp::http::{Method, StatusCode};
use warp::reply::{Reply, Response};
use warp::{Filter, cors::Cors};

use crate::{Ready, ServerConfig, Shutdown, Stop};

/// Serves the contract with warp; see [`Serve`](crate::Serve). The filter
/// runs on [`sse_warp::serve`] rather than `warp::serve`, which has no
/// request timeout and no connection cap.
pub fn serve(config: ServerConfig, stop: Stop, ready: Ready) -> std::io::Result<()> {
    super::tokio_runtime()?.block_on(async {
        let hub = crate::open_hub(config.hub.clone()).await?;
        let options = config.serve_options(&hub)?;
        let listener = sse_warp::serve::bind(&config.addr)?;
        ready(listener.local_addr()?);
        let shutdown = Shutdown::on(stop, hub.clone());
        let routes = sse_warp::routes(hub.clone()).map(Reply::into_response);
        let filter = match cors(&config.cors_origins) {
            Some(cors) => warp::method()
                .and(routes.with(cors))
                .map(preflight_no_content)
                .boxed(),
            None => routes.boxed(),
        };
        let server = sse_warp::serve::serve(listener, filter, options, shutdown.clone().started());
        shutdown.run(server).await;
        Ok(())
    })
}

/// warp's own CORS filter for `--cors-origin`: the listed origins, with
/// credentials, and the contract's methods and headers. warp refuses a
/// request from another origin with `403`.
fn cors(origins: &[String]) -> Option<Cors> {
    if origins.is_empty() {
        return None;
    }
    Some(
        warp::cors()
            .allow_origins(origins.iter().map(String::as_str))
            .allow_credentials(true)
            .allow_methods(cors::ALLOWED_METHODS)
            .allow_headers(cors::ALLOWED_HEADERS)
            .max_age(cors::MAX_AGE)
            .build(),
    )
}

/// warp answers preflights `200`; the contract says `204`.
fn preflight_no_content(method: Method, reply: impl Reply) -> Response {
    let mut response = reply.into_response();
    if method == Method::OPTIONS && response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
}
