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

mod extract;
mod response;
mod routes;

pub use extract::LastEventId;
pub use response::SseResponse;
pub use routes::routes;
pub use sse_core;
pub use sse_core::contract::Hub;
