//! Framework-agnostic Server-Sent Events.
//!
//! `sse-core` holds everything about SSE that does not depend on a web
//! framework: the [`Event`] model and its wire [`encode`]r, a [`decode`]r
//! that follows the WHATWG parsing rules exactly, the [`broker`] (topics,
//! fan-out, replay by last event id, slow clients, heartbeats,
//! [`metrics`]), a cap on open [`connections`], and the example servers' HTTP [`contract`] in plain request
//! and response parts. The `sse-axum`, `sse-actix`, `sse-warp`, `sse-rocket`
//! and `sse-poem` crates expose it as their framework's native types.
//!
//! ```
//! use sse_core::{Event, decode::{Decoded, Decoder}};
//!
//! // Encode once; the `Bytes` is shared by every subscriber.
//! let frame = Event::builder().event("greeting").id("1").data("hello\nworld").build()?.encode();
//!
//! let mut decoder = Decoder::new();
//! decoder.feed(&frame);
//! let Some(Ok(Decoded::Event(event))) = decoder.next_item() else { unreachable!() };
//! assert_eq!((event.event(), event.data()), ("greeting", "hello\nworld"));
//! # Ok::<(), sse_core::EventError>(())
//! ```
//!
//! # Features
//!
//! - `json` (default): [`EventBuilder::json_data`] serialises data with `serde_json`.
//! - `contract` (default): the [`contract`] module, the framework-free HTTP routes.

pub mod broker;
pub mod connections;
#[cfg(feature = "contract")]
pub mod contract;
pub mod decode;
pub mod encode;
mod event;
pub mod metrics;
pub mod stream;

pub use event::{Event, EventBuilder, EventError};
