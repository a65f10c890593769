//! The contract served by warp: `cargo run -p sse-examples --bin warp`.

use sse_core::contract::{Config, Hub};

use crate::{Ready, Shutdown, Stop};

/// Serves the contract with warp; see [`Serve`](crate::Serve).
pub fn serve(config: Config, stop: Stop, ready: Ready) -> std::io::Result<()> {
    super::tokio_runtime()?.block_on(async {
        let hub = Hub::new(config);
        let listener = tokio::net::TcpListener::bind(&hub.config().addr).await?;
        ready(listener.local_addr()?);
        let shutdown = Shutdown::on(stop, hub.broker().clone());
        let server = warp::serve(sse_warp::routes(hub))
            .incoming(listener)
            .graceful(shutdown.clone().started())
            .run();
        shutdown.run(server).await;
        Ok(())
    })
}
