//! Multi-instance mode: several servers share their topics through Redis,
//! so that any instance can take a publish, serve a subscriber or resume
//! one that was connected elsewhere, with no sticky sessions. Each
//! instance holds only the topics its own clients follow, and a Redis
//! Cluster spreads the topics over its masters.
//!
//! ```no_run
//! use sse_hub::{Event, broker::BrokerConfig, redis::RedisBroker};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let redis = RedisBroker::connect("redis://127.0.0.1:6379", BrokerConfig::default())?;
//! let stream = redis.subscribe(["news"], None).await?; // a ClientStream, as in memory mode
//! let published = redis.publish("news", &Event::new("hello")).await?;
//! println!("published {}", published.id);
//! # drop(stream);
//! # Ok(()) }
//! ```
//!
//! # How it works
//!
//! - **Storage.** One Redis stream per topic, under the key
//!   `<prefix>:{<topic>}`: the topic is the key's hash tag, so a cluster
//!   puts each topic in a slot of its own choosing and topics spread over
//!   the masters. `XADD … MAXLEN ~ N` with `N = max(history,
//!   client_buffer)` bounds history per topic as in memory mode, and a
//!   stream expires `history_ttl` after its last event.
//! - **Ids.** Each topic is its own sequence: Redis gives an event the
//!   next id of its topic's stream (`XADD *`: `<ms>-<seq>`, after the
//!   stream's newest even if the clock goes back). Topics on different
//!   masters need no common sequencer, so publish capacity grows with the
//!   masters; ids of different topics are not comparable, and need not
//!   be (see "Resume" below).
//! - **Publishing.** A publish is one call of `publish.lua`, which appends
//!   the event to its topic's stream and announces it on the topic's
//!   channel (named as the stream), in one atomic step, so a topic's
//!   announcements come in its id order.
//! - **Batches.** Publishes that one instance takes at the same time share
//!   script calls: one per master (one on a standalone Redis), up to
//!   [`RedisOptions::max_publish_batch`] events, with one channel message
//!   per topic. Each publisher still gets its own id, or its call's
//!   error. In a cluster the instance groups topics by the master its map
//!   of the slots names (`CLUSTER SLOTS`); the script checks that every
//!   topic is on its node before it writes anything, so a stale map costs
//!   a retry by slot, never a half-published batch.
//! - **Interest.** An instance follows a topic while at least one of its
//!   clients does ([`RedisBroker::subscribe`]): its tail subscribes to the
//!   topic's channel, then loads the topic's stream into the local
//!   [`Broker`] (the in-memory broker's logs, cursors and fan-out, with
//!   the ids Redis gave), and applies each message as it comes. When the
//!   topic's last client goes, the tail unsubscribes and the instance
//!   drops the topic. Events of topics no local client follows never
//!   reach the instance: Redis sends a channel's messages only to its
//!   subscribers. `sse_topics` counts the topics an instance holds.
//! - **The seam.** Subscribing to a topic's channel comes before reading
//!   its stream. An event stored before the read is in it; one stored
//!   after comes on the channel, since the subscription was in place and
//!   the script that stored it announced it; both arrive in the topic's
//!   id order. The mirror takes each topic's events in id order and skips
//!   any id not after the topic's newest, so the union has every event
//!   once. A stream read returns at most the bound plus one entry; the
//!   extra one, not kept, is where the held history starts (its floor),
//!   so a resume from before it resets, as in memory mode.
//! - **Resume.** A single-topic stream's ids are its topic's, as short as
//!   ever. A stream of several topics carries, in each `id:`, the
//!   client's cursor in every topic (composite ids: base 36, the newest
//!   milliseconds and how far each other cursor is behind; about 6 bytes
//!   per topic for topics active within minutes, so ~200 bytes for 32
//!   topics, 392 at most). Every frame updates the cursor of its own
//!   topic only, so the id of the last event a client received says, for
//!   every topic, exactly what it received of it. A resume on any
//!   instance (once it has loaded the topics, and waited up to a second
//!   for what another instance already sent) replays each topic after
//!   its own cursor: nothing lost, nothing twice, each topic in order;
//!   the topics interleave by time, with no order promised between them.
//!   A cursor behind what a topic still holds resets the stream, as in
//!   memory mode. A plain `<ms>-<seq>` id on a stream of several topics
//!   (from before composite ids) stands for that id in every topic.
//! - **Faults.** While Redis is unreachable, publishing fails at once with
//!   [`RedisError::Unavailable`] (the hub's `503`), streams stay open on
//!   the local mirror, subscriptions to topics the instance follows still
//!   open, and those to others fail with `Unavailable` after the timeout;
//!   the tail reconnects with capped, jittered exponential backoff (100
//!   ms doubling to 5 s), resubscribes, and reads each followed topic's
//!   stream after its newest event: the seam argument again. A quiet tail
//!   pings Redis every `ping_interval`, so that a Redis gone silent
//!   without closing the connection counts as lost too.
//!   `sse_redis_connected` and `sse_redis_reconnects_total` join the
//!   broker's metrics.
//!
//! # Why per-topic Pub/Sub channels
//!
//! The events reach instances by Pub/Sub, one channel per topic, rather
//! than by `XREAD BLOCK`, which names every stream it waits on in every
//! call (Redis's cost per call grows with that list, and an instance
//! would need one blocked reader per set of topics): a subscription costs
//! Redis nothing per call, and one connection carries all of an
//! instance's topics. Measured (`cargo bench -p sse-hub --features redis
//! --bench redis`): an instance following 1, 100 or 1,000 topics costs
//! Redis a few µs per event by Pub/Sub, and 41 µs, 161 µs and 737 µs by
//! `XREAD BLOCK` over 1, 100 and 1,000 streams.
//!
//! Redis 7's sharded Pub/Sub (`SSUBSCRIBE`/`SPUBLISH`) keeps a message in
//! its shard, where a classic channel's message is copied to every node
//! of a cluster by its bus. The bench `redis_scale` measures what that
//! copy costs a 3-master cluster (`BENCHMARKS.md`). Classic channels are
//! used because the Redis client (`redis` crate) has no sharded Pub/Sub
//! on its asynchronous Pub/Sub connection. Its cluster connection has
//! (`ssubscribe`, over RESP3), and resubscribes by itself when a shard's
//! connection drops; the tail would then have to map each `Disconnection`
//! push (an address) to the topics whose messages it may have missed and
//! read their streams after its newest events (the seam above), while
//! slot moves change that map. Not done yet. And one subscriber
//! connection to any node then serves every topic, where sharded
//! channels need a connection per master and a resubscription whenever
//! slots move. The copy is the price: at some dozens of masters it
//! dominates, and sharded channels are the way on.
//!
//! # Redis Cluster
//!
//! Given the URLs of a cluster's nodes ([`RedisBroker::connect`]),
//! commands go to the master of their topic's slot, and the tail
//! subscribes through one node after another. While a master is down,
//! publishes to its topics fail with [`RedisError::Unavailable`], other
//! topics go on, and streams stay open. The command connection follows
//! the cluster's own view (`MOVED`, a refresh of the slots after a lost
//! node), so once a replica is promoted its topics publish again, with no
//! restart; meanwhile it stays in use even while the tail reconnects, so
//! the other masters' topics never stop. An instance cut from one master
//! alone is the same case seen from one side: if its Pub/Sub connection
//! was on that master, the tail reconnects through another node and
//! reloads every topic after its newest event; those of the lost master
//! fail to load and are tried again every half second, so their clients
//! get what they missed, once and in order, as soon as the master (or
//! the replica that took over) answers, while the other masters' topics
//! go on. Measured on loopback with `cluster-node-timeout 1000`: 3.5 s
//! from the master's SIGKILL to the first publish its replica took.
//!
//! # Sentinel, TLS and durability
//!
//! - **Sentinel.** With [`RedisOptions::sentinel_master`], the URLs are
//!   Sentinels'. Each session of the tail asks them, in turn, where the
//!   master is (`SENTINEL GET-MASTER-ADDR-BY-NAME`), and checks with
//!   `ROLE` that the server they name is the master; a lost connection,
//!   or a write answered `READONLY` (the old master back as a replica),
//!   ends the session, and the next one asks again. A name that no
//!   sentinel knows is a [`RedisError::Refused`].
//! - **TLS and ACLs.** `rediss://` connects with rustls, against the
//!   platform's roots or [`RedisOptions::tls`]'s CA, with its client
//!   certificate if given. A wrong password, a missing ACL right or a
//!   certificate either side refuses is a [`RedisError::Refused`]: the
//!   tail keeps trying, and [`RedisBroker::connected_within`] reports it
//!   at once, so that a server stops at start instead of hiding it.
//! - **Durability.** Redis replicates asynchronously: a failover may drop
//!   the newest events the old master acknowledged. With
//!   [`RedisOptions::wait_replicas`], a publish succeeds only once that
//!   many replicas hold it (`WAIT` on the master, after the script, within
//!   the timeout; measured in `BENCHMARKS.md`).

