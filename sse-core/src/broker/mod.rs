//! The broker: topics, fan-out, replay by last event id, slow clients,
//! and shutdown, for any framework that can stream `Bytes` (keep-alives
//! come from [`SseStream`](crate::stream::SseStream), which wraps a
//! subscription).
//!
//! Each topic has its own bounded log, which is both its replay history and
//! its fan-out buffer, behind a lock of its own: each publish encodes its
//! event once, under the next id, and appends the frame to its topic's log;
//! each client keeps a cursor into the log of each of its topics. Replay is
//! starting the cursors further back, so there is no separate replay phase
//! that could race with live publishes: no gap and no duplicate at the
//! seam, by construction. Topics never wait for each other, and one
//! topic's traffic never evicts another's events nor counts against
//! another's subscribers.
//!
//! # Invariants
//!
//! - **Ids.** One counter for the whole broker, seeded from the wall
//!   clock, so ids are unique, increase in publish order and keep
//!   increasing across restarts. A publish takes its id *while holding its
//!   topic's lock* and appends before releasing it, so each log is in id
//!   order and an id, once visible in a log, is smaller than every id that
//!   topic will get later.
//! - **Cursor.** For each of its topics, a client's cursor is an id such
//!   that every frame of that topic up to it was sent to the client (or,
//!   after a reset, given up on). Reading sends the frames after the
//!   cursors and moves each cursor to its topic's newest id.
//! - **Order.** A client of several topics reads them holding all their
//!   locks at once (taken in name order, so no two clients deadlock). A
//!   publish to any of them is then wholly before the read or wholly
//!   after it, and one after it takes an id larger than every id the read
//!   saw; so merging the topics' frames by id at each read gives one
//!   strictly increasing sequence across reads, with nothing skipped.
//! - **Lag.** A client lags when more than `client_buffer` events of *its*
//!   topics wait for it and it has not read for a turn of 100 ms (counted
//!   from its last read, or from its wake-up if it was waiting), or when
//!   a frame of one of its topics after its cursor was evicted before it
//!   was sent (that topic's floor passed its cursor). What the server
//!   holds back never counts: within its turn only the log bounds a
//!   client, since the server may not have run its task yet (a burst
//!   published in a loop, a busy runtime); and a client away with a chunk
//!   is woken once half its buffer is used, so that a stream holding
//!   events for a coalescing window takes them
//!   ([`SseStream::coalesce`](crate::stream::SseStream::coalesce)). A
//!   client that stopped reading is cut at the first publish past its
//!   buffer once its turn is over. A lagging stream ends; other topics'
//!   traffic never makes a client lag.
//! - **Retention.** Each topic keeps its newest `history` events for
//!   replay, as long as they are younger than `history_ttl`; while it has
//!   subscribers it also keeps its newest `client_buffer` events whatever
//!   their age, so that a client within its buffer never misses one.
//!   Publishes evict their own topic's old events; a sweep at most every
//!   `history_ttl` (clamped to 1–60 s) evicts expired events of topics
//!   nobody publishes to.
//! - **Reset.** A last event id is honoured when it is a decimal id no
//!   newer than the newest id issued and, for every subscribed topic, no
//!   event of that topic after it is gone (evicted, expired for replay, or
//!   from before the broker started). Otherwise the stream is a reset: it
//!   replays everything its topics retain, oldest first.
//! - **Memory.** A topic with no subscribers and nothing retained is
//!   forgotten: it costs nothing. Its floor (the newest id it lost) is
//!   folded into one broker-wide bound that a topic created later starts
//!   from, so resuming a forgotten topic can reset where it strictly need
//!   not, but never replays wrongly. Retained frames are bounded by
//!   `max(history, client_buffer)` per subscribed topic and `history` per
//!   other topic, and only for `history_ttl` plus one sweep interval once a
//!   topic is unsubscribed: at most `topics × max(history, client_buffer)`
//!   frames, and in practice what was published within the TTL. Each
//!   frame exists once, shared as `Bytes` by every client it is sent to.
//!
//! ```
//! use futures::StreamExt;
//! use sse_hub::{Event, broker::{Broker, BrokerConfig}};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let broker = Broker::new(BrokerConfig::default());
//! let mut stream = broker.subscribe(["news"], None)?;
//! let published = broker.publish("news", &Event::new("hello"))?;
//! assert_eq!(published.sent, 1);
//! let chunk = stream.next().await.unwrap();
//! assert_eq!(chunk, format!("id: {}\ndata: hello\n\n", published.id));
//! # Ok::<(), sse_hub::broker::BrokerError>(())
//! # }).unwrap();
//! ```

