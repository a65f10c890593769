//! The accept loop that serves axum, warp and poem: each of the three
//! builds on hyper, and none exposes hyper's connection settings through
//! its own `serve`. So the examples accept connections themselves, the way
//! axum's "serve with hyper" example does, and set:
//!
//! - `--request-timeout` as hyper's HTTP/1 `header_read_timeout`, with
//!   Tokio's timer (without a timer hyper ignores it). Hyper closes a
//!   connection whose request head has not arrived whole in time, and it
//!   starts the same timer when a keep-alive connection goes idle after a
//!   response, so idle connections close after it too. It sends no `408`:
//!   hyper has no hook to answer one. A response being streamed is never
//!   under that timer.
//! - `--max-connections`: every accepted connection holds a permit of the
//!   hub's [`ConnectionLimit`](sse_core::connections::ConnectionLimit); when
//!   none is left the connection is closed at once, before any read.
//! - accept errors back off ([`AcceptBackoff`]) instead of spinning when
//!   the process is out of descriptors.
//! - `--tls-cert`/`--tls-key`: TLS through tokio-rustls, the handshake
//!   bounded by `--request-timeout`; ALPN picks HTTP/2 or HTTP/1.1, and
//!   each connection is served by that protocol's builder alone.
//! - `--h2c`: every connection is HTTP/2 with prior knowledge.
//! - a listen backlog of [`LISTEN_BACKLOG`] ([`bind`]): Tokio's own `bind`
//!   keeps 128, and a burst of clients reconnecting at once (after a
//!   deploy) overflows it, so that the kernel drops SYNs and those clients
//!   wait 1 s, then 3 s, to retry. The socket benchmark saw 19,000 streams
//!   take 14.6 s to connect with 128, 513 of them dropped.

use std::net::SocketAddr;

use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use sse_core::connections::AcceptBackoff;
use sse_core::contract::Hub;
use tokio::net::TcpListener;

use crate::Shutdown;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connections the kernel queues for `accept`; Linux caps it at
/// `net.core.somaxconn` (4096 by default).
pub const LISTEN_BACKLOG: i32 = 4096;

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

/// Serves `listener` until the shutdown starts, each connection by the
/// service `service` makes for its peer address; then waits for the open
/// connections to finish (the caller bounds that with
/// [`Shutdown::run`]).
pub async fn serve<M, S, B>(listener: TcpListener, hub: &Hub, service: M, shutdown: Shutdown)
where
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
    // with --h2c.
    let mut http1 = Builder::new(TokioExecutor::new()).http1_only();
    http1
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(hub.request_timeout())
        .keep_alive(true);
    let mut http2 = Builder::new(TokioExecutor::new()).http2_only();
    http2.http2().timer(TokioTimer::new());
    let builders = std::sync::Arc::new((http1, http2));
    let tls = match &hub.config().tls {
        Some(files) => match super::tls::server_config(files, true) {
            Ok(config) => Some(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config))),
            Err(err) => {
                tracing::error!(%err, "cannot serve TLS");
                return;
            }
        },
        None => None,
    };
    let h2c = hub.config().h2c;
    let handshake_timeout = hub.request_timeout();
    let graceful = GracefulShutdown::new();
    let mut backoff = AcceptBackoff::default();
    let mut stopping = std::pin::pin!(shutdown.started());
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
        let Some(permit) = hub.connections().try_acquire() else {
            tracing::debug!(%peer, max = hub.connections().max(), "connection refused: --max-connections are open");
            drop(stream);
            continue;
        };
        // Events are small writes that must leave at once.
        let _ = stream.set_nodelay(true);
        let builders = std::sync::Arc::clone(&builders);
        let connection_service = service(peer);
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let (http1, http2) = &*builders;
            let served = match tls {
                None => {
                    let builder = if h2c { http2 } else { http1 };
                    let connection =
                        builder.serve_connection(TokioIo::new(stream), connection_service);
                    watcher.watch(connection.into_owned()).await
                }
                Some(acceptor) => {
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
                    let connection =
                        builder.serve_connection(TokioIo::new(stream), connection_service);
                    watcher.watch(connection.into_owned()).await
                }
            };
            if let Err(err) = served {
                tracing::debug!(%peer, %err, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
