//! What a broker is built with, what it answers, and how it fails.

use std::time::Duration;

use super::ids::EventId;

/// How a [`Broker`](super::Broker) bounds memory and treats clients. The defaults are
/// those the hub's /metrics route serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    /// Events kept for replay; 0 disables replay.
    pub history: usize,
    /// Events older than this are not replayed.
    pub history_ttl: Duration,
    /// Events of its topics that may wait for a client that does not read
    /// before it counts as lagging and is disconnected. Events held back
    /// by the server itself (a coalescing window, a task not yet run after
    /// its wake-up) do not count; see "Lag" in the [module docs](crate::broker).
    pub client_buffer: usize,
    /// Concurrent streams; subscribing above it fails.
    pub max_clients: usize,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            history: 1000,
            history_ttl: Duration::from_secs(5 * 60),
            client_buffer: 256,
            max_clients: 100_000,
        }
    }
}

/// Why the broker refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// [`Broker::shutdown`](super::Broker::shutdown) was called.
    #[error("the broker is shutting down")]
    Closed,
    /// As many streams as `max_clients` are open.
    #[error("too many clients: {max} streams are open, the configured maximum")]
    TooManyClients {
        /// The configured maximum.
        max: usize,
    },
    /// A subscription named no topic.
    #[error("a subscription needs at least one topic")]
    NoTopics,
    /// The broker mirrors topics kept elsewhere (Redis): publish and
    /// subscribe through what it mirrors, `RedisBroker::publish` and
    /// `RedisBroker::subscribe`.
    #[error(
        "this broker mirrors Redis: publish and subscribe through the RedisBroker, not the mirror"
    )]
    Mirror,
}

/// What a publish did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Published {
    /// The id the event was given, in publish order; it prints as the
    /// `id:` on the wire.
    pub id: EventId,
    /// How many clients were subscribed to the topic when it was published.
    pub sent: usize,
}

/// A snapshot of the broker's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Open streams.
    pub clients: usize,
    /// Topics held in memory (with subscribers or retained events).
    pub topics: usize,
    /// Events published since the start.
    pub published: u64,
    /// Events written to client streams since the start.
    pub delivered: u64,
    /// Clients disconnected for lagging since the start.
    pub lagged: u64,
    /// Events a replay would offer now, over all topics.
    pub history: usize,
}
