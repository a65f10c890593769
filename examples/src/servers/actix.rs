//! The contract served by actix-web: `cargo run -p sse-examples --bin actix`.

use actix_web::{App, HttpServer};
use sse_core::contract::{Config, Hub};

use crate::{Ready, SHUTDOWN_GRACE, Shutdown, Stop};

/// Serves the contract with actix-web; see [`Serve`](crate::Serve).
pub fn serve(config: Config, stop: Stop, ready: Ready) -> std::io::Result<()> {
    actix_web::rt::System::new().block_on(async {
        let hub = Hub::new(config);
        let app_hub = hub.clone();
        let server =
            HttpServer::new(move || App::new().configure(sse_actix::configure(app_hub.clone())))
                .disable_signals() // the stop ends the streams first
                // Notice at once when an idle client goes away (see sse-actix).
                .h1_allow_half_closed(false)
                .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
                .bind(hub.config().addr.as_str())?;
        let addr = server
            .addrs()
            .first()
            .copied()
            .ok_or_else(|| std::io::Error::other("actix-web bound no address"))?;
        ready(addr);
        let server = server.run();
        let handle = server.handle();
        let shutdown = Shutdown::on(stop, hub.broker().clone());
        let stopping = shutdown.clone();
        let broker = hub.broker().clone();
        actix_web::rt::spawn(async move {
            stopping.started().await;
            // actix-web's graceful stop would wait out idle keep-alive
            // connections; the streams are what must end cleanly, so wait
            // for those, then stop at once.
            let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
            while broker.client_count() > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            handle.stop(false).await;
        });
        shutdown.run(server).await;
        Ok(())
    })
}
