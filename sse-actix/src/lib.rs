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

mod extract;
mod response;
mod routes;

pub use extract::LastEventId;
pub use response::SseResponse;
pub use routes::configure;
pub use sse_core;
pub use sse_core::contract::Hub;
