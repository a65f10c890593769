//! Server-Sent Events without a web framework: the hub an application
//! embeds, and everything under it.
//!
//! A `Hub` is topics with fan-out, per-topic history with
//! `Last-Event-ID` replay, heartbeats, a slow-client policy, metrics, an
//! optional authorizer and, with feature `redis`, several instances
//! sharing their topics through Redis. Under it sit the [`Event`] model and
//! its wire [`encode`]r, a [`decode`]r that follows the WHATWG parsing
//! rules exactly, and `SseStream`, which turns any stream of events into
//! a response's frames with keep-alives. The `sse-axum`, `sse-actix`,
//! `sse-warp`, `sse-rocket` and `sse-poem` crates expose the hub as their
//! framework's native types; depend on one of them, not on this crate,
//! unless you write an adapter or only need the event model.
//!
//! ```
//! use sse_hub::{Event, decode::{Decoded, Decoder}};
//!
//! // Encode once; the `Bytes` is shared by every subscriber.
//! let frame = Event::builder().event("greeting").id("1").data("hello\nworld").build()?.encode();
//!
//! let mut decoder = Decoder::new();
//! decoder.feed(&frame);
//! let Some(Ok(Decoded::Event(event))) = decoder.next_item() else { unreachable!() };
//! assert_eq!((event.event(), event.data()), ("greeting", "hello\nworld"));
//! # Ok::<(), sse_hub::EventError>(())
//! ```
//!
//! # Features
//!
//! Each feature names what it adds and what it pulls in (`cargo tree -e
//! normal -p sse-hub --no-default-features --features …`, counted at
//! 0.1.0, this crate excluded):
//!
//! | features | adds | pulls in | crates in all |
//! |---|---|---|---|
//! | none | [`Event`], [`encode`], [`decode`] | bytes, memchr, smol_str, thiserror, futures-core, pin-project-lite | 11 |
//! | `json` (default) | `EventBuilder::json_data` | serde, serde_json | 21 |
//! | `stream` | `SseStream`, `KeepAlive` | tokio (time only) | 12 |
//! | `broker` | `Broker`, `metrics`, `connections` | `stream`, slab, prometheus-client, rustix | 27 |
//! | `hub` | `Hub`, `auth`, `request`, the demo page | `broker`, `json`, percent-encoding, tracing | 41 |
//! | `http` | `hub::Response::into_http` | `hub`, http | 42 |
//! | `jwt` | `auth::JwtAuthorizer` | `hub`, jsonwebtoken (ring) | 57 |
//! | `redis` | `redis::RedisBroker`, and `Hub::open` on it with `hub` | `broker`, redis (with its cluster client), fastrand, tracing | 85 |
//! | `serve` | `serve`: an accept loop with a request timeout and a connection cap | `broker`, hyper, hyper-util, socket2 | 50 |
//! | `tls` | `serve` over TLS | `serve`, rustls, tokio-rustls (ring) | 60 |
//!
//! The adapters turn on what they use (`hub` and, where the framework is
//! on the `http` crate, `http`).

#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "hub")]
pub mod auth;
#[cfg(feature = "broker")]
pub mod broker;
#[cfg(feature = "broker")]
pub mod connections;
pub mod decode;
pub mod encode;
#[cfg(feature = "hub")]
mod engine;
mod event;
#[cfg(feature = "hub")]
pub mod hub;
#[cfg(feature = "hub")]
mod keys;
#[cfg(feature = "broker")]
pub mod metrics;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(any(feature = "hub", feature = "redis"))]
mod redis_tls;
#[cfg(feature = "hub")]
pub mod request;
#[cfg(feature = "serve")]
pub mod serve;
#[cfg(feature = "stream")]
pub mod stream;

#[cfg(feature = "broker")]
pub use broker::{Broker, BrokerConfig, EventId, Published, Start};
pub use event::{Event, EventBuilder, EventError};
#[cfg(feature = "hub")]
pub use hub::{Hub, HubConfig, OpenError, PublishError, ReadError};
#[cfg(feature = "stream")]
pub use stream::{KeepAlive, SseStream};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
