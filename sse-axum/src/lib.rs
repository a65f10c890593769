//! Server-Sent Events for axum 0.8, on [`sse_core`].
//!
//! Mount the whole SSE contract (`/events`, `/notify`, `/metrics`,
//! `/healthz`, `/`) beside your own routes in one line, and publish from
//! anywhere through the [`Hub`]'s broker:
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use sse_core::{Event, contract::{Config, Hub}};
//!
//! # async fn run() -> std::io::Result<()> {
//! let hub = Hub::new(Config::default());
//! let app = Router::new()
//!     .route("/hello", get(|| async { "your own route" }))
//!     .merge(sse_axum::routes(hub.clone()));
//! hub.broker().publish("default", &Event::new("server started")).ok();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! In your own handlers, [`SseResponse`] turns a client stream into a
//! response, and [`LastEventId`] extracts the id a reconnecting client sent.
//!
//! # Slow and hostile clients
//!
//! `axum::serve` sets no timeout for a request head and no cap on
//! connections, so silent sockets can hold descriptors forever. Where
//! clients are not trusted, serve the router with hyper-util's server
//! (`TowerToHyperService::new(router)`), with
//! `http1().timer(TokioTimer::new()).header_read_timeout(..)`, and hold a
//! permit of [`Hub::connections`] per accepted connection, as the example
//! server does in `examples/src/servers/hyper_serve.rs`; or put a proxy in
//! front (`docs/contract.md`, "Behind a proxy").
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
pub use routes::routes;

/// The contract's handlers one by one, each taking the [`Hub`] as state.
pub mod handlers {
    pub use crate::routes::{events, healthz, index, metrics, notify};
}
pub use sse_core;
pub use sse_core::Event;
pub use sse_core::contract::Hub;
pub use sse_core::stream::KeepAlive;
