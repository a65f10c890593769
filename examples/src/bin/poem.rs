//! The contract served by poem: `cargo run -p sse-examples --bin poem`.

use poem::Server;
use poem::listener::{Acceptor, Listener, TcpListener};
use sse_core::contract::Hub;
use sse_examples::{Options, SHUTDOWN_GRACE, Shutdown, announce};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let hub = Hub::new(Options::load());
    let acceptor = TcpListener::bind(hub.config().addr.clone())
        .into_acceptor()
        .await?;
    if let Some(addr) = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr())
    {
        announce(*addr);
    }
    let shutdown = Shutdown::on_signal(hub.broker().clone());
    let server = Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
        sse_poem::routes(hub),
        shutdown.clone().started(),
        Some(SHUTDOWN_GRACE),
    );
    shutdown.run(server).await;
    Ok(())
}
