//! Server-Sent Events for actix-web 4, on [`sse_core`].
//!
//! Configure the whole SSE contract (`/events`, `/notify`, `/metrics`,
//! `/healthz`, `/`) beside your own services in one line, and publish from
//! anywhere through the [`Hub`]'s broker:
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use sse_core::{Event, contract::{Config, Hub}};
//!
//! # async fn run() -> std::io::Result<()> {
//! let hub = Hub::new(Config::default());
//! hub.broker().publish("default", &Event::new("server started")).ok();
//! HttpServer::new(move || {
//!     App::new()
//!         .route("/hello", web::get().to(|| async { "your own route" }))
//!         .configure(sse_actix::configure(hub.clone()))
//! })
//! // Without this, actix-web keeps the stream of a client that went away
//! // open until a write to it fails (the next heartbeat at the latest).
//! .h1_allow_half_closed(false)
//! .bind(("127.0.0.1", 3000))?
//! .run()
//! .await
//! # }
//! ```
//!
//! In your own handlers, [`SseResponse`] turns a client stream into a
//! response, and [`LastEventId`] extracts the id a reconnecting client sent.
//!
//! # Slow and hostile clients
//!
//! actix-web has the settings: `HttpServer::client_request_timeout` (a
//! request head late is answered `408`), `keep_alive` for idle
//! connections, and `on_connect`, where the example server
//! (`examples/src/servers/actix.rs`) takes a permit of
//! [`Hub::connections`] per connection and shuts the socket when none is
//! left. actix-web's own `max_connections` stops accepting instead, and
//! counts per worker.
//!
//! The publish route (`POST /notify`) reads its body within
//! [`Config::request_timeout`](sse_core::contract::Config::request_timeout)
//! (`408` after it) and refuses a `Content-Length` over `max_body` before
//! reading a byte.

mod extract;
mod response;
mod routes;

pub use extract::LastEventId;
pub use response::{Sse, SseResponse};
pub use routes::configure;

/// The contract's handlers one by one, each taking the [`Hub`] as
/// `web::Data<Hub>`.
pub mod handlers {
    pub use crate::routes::{events, healthz, index, metrics, notify};
}
pub use sse_core;
pub use sse_core::Event;
pub use sse_core::contract::Hub;
pub use sse_core::stream::KeepAlive;
