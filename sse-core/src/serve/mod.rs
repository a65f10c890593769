//! Serving an application on the internet, for the hyper-based frameworks
//! (axum, warp, poem): the defences their own `serve` functions lack.
//!
//! None of the three exposes hyper's connection settings through its own
//! `serve`, so a stream server built on them has no request timeout and
//! no connection cap. [`serve`] accepts connections itself, the way
//! axum's "serve with hyper" example does, and applies [`ServeOptions`]:
//!
//! - a **request timeout** as hyper's HTTP/1 `header_read_timeout`, with
//!   Tokio's timer (without a timer hyper ignores it). Hyper closes a
//!   connection whose request head has not arrived whole in time, and it
//!   starts the same timer when a keep-alive connection goes idle after a
//!   response, so idle connections close after it too. It sends no `408`:
//!   hyper has no hook to answer one. A response being streamed is never
//!   under that timer. The TLS handshake is bounded by it too.
//! - a **connection cap**: every accepted connection holds a permit of a
//!   [`ConnectionLimit`]; when none is left the connection is closed at
//!   once, before any read.
//! - accept errors **back off** ([`AcceptBackoff`]) instead of spinning
//!   when the process is out of descriptors.
//! - **TLS** (feature `tls`): ALPN picks HTTP/2 or HTTP/1.1, and each
//!   connection is served by that protocol's builder alone.
//! - **h2c**: every connection is HTTP/2 with prior knowledge, for a
//!   TLS-terminating proxy in front.
//! - a listen backlog of [`LISTEN_BACKLOG`] ([`bind`]): Tokio's own `bind`
//!   keeps 128, and a burst of clients reconnecting at once (after a
//!   deploy) overflows it, so that the kernel drops SYNs and those clients
//!   wait 1 s, then 3 s, to retry. The socket benchmark saw 19,000 streams
//!   take 14.6 s to connect with 128, 513 of them dropped.
//!
//! The adapters `sse-axum`, `sse-warp` and `sse-poem` wrap [`serve`] for
//! their router, filter and endpoint (their `serve` feature). actix-web and
//! Rocket have these settings of their own; their READMEs list them.
//!
//! ```no_run
//! use std::convert::Infallible;
//! use std::time::Duration;
//! use sse_hub::{Hub, HubConfig, serve::{ServeOptions, bind, serve}};
//!
//! # async fn run() -> std::io::Result<()> {
//! let hub = Hub::open(HubConfig::default()).expect("a hub");
//! let options = ServeOptions::new()
//!     .request_timeout(Duration::from_secs(10))
//!     .connections(hub.connection_limit(10_000));
//! // Any hyper service; the adapters pass their framework's router.
//! let service = |_peer| {
//!     hyper::service::service_fn(|_request| async {
//!         Ok::<_, Infallible>(hyper::Response::new(String::from("ok")))
//!     })
//! };
//! // The first SIGTERM or SIGINT drains the hub over 8 s while `serve`
//! // goes on accepting (`/notify`, `/readyz`, refusals of new streams);
//! // a second ends every stream at once. Then `serve` stops accepting.
//! let stopped = hub.clone().drain_on(sse_hub::hub::stop_signals(), Duration::from_secs(8));
//! serve(bind("127.0.0.1:3000")?, service, options, stopped).await;
//! # Ok(()) }
//! ```

#[cfg(feature = "tls")]
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::connections::{AcceptBackoff, ConnectionLimit};
#[cfg(feature = "tls")]
pub use tls::{ALPN, TlsFiles, server_config};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connections the kernel queues for `accept`; Linux caps it at
/// `net.core.somaxconn` (4096 by default).
pub const LISTEN_BACKLOG: i32 = 4096;

/// How [`serve`] treats connections; [`ServeOptions::new`] gives a 10 s
/// request timeout, no connection cap, no TLS, HTTP/1.1.
#[derive(Clone)]
#[must_use]
pub struct ServeOptions {
    request_timeout: Duration,
    connections: Option<ConnectionLimit>,
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    h2c: bool,
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("ServeOptions");
        out.field("request_timeout", &self.request_timeout).field(
            "connections",
            &self.connections.as_ref().map(ConnectionLimit::max),
        );
        #[cfg(feature = "tls")]
        out.field("tls", &self.tls.is_some());
        out.field("h2c", &self.h2c).finish()
    }
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl ServeOptions {
    /// A 10 s request timeout, no connection cap, no TLS, HTTP/1.1.
    pub fn new() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            connections: None,
            #[cfg(feature = "tls")]
            tls: None,
            h2c: false,
        }
    }

    /// How long a connection may take to send a whole request head (and a
    /// TLS handshake), and how long an idle keep-alive connection is kept
    /// between requests. Event streams are not bound by it.
    pub fn request_timeout(mut self, within: Duration) -> Self {
        self.request_timeout = within;
        self
    }

    /// Caps open connections of every kind: each holds a permit of
    /// `limit`, and a connection accepted when none is left is closed at
    /// once. Take the limit from
    /// [`Broker::connection_limit`](crate::broker::Broker::connection_limit)
    /// so that `/metrics` counts it;
    /// [`default_max_connections`](crate::connections::default_max_connections)
    /// is the open-files limit minus a reserve.
    pub fn connections(mut self, limit: ConnectionLimit) -> Self {
        self.connections = Some(limit);
        self
    }

    /// Serves TLS with `config` (see [`server_config`]); ALPN in it picks
    /// HTTP/2 or HTTP/1.1 per connection.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: rustls::ServerConfig) -> Self {
        self.tls = Some(std::sync::Arc::new(config));
        self
    }

    /// Without TLS, serves every connection as HTTP/2 with prior
    /// knowledge (h2c) instead of HTTP/1.1.
    pub fn h2c(mut self, h2c: bool) -> Self {
        self.h2c = h2c;
        self
    }
}

