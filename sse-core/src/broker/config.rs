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
}

/// Where a new stream starts, before its live events.
///
/// ```
/// use futures::StreamExt;
/// use sse_hub::{Broker, BrokerConfig, Event, broker::Start};
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let broker = Broker::with_first_id(BrokerConfig::default(), 1);
/// for text in ["a", "b", "c"] {
///     broker.publish("news", &Event::new(text))?;
/// }
/// // The newest two, then live: no last event id needed.
/// let mut stream = broker.subscribe_from(["news"], Start::Rewind(2))?;
/// let chunk = stream.next().await.unwrap();
/// assert_eq!(chunk, "id: 2\ndata: b\n\nid: 3\ndata: c\n\n");
/// # Ok::<(), sse_hub::broker::BrokerError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start<'a> {
    /// Live events only.
    Live,
    /// After a client's last event id: what came since, or, when the id
    /// cannot be honoured, a reset and everything retained (see
    /// [`Broker::subscribe`](super::Broker::subscribe)).
    After(&'a str),
    /// The newest this many retained events of the stream's topics,
    /// oldest first (fewer if fewer are retained), then live. Never a
    /// reset.
    Rewind(usize),
}

impl<'a> Start<'a> {
    /// After `last_event_id` if there is one, else live.
    pub fn after(last_event_id: Option<&'a str>) -> Self {
        last_event_id.map_or(Self::Live, Self::After)
    }

    /// The last event id this start resumes after, if any.
    pub fn last_event_id(self) -> Option<&'a str> {
        match self {
            Self::After(id) => Some(id),
            Self::Live | Self::Rewind(_) => None,
        }
    }
}

/// One event of a [`Broker::publish_batch`](super::Broker::publish_batch):
/// its topic, and whether it is kept for replay.
///
/// ```
/// use sse_hub::{Event, broker::Publish};
///
/// let typing = Event::builder().event("typing").data("ada").build()?;
/// // Live subscribers get it; no replay, rewind or history ever returns it.
/// let publish = Publish::new("room-1", &typing).ephemeral();
/// assert!(publish.ephemeral);
/// # Ok::<(), sse_hub::EventError>(())
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Publish<'a> {
    /// The topic it goes to.
    pub topic: &'a str,
    /// The event (any id it has is replaced).
    pub event: &'a crate::Event,
    /// For live subscribers only: it gets an id, but is never retained,
    /// replayed, rewound or returned by a history read, and a client
    /// resuming after it (or across it) is not told it lost anything.
    pub ephemeral: bool,
}

impl<'a> Publish<'a> {
    /// `event` to `topic`, retained for replay.
    pub fn new(topic: &'a str, event: &'a crate::Event) -> Self {
        Self {
            topic,
            event,
            ephemeral: false,
        }
    }

    /// This event, for live subscribers only.
    #[must_use]
    pub fn ephemeral(mut self) -> Self {
        self.ephemeral = true;
        self
    }

    /// Whether it is kept for replay: `false` makes it ephemeral.
    #[must_use]
    pub fn history(mut self, history: bool) -> Self {
        self.ephemeral = !history;
        self
    }
}

/// Retained events read without a stream: what
/// [`Broker::history`](super::Broker::history) answers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct History {
    /// Oldest first.
    pub events: Vec<HistoryEvent>,
    /// The `after` id could not be honoured (as a stream's `reset`): the
    /// events are the oldest retained instead.
    pub reset: bool,
    /// More retained events follow the last one: read them after its id.
    pub more: bool,
}

/// One retained event, as a history read returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistoryEvent {
    /// Its id, as a stream of the same topics would have sent it: read on
    /// after it, or resume a stream with it.
    pub id: String,
    /// The topic it was published to.
    pub topic: String,
    /// Its event name (`message` when it had none).
    pub event: String,
    /// Its data, lines joined by `\n`.
    pub data: String,
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