//! # Limits
//!
//! - A composite id grows with the topics of its stream, and every frame
//!   of such a stream writes one: keep streams to tens of topics, not
//!   thousands.
//! - A topic that an instance starts following costs a round trip to
//!   Redis before its first client's stream opens.
//! - A stream expires after `history_ttl` without events. A client that
//!   resumes a topic whose stream expired and was recreated since is
//!   reset, as the events it missed may be gone.
//! - A failover may drop events the old master acknowledged but had not
//!   replicated (unless [`RedisOptions::wait_replicas`] is set). An
//!   instance that mirrored them finds out when its tail reconnects: its
//!   newest retained event is gone from the stream, and was not trimmed.
//!   `load.lua` then moves the stream's last id and its deleted id past
//!   everything that instance held, in Redis, and says so on the topic's
//!   channel: no later event takes a dropped id, and on every instance a
//!   resume from before that point resets (a resume from before the
//!   dropped events too: the conservative side), while open streams go
//!   on. Two limits: the promoted replica's clock must not be behind the
//!   old master's by more than the failover took (else a new event could
//!   take an id among the dropped ones), and an instance that publishes
//!   to the topic after the failover but before any instance that held
//!   the dropped events has reconnected lets a resume in that moment go
//!   unreset.

mod batch;
mod connection_state;
mod error;
#[cfg(feature = "hub")]
pub(crate) mod idempotency;
mod link;
mod message;
mod nodes;
mod presence;
mod slots;
mod tail;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Event;
use crate::broker::ids::IdFormat;
use crate::broker::{
    Broker, BrokerConfig, ClientStream, EventId, History, Publish, Published, Start,
};
use crate::metrics::{Metrics, RedisMetrics};
pub use crate::redis_tls::RedisTls;
pub use error::RedisError;
pub use link::RedisOptions;
use link::{Interest, Keys, Link};
use nodes::Nodes;
use tokio::sync::{mpsc, oneshot};