mod client;
pub(crate) mod ids;
mod log;
mod topic;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

pub use client::ClientStream;
pub use ids::EventId;

use crate::Event;
use crate::metrics::Metrics;
use client::{Joined, Subscriptions, with_locked};
use ids::IdFormat;
use log::Retention;
#[cfg(test)]
pub(crate) use topic::TURN;
use topic::{Backlog, Queue, SharedQueue, Subscriber, Topic, TopicState};

/// How a [`Broker`] bounds memory and treats clients. The defaults are
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
    /// its wake-up) do not count; see "Lag" in the [module docs](self).
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
    /// [`Broker::shutdown`] was called.
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
    /// The broker mirrors topics kept elsewhere (Redis): publish through
    /// what it mirrors, for instance `RedisBroker::publish`.
    #[error("this broker mirrors Redis: publish through the RedisBroker, not the mirror")]
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

/// A cheap-to-clone handle on one broker.
#[derive(Debug, Clone)]
pub struct Broker {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: BrokerConfig,
    retention: Retention,
    /// How many unread events each client may have.
    backlog: Backlog,
    metrics: Metrics,
    /// Every topic that has subscribers or retains events. Held only to
    /// find, add or forget a topic, never while waiting for a topic's lock
    /// in the other order.
    topics: RwLock<HashMap<Arc<str>, Arc<Topic>>>,
    /// The newest id issued. Taken while holding the lock of the topic the
    /// id goes to, which is what keeps every client's order (see the
    /// module docs).
    newest: AtomicU64,
    /// At least the newest evicted id of every topic that was forgotten:
    /// the floor a topic starts with when it is created (again).
    forgotten_floor: AtomicU64,
    clients: AtomicUsize,
    next_client_id: AtomicU64,
    closed: AtomicBool,
    sweep: Sweep,
    /// How ids are written and read back.
    ids: IdFormat,
    /// Events come from [`Broker::apply`] only, with ids given elsewhere.
    mirror: bool,
}

/// How an event gets its id.
#[derive(Debug, Clone, Copy)]
enum Stamp<'a> {
    /// The broker's next id.
    Next(&'a Event),
    /// An id given by what the broker mirrors.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Given(Mirrored<'a>),
}

/// One event of a topic kept elsewhere, for a mirror: see
/// [`Broker::apply`].
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct Mirrored<'a> {
    pub(crate) id: u64,
    /// The encoded event without its `id:` line.
    pub(crate) body: &'a [u8],
    pub(crate) published_at: Instant,
    /// Events of the topic before this one and after the mirror's last
    /// were never received: clients still owed them have lost them.
    pub(crate) gap: bool,
}

/// When expired events of topics nobody publishes to are next dropped.
#[derive(Debug)]
struct Sweep {
    started: Instant,
    every: Duration,
    /// Nanoseconds after `started`.
    next: AtomicU64,
}

/// How often expired events are swept out of quiet topics: often enough
/// that a topic is forgotten soon after its last event expired, rarely
/// enough that the walk over every topic costs nothing noticeable.
fn sweep_interval(ttl: Duration) -> Duration {
    ttl.clamp(Duration::from_secs(1), Duration::from_secs(60))
}

