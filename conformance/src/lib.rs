//! Black-box checks of the example servers' HTTP contract
//! (`../shared/CONTRACT.md`) over real HTTP, shared by every framework's
//! tests so that all five are held to exactly the same behaviour.
//!
//! [`client`] speaks SSE over HTTP with `sse-core`'s decoder; [`adapter`]
//! holds the checks each adapter crate runs against itself in-process;
//! [`checks`] holds the black-box checks of the contract run against each
//! example server as a process, and [`report`] lays their outcomes side by
//! side (`cargo xtask conformance`).

pub mod adapter;
pub mod checks;
pub mod client;
pub mod report;
