//! Black-box checks of the example servers' HTTP contract
//! (`../shared/CONTRACT.md`) over real HTTP, shared by every framework's
//! tests so that all five are held to exactly the same behaviour.
//!
//! [`client`] speaks SSE over HTTP and reads every stream with two
//! parsers, `sse-hub`'s decoder and `eventsource-stream`, failing on any
//! disagreement, and [`raw`] plays clients that misbehave; [`hostile`]
//! compares each framework's own SSE type with the adapter's; [`adapter`] holds the checks each adapter crate runs
//! against itself in-process; [`checks`] holds the black-box checks of the
//! contract, run against each example server in-process (`cargo test`) or
//! as a release binary (`cargo xtask conformance`), [`multi`] the checks of
//! two instances on one Redis ([`redis_server`] starts a private one),
//! [`auth`] those of private topics and cross-origin pages, [`h2`] those
//! of HTTP/2 over TLS and cleartext, and
//! [`report`] lays their outcomes side by side.

pub mod adapter;
pub mod auth;
pub mod backlog;
pub mod checks;
pub mod client;
pub mod examples;
pub mod h2;
pub mod hostile;
pub mod multi;
pub mod raw;
pub mod redis_server;
pub mod report;
