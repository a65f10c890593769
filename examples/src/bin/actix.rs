//! The contract served by actix-web: `cargo run -p sse-examples --bin actix`.

use actix_web::{App, HttpServer};
use sse_core::contract::Hub;
use sse_examples::{Options, SHUTDOWN_GRACE, Shutdown, announce};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let hub = Hub::new(Options::load());
    let app_hub = hub.clone();
    let server =
        HttpServer::new(move || App::new().configure(sse_actix::configure(app_hub.clone())))
            .disable_signals() // ours end the streams first
            // Notice at once when an idle client goes away (see sse-actix).
            .h1_allow_half_closed(false)
            .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
            .bind(hub.config().addr.as_str())?;
    for addr in server.addrs() {
        announce(addr);
    }
    let server = server.run();
    let handle = server.handle();
    let shutdown = Shutdown::on_signal(hub.broker().clone());
    let stop = shutdown.clone();
    let broker = hub.broker().clone();
    actix_web::rt::spawn(async move {
        stop.started().await;
        // actix-web's graceful stop would wait out idle keep-alive
        // connections; the streams are what must end cleanly, so wait for
        // those, then stop at once.
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while broker.client_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        handle.stop(false).await;
    });
    shutdown.run(server).await;
    Ok(())
}
