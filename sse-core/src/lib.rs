//! Framework-agnostic Server-Sent Events.
//!
//! `sse-core` holds everything about SSE that does not depend on a web
//! framework: the [`Event`] model and its wire [`encode`]r, a [`decode`]r
//! that follows the WHATWG parsing rules exactly, any stream of events as
//! a response's frames with keep-alives ([`stream`]), the [`broker`]
//! (topics, fan-out, replay by last event id, slow clients, [`metrics`]),
//! a cap on open [`connections`], per-topic authorization ([`auth`], JSON
//! Web Tokens with feature `jwt`), multi-instance mode on Redis
//! (feature `redis`), and the example servers' HTTP
//! [`contract`] in plain request and response parts. The `sse-axum`, `sse-actix`, `sse-warp`, `sse-rocket`
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
//! With no features, the crate is the event model, the encoder and the
//! decoder (what a client needs), with no runtime and no metrics.
//!
//! - `json` (default): `EventBuilder::json_data` serialises data with `serde_json`.
//! - `stream`: the `stream` module, any stream of events as a response's
//!   frames, with keep-alives on Tokio's timer.
//! - `broker`: the `broker` (topics, fan-out, replay), its `metrics`
//!   (prometheus-client) and the `connections` cap; implies `stream`.
//! - `contract` (default): the `contract` module, the framework-free HTTP
//!   routes and the demo page; implies `broker` and `json`.
//! - `jwt`: `auth::JwtAuthorizer`, JSON Web Tokens as the contract's
//!   authorization; implies `contract`.
//! - `http`: `contract::Response::into_http`, for frameworks on the `http` crate.
//! - `redis`: the `redis` module, several instances sharing their topics
//!   through Redis; implies `broker`.

#[cfg(feature = "contract")]
pub mod auth;
#[cfg(feature = "broker")]
pub mod broker;
#[cfg(feature = "broker")]
pub mod connections;
#[cfg(feature = "contract")]
pub mod contract;
pub mod decode;
pub mod encode;
mod event;
#[cfg(feature = "broker")]
pub mod metrics;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "stream")]
pub mod stream;

pub use event::{Event, EventBuilder, EventError};
