//! The contract served by axum: `cargo run -p sse-examples --bin axum`.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use sse_hub::hub::cors;
use tower_http::cors::{AllowCredentials, AllowOrigin, CorsLayer};

use crate::{Ready, ServerConfig, Shutdown, Stop};

/// Serves the contract with axum; see [`Serve`](crate::Serve). The router
/// runs on [`sse_axum::serve`] rather than `axum::serve`, which has no
/// request timeout and no connection cap.
pub fn serve(config: ServerConfig, stop: Stop, ready: Ready) -> std::io::Result<()> {
    super::tokio_runtime()?.block_on(async {
        let hub = crate::open_hub(config.hub.clone()).await?;
        let options = config.serve_options(&hub)?;
        let listener = sse_axum::serve::bind(&config.addr)?;
        ready(listener.local_addr()?);
        let shutdown = Shutdown::on(stop, hub.clone(), config.drain_timeout);
        let router: axum::Router = sse_axum::routes(hub.clone());
        let router = match cors(&config.cors_origins) {
            Some(cors) => router
                .layer(cors)
                .layer(axum::middleware::from_fn(preflight_no_content)),
            None => router,
        };
        let server = sse_axum::serve::serve(listener, router, options, shutdown.clone().started());
        shutdown.run(server).await;
        Ok(())
    })
}

/// tower-http's CORS layer for `--cors-origin`: credentials only for the
/// listed origins, the contract's methods and headers on preflights.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let listed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    let allowed = listed.clone();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(listed))
            .allow_credentials(AllowCredentials::predicate(move |origin, _| {
                allowed.contains(origin)
            }))
            .allow_methods(
                cors::ALLOWED_METHODS
                    .iter()
                    .filter_map(|method| method.parse().ok())
                    .collect::<Vec<Method>>(),
            )
            .allow_headers(cors::ALLOWED_HEADERS.map(HeaderName::from_static))
            .max_age(cors::MAX_AGE),
    )
}

/// tower-http answers preflights `200`; the contract says `204`.
async fn preflight_no_content(request: Request, next: Next) -> Response {
    let preflight = request.method() == Method::OPTIONS;
    let mut response = next.run(request).await;
    if preflight && response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
}
