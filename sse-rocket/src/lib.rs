#![doc = include_str!("../README.md")]

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
pub use sse_core::contract::{Config, Hub};
pub use sse_core::stream::KeepAlive;
pub use sse_core::{Event, EventError};