impl Broker {
    /// A broker whose ids are seeded from the wall clock (nanoseconds since
    /// the Unix epoch), so they keep increasing across restarts.
    pub fn new(config: BrokerConfig) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        Self::with_first_id(config, u64::try_from(now).unwrap_or(u64::MAX / 2))
    }

    /// A broker whose first event gets `first_id`: for tests, and for
    /// deployments that carry ids over by other means.
    pub fn with_first_id(config: BrokerConfig, first_id: u64) -> Self {
        Self::build(
            config,
            first_id.max(1) - 1,
            IdFormat::Decimal,
            Metrics::new(),
        )
    }

    /// An empty mirror of topics kept elsewhere: its events come through
    /// [`Broker::apply`] with their ids, written as Redis ids, and every
    /// id counts as unknown until [`Broker::raise_floor`] says what is.
    #[cfg(feature = "redis")]
    pub(crate) fn mirror(config: BrokerConfig, metrics: Metrics) -> Self {
        Self::build(config, 0, IdFormat::Redis, metrics)
    }

    fn build(config: BrokerConfig, before_first: u64, ids: IdFormat, metrics: Metrics) -> Self {
        let retention = Retention {
            history: config.history,
            ttl: config.history_ttl,
            fan_out: config.client_buffer.max(1),
        };
        let started = Instant::now();
        let every = sweep_interval(config.history_ttl);
        Self {
            shared: Arc::new(Shared {
                retention,
                backlog: Backlog::new(
                    config.client_buffer,
                    retention.history.max(retention.fan_out),
                ),
                metrics,
                topics: RwLock::new(HashMap::new()),
                newest: AtomicU64::new(before_first),
                // Anything before the first id is unknown: resuming from
                // it resets, as after a restart.
                forgotten_floor: AtomicU64::new(before_first),
                clients: AtomicUsize::new(0),
                next_client_id: AtomicU64::new(1),
                closed: AtomicBool::new(false),
                sweep: Sweep {
                    started,
                    every,
                    next: AtomicU64::new(nanos(every)),
                },
                config,
                ids,
                // Only a mirror of Redis is given Redis ids.
                mirror: ids == IdFormat::Redis,
            }),
        }
    }

    /// The configuration the broker was built with.
    pub fn config(&self) -> &BrokerConfig {
        &self.shared.config
    }

    /// Publishes `event` to `topic` under the next id (replacing any id the
    /// event had), encoding it once for every subscriber. Never waits for a
    /// client: one that falls more than `client_buffer` events behind is
    /// disconnected instead. Publishes to different topics do not wait for
    /// each other either.
    pub fn publish(&self, topic: &str, event: &Event) -> Result<Published, BrokerError> {
        let shared = &*self.shared;
        if shared.mirror {
            return Err(BrokerError::Mirror);
        }
        if shared.is_closed() {
            return Err(BrokerError::Closed);
        }
        let appended = shared.append(topic, Stamp::Next(event), Instant::now());
        // A broker's own ids are never refused.
        let (id, sent) = appended.unwrap_or_default();
        Ok(Published {
            id: EventId::new(id, shared.ids),
            sent,
        })
    }

    /// The text of `id` as clients see it in `id:`: decimal for an
    /// in-memory broker, `<ms>-<seq>` for one mirroring Redis.
    #[cfg(feature = "redis")]
    pub(crate) fn format_id(&self, id: u64) -> String {
        self.shared.ids.format(id)
    }

    /// Appends an event of `topic` that a mirror received, under the id it
    /// was given, and fans it out as [`Broker::publish`] would. Events must
    /// come in id order over all topics (the order their ids were issued
    /// in), which keeps every client's order; one whose id is not newer
    /// than the newest applied is a duplicate and is skipped (`None`).
    /// Returns the number of subscribers of `topic`.
    #[cfg(feature = "redis")]
    pub(crate) fn apply(&self, topic: &str, event: Mirrored<'_>) -> Option<usize> {
        let shared = &*self.shared;
        if shared.is_closed() {
            return None;
        }
        let now = Instant::now();
        let (_, sent) = shared.append(topic, Stamp::Given(event), now)?;
        Some(sent)
    }

    /// The newest id applied or known: a `Last-Event-ID` after it is from
    /// the future (or from an event not mirrored yet).
    #[cfg(feature = "redis")]
    pub(crate) fn newest(&self) -> u64 {
        self.shared.newest.load(Ordering::SeqCst)
    }

    /// Every event up to `floor` that is not held counts as lost: a
    /// mirror that starts after them, or that was cut off from them,
    /// cannot replay them.
    #[cfg(feature = "redis")]
    pub(crate) fn raise_floor(&self, floor: u64) {
        let shared = &*self.shared;
        shared.forgotten_floor.fetch_max(floor, Ordering::SeqCst);
        shared.newest.fetch_max(floor, Ordering::SeqCst);
        shared.skip_all_to(floor);
    }

    /// Opens a stream of the frames published to any of `topics`, in id
    /// order.
    ///
    /// With a `last_event_id`, the stream first replays the retained frames
    /// of those topics after it; when that id cannot be honoured
    /// (unparsable, newer than any id issued, or so old that a frame of
    /// one of the topics after it is gone) the stream is marked
    /// [`reset`](ClientStream::is_reset) and replays everything those topics
    /// retain.
    pub fn subscribe<I, S>(
        &self,
        topics: I,
        last_event_id: Option<&str>,
    ) -> Result<ClientStream, BrokerError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let topics: Vec<S> = topics.into_iter().collect();
        // Sorted: a client locks its topics in this order, so two clients
        // never wait for each other's locks in opposite orders.
        let mut names: Vec<&str> = topics.iter().map(AsRef::as_ref).collect();
        names.sort_unstable();
        names.dedup();
        if names.is_empty() {
            return Err(BrokerError::NoTopics);
        }
        let shared = &*self.shared;
        if shared.is_closed() {
            return Err(BrokerError::Closed);
        }
        let max = shared.config.max_clients;
        shared
            .clients
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .map_err(|_| BrokerError::TooManyClients { max })?;
        let now = Instant::now();
        shared.maybe_sweep(now);
        // One topic: the queue lives in the topic's subscriber entry.
        let clock = shared.millis(now);
        let shared_queue = (names.len() > 1).then(|| Arc::new(SharedQueue::new(clock)));
        let mut topics: Vec<Arc<Topic>> = names
            .iter()
            .map(|name| shared.find_or_create(name))
            .collect();
        let (slots, cursors, reset) = loop {
            let attempt = with_locked(topics.iter().map(|topic| &**topic), |states| {
                if states.iter().any(|state| state.forgotten) {
                    return None;
                }
                let (cursors, reset) = shared.resume(states, last_event_id, now);
                let slots: Vec<usize> = states
                    .iter_mut()
                    .map(|state| {
                        state.subscribers.insert(Subscriber {
                            queue: match &shared_queue {
                                Some(queue) => Queue::Shared(queue.clone()),
                                None => Queue::own(clock),
                            },
                            waker: None,
                        })
                    })
                    .collect();
                Some((slots, cursors, reset))
            });
            match attempt {
                Some(done) => break done,
                // A sweep forgot one of them meanwhile: look them up again.
                None => {
                    topics = names
                        .iter()
                        .map(|name| shared.find_or_create(name))
                        .collect();
                }
            }
        };
        let joined = topics
            .into_iter()
            .zip(slots)
            .map(|(topic, slot)| Joined { topic, slot })
            .collect();
        let client_id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
        shared.metrics.clients.inc();
        Ok(ClientStream::new(
            self.shared.clone(),
            Subscriptions::new(joined, cursors),
            client_id,
            reset,
        ))
    }

    /// How many streams are open.
    pub fn client_count(&self) -> usize {
        self.shared.clients.load(Ordering::SeqCst)
    }

    /// How many streams are subscribed to `topic`.
    pub fn subscriber_count(&self, topic: &str) -> usize {
        self.shared
            .find(topic)
            .map_or(0, |topic| topic.lock().subscribers.len())
    }

    /// How many topics are held in memory: those with subscribers or
    /// retained events. The others cost nothing.
    pub fn topic_count(&self) -> usize {
        self.shared.read_topics().len()
    }

    /// Ends every stream (each finishes cleanly at its next poll) and
    /// refuses new publishes and subscriptions.
    pub fn shutdown(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        // A stream checks `closed` under its topics' locks, so it either
        // saw it or has its waker taken here.
        self.shared.wake_all(|_| {});
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// The counters, as they are now.
    pub fn stats(&self) -> Stats {
        let metrics = &self.shared.metrics;
        let (topics, history) = self.shared.retained(Instant::now());
        Stats {
            clients: self.client_count(),
            topics,
            published: metrics.published.get(),
            delivered: metrics.delivered.get(),
            lagged: metrics.lagged.get(),
            history,
        }
    }

    /// A cap of `max` open connections whose counts show in this broker's
    /// metrics, as `sse_connections` and `sse_connections_refused_total`.
    /// Every call makes a cap of its own over the same two series, so a
    /// server takes one.
    ///
    /// ```
    /// use sse_hub::broker::{Broker, BrokerConfig};
    ///
    /// let broker = Broker::new(BrokerConfig::default());
    /// let limit = broker.connection_limit(1);
    /// let _open = limit.try_acquire();
    /// assert!(limit.try_acquire().is_none());
    /// let text = broker.render_metrics();
    /// assert!(text.contains("sse_connections 1"), "{text}");
    /// assert!(text.contains("sse_connections_refused_total 1"), "{text}");
    /// ```
    pub fn connection_limit(&self, max: usize) -> crate::connections::ConnectionLimit {
        let metrics = &self.shared.metrics;
        crate::connections::ConnectionLimit::with_metrics(
            max,
            metrics.connections.clone(),
            metrics.connections_refused.clone(),
        )
    }

    /// The metrics in the Prometheus (OpenMetrics) text format; serve it
    /// with [`crate::metrics::CONTENT_TYPE`].
    pub fn render_metrics(&self) -> String {
        let (topics, history) = self.shared.retained(Instant::now());
        self.shared.metrics.render(topics, history)
    }

    /// Adds the broker's series to an application's own registry, so that
    /// one `/metrics` serves both. The registry reads the broker at every
    /// scrape, and keeps it alive as long as the registry lives.
    ///
    /// ```
    /// use prometheus_client::registry::Registry;
    /// use sse_hub::broker::{Broker, BrokerConfig};
    ///
    /// let broker = Broker::new(BrokerConfig::default());
    /// let mut registry = Registry::default();
    /// broker.register_metrics(&mut registry);
    /// broker.publish("news", &sse_hub::Event::new("hi"))?;
    /// let mut text = String::new();
    /// prometheus_client::encoding::text::encode(&mut text, &registry)?;
    /// assert!(text.contains("sse_events_published_total 1"), "{text}");
    /// assert!(text.contains("sse_history_events 1"), "{text}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register_collector(Box::new(Scraped {
            shared: Arc::clone(&self.shared),
        }));
    }
}

