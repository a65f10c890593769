//! Serving an endpoint with the defences `poem::Server` lacks (feature
//! `serve`).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Endpoint, EndpointExt, IntoEndpoint};
pub use sse_hub::serve::{ServeOptions, bind};
#[cfg(feature = "tls")]
pub use sse_hub::serve::{TlsFiles, server_config};

/// poem's response body, as hyper sees it.
type BoxBody = http_body_util::combinators::BoxBody<hyper::body::Bytes, std::io::Error>;

/// Serves `endpoint` on `listener` until `shutdown` resolves, with a
/// request timeout, an optional connection cap, TLS and h2c as `options`
/// say (see [`sse_hub::serve`]); then waits for open connections to
/// finish. Requests and responses go through poem's own conversions, as
/// in `poem::Server`, which has no request timeout and ignores accept
/// errors without waiting.
///
/// Unlike `poem::Server`, this loop notices a client that went away
/// while its stream was idle without writing to it, so the idle streams
/// it serves write no probes ([`ProbeIdle::off`](crate::ProbeIdle::off)).
///
/// ```no_run
/// use std::time::Duration;
/// use poem::{Route, EndpointExt};
/// use sse_poem::{Hub, HubConfig, serve::{ServeOptions, bind, serve}};
///
/// # async fn run() -> std::io::Result<()> {
/// let hub = Hub::open(HubConfig::default()).expect("a hub");
/// let app = Route::new().nest("/sse", sse_poem::routes(hub.clone()));
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
pub async fn serve<E>(
    listener: tokio::net::TcpListener,
    endpoint: E,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) where
    E: IntoEndpoint,
    E::Endpoint: 'static,
{
    let local: poem::Addr = listener
        .local_addr()
        .map_or_else(|_| poem::Addr::Custom("tcp", "unknown".into()), Into::into);
    // This loop notices a closed connection by itself: no probes.
    let endpoint = Arc::new(
        endpoint
            .into_endpoint()
            .with(crate::ProbeIdle::off())
            .map_to_response()
            .boxed(),
    );
    let service = move |peer: std::net::SocketAddr| {
        let endpoint = Arc::clone(&endpoint);
        let local = local.clone();
        hyper::service::service_fn(move |request| {
            let endpoint = Arc::clone(&endpoint);
            let local = LocalAddr(local.clone());
            let parts = (request, local, RemoteAddr(peer.into()), Scheme::HTTP);
            // Boxed: hyper keeps a connection's slot for its in-flight
            // future, sized for that future, for as long as the connection
            // lives, and an idle stream's connection lives long. Unboxed,
            // poem's request made it 2.3 KiB of every stream (heaptrack).
            Box::pin(async move {
                let response = endpoint.get_response(parts.into()).await;
                Ok::<_, Infallible>(hyper::Response::<BoxBody>::from(response))
            })
        })
    };
    sse_hub::serve::serve(listener, service, options, shutdown).await;
}
