//! Server-Sent Events for poem 3, on [`sse_core`].
//!
//! Mount the whole SSE contract (`/events`, `/notify`, `/metrics`,
//! `/healthz`, `/`) and add your own routes to the same `Route`, then
//! publish from anywhere through the [`Hub`]'s broker:
//!
//! ```no_run
//! use poem::{Server, get, handler, listener::TcpListener};
//! use sse_core::{Event, contract::{Config, Hub}};
//!
//! #[handler]
//! fn hello() -> &'static str {
//!     "your own route"
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let hub = Hub::new(Config::default());
//! let app = sse_poem::routes(hub.clone()).at("/hello", get(hello));
//! hub.broker().publish("default", &Event::new("server started")).ok();
//! Server::new(TcpListener::bind("127.0.0.1:3000")).run(app).await
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