/// The broker's series, read at each scrape of an application's registry.
struct Scraped {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Scraped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scraped").finish_non_exhaustive()
    }
}

impl prometheus_client::collector::Collector for Scraped {
    fn encode(
        &self,
        encoder: prometheus_client::encoding::DescriptorEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        let (topics, history) = self.shared.retained(Instant::now());
        self.shared.metrics.encode(topics, history, encoder)
    }
}

impl Shared {
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// `now` in milliseconds since the broker started, wrapping: the clock
    /// of a client's turn (see `topic::TURN`).
    fn millis(&self, now: Instant) -> u32 {
        let since = now.saturating_duration_since(self.sweep.started);
        (since.as_millis() & u128::from(u32::MAX)) as u32
    }

    /// The topic map for reading. A panic while it was held cannot leave
    /// it half-updated (each change is one map operation), so a poisoned
    /// lock is taken as it is.
    fn read_topics(&self) -> RwLockReadGuard<'_, HashMap<Arc<str>, Arc<Topic>>> {
        self.topics
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_topics(&self) -> RwLockWriteGuard<'_, HashMap<Arc<str>, Arc<Topic>>> {
        self.topics
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn find(&self, name: &str) -> Option<Arc<Topic>> {
        self.read_topics().get(name).cloned()
    }

