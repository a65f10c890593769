//! The [`Broker`] handle: publish, subscribe, mirror, shut down.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::client::{ClientStream, Joined, Subscriptions};
use super::config::{BrokerConfig, BrokerError, History, Publish, Published, Start, Stats};
use super::drain::DrainPlan;
use super::ids::{EventId, IdFormat};
use super::log::Retention;
use super::shared::*;
use super::topic::{Backlog, Queue, SharedQueue, Subscriber, Topic, with_locked};
use crate::Event;
use crate::metrics::Metrics;

/// A cheap-to-clone handle on one broker.
#[derive(Debug, Clone)]
pub struct Broker {
    pub(super) shared: Arc<Shared>,
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
                drain: OnceLock::new(),
                emptied: tokio::sync::Notify::new(),
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
        // A mirror's ids come from what it mirrors: the crate never
        // publishes into one (and no user can hold one).
        debug_assert!(!shared.mirror, "a mirror takes events through `apply`");
        if shared.is_closed() {
            return Err(BrokerError::Closed);
        }
        let appended = shared.append(topic, Stamp::Next(event, false), Instant::now());
        // A broker's own ids are never refused.
        let (id, sent) = appended.unwrap_or_default();
        Ok(Published {
            id: EventId::new(id, shared.ids),
            sent,
        })
    }

    /// Publishes `events` in order under consecutive ids, as one step: a
    /// client of several of their topics sees all of them or none yet.
    /// Each event's answer, in order. An ephemeral event
    /// ([`Publish::ephemeral`]) reaches live subscribers only.
    ///
    /// ```
    /// use sse_hub::{Broker, BrokerConfig, Event, broker::Publish};
    ///
    /// let broker = Broker::with_first_id(BrokerConfig::default(), 1);
    /// let (hello, typing) = (Event::new("hello"), Event::new("ada is typing"));
    /// let published = broker.publish_batch(&[
    ///     Publish::new("user-1", &hello),
    ///     Publish::new("user-2", &hello),
    ///     Publish::new("room-1", &typing).ephemeral(),
    /// ])?;
    /// let ids: Vec<String> = published.iter().map(|p| p.id.to_string()).collect();
    /// assert_eq!(ids, ["1", "2", "3"]);
    /// // The ephemeral event is not history.
    /// assert!(broker.history(["room-1"], None, 10)?.events.is_empty());
    /// # Ok::<(), sse_hub::broker::BrokerError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Broker::publish`].
    pub fn publish_batch(&self, events: &[Publish<'_>]) -> Result<Vec<Published>, BrokerError> {
        let shared = &*self.shared;
        // A mirror's ids come from what it mirrors: the crate never
        // publishes into one (and no user can hold one).
        debug_assert!(!shared.mirror, "a mirror takes events through `apply`");
        if shared.is_closed() {
            return Err(BrokerError::Closed);
        }
        let answers = shared.append_batch(events, Instant::now());
        Ok(answers
            .into_iter()
            .map(|(id, sent)| Published {
                id: EventId::new(id, shared.ids),
                sent,
            })
            .collect())
    }

    /// Publishes `event` to `topic` for its live subscribers only: it gets
    /// an id, but is never retained, replayed, rewound or read by
    /// [`Broker::history`], and a client resuming after it or across it
    /// is not told it lost anything. For typing indicators and cursor
    /// positions.
    ///
    /// # Errors
    ///
    /// As [`Broker::publish`].
    pub fn publish_ephemeral(&self, topic: &str, event: &Event) -> Result<Published, BrokerError> {
        let published = self.publish_batch(&[Publish::new(topic, event).ephemeral()])?;
        published.into_iter().next().ok_or(BrokerError::Closed)
    }

    /// The retained events of `topics`, without a stream: with `after`,
    /// those after it (oldest first, the first `limit`), or the oldest
    /// retained with [`History::reset`] when it cannot be honoured by the
    /// rules of [`Broker::subscribe`]; without it, the newest `limit`.
    /// Ephemeral events never appear.
    ///
    /// ```
    /// use sse_hub::{Broker, BrokerConfig, Event};
    ///
    /// let broker = Broker::with_first_id(BrokerConfig::default(), 1);
    /// for text in ["a", "b", "c"] {
    ///     broker.publish("news", &Event::new(text))?;
    /// }
    /// let page = broker.history(["news"], Some("1"), 1)?;
    /// assert_eq!((page.events[0].data.as_str(), page.more), ("b", true));
    /// let newest = broker.history(["news"], None, 2)?;
    /// let ids: Vec<&str> = newest.events.iter().map(|e| e.id.as_str()).collect();
    /// assert_eq!(ids, ["2", "3"]);
    /// # Ok::<(), sse_hub::broker::BrokerError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// No topics.
    pub fn history<I, S>(
        &self,
        topics: I,
        after: Option<&str>,
        limit: usize,
    ) -> Result<History, BrokerError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let topics: Vec<S> = topics.into_iter().collect();
        Ok(self.shared.history(&sorted_names(&topics)?, after, limit))
    }

    /// Appends an event of `topic` that a mirror received, under the id it
    /// was given, and fans it out as [`Broker::publish`] would. A mirror's
    /// topics each have ids of their own: a topic's events must come in
    /// its id order, and one whose id is not newer than the topic's newest
    /// is a duplicate and is skipped (`None`), as is an event of a topic
    /// the mirror does not follow. Returns the number of subscribers of
    /// `topic`.
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

    /// The newest id applied to `topic`, if the mirror follows it: an id
    /// of that topic after it is from the future (or from an event not
    /// mirrored yet).
    #[cfg(feature = "redis")]
    pub(crate) fn newest_of(&self, topic: &str) -> Option<u64> {
        let topic = self.shared.find(topic)?;
        let state = topic.lock();
        state.pinned.then(|| state.log.last_id())
    }

    /// The newest retained (not ephemeral) event `topic` holds, if the
    /// mirror follows it.
    #[cfg(feature = "redis")]
    pub(crate) fn newest_retained_of(&self, topic: &str) -> Option<u64> {
        let topic = self.shared.find(topic)?;
        let state = topic.lock();
        if state.pinned {
            state.log.newest_retained()
        } else {
            None
        }
    }

    /// Every event of `topic` up to `through` is gone from Redis (a
    /// failover dropped what its old master had not replicated): they are
    /// not replayed, a resume from before `through` resets, and no later
    /// event may carry an id up to it. Open streams go on.
    #[cfg(feature = "redis")]
    pub(crate) fn mark_lost(&self, topic: &str, through: u64) {
        let Some(held) = self.shared.find(topic) else {
            return;
        };
        let mut state = held.lock();
        if state.pinned {
            state.log.mark_lost(through);
            self.shared.newest.fetch_max(through, Ordering::SeqCst);
        }
    }

    /// The newest id applied to any topic.
    #[cfg(feature = "redis")]
    pub(crate) fn newest(&self) -> u64 {
        self.shared.newest.load(Ordering::SeqCst)
    }

    /// Starts following `topic` in a mirror: its events up to `floor` are
    /// gone, `events` (oldest first) are what Redis holds after it, and
    /// ids up to `newest` were issued (ephemeral events take ids that
    /// Redis does not hold).
    /// The topic is then kept, even with no subscriber, until
    /// [`Broker::unfollow`], and [`Broker::apply`] takes its events.
    #[cfg(feature = "redis")]
    pub(crate) fn follow<'a>(
        &self,
        topic: &str,
        floor: u64,
        events: impl IntoIterator<Item = Mirrored<'a>>,
        newest: u64,
    ) {
        let shared = &*self.shared;
        loop {
            let held = shared.find_or_create(topic);
            let mut state = held.lock();
            if state.forgotten {
                continue;
            }
            state.pinned = true;
            state.log.skip_to(floor);
            break;
        }
        for event in events {
            self.apply(topic, event);
        }
        if let Some(held) = shared.find(topic) {
            held.lock().log.advance_to(newest);
            shared.newest.fetch_max(newest, Ordering::SeqCst);
        }
    }

    /// Stops following `topic`: its history goes, as it would no longer
    /// be kept current. Its subscribers, if it still has any, keep it.
    #[cfg(feature = "redis")]
    pub(crate) fn unfollow(&self, topic: &str) {
        let shared = &*self.shared;
        let mut map = shared.write_topics();
        let Some(held) = map.get(topic).cloned() else {
            return;
        };
        let mut state = held.lock();
        state.pinned = false;
        if state.subscribers.is_empty() {
            state.forgotten = true;
            map.remove(topic);
        }
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
    ///
    /// # Errors
    ///
    /// No topics, too many clients, or a broker shut down.
    pub fn subscribe<I, S>(
        &self,
        topics: I,
        last_event_id: Option<&str>,
    ) -> Result<ClientStream, BrokerError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.subscribe_from(topics, Start::after(last_event_id))
    }

    /// Opens a stream of `topics` that starts where `start` says: live,
    /// after a last event id (as [`Broker::subscribe`]), or with the
    /// newest retained events ([`Start::Rewind`]).
    ///
    /// # Errors
    ///
    /// As [`Broker::subscribe`].
    pub fn subscribe_from<I, S>(
        &self,
        topics: I,
        start: Start<'_>,
    ) -> Result<ClientStream, BrokerError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let topics: Vec<S> = topics.into_iter().collect();
        let names = sorted_names(&topics)?;
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
                let (cursors, reset) = shared.resume(states, start, now);
                // (slot, live_from): ephemeral frames up to the topic's
                // newest are replay, which never includes them.
                let slots: Vec<(usize, u64)> = states
                    .iter_mut()
                    .map(|state| {
                        let slot = state.subscribers.insert(Subscriber {
                            queue: match &shared_queue {
                                Some(queue) => Queue::Shared(queue.clone()),
                                None => Queue::own(clock),
                            },
                            waker: None,
                        });
                        (slot, state.log.last_id())
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
            .map(|(topic, (slot, live_from))| Joined {
                topic,
                slot,
                live_from,
            })
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

    /// Ends every stream within `window`, spreading their clients'
    /// reconnects evenly over it: each stream draws a moment of the
    /// window, stays open until `retry` before it (or ends at once when
    /// the moment is nearer), and ends with a `retry:` field that brings
    /// its client back at that moment, beside an `id:` with the point the
    /// stream reached (no data, so no event is dispatched: a client that
    /// has received nothing still resumes from there). `retry` is what the streams are
    /// normally sent, so that no client waits longer than usual. Streams
    /// opened during the drain draw from what is left of it. Publishing
    /// goes on; call [`shutdown`](Self::shutdown) once
    /// [`streams_closed`](Self::streams_closed) resolves, or at the end
    /// of the window. Needs a Tokio runtime with its timer; a second call
    /// changes nothing.
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::StreamExt;
    /// use sse_hub::broker::{Broker, BrokerConfig, Ended};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let broker = Broker::new(BrokerConfig::default());
    /// let mut stream = broker.subscribe(["news"], None)?;
    /// broker.drain(Duration::from_secs(10), Duration::from_secs(3));
    /// let last = stream.next().await.expect("a retry: field");
    /// // Where and when its client comes back: `id:` and `retry:`, no data.
    /// assert!(last.starts_with(b"id: ") && last.ends_with(b"\n\n"), "{last:?}");
    /// assert!(std::str::from_utf8(&last)?.contains("\nretry: "), "{last:?}");
    /// assert_eq!(stream.next().await, None);
    /// assert_eq!(stream.ended(), Some(Ended::Drained));
    /// drop(stream);
    /// broker.streams_closed().await;
    /// # Ok(()) }
    /// ```
    pub fn drain(&self, window: Duration, retry: Duration) {
        let plan = DrainPlan {
            started: Instant::now(),
            window,
            retry,
        };
        if self.shared.drain.set(plan).is_ok() {
            // A stream looks at the plan after its read, which registers
            // its waker under its topics' locks: it either saw the plan or
            // has its waker taken here.
            self.shared.wake_all(|_| {});
        }
    }

    /// Whether [`drain`](Self::drain) was called.
    pub fn is_draining(&self) -> bool {
        self.shared.drain.get().is_some()
    }

    /// Resolves once no stream is open (at once if none is).
    pub async fn streams_closed(&self) {
        loop {
            let emptied = self.shared.emptied.notified();
            let mut emptied = std::pin::pin!(emptied);
            emptied.as_mut().enable();
            if self.client_count() == 0 {
                return;
            }
            emptied.await;
        }
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

/// The distinct names of `topics`, sorted: the order their locks are taken
/// in, so that two callers never wait for each other's locks in opposite
/// orders. At least one, else [`BrokerError::NoTopics`].
fn sorted_names<S: AsRef<str>>(topics: &[S]) -> Result<Vec<&str>, BrokerError> {
    let mut names: Vec<&str> = topics.iter().map(AsRef::as_ref).collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        return Err(BrokerError::NoTopics);
    }
    Ok(names)
}
