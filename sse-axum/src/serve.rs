//! Serving a router with the defences `axum::serve` lacks (feature `serve`).

use std::future::Future;

use hyper_util::service::TowerToHyperService;
pub use sse_hub::serve::{ServeOptions, bind};
#[cfg(feature = "tls")]
pub use sse_hub::serve::{TlsFiles, server_config};

/// Serves `router` on `listener` until `shutdown` resolves, with a request
/// timeout, an optional connection cap, TLS and h2c as `options` say (see
/// [`sse_hub::serve`]); then waits for open connections to finish. Use it
/// in place of `axum::serve`, which has no request timeout and no
/// connection cap.
///
/// ```no_run
/// use std::time::Duration;
/// use sse_axum::{Hub, HubConfig, serve::{ServeOptions, bind, serve}};
///
/// # async fn run() -> std::io::Result<()> {
/// let hub = Hub::open(HubConfig::default()).expect("a hub");
/// let app = axum::Router::new().nest("/sse", sse_axum::routes(hub.clone()));
/// let options = ServeOptions::new()
///     .request_timeout(Duration::from_secs(10))
///     .connections(hub.connection_limit(10_000));
/// let shutdown = async {
///     let _ = tokio::signal::ctrl_c().await;
///     hub.shutdown();
/// };
/// serve(bind("127.0.0.1:3000")?, app, options, shutdown).await;
/// # Ok(()) }
/// ```
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let service = move |_peer| TowerToHyperService::new(router.clone());
    sse_hub::serve::serve(listener, service, options, shutdown).await;
}
