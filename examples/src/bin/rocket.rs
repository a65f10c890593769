//! The contract served by Rocket: `cargo run -p sse-examples --bin rocket`.

use std::net::SocketAddr;

use rocket::fairing::AdHoc;
use sse_core::contract::Hub;
use sse_examples::{Options, Shutdown, announce};

#[rocket::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hub = Hub::new(Options::load());
    let addr: SocketAddr = hub.config().addr.parse()?;
    let config = rocket::Config {
        address: addr.ip(),
        port: addr.port(),
        log_level: rocket::config::LogLevel::Critical,
        // Our signal handler ends the streams before Rocket stops.
        shutdown: rocket::config::Shutdown {
            ctrlc: false,
            signals: Default::default(),
            grace: 0,
            mercy: 1,
            ..Default::default()
        },
        ..rocket::Config::release_default()
    };
    let shutdown = Shutdown::on_signal(hub.broker().clone());
    let rocket = rocket::custom(config)
        .manage(hub)
        .mount("/", sse_rocket::routes())
        .attach(AdHoc::on_liftoff("announce", |rocket| {
            let config = rocket.config();
            announce(SocketAddr::new(config.address, config.port));
            Box::pin(async {})
        }))
        .ignite()
        .await?;
    let handle = rocket.shutdown();
    let stop = shutdown.clone();
    rocket::tokio::spawn(async move {
        stop.started().await;
        handle.notify();
    });
    shutdown.run(rocket.launch()).await;
    Ok(())
}
