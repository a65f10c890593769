//! Server-Sent Events for warp 0.4, on [`sse_core`].
//!
//! Combine the whole SSE contract (`/events`, `/notify`, `/metrics`,
//! `/healthz`, `/`) with your own filters in one line, and publish from
//! anywhere through the [`Hub`]'s broker:
//!
//! ```no_run
//! use sse_core::{Event, contract::{Config, Hub}};
//! use warp::Filter;
//!
//! # async fn run() {
//! let hub = Hub::new(Config::default());
//! let hello = warp::path("hello").map(|| "your own route");
//! let app = hello.or(sse_warp::routes(hub.clone()));
//! hub.broker().publish("default", &Event::new("server started")).ok();
//! warp::serve(app).run(([127, 0, 0, 1], 3000)).await;
//! # }
//! ```
//!
//! In your own filters, [`SseResponse`] turns a client stream into a reply,
//! and [`last_event_id`] extracts the id a reconnecting client sent.
//!
//! # Slow and hostile clients
//!
//! `warp::serve` sets no timeout for a request head and no cap on
//! connections, so silent sockets can hold descriptors forever. Where
//! clients are not trusted, serve `warp::service(filter)` with hyper-util's
//! server (`TowerToHyperService`), with
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

pub use extract::{LastEventId, last_event_id};
pub use response::{Sse, SseResponse};
pub use routes::routes;

/// The contract's routes one by one, each a filter over the [`Hub`].
pub mod handlers {
    pub use crate::routes::{events, healthz, index, metrics, notify};
}
pub use sse_core;
pub use sse_core::Event;
pub use sse_core::contract::Hub;
pub use sse_core::stream::KeepAlive;
