//! Server-Sent Events for Rocket 0.5, on [`sse_core`].
//!
//! Mount the whole SSE contract (`/events`, `/notify`, `/metrics`,
//! `/healthz`, `/`) beside your own routes in one line, with the [`Hub`] in
//! managed state, and publish from anywhere through its broker:
//!
//! ```no_run
//! use rocket::get;
//! use sse_core::{Event, contract::{Config, Hub}};
//!
//! #[get("/hello")]
//! fn hello() -> &'static str {
//!     "your own route"
//! }
//!
//! # async fn run() -> Result<(), rocket::Error> {
//! let hub = Hub::new(Config::default());
//! hub.broker().publish("default", &Event::new("server started")).ok();
//! rocket::build()
//!     .manage(hub)
//!     .mount("/", rocket::routes![hello])
//!     .mount("/", sse_rocket::routes())
//!     .launch()
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! In your own handlers, [`SseResponse`] turns a client stream into a
//! response, and [`LastEventId`] is the request guard for the id a
//! reconnecting client sent.
//!
//! # Slow and hostile clients
//!
//! Rocket 0.5 keeps its server private: it sets no timeout for a request
//! head or an idle keep-alive connection, offers no hook on accepted
//! connections, and waits with no timeout for the first 14 bytes of every
//! request body before any handler runs. Do not expose a Rocket server to
//! untrusted clients without a proxy in front that enforces those limits
//! (`docs/contract.md`, "Behind a proxy").
//!
//! Once those bytes are in, the publish route (`POST /notify`) reads its body within
//! [`Config::request_timeout`](sse_core::contract::Config::request_timeout)
//! (`408` after it) and refuses a `Content-Length` over `max_body` before
//! reading a byte.

mod extract;
mod response;
mod routes;

pub use extract::LastEventId;
pub use response::{Sse, SseResponse};
pub use routes::routes;

/// The contract's routes one by one, for `rocket::routes![]`, each reading
/// the [`Hub`] from managed state.
pub mod handlers {
    pub use crate::routes::{Parts, events, healthz, index, metrics, notify};
}
pub use sse_core;
pub use sse_core::Event;
pub use sse_core::contract::Hub;
pub use sse_core::stream::KeepAlive;
