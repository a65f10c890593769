//! The contract served by poem: `cargo run -p sse-examples --bin poem`.

use poem::Server;
use poem::listener::{Acceptor, Listener, TcpListener};
use sse_core::contract::{Config, Hub};

use crate::{Ready, SHUTDOWN_GRACE, Shutdown, Stop};

/// Serves the contract with poem; see [`Serve`](crate::Serve).
pub fn serve(config: Config, stop: Stop, ready: Ready) -> std::io::Result<()> {
    super::tokio_runtime()?.block_on(async {
        let hub = Hub::new(config);
        let acceptor = TcpListener::bind(hub.config().addr.clone())
            .into_acceptor()
            .await?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|addr| addr.as_socket_addr().copied())
            .ok_or_else(|| std::io::Error::other("poem bound no TCP address"))?;
        ready(addr);
        let shutdown = Shutdown::on(stop, hub.broker().clone());
        let server = Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
            sse_poem::routes(hub),
            shutdown.clone().started(),
            Some(SHUTDOWN_GRACE),
        );
        shutdown.run(server).await;
        Ok(())
    })
}
