//! The hub: what an application embeds to serve Server-Sent Events.
//!
//! A [`Hub`] runs on an engine (in memory, or on Redis with the `redis`
//! feature: the same calls either way), with the streams' settings
//! ([`HubConfig`]) and an optional [`Authorizer`](crate::auth::Authorizer).
//! It is the one type application code needs: [`Hub::publish`],
//! [`Hub::subscribe`], [`Hub::publish_batch`], [`Hub::publish_ephemeral`],
//! [`Hub::history`], [`Hub::presence`], [`Hub::drain`], [`Hub::shutdown`], the connection
//! limit and the metrics. Its ready-made routes ([`Hub::routes`]: `GET
//! /events`, `POST /notify`, `POST /notify/batch`, `GET /history`, `GET
//! /presence`, `GET /metrics`, `GET /healthz`, `GET /readyz` and the demo page) answer
//! plain [`RequestParts`] with a plain [`Response`]: an adapter only
//! translates its framework's request into those parts and the `Response`
//! into its framework's response, so every framework behaves identically.
//!
//! ```
//! use sse_hub::hub::{Body, Hub, HubConfig, RequestParts};
//!
//! let hub = Hub::open(HubConfig::default()).expect("a hub");
//! let request = RequestParts {
//!     query: Some("topic=news"),
//!     headers: &[("content-type", "application/json")],
//! };
//! # futures::executor::block_on(async {
//! let response = hub.routes().notify(request, br#"{"title": "hello"}"#).await;
//! assert_eq!(response.status, 200);
//! let Body::Full(body) = response.body else { unreachable!() };
//! assert!(body.starts_with(br#"{"sent":0,"id":""#));
//! # });
//! ```
//!
//! With `config.redis` set and the `redis` feature, [`Hub::open`] builds
//! the hub on Redis instead (see [`redis`](crate::redis)): the same calls
//! and routes, shared by every instance on that Redis.
//!
//! The hub serves no connections itself: the server in front of it sets
//! request timeouts, connection caps and TLS (for hyper-based frameworks,
//! see [`serve`](crate::serve) with the `serve` feature).

mod batch;
mod body;
mod calls;
mod config;
pub mod cors;
mod drain;
mod errors;
mod handle;
pub mod idempotency;
mod instance;
mod reads;
mod response;
mod routes;

pub use crate::engine::{Presence, PublishError, ReadError, RedisConfig};
pub use crate::redis_tls::RedisTls;
pub use body::read_body;
pub use config::HubConfig;
pub use drain::{DRAIN_GRACE, StopSignals, stop_signals};
pub use errors::OpenError;
pub use handle::Hub;
pub use response::{Body, EventStream, INDEX_HTML, Response, StreamEnd, stream_headers};
pub use routes::{RequestParts, Routes};

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod feature_tests;
#[cfg(test)]
mod tests;
