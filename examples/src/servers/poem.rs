//! The contract served by poem: `cargo run -p sse-examples --bin poem`.

use std::convert::Infallible;
use std::sync::Arc;

use bytes_body::BoxBody;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Endpoint, EndpointExt};
use sse_core::contract::Config;

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
        let endpoint = Arc::new(sse_poem::routes(hub.clone()).map_to_response().boxed());
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