    fn find_or_create(&self, name: &str) -> Arc<Topic> {
        if let Some(topic) = self.find(name) {
            return topic;
        }
        let mut map = self.write_topics();
        if let Some(topic) = map.get(name) {
            return topic.clone();
        }
        // Read under the write lock, so that no topic is forgotten (and
        // no id spent on a missing topic) between this and the insert.
        let floor = self.forgotten_floor.load(Ordering::SeqCst);
        let name: Arc<str> = Arc::from(name);
        let topic = Arc::new(Topic::new(name.clone(), floor));
        map.insert(name, topic.clone());
        topic
    }

    /// Appends one event to the topic `name` (creating it if needed) and
    /// fans it out: (its id, the topic's subscribers), or `None` for a
    /// mirrored event that is not newer than the newest applied.
    fn append(&self, name: &str, stamp: Stamp<'_>, now: Instant) -> Option<(u64, usize)> {
        self.maybe_sweep(now);
        let mut wakers = Vec::new();
        let mut newly_lagged = 0;
        let (id, sent, unused) = loop {
            let topic = match self.find(name) {
                Some(topic) => topic,
                None if self.retention.history == 0 => {
                    // Nobody to send to and nothing to keep: no topic is
                    // created, but the id is spent and counts as evicted.
                    let map = self.read_topics();
                    if map.contains_key(name) {
                        continue;
                    }
                    let id = self.take_id(stamp)?;
                    self.forgotten_floor.fetch_max(id, Ordering::SeqCst);
                    drop(map);
                    self.metrics.published.inc();
                    return Some((id, 0));
                }
                None => self.find_or_create(name),
            };
            let mut state = topic.lock();
            if state.forgotten {
                continue;
            }
            // Taken under the topic's lock: see "Order" in the module docs.
            let id = self.take_id(stamp)?;
            let (frame, published_at) = match stamp {
                Stamp::Next(event) => (event.encode_as(Some(&self.ids.format(id))), now),
                Stamp::Given(event) => {
                    if event.gap {
                        state.log.skip_to(id - 1);
                    }
                    (self.frame_with_id(id, event.body), event.published_at)
                }
            };
            state.log.append(id, frame, published_at);
            let subscribed = !state.subscribers.is_empty();
            state.log.evict(&self.retention, subscribed, now);
            let sent = state.subscribers.len();
            wakers.reserve(sent);
            let clock = self.millis(now);
            for (_, subscriber) in state.subscribers.iter_mut() {
                let pushed = subscriber.queue.push(&self.backlog, clock);
                newly_lagged += u64::from(pushed.lagged);
                if pushed.wake {
                    wakers.extend(subscriber.waker.take());
                }
            }
            let unused = state.is_unused().then(|| topic.clone());
            break (id, sent, unused);
        };
        // Wake outside the lock, so that woken clients do not contend on it.
        for waker in wakers {
            waker.wake();
        }
        if let Some(topic) = unused {
            self.forget_if_unused(&topic);
        }
        self.metrics.published.inc();
        self.metrics.lagged.inc_by(newly_lagged);
        Some((id, sent))
    }

