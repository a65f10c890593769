//! Multi-instance mode: several servers share their topics through Redis,
//! so that any instance can take a publish, serve a subscriber or resume
//! one that was connected elsewhere, with no sticky sessions.
//!
//! ```no_run
//! use sse_hub::{Event, broker::BrokerConfig, redis::RedisBroker};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let redis = RedisBroker::connect("redis://127.0.0.1:6379", BrokerConfig::default())?;
//! let stream = redis.broker().subscribe(["news"], None)?; // as in memory mode
//! let published = redis.publish("news", &Event::new("hello")).await?;
//! println!("published {}", published.id);
//! # drop(stream);
//! # Ok(()) }
//! ```
//!
//! # How it works
//!
//! - **Storage.** One Redis stream per topic, `XADD … MAXLEN ~ N` with
//!   `N = max(history, client_buffer)`, so history is bounded per topic as
//!   in memory mode: one busy topic never trims another. A stream expires
//!   `history_ttl` after its last event (its events would no longer be
//!   replayed), and an index (a sorted set of topics by newest
//!   millisecond) lists the topics with events younger than the TTL.
//! - **Ids.** A publish is one Lua script: it takes the next id of the
//!   whole deployment (`<ms>-<seq>` from Redis's clock, after the newest
//!   id issued), appends the event under that id to its topic's stream,
//!   and announces it on one Pub/Sub channel. Redis runs scripts one at a
//!   time, so ids are issued, stored and announced in the same order,
//!   across all topics, and the ids of different streams never tie.
//! - **Batches.** Publishes that one instance takes at the same time share
//!   a script call (`publish_batch.lua`, up to
//!   [`RedisOptions::max_publish_batch`] events): consecutive ids in
//!   queue order, one entry per event, and one channel message for the
//!   batch. The clock read, the newest id, the index trim and the Pub/Sub
//!   message are then paid once per batch, and the tail wakes once per
//!   batch. Each publisher still gets its own id, or its call's error.
//! - **Tail.** Every instance subscribes to that channel and applies each
//!   event, in the order Redis sent them, to a local [`Broker`]: the
//!   in-memory broker's own logs, cursors and fan-out, with the ids it is
//!   given instead of its own. Adapters, replay and the reset rules are
//!   those of memory mode. Each instance mirrors the history of every
//!   topic (what memory mode holds), so replay from any instance needs no
//!   round trip to Redis.
//! - **Order across topics.** Pub/Sub delivers one connection's messages
//!   in the order they were published, which is the id order, so the
//!   mirror applies events in strictly increasing id order over all
//!   topics; that is the memory broker's invariant (an id applied after a
//!   client's read is larger than every id it read), so a client of
//!   several topics receives strictly increasing ids, even when instances
//!   publish to different topics at the same moment.
//! - **Catching up.** When the tail (re)connects, it subscribes first,
//!   then reads from the index and the streams every event after the
//!   newest it applied (or, at start, the last `history_ttl`), then
//!   publishes a marker on a channel of its own and buffers messages until
//!   the marker comes back. Everything committed before the marker is then
//!   in the reads or the buffer, everything after it comes next on the
//!   channel with larger ids, so the union, sorted and without duplicates,
//!   continues the id order with nothing lost. A topic that had more
//!   events meanwhile than its stream keeps is marked as a gap: its
//!   clients still owed the lost ones end and resume from history (with
//!   `reset`), as lagging clients do.
//! - **Faults.** While Redis is unreachable, publishing fails at once with
//!   [`RedisError::Unavailable`] (the hub's `503`), streams stay open
//!   on the local mirror, and the tail reconnects with capped, jittered
//!   exponential backoff (100 ms doubling to 5 s). A quiet tail pings
//!   Redis every `ping_interval`, so that a Redis gone silent without
//!   closing the connection (a network partition) counts as lost too. `sse_redis_connected`
//!   and `sse_redis_reconnects_total` join the broker's metrics.
//!
//! # Why Pub/Sub and not `XREAD BLOCK`
//!
//! `XREAD BLOCK` names the streams it waits on. An instance mirroring
//! every topic would name all of them in every call, and Redis's cost per
//! call grows with that list; one that tailed only its subscribers' topics
//! would need a round trip to Redis for every resume of a topic it does
//! not hold, and one blocked reader per set of topics. One Pub/Sub channel
//! costs one connection per instance and one message per event whatever
//! the number of topics, in publish order; the streams are read only to
//! catch up.
//!
//! Measured (`cargo bench -p sse-hub --features redis --bench redis`,
//! part of `cargo xtask bench`): the CPU one more tailing instance costs
//! Redis per event, beside the ~70 µs a publish costs it, is 6–15 µs by
//! Pub/Sub for 1, 100 or 1,000 topics alike, and 41 µs, 161 µs and
//! 737 µs by `XREAD BLOCK` over 1, 100 and 1,000 streams. Figures in
//! `BENCHMARKS.md`.
//!
//! # Redis Cluster
//!
//! Given the URLs of a cluster's nodes ([`RedisBroker::connect`]),
//! commands go to the master of their keys' slot, and the tail subscribes
//! through one node after another (a cluster sends every message
//! published on any node to the subscribers of all of them). The marker
//! that closes a catch-up is published by a script on the keys' slot, so
//! it starts on the same master as the events and reaches the tail after
//! every event published before it, as on one server. While that master
//! is down, publishes fail with [`RedisError::Unavailable`] and streams
//! stay open; when it is back, publishing resumes.
//!
//! # Limits
//!
//! - Every instance holds the recent history of every topic, as one
//!   in-memory server does, and parses every event once.
//! - All keys share the hash tag `{sse}` (or the configured prefix's), so
//!   Redis Cluster puts them in one slot, on one master: ids need one
//!   sequencer, so a cluster adds availability, not write throughput yet.
//!   Moving that slot to another master while instances run is a
//!   failover for them. Behind Sentinel,
//!   connect to an address that always leads to the current primary (a
//!   proxy or a virtual IP; this module does not speak the Sentinel
//!   protocol). Events the old primary had not replicated when it failed
//!   are lost; ids never go back (each publish passes the newest id its
//!   instance knows), so clients resuming over the lost events reset only
//!   if the new primary's history no longer covers them.