/// A broker whose topics live in Redis, shared by every instance started
/// on the same Redis: [`RedisBroker::publish`] stores the event there, and
/// [`RedisBroker::subscribe`] opens a stream on this instance's mirror of
/// the topics its clients follow. Applications use it through a
/// [`Hub`](crate::Hub) with `config.redis` set.
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
        let nodes = Nodes::open(
            &urls,
            options.sentinel_master.as_deref(),
            &options.tls,
            options.timeout,
        )?;
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
            refused: tokio::sync::watch::Sender::new(None),
            demoted: tokio::sync::Notify::new(),
            interest: Interest::default(),
            slot_map: Mutex::new(None),
            instance: format!("{:016x}", fastrand::u64(..)),
            presence_changed: tokio::sync::Notify::new(),
        });
        let max_batch = link.options.max_publish_batch;
        let mut tasks = vec![
            runtime.spawn(tail::run(link.clone())).abort_handle(),
            runtime.spawn(presence::run(link.clone())).abort_handle(),
        ];
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

    /// This instance's mirror of the topics, which its streams read: for
    /// the crate only, as it takes events from the tail alone.
    #[cfg(feature = "hub")]
    pub(crate) fn broker(&self) -> &Broker {
        &self.link.broker
    }

    /// Ends every stream of this instance and stops the tail.
    pub fn shutdown(&self) {
        self.link.broker.shutdown();
    }

    /// This instance's metrics (its streams, and its link to Redis) in the
    /// Prometheus text format.
    pub fn render_metrics(&self) -> String {
        self.link.broker.render_metrics()
    }

    /// How many topics this instance holds: those its clients follow.
    pub fn topic_count(&self) -> usize {
        self.link.broker.topic_count()
    }

    /// How many streams are open on this instance.
    pub fn client_count(&self) -> usize {
        self.link.broker.client_count()
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
        self.publish_one(Publish::new(topic, event)).await
    }

    /// Publishes `event` to `topic` for the live subscribers of every
    /// instance only, as [`Broker::publish_ephemeral`] does in memory: it
    /// takes the topic's next id, but Redis keeps no entry of it.
    ///
    /// # Errors
    ///
    /// As [`RedisBroker::publish`].
    pub async fn publish_ephemeral(
        &self,
        topic: &str,
        event: &Event,
    ) -> Result<Published, RedisError> {
        self.publish_one(Publish::new(topic, event).ephemeral())
            .await
    }

    async fn publish_one(&self, publish: Publish<'_>) -> Result<Published, RedisError> {
        let link = &*self.link;
        link.can_publish()?;
        let topic = publish.topic;
        let sent = link.broker.subscriber_count(topic);
        let body = publish.event.encode_as(None);
        let id = match &self.batches {
            Some(batches) => {
                let (reply, answer) = oneshot::channel();
                let pending = batch::Pending {
                    topic: topic.to_owned(),
                    body,
                    ephemeral: publish.ephemeral,
                    reply,
                };
                batches
                    .send(pending)
                    .await
                    .map_err(|_| RedisError::Closed)?;
                answer.await.map_err(|_| RedisError::Closed)??
            }
            None => {
                let outgoing = batch::Outgoing {
                    topic,
                    body: &body,
                    ephemeral: publish.ephemeral,
                };
                batch::publish(link, &[outgoing])
                    .await
                    .pop()
                    .unwrap_or(Err(RedisError::Closed))?
            }
        };
        Ok(Published {
            id: EventId::new(id, IdFormat::Redis),
            sent,
        })
    }

    /// Publishes `events` in one round trip per master (one on a
    /// standalone Redis): the events of one topic get increasing ids in
    /// batch order. Each event's answer, in order.
    ///
    /// # Errors
    ///
    /// As [`RedisBroker::publish`], for the first event whose master did
    /// not store it. The events of one master are stored all or none; in a
    /// cluster, those of another master may have been stored.
    pub async fn publish_batch(
        &self,
        events: &[Publish<'_>],
    ) -> Result<Vec<Published>, RedisError> {
        let link = &*self.link;
        link.can_publish()?;
        let bodies: Vec<Vec<u8>> = events
            .iter()
            .map(|publish| publish.event.encode_as(None).into())
            .collect();
        let outgoing: Vec<batch::Outgoing<'_>> = events
            .iter()
            .zip(&bodies)
            .map(|(publish, body)| batch::Outgoing {
                topic: publish.topic,
                body,
                ephemeral: publish.ephemeral,
            })
            .collect();
        batch::publish(link, &outgoing)
            .await
            .into_iter()
            .zip(events)
            .map(|(answer, publish)| {
                Ok(Published {
                    id: EventId::new(answer?, IdFormat::Redis),
                    sent: link.broker.subscriber_count(publish.topic),
                })
            })
            .collect()
    }

    /// The retained events of `topics`, as [`Broker::history`] reads them
    /// in memory. Topics no local client follows are loaded from Redis
    /// for the read, so every instance answers the same.
    ///
    /// # Errors
    ///
    /// As [`RedisBroker::subscribe`].
    pub async fn history<I, S>(
        &self,
        topics: I,
        after: Option<&str>,
        limit: usize,
    ) -> Result<History, RedisError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let lease = self.lease(topics).await?;
        if let Some(id) = after {
            self.wait(RESUME_WAIT, || self.has_reached(&lease.topics, id))
                .await;
        }
        Ok(self.link.broker.history(&lease.topics, after, limit)?)
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
        self.subscribe_from(topics, Start::after(last_event_id))
            .await
    }

    /// [`RedisBroker::subscribe`], starting where `start` says (as
    /// [`Broker::subscribe_from`]).
    ///
    /// # Errors
    ///
    /// As [`RedisBroker::subscribe`].
    pub async fn subscribe_from<I, S>(
        &self,
        topics: I,
        start: Start<'_>,
    ) -> Result<ClientStream, RedisError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let lease = self.lease(topics).await?;
        if let Start::After(id) = start {
            self.wait(RESUME_WAIT, || self.has_reached(&lease.topics, id))
                .await;
        }
        let stream = self.link.broker.subscribe_from(&lease.topics, start)?;
        self.link.presence_changed.notify_one();
        // The lease goes after the subscription.
        Ok(stream.after_drop(move || drop(lease)))
    }

    /// A hold on `topics` once the tail follows all of them: it loads
    /// those no local client followed yet.
    async fn lease<I, S>(&self, topics: I) -> Result<Lease, RedisError>
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
        Ok(lease)
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
        // A stream's lease goes after its subscription.
        self.link.presence_changed.notify_one();
    }
}
