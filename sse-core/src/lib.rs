//! Framework-agnostic Server-Sent Events.
//!
//! `sse-core` holds everything about SSE that does not depend on a web
//! framework: the [`Event`] model and its wire encoder, and a [`decode`]r
//! that follows the WHATWG parsing rules exactly. The `sse-axum`,
//! `sse-actix`, `sse-warp`, `sse-rocket` and `sse-poem` crates expose it as
//! their framework's native types.
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

pub mod broker;
pub mod decode;
pub mod encode;
mod event;
pub mod metrics;

pub use event::{Event, EventBuilder, EventError};
