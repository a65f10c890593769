//! The contract served by warp: `cargo run -p sse-examples --bin warp`.

use sse_core::contract::Hub;
use sse_examples::{Options, Shutdown, announce};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let hub = Hub::new(Options::load());
    let listener = tokio::net::TcpListener::bind(&hub.config().addr).await?;
    announce(listener.local_addr()?);
    let shutdown = Shutdown::on_signal(hub.broker().clone());
    let server = warp::serve(sse_warp::routes(hub))
        .incoming(listener)
        .graceful(shutdown.clone().started())
        .run();
    shutdown.run(server).await;
    Ok(())
}