    /// The id of the event being appended: the next one, or the one it was
    /// given if that is newer than every id so far.
    fn take_id(&self, stamp: Stamp<'_>) -> Option<u64> {
        match stamp {
            Stamp::Next(_) => Some(self.newest.fetch_add(1, Ordering::SeqCst) + 1),
            Stamp::Given(event) => {
                let before = self.newest.fetch_max(event.id, Ordering::SeqCst);
                (before < event.id).then_some(event.id)
            }
        }
    }

    /// `id: <id>` followed by the rest of an encoded event: what
    /// [`Event::encode_as`] writes, as the `id` line comes first.
    fn frame_with_id(&self, id: u64, body: &[u8]) -> bytes::Bytes {
        let id = self.ids.format(id);
        let mut frame = bytes::BytesMut::with_capacity(5 + id.len() + body.len());
        frame.extend_from_slice(b"id: ");
        frame.extend_from_slice(id.as_bytes());
        frame.extend_from_slice(b"\n");
        frame.extend_from_slice(body);
        frame.freeze()
    }

    /// Every topic's events up to `floor` that it does not hold are lost:
    /// its clients still owed one end (they lag) and resume from history.
    #[cfg(feature = "redis")]
    fn skip_all_to(&self, floor: u64) {
        self.wake_all(|state| state.log.skip_to(floor));
    }

