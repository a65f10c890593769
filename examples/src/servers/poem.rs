//! The contract served by poem: `cargo run -p sse-examples --bin poem`.

use std::convert::Infallible;
use std::sync::Arc;

use bytes_body::BoxBody;
use poem::http::uri::Scheme;
use poem::http::{Method, StatusCode};
use poem::middleware::Cors;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response};
use sse_core::contract::{Config, cors};

use crate::{Ready, Shutdown, Stop};

/// poem's response body, as hyper sees it.
mod bytes_body {
    pub(super) type BoxBody =
        http_body_util::combinators::BoxBody<hyper::body::Bytes, std::io::Error>;
}

/// Serves the contract with poem; see [`Serve`](crate::Serve). The routes
/// run on the examples' own hyper loop rather than `poem::Server`, which
/// has no request timeout and ignores accept errors without waiting (see
/// [`hyper_serve`](super::hyper_serve)); requests and responses go through
/// poem's own conversions, as in `poem::Server`.
pub fn serve(config: Config, stop: Stop, ready: Ready) -> std::io::Result<()> {
    super::tokio_runtime()?.block_on(async {
        let hub = crate::open_hub(config).await?;
        let listener = super::hyper_serve::bind(&hub.config().addr)?;
        let local = listener.local_addr()?;
        ready(local);
        let shutdown = Shutdown::on(stop, hub.broker().clone());
        let routes = sse_poem::routes(hub.clone()).map_to_response().boxed();
        let endpoint = Arc::new(match cors(&hub.config().cors_origins) {
            Some(cors) => routes.with(cors).around(preflight_no_content).boxed(),
            None => routes,
        });
        let service = move |peer: std::net::SocketAddr| {
            let endpoint = Arc::clone(&endpoint);
            hyper::service::service_fn(move |request| {
                let endpoint = Arc::clone(&endpoint);
                let parts = (
                    request,
                    LocalAddr(local.into()),
                    RemoteAddr(peer.into()),
                    Scheme::HTTP,
                );
                async move {
                    let response = endpoint.get_response(parts.into()).await;
                    Ok::<_, Infallible>(hyper::Response::<BoxBody>::from(response))
                }
            })
        };
        let server = super::hyper_serve::serve(listener, &hub, service, shutdown.clone());
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
