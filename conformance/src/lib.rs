//! Black-box checks of the example servers' HTTP behaviour
//! ([`docs/contract.md`](https://example.invalid/sse-toolkit/docs/contract.md)
//! in the repository) over real HTTP, shared by every framework's tests so
//! that all five are held to exactly the same behaviour.
//!
//! The crate is layered, each module using only those below it:
//!
//! - [`client`] speaks SSE over HTTP and reads every stream with two
//!   parsers, `sse-hub`'s decoder and `eventsource-stream`, failing on any
//!   disagreement; [`raw`] plays clients that misbehave;
//!   [`redis_server`] starts a private Redis.
//! - [`launch`] starts a server under test (an example binary as a
//!   process, or the same server on a thread), behind nginx if asked;
//!   [`support`] holds what a check is and the requests checks share.
//! - The checks by theme: [`streams`], [`replay`], [`operations`],
//!   [`limits`] (hostile clients), [`backlog`] (slow clients), [`auth`]
//!   (private topics and cross-origin pages), [`h2`] (HTTP/2), [`features`]
//!   (ephemeral events, batches, idempotency keys, history, presence),
//!   [`multi`] (two instances on one Redis).
//! - [`registry`] names every check in report order, lists each
//!   framework's known gaps, and runs them; [`report`] lays the outcomes
//!   side by side.
//! - [`adapter`] holds the checks each adapter crate runs against itself
//!   in-process, [`hostile`] compares each framework's own SSE type with
//!   the adapter's, and [`examples`] starts the adapters' own examples.

pub mod adapter;
pub mod adapter_tests;
pub mod auth;
pub mod backlog;
pub mod client;
pub mod drain;
pub mod examples;
pub mod failover;
pub mod features;
pub mod h2;
pub mod hostile;
pub mod launch;
pub mod limits;
pub mod multi;
pub mod operations;
pub mod process;
pub mod raw;
pub mod redis_server;
pub mod registry;
pub mod replay;
pub mod report;
pub mod reshard;
pub mod rolling;
pub mod secure_redis;
pub mod streams;
pub mod support;