    /// Applies `change` to every topic under its lock, then wakes all
    /// their subscribers, outside the locks, to read what changed.
    fn wake_all(&self, mut change: impl FnMut(&mut TopicState)) {
        let mut wakers = Vec::new();
        for topic in self.read_topics().values() {
            let mut state = topic.lock();
            change(&mut state);
            wakers.extend(
                state
                    .subscribers
                    .iter_mut()
                    .filter_map(|(_, subscriber)| subscriber.waker.take()),
            );
        }
        for waker in wakers {
            waker.wake();
        }
    }

    /// Removes `topic` from the map if nobody is subscribed and it retains
    /// nothing, keeping its floor for when it comes back.
    fn forget_if_unused(&self, topic: &Arc<Topic>) {
        let mut map = self.write_topics();
        let mut state = topic.lock();
        if state.forgotten || !state.is_unused() {
            return;
        }
        state.forgotten = true;
        self.forgotten_floor
            .fetch_max(state.log.floor(), Ordering::SeqCst);
        map.remove(&topic.name);
    }

    /// Where a new client of the locked topics starts reading, and whether
    /// that is a reset.
    fn resume(
        &self,
        topics: &[MutexGuard<'_, TopicState>],
        last_event_id: Option<&str>,
        now: Instant,
    ) -> (Vec<u64>, bool) {
        let Some(given) = last_event_id else {
            // Live only: every frame already in its topics counts as sent.
            return (
                topics.iter().map(|state| state.log.last_id()).collect(),
                false,
            );
        };
        let floors: Vec<u64> = topics
            .iter()
            .map(|state| state.log.replay_floor(&self.retention, now))
            .collect();
        let newest = self.newest.load(Ordering::SeqCst);
        match self.ids.parse(given) {
            Some(id) if id <= newest && floors.iter().all(|&floor| floor <= id) => {
                (vec![id; topics.len()], false)
            }
            _ => (floors, true),
        }
    }

    /// (topics held, events a replay would offer now, over all topics).
    fn retained(&self, now: Instant) -> (usize, usize) {
        let map = self.read_topics();
        let history = map
            .values()
            .map(|topic| topic.lock().log.replayable(&self.retention, now))
            .sum();
        (map.len(), history)
    }

    /// Drops expired events of every topic, and forgets the topics left
    /// unused, when a sweep is due. Publishes evict their own topic's
    /// events; this reaches the topics nobody publishes to any more.
    fn maybe_sweep(&self, now: Instant) {
        let since_start = nanos(now.saturating_duration_since(self.sweep.started));
        let due = self.sweep.next.load(Ordering::Relaxed);
        if since_start < due {
            return;
        }
        let next = since_start.saturating_add(nanos(self.sweep.every));
        if self
            .sweep
            .next
            .compare_exchange(due, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return; // another caller sweeps
        }
        let unused: Vec<Arc<Topic>> = self
            .read_topics()
            .values()
            .filter(|topic| {
                let mut state = topic.lock();
                let subscribed = !state.subscribers.is_empty();
                state.log.evict(&self.retention, subscribed, now);
                state.is_unused()
            })
            .cloned()
            .collect();
        for topic in &unused {
            self.forget_if_unused(topic);
        }
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod backlog_tests;
#[cfg(test)]
mod tests;
