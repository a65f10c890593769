//! The contract served by axum: `cargo run -p sse-examples --bin axum`.

use sse_core::contract::{Config, Hub};

use crate::{Ready, Shutdown, Stop};

/// Serves the contract with axum; see [`Serve`](crate::Serve).
pub fn serve(config: Config, stop: Stop, ready: Ready) -> std::io::Result<()> {
    super::tokio_runtime()?.block_on(async {
        let hub = Hub::new(config);
        let listener = tokio::net::TcpListener::bind(&hub.config().addr).await?;
        ready(listener.local_addr()?);
        let shutdown = Shutdown::on(stop, hub.broker().clone());
        let server = axum::serve(listener, sse_axum::routes(hub))
            .with_graceful_shutdown(shutdown.clone().started());
        shutdown.run(server.into_future()).await;
        Ok(())
    })
}