mod batch;
mod error;
mod link;
mod message;
mod nodes;
mod tail;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Event;
use crate::broker::ids::IdFormat;
use crate::broker::{Broker, BrokerConfig, ClientStream, EventId, Published};
use crate::metrics::{Metrics, RedisMetrics};
pub use error::RedisError;
pub use link::RedisOptions;
use link::{Interest, Keys, Link};
use nodes::Nodes;
use tokio::sync::{mpsc, oneshot};

/// A broker whose topics live in Redis, shared by every instance started
/// on the same Redis: [`RedisBroker::publish`] stores the event there, and
/// [`RedisBroker::broker`] is this instance's mirror, to subscribe to.
/// Cheap to clone; the tail stops when the last clone is dropped or the
/// mirror shuts down.
#[derive(Debug, Clone)]
pub struct RedisBroker {
    link: Arc<Link>,
    /// Where publishes queue for a batch; `None` when each is its own
    /// script call.
    batches: Option<mpsc::Sender<batch::Pending>>,
    _tasks: Arc<AbortOnDrop>,
}

/// The tail and the batcher, stopped with the last clone.
#[derive(Debug)]
struct AbortOnDrop(Vec<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl RedisBroker {
    /// Starts mirroring the Redis at `url` (`redis://host:port/db`) with
    /// the default [`RedisOptions`]. Returns at once: the tail connects in
    /// the background, and keeps reconnecting while Redis is unreachable.
    ///
    /// Several URLs separated by commas are the nodes of one Redis
    /// Cluster: commands go to the master of their keys' slot, found from
    /// any node that answers. A comma inside a password is written `%2C`.
    ///
    /// ```no_run
    /// use sse_hub::{BrokerConfig, redis::RedisBroker};
    ///
    /// # async fn run() -> Result<(), sse_hub::redis::RedisError> {
    /// let cluster = RedisBroker::connect(
    ///     "redis://10.0.0.1:7000,redis://10.0.0.2:7000,redis://10.0.0.3:7000",
    ///     BrokerConfig::default(),
    /// )?;
    /// # drop(cluster);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`RedisError::Url`] for a malformed URL, [`RedisError::NoUrl`] for
    /// none, [`RedisError::NoRuntime`] outside a Tokio runtime.
    pub fn connect(url: &str, config: BrokerConfig) -> Result<Self, RedisError> {
        Self::with_options(url, config, RedisOptions::default())
    }

    /// [`RedisBroker::connect`] with other [`RedisOptions`].
    ///
    /// # Errors
    ///
    /// As [`RedisBroker::connect`].
    pub fn with_options(
        url: &str,
        config: BrokerConfig,
        options: RedisOptions,
    ) -> Result<Self, RedisError> {
        let urls: Vec<&str> = url
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .collect();
        let nodes = Nodes::open(&urls)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| RedisError::NoRuntime)?;
        let metrics = RedisMetrics::default();
        let broker = Broker::mirror(config, Metrics::with_redis(metrics.clone()));
        let link = Arc::new(Link {
            broker,
            nodes,
            keys: Keys::new(&options.prefix),
            options,
            publish_script: redis::Script::new(include_str!("publish.lua")),
            load_script: redis::Script::new(include_str!("load.lua")),
            metrics,
            connection: Mutex::new(None),
            connected: tokio::sync::watch::Sender::new(false),
            interest: Interest::default(),
        });
        let max_batch = link.options.max_publish_batch;
        let mut tasks = vec![runtime.spawn(tail::run(link.clone())).abort_handle()];
        let batches = (max_batch > 1).then(|| {
            // Publishers wait here, not in memory, once a few batches are queued.
            let (sender, queue) = mpsc::channel(max_batch.saturating_mul(4).min(1 << 16));
            tasks.push(
                runtime
                    .spawn(batch::run(link.clone(), queue, max_batch))
                    .abort_handle(),
            );
            sender
        });
        Ok(Self {
            link,
            batches,
            _tasks: Arc::new(AbortOnDrop(tasks)),
        })
    }

    /// This instance's mirror of the topics: subscribe to it, read its
    /// metrics, shut it down. Its [`Broker::publish`] refuses (see
    /// [`RedisBroker::publish`]).
    pub fn broker(&self) -> &Broker {
        &self.link.broker
    }

    /// Whether the tail is connected, caught up, and publishes can go
    /// through.
    pub fn is_connected(&self) -> bool {
        *self.link.connected.borrow()
    }

    /// The connection state as it changes: `true` once the tail is
    /// connected and caught up, `false` while Redis is unreachable. A
    /// server may wait for it before it announces it is ready:
    ///
    /// ```no_run
    /// # async fn run(redis: sse_hub::redis::RedisBroker) {
    /// let mut state = redis.connection_state();
    /// let _ = tokio::time::timeout(
    ///     std::time::Duration::from_secs(5),
    ///     state.wait_for(|connected| *connected),
    /// )
    /// .await;
    /// # }
    /// ```
    pub fn connection_state(&self) -> tokio::sync::watch::Receiver<bool> {
        self.link.connected.subscribe()
    }

    /// Publishes `event` to `topic` for every instance, under the next id
    /// of the deployment (replacing any id the event had). `sent` counts
    /// this instance's subscribers of the topic. The event reaches local
    /// subscribers, as every other instance's, through the tail.
    ///
    /// Concurrent publishes share script calls, up to
    /// [`RedisOptions::max_publish_batch`] events in one: each caller
    /// still gets the id of its own event, or the error of its call.
    ///
    /// # Errors
    ///
    /// [`RedisError::Unavailable`] when Redis cannot be reached or does
    /// not answer within the timeout (the event may or may not have been
    /// stored then), [`RedisError::Closed`] after shutdown.
    pub async fn publish(&self, topic: &str, event: &Event) -> Result<Published, RedisError> {
        let link = &*self.link;
        link.can_publish()?;
        let sent = link.broker.subscriber_count(topic);
        let body = event.encode_as(None);
        let id = match &self.batches {
            Some(batches) => {
                let (reply, answer) = oneshot::channel();
                let pending = batch::Pending {
                    topic: topic.to_owned(),
                    body,
                    reply,
                };
                batches
                    .send(pending)
                    .await
                    .map_err(|_| RedisError::Closed)?;
                answer.await.map_err(|_| RedisError::Closed)??
            }
            None => self.publish_one(topic, &body).await?,
        };
        Ok(Published {
            id: EventId::new(id, IdFormat::Redis),
            sent,
        })
    }

    /// One script call for one event.
    async fn publish_one(&self, topic: &str, body: &[u8]) -> Result<u64, RedisError> {
        batch::publish(&self.link, &[(topic, body)])
            .await
            .pop()
            .unwrap_or(Err(RedisError::Closed))
    }
    /// Opens a stream of `topics` on this instance, as
    /// [`Broker::subscribe`] does in memory mode: the tail first follows
    /// the topics that no local client followed yet (it subscribes to
    /// their channels and loads their history from Redis), and a resume
    /// waits, up to a second, for events another instance already sent
    /// the client to reach this one.
    ///
    /// The stream's ids are those of its topic for a single topic. Topics
    /// have ids of their own, so a stream of several carries composite ids
    /// (see the module docs), which resume it on any instance.
    ///
    /// ```no_run
    /// # async fn run(redis: sse_hub::redis::RedisBroker) -> Result<(), sse_hub::redis::RedisError> {
    /// let stream = redis.subscribe(["user-42", "news"], Some("mzq3kx2a.0.1f:2")).await?;
    /// # drop(stream);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`RedisError::Unavailable`] when a topic no local client followed
    /// cannot be loaded within the timeout (Redis unreachable), and
    /// [`RedisError::Broker`] for what the mirror refuses (too many
    /// clients, no topics, shut down).
    pub async fn subscribe<I, S>(
        &self,
        topics: I,
        last_event_id: Option<&str>,
    ) -> Result<ClientStream, RedisError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut names: Vec<String> = topics
            .into_iter()
            .map(|topic| topic.as_ref().to_owned())
            .collect();
        names.sort_unstable();
        names.dedup();
        let link = &self.link;
        if names.is_empty() {
            return Err(crate::broker::BrokerError::NoTopics.into());
        }
        let lease = Lease::take(link.clone(), names);
        let loaded = self.wait(link.options.timeout, || link.interest.loaded(&lease.topics));
        if !loaded.await {
            return Err(RedisError::Unavailable(
                "the topics could not be loaded from Redis in time".into(),
            ));
        }
        if let Some(id) = last_event_id {
            self.wait(RESUME_WAIT, || self.has_reached(&lease.topics, id))
                .await;
        }
        let stream = link.broker.open(&lease.topics, last_event_id)?;
        Ok(stream.holding(Box::new(lease)))
    }

    /// Whether the mirror holds every event up to `id` of `topics`: a
    /// client may resume with an id another instance sent it a moment
    /// before this one mirrored it.
    fn has_reached(&self, topics: &[String], id: &str) -> bool {
        let broker = &self.link.broker;
        let newest = |topic: &String| broker.newest_of(topic).unwrap_or(0);
        if let Some(id) = crate::broker::ids::parse_redis(id) {
            return match topics {
                [topic] => newest(topic) >= id,
                _ => broker.newest() >= id,
            };
        }
        crate::broker::ids::parse_composite(id, topics.len()).is_none_or(|cursors| {
            topics
                .iter()
                .zip(cursors)
                .all(|(topic, cursor)| newest(topic) >= cursor)
        })
    }

    /// Waits until `done`, rechecked after each load and message the tail
    /// applies, at most `within`: whether it came.
    async fn wait(&self, within: Duration, done: impl Fn() -> bool) -> bool {
        let applied = &self.link.interest.applied;
        let wait = async {
            loop {
                let next = applied.notified();
                tokio::pin!(next);
                next.as_mut().enable();
                if done() {
                    return;
                }
                next.await;
            }
        };
        tokio::time::timeout(within, wait).await.is_ok()
    }
}

/// How long a resume waits for this instance's mirror to catch up with
/// an id another instance already sent.
const RESUME_WAIT: Duration = Duration::from_secs(1);

/// Keeps its topics followed while a stream of them is open.
#[derive(Debug)]
struct Lease {
    link: Arc<Link>,
    topics: Vec<String>,
}

impl Lease {
    fn take(link: Arc<Link>, topics: Vec<String>) -> Self {
        link.interest.take(&topics);
        Self { link, topics }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.link.interest.release(&self.topics);
    }
}