/// Binds `addr` (`HOST:PORT`; a name binds its first address) with a
/// listen backlog of [`LISTEN_BACKLOG`]; needs a Tokio runtime.
///
/// # Errors
///
/// A malformed or unknown address, or the kernel refusing the socket or
/// the bind.
pub fn bind(addr: &str) -> std::io::Result<TcpListener> {
    let addr = std::net::ToSocketAddrs::to_socket_addrs(addr)?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address"))?;
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    // As Tokio does: a restarted server may bind while old connections
    // linger in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// Serves `listener` until `shutdown` resolves, each connection by the
/// service `service` makes for its peer address; then stops accepting and
/// waits for the open connections to finish. Event streams end when their
/// hub drains or shuts down: give [`Hub::drain_on`](crate::Hub::drain_on)
/// as `shutdown`, so that the server serves through the drain, and bound
/// the wait after it with a timeout of your own.
pub async fn serve<M, S, B>(
    listener: TcpListener,
    service: M,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) where
    M: Fn(SocketAddr) -> S,
    S: Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    // One protocol per builder: the auto builder would first wait, with no
    // timeout, for the bytes that tell HTTP/2's preface from an HTTP/1
    // request, and a silent client would hold its connection forever. TLS
    // says the protocol by ALPN; without TLS it is HTTP/1.1, or HTTP/2
    // with h2c.
    let mut http1 = Builder::new(TokioExecutor::new()).http1_only();
    http1
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.request_timeout)
        .keep_alive(true);
    let mut http2 = Builder::new(TokioExecutor::new()).http2_only();
    http2.http2().timer(TokioTimer::new());
    let builders = std::sync::Arc::new((http1, http2));
    #[cfg(feature = "tls")]
    let tls = options.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    let mut backoff = AcceptBackoff::default();
    let mut stopping = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stopping => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff.accepted();
                accepted
            }
            Err(err) => {
                if let Some(wait) = backoff.failed(&err) {
                    tracing::warn!(%err, ?wait, "accept failed; waiting before the next");
                    tokio::time::sleep(wait).await;
                }
                continue;
            }
        };
        let permit = match &options.connections {
            Some(limit) => match limit.try_acquire() {
                Some(permit) => Some(permit),
                None => {
                    tracing::debug!(%peer, max = limit.max(), "connection refused: the connection cap is reached");
                    drop(stream);
                    continue;
                }
            },
            None => None,
        };
        // Events are small writes that must leave at once.
        let _ = stream.set_nodelay(true);
        let builders = std::sync::Arc::clone(&builders);
        let connection_service = service(peer);
        let watcher = graceful.watcher();
        let h2c = options.h2c;
        #[cfg(feature = "tls")]
        let tls = tls.clone();
        #[cfg(feature = "tls")]
        let handshake_timeout = options.request_timeout;
        tokio::spawn(async move {
            let (http1, http2) = &*builders;
            #[cfg(feature = "tls")]
            if let Some(acceptor) = tls {
                let Ok(Ok(stream)) =
                    tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await
                else {
                    tracing::debug!(%peer, "TLS handshake failed or timed out");
                    return;
                };
                let builder = match stream.get_ref().1.alpn_protocol() {
                    Some(b"h2") => http2,
                    _ => http1,
                };
                let connection = builder.serve_connection(TokioIo::new(stream), connection_service);
                if let Err(err) = watcher.watch(connection.into_owned()).await {
                    tracing::debug!(%peer, %err, "connection ended with an error");
                }
                drop(permit);
                return;
            }
            let builder = if h2c { http2 } else { http1 };
            let connection = builder.serve_connection(TokioIo::new(stream), connection_service);
            if let Err(err) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(%peer, %err, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
