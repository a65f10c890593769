#![doc = include_str!("../README.md")]

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
pub use sse_core::contract::{Config, Hub};
pub use sse_core::stream::KeepAlive;
pub use sse_core::{Event, EventError};
