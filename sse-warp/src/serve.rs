//! Serving a filter with the defences `warp::serve` lacks (feature `serve`).

use std::future::Future;

use hyper_util::service::TowerToHyperService;
pub use sse_hub::serve::{ServeOptions, bind};
#[cfg(feature = "tls")]
pub use sse_hub::serve::{TlsFiles, server_config};
use warp::{Filter, Rejection, Reply};

/// Serves `filter` on `listener` until `shutdown` resolves, with a request
/// timeout, an optional connection cap, TLS and h2c as `options` say (see
/// [`sse_hub::serve`]); then waits for open connections to finish. Use it
/// in place of `warp::serve`, which has no request timeout and no
/// connection cap.
///
/// ```no_run
/// use std::time::Duration;
/// use sse_warp::{Hub, HubConfig, serve::{ServeOptions, bind, serve}};
/// use warp::Filter;
///
/// # async fn run() -> std::io::Result<()> {
/// let hub = Hub::open(HubConfig::default()).expect("a hub");
/// let app = warp::path("sse").and(sse_warp::routes(hub.clone()));
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
pub async fn serve<F>(
    listener: tokio::net::TcpListener,
    filter: F,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) where
    F: Filter<Error = Rejection> + Clone + Send + Sync + 'static,
    F::Extract: Reply,
{
    let filter = warp::service(filter);
    let service = move |_peer| TowerToHyperService::new(filter.clone());
    sse_hub::serve::serve(listener, service, options, shutdown).await;
}
