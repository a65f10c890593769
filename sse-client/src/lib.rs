//! A Server-Sent Events client that keeps a stream alive.
//!
//! [`EventSource`] is a [`Stream`](futures_core::Stream) of what happens
//! on one logical stream across any number of connections: each
//! connection [`Opened`], each [`Message`], and each time it is
//! [`Reconnecting`] (the attempt, the delay, and why).
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use sse_hub_client::{Event, EventSource};
//!
//! # async fn run() -> Result<(), sse_hub_client::Error> {
//! let mut events = EventSource::get("https://example.com/events?topic=news")
//!     .headers_with(|| async {
//!         // Called before every connect: a fresh token for each reconnect.
//!         let mut headers = reqwest::header::HeaderMap::new();
//!         headers.insert("authorization", "Bearer …".parse()?);
//!         Ok::<_, Box<dyn std::error::Error + Send + Sync>>(headers)
//!     })
//!     .build()?;
//! while let Some(event) = events.next().await {
//!     match event? {
//!         Event::Message(message) => println!("{}: {}", message.event(), message.data()),
//!         Event::Opened(opened) => println!("connected ({})", opened.status),
//!         Event::Reconnecting(r) => println!("reconnecting in {:?}: {}", r.delay, r.reason),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # What it does for you
//!
//! - **Reconnects** after the stream ends, the connection drops, or the
//!   server answers `5xx`, `408` or `429`: exponential backoff with full
//!   jitter, capped, with the server's `retry:` as its base (see
//!   [`Backoff`]). `Retry-After` is honoured on `503` and `429`. Each
//!   reconnect sends the last event id as `Last-Event-ID`.
//! - **Stops** on `204 No Content` (the stream just ends), and fails on
//!   other `4xx` answers with an [`Error::Status`] that carries the status
//!   and the start of the body, on a content type other than
//!   `text/event-stream`, and on a stream that is not UTF-8.
//! - **Notices dead connections**: no byte for
//!   [`idle_timeout`](EventSourceBuilder::idle_timeout) (60 s by default;
//!   servers send heartbeats more often) means the connection is gone, so
//!   it reconnects.
//! - **Stays bounded**: a line or an event over the decoder's bounds is
//!   discarded with an [`Error::Decode`] item, and the stream goes on.
//! - **Does not replay a `POST` by itself**: a request that is not
//!   idempotent, such as an LLM prompt, is not sent again unless
//!   [`retry_unsafe`](EventSourceBuilder::retry_unsafe) says it may be.
//!
//! # Why a crate of its own, on reqwest
//!
//! Servers do not need an HTTP client, so the client is not a feature of
//! `sse-hub`: it uses only `sse-hub`'s decoder, with no default features.
//! It sits on reqwest rather than on bare hyper because reqwest brings what
//! a client needs and hyper alone does not: HTTP/2 by ALPN, proxies from
//! the environment (`HTTPS_PROXY`, `NO_PROXY`), redirects, connection
//! pooling, and root certificates from the platform. Programs that call
//! HTTP APIs usually have it already; [`EventSourceBuilder::client`] takes
//! theirs, with its own TLS and proxy settings. TLS is rustls on ring, as in
//! the rest of the toolkit, so the build needs no C compiler or CMake.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod backoff;
mod builder;
mod config;
mod driver;
mod error;
mod event;
mod source;
mod utf8;

pub use backoff::Backoff;
pub use builder::EventSourceBuilder;
pub use error::{Error, HeaderError};
pub use event::{Event, Message, Opened, Reason, Reconnecting};
pub use reqwest;
pub use source::EventSource;
pub use sse_hub::decode::{DEFAULT_MAX_EVENT_LEN, DEFAULT_MAX_LINE_LEN, DecodeError};
