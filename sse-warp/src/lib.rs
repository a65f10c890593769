#![doc = include_str!("../README.md")]

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
pub use sse_core::contract::{Config, Hub};
pub use sse_core::stream::KeepAlive;
pub use sse_core::{Event, EventError};
