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
//!
//! # Slow and hostile clients
//!
//! `poem::Server` sets no timeout for a request head, and when `accept`
//! fails (out of descriptors) it tries again at once, spinning a core.
//! Where clients are not trusted, run the endpoint on hyper-util's server
//! with `http1().timer(TokioTimer::new()).header_read_timeout(..)`,
//! converting with poem's own `Request::from((request, local, remote,
//! scheme))` and `hyper::Response::from(response)`, and hold a permit of
//! [`Hub::connections`] per accepted connection, as the example server
//! does in `examples/src/servers/poem.rs`; or put a proxy in front
//! (`docs/contract.md`, "Behind a proxy").
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

/// The contract's endpoints one by one, each over a [`Hub`].
pub mod handlers {
    pub use crate::routes::{events, healthz, index, metrics, notify};
}
pub use sse_core;
pub use sse_core::Event;
pub use sse_core::contract::Hub;
pub use sse_core::stream::KeepAlive;
