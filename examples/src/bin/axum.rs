//! The contract served by axum: `cargo run -p sse-examples --bin axum`.

use sse_core::contract::Hub;
use sse_examples::{Options, Shutdown, announce};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let hub = Hub::new(Options::load());
    let listener = tokio::net::TcpListener::bind(&hub.config().addr).await?;
    announce(listener.local_addr()?);
    let shutdown = Shutdown::on_signal(hub.broker().clone());
    let server = axum::serve(listener, sse_axum::routes(hub))
        .with_graceful_shutdown(shutdown.clone().started());
    shutdown.run(server.into_future()).await;
    Ok(())
}
