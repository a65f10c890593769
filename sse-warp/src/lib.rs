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

mod extract;
mod response;
mod routes;

pub use extract::{LastEventId, last_event_id};
pub use response::SseResponse;
pub use routes::routes;
pub use sse_core;
pub use sse_core::contract::Hub;
