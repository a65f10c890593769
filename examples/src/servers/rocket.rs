//! The contract served by Rocket: `cargo run -p sse-examples --bin rocket`.

use std::net::SocketAddr;
use std::sync::Mutex;

use rocket::fairing::{AdHoc, Fairing, Info, Kind};
use rocket::http::{Method, Status};
use rocket::{Request, Response};
use sse_hub::hub::cors::CorsPolicy;

use crate::{Ready, ServerConfig, Shutdown, Stop};

/// Serves the contract with Rocket; see [`Serve`](crate::Serve).
pub fn serve(config: ServerConfig, stop: Stop, ready: Ready) -> std::io::Result<()> {
    let addr: SocketAddr = config
        .addr
        .parse()
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))?;
    rocket::execute(async move {
        if config.h2c {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "Rocket 0.5 cannot serve HTTP/2 over cleartext (--h2c)",
            ));
        }
        // Rocket's own TLS, which offers h2 and http/1.1 by ALPN itself
        // (and makes sse-rocket probe idle streams every 500 ms, so that
        // a reset h2 stream is noticed within a second).
        let tls = config
            .tls
            .as_ref()
            .map(|files| rocket::config::TlsConfig::from_paths(&files.cert, &files.key));
        let hub = crate::open_hub(config.hub.clone()).await?;
        let cors_origins = config.cors_origins.clone();
        let rocket_config = rocket::Config {
            address: addr.ip(),
            port: addr.port(),
            log_level: rocket::config::LogLevel::Critical,
            tls,
            // The stop ends the streams before Rocket stops; Rocket must
            // not take the process's signals.
            shutdown: rocket::config::Shutdown {
                ctrlc: false,
                signals: Default::default(),
                // Rocket cuts every connection's I/O once the grace is
                // over: with none, a stream that the broker just ended could
                // lose its final chunk. Connections that are done close at
                // once either way.
                grace: 1,
                mercy: 1,
                ..Default::default()
            },
            ..rocket::Config::release_default()
        };
        // Rocket binds at launch and tells the real port at liftoff.
        let ready = Mutex::new(Some(ready));
        let shutdown = Shutdown::on(stop, hub.clone(), config.drain_timeout);
        let rocket = rocket::custom(rocket_config)
            .manage(hub)
            .mount("/", sse_rocket::routes())
            .attach(CorsFairing(CorsPolicy::new(cors_origins)))
            .attach(AdHoc::on_liftoff("ready", move |rocket| {
                let config = rocket.config();
                if let Some(ready) = ready.lock().ok().and_then(|mut ready| ready.take()) {
                    ready(SocketAddr::new(config.address, config.port));
                }
                Box::pin(async {})
            }))
            .ignite()
            .await
            .map_err(std::io::Error::other)?;
        let handle = rocket.shutdown();
        let stopping = shutdown.clone();
        rocket::tokio::spawn(async move {
            stopping.started().await;
            handle.notify();
        });
        let mut launched = Ok(());
        shutdown
            .run(async {
                launched = match rocket.launch().await {
                    Ok(_) => Ok(()),
                    // Rocket 0.5.2 calls a shutdown failed when a
                    // connection task still holds its state as its server
                    // returns, even though every response has ended (the
                    // streams were ended first); the stop itself was clean.
                    Err(err) if matches!(err.kind(), rocket::error::ErrorKind::Shutdown(..)) => {
                        tracing::debug!(%err, "Rocket stopped with connection tasks outstanding");
                        Ok(())
                    }
                    Err(err) => Err(err),
                };
            })
            .await;
        launched.map_err(std::io::Error::other)
    })
}

/// `--cors-origin` for Rocket, which has no CORS support of its own: the
/// contract's rules ([`CorsPolicy`]) as a response fairing. A preflight
/// matches no route, so its `404` becomes the `204` answer.
struct CorsFairing(CorsPolicy);

#[rocket::async_trait]
impl Fairing for CorsFairing {
    fn info(&self) -> Info {
        Info {
            name: "CORS (--cors-origin)",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        if !self.0.is_enabled() {
            return;
        }
        let origin = request.headers().get_one("Origin").map(str::as_bytes);
        let headers =
            if request.method() == Method::Options && response.status() == Status::NotFound {
                let preflight = self.0.preflight(origin);
                response.set_status(Status::NoContent);
                response.set_sized_body(0, std::io::Cursor::new(Vec::new()));
                preflight.headers
            } else {
                self.0.headers(origin)
            };
        for (name, value) in headers {
            response.adjoin_raw_header(name, value);
        }
    }
}
