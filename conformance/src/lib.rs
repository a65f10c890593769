//! Black-box checks of the example servers' HTTP contract
//! (`../shared/CONTRACT.md`) over real HTTP, shared by every framework's
//! tests so that all five are held to exactly the same behaviour.
//!
//! [`client`] speaks SSE over HTTP with `sse-core`'s decoder; [`adapter`]
//! holds the checks each adapter crate runs against itself.

pub mod adapter;
pub mod client;
