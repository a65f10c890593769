//! The state every handle on one broker shares: the topics, the newest
//! id, the clients, the sweep of expired events.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, MutexGuard, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::config::{BrokerConfig, Start};
use super::drain::DrainPlan;
use super::ids::{self, IdFormat};
use super::log::Retention;
use super::topic::{Backlog, Topic, TopicState};
use crate::Event;
use crate::metrics::Metrics;

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) config: BrokerConfig,
    pub(super) retention: Retention,
    /// How many unread events each client may have.
    pub(super) backlog: Backlog,
    pub(super) metrics: Metrics,
    /// Every topic that has subscribers or retains events. Held only to
    /// find, add or forget a topic, never while waiting for a topic's lock
    /// in the other order.
    pub(super) topics: RwLock<HashMap<Arc<str>, Arc<Topic>>>,
    /// The newest id issued. Taken while holding the lock of the topic the
    /// id goes to, which is what keeps every client's order (see the
    /// module docs).
    pub(super) newest: AtomicU64,
    /// At least the newest evicted id of every topic that was forgotten:
    /// the floor a topic starts with when it is created (again).
    pub(super) forgotten_floor: AtomicU64,
    pub(super) clients: AtomicUsize,
    pub(super) next_client_id: AtomicU64,
    pub(super) closed: AtomicBool,
    pub(super) sweep: Sweep,
    /// How ids are written and read back.
    pub(super) ids: IdFormat,
    /// Events come from [`Broker::apply`] only, with ids given elsewhere.
    pub(super) mirror: bool,
    /// Set once by [`Broker::drain`].
    pub(super) drain: OnceLock<DrainPlan>,
    /// Told when the last open stream closes.
    pub(super) emptied: tokio::sync::Notify,
}

/// How an event gets its id.
#[derive(Debug, Clone, Copy)]
pub(super) enum Stamp<'a> {
    /// The broker's next id; `true` for an ephemeral event.
    Next(&'a Event, bool),
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
    /// For live subscribers only, never replayed.
    pub(crate) ephemeral: bool,
}

/// Who a publish must wake, and how many clients it made lag: finished
/// outside the topics' locks.
#[derive(Default)]
struct Fanned {
    wakers: Vec<std::task::Waker>,
    lagged: u64,
}

impl Fanned {
    /// Wakes the clients (outside the locks, so that they do not contend
    /// on them) and counts `published` events.
    fn finish(self, shared: &Shared, published: u64) {
        for waker in self.wakers {
            waker.wake();
        }
        shared.metrics.published.inc_by(published);
        shared.metrics.lagged.inc_by(self.lagged);
    }
}

/// When expired events of topics nobody publishes to are next dropped.
#[derive(Debug)]
pub(super) struct Sweep {
    pub(super) started: Instant,
    pub(super) every: Duration,
    /// Nanoseconds after `started`.
    pub(super) next: AtomicU64,
}

/// How often expired events are swept out of quiet topics: often enough
/// that a topic is forgotten soon after its last event expired, rarely
/// enough that the walk over every topic costs nothing noticeable.
pub(super) fn sweep_interval(ttl: Duration) -> Duration {
    ttl.clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// The broker's series, read at each scrape of an application's registry.
pub(super) struct Scraped {
    pub(super) shared: Arc<Shared>,
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
    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// `now` in milliseconds since the broker started, wrapping: the clock
    /// of a client's turn (see `topic::TURN`).
    pub(super) fn millis(&self, now: Instant) -> u32 {
        let since = now.saturating_duration_since(self.sweep.started);
        (since.as_millis() & u128::from(u32::MAX)) as u32
    }

    /// The topic map for reading. A panic while it was held cannot leave
    /// it half-updated (each change is one map operation), so a poisoned
    /// lock is taken as it is.
    pub(super) fn read_topics(&self) -> RwLockReadGuard<'_, HashMap<Arc<str>, Arc<Topic>>> {
        self.topics
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn write_topics(&self) -> RwLockWriteGuard<'_, HashMap<Arc<str>, Arc<Topic>>> {
        self.topics
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn find(&self, name: &str) -> Option<Arc<Topic>> {
        self.read_topics().get(name).cloned()
    }

    pub(super) fn find_or_create(&self, name: &str) -> Arc<Topic> {
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
    pub(super) fn append(
        &self,
        name: &str,
        stamp: Stamp<'_>,
        now: Instant,
    ) -> Option<(u64, usize)> {
        self.maybe_sweep(now);
        let mut fanned = Fanned::default();
        let (id, sent, unused) = loop {
            let topic = match self.find(name) {
                Some(topic) => topic,
                // A mirror holds only the topics it follows (see
                // `Broker::follow`).
                None if self.mirror => return None,
                None if self.retention.history == 0 => {
                    // Nobody to send to and nothing to keep: no topic is
                    // created, but the id is spent and counts as evicted.
                    let map = self.read_topics();
                    if map.contains_key(name) {
                        continue;
                    }
                    let id = self.next_id();
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
            let id = match stamp {
                Stamp::Next(..) => self.next_id(),
                // A mirror's ids are its topics' own: one not after the
                // topic's newest is a duplicate.
                Stamp::Given(event) if event.id <= state.log.last_id() => return None,
                Stamp::Given(event) => {
                    self.newest.fetch_max(event.id, Ordering::SeqCst);
                    event.id
                }
            };
            let sent = self.push_locked(&mut state, id, stamp, now, &mut fanned);
            let unused = state.is_unused().then(|| topic.clone());
            break (id, sent, unused);
        };
        fanned.finish(self, 1);
        if let Some(topic) = unused {
            self.forget_if_unused(&topic);
        }
        Some((id, sent))
    }

    /// Publishes `events` under consecutive ids, in order, all at once:
    /// their topics are locked together while the ids are taken, so a
    /// client of several of them reads the batch wholly or not at all.
    /// Each event's (id, subscribers).
    pub(super) fn append_batch(
        &self,
        events: &[super::config::Publish<'_>],
        now: Instant,
    ) -> Vec<(u64, usize)> {
        self.maybe_sweep(now);
        if events.is_empty() {
            return Vec::new();
        }
        let mut names: Vec<&str> = events.iter().map(|e| e.topic).collect();
        names.sort_unstable();
        names.dedup();
        let mut fanned = Fanned::default();
        let (answers, unused) = loop {
            let topics: Vec<Arc<Topic>> = names.iter().map(|n| self.find_or_create(n)).collect();
            let done = super::topic::with_locked(topics.iter().map(|t| &**t), |states| {
                if states.iter().any(|state| state.forgotten) {
                    return None;
                }
                let count = events.len() as u64;
                let first = self.newest.fetch_add(count, Ordering::SeqCst) + 1;
                let answers: Vec<(u64, usize)> = (first..)
                    .zip(events)
                    .map(|(id, event)| {
                        let at = names.partition_point(|name| *name < event.topic);
                        let stamp = Stamp::Next(event.event, event.ephemeral);
                        (
                            id,
                            self.push_locked(&mut states[at], id, stamp, now, &mut fanned),
                        )
                    })
                    .collect();
                let unused: Vec<bool> = states.iter().map(|state| state.is_unused()).collect();
                Some((answers, unused))
            });
            if let Some((answers, unused)) = done {
                let unused: Vec<Arc<Topic>> = topics
                    .into_iter()
                    .zip(unused)
                    .filter_map(|(topic, unused)| unused.then_some(topic))
                    .collect();
                break (answers, unused);
            }
        };
        fanned.finish(self, events.len() as u64);
        for topic in &unused {
            self.forget_if_unused(topic);
        }
        answers
    }

    /// Appends one event under `id` to the locked topic `state` and counts
    /// it for each subscriber, collecting whom to wake in `fanned`. The
    /// number of subscribers.
    fn push_locked(
        &self,
        state: &mut TopicState,
        id: u64,
        stamp: Stamp<'_>,
        now: Instant,
        fanned: &mut Fanned,
    ) -> usize {
        let (frame, published_at, ephemeral) = match stamp {
            Stamp::Next(event, ephemeral) => {
                (event.encode_as(Some(&self.ids.format(id))), now, ephemeral)
            }
            Stamp::Given(event) => (
                self.frame_with_id(id, event.body),
                event.published_at,
                event.ephemeral,
            ),
        };
        state.log.append(id, frame, published_at, ephemeral);
        let subscribed = !state.subscribers.is_empty();
        state.log.evict(&self.retention, subscribed, now);
        let sent = state.subscribers.len();
        fanned.wakers.reserve(sent);
        let clock = self.millis(now);
        for (_, subscriber) in state.subscribers.iter_mut() {
            let pushed = subscriber.queue.push(&self.backlog, clock);
            fanned.lagged += u64::from(pushed.lagged);
            if pushed.wake {
                fanned.wakers.extend(subscriber.waker.take());
            }
        }
        sent
    }

    /// The id of the next event the broker publishes itself.
    fn next_id(&self) -> u64 {
        self.newest.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// `id: <id>` followed by the rest of an encoded event: what
    /// [`Event::encode_as`] writes, as the `id` line comes first.
    pub(super) fn frame_with_id(&self, id: u64, body: &[u8]) -> bytes::Bytes {
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
    pub(super) fn skip_all_to(&self, floor: u64) {
        self.wake_all(|state| state.log.skip_to(floor));
    }

    /// Applies `change` to every topic under its lock, then wakes all
    /// their subscribers, outside the locks, to read what changed.
    pub(super) fn wake_all(&self, mut change: impl FnMut(&mut TopicState)) {
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
    pub(super) fn forget_if_unused(&self, topic: &Arc<Topic>) {
        let mut map = self.write_topics();
        let mut state = topic.lock();
        if state.forgotten || !state.is_unused() {
            return;
        }
        state.forgotten = true;
        // Ephemeral frames gone are no loss: resuming after one of them
        // must not reset.
        self.forgotten_floor
            .fetch_max(state.log.lost(), Ordering::SeqCst);
        map.remove(&topic.name);
    }

    /// Where a new client of the locked topics starts reading, and whether
    /// that is a reset.
    pub(super) fn resume(
        &self,
        topics: &[MutexGuard<'_, TopicState>],
        start: Start<'_>,
        now: Instant,
    ) -> (Vec<u64>, bool) {
        let floors: Vec<u64> = topics
            .iter()
            .map(|state| state.log.replay_floor(&self.retention, now))
            .collect();
        let given = match start {
            // Live only: every frame already in its topics counts as sent.
            Start::Live => {
                return (
                    topics.iter().map(|state| state.log.last_id()).collect(),
                    false,
                );
            }
            Start::Rewind(count) => {
                return (start_at(topics, rewound(topics, &floors, count)), false);
            }
            Start::After(given) => given,
        };
        let newest = self.newest.load(Ordering::SeqCst);
        let cursors = match self.ids.parse(given) {
            // A mirror's topics each count their own ids: one id is a
            // cursor in a single topic, and only up to what it holds.
            Some(id) if self.mirror && topics.len() == 1 => {
                (id <= topics[0].log.last_id()).then(|| vec![id])
            }
            Some(id) => (id <= newest).then(|| vec![id; topics.len()]),
            None if self.mirror => ids::parse_composite(given, topics.len()).filter(|cursors| {
                cursors
                    .iter()
                    .zip(topics)
                    .all(|(&cursor, state)| cursor <= state.log.last_id())
            }),
            None => None,
        };
        let (cursors, reset) = match cursors {
            Some(cursors) if cursors.iter().zip(&floors).all(|(c, floor)| floor <= c) => {
                (cursors, false)
            }
            _ => (floors, true),
        };
        (start_at(topics, cursors), reset)
    }

    /// (topics held, events a replay would offer now, over all topics).
    pub(super) fn retained(&self, now: Instant) -> (usize, usize) {
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
    pub(super) fn maybe_sweep(&self, now: Instant) {
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

pub(super) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Cursors in `topics` (locked, with their replay floors) that replay the
/// newest `count` retained events over all of them: the ids at or after
/// a threshold, the `count`th newest id. (A mirror's topics each count
/// their own ids, which follow Redis's clock: the newest by time.)
fn rewound(topics: &[MutexGuard<'_, TopicState>], floors: &[u64], count: usize) -> Vec<u64> {
    let mut ids: Vec<u64> = topics
        .iter()
        .zip(floors)
        .flat_map(|(state, &floor)| {
            state
                .log
                .after(floor)
                .filter(|entry| !entry.ephemeral)
                .map(|entry| entry.id)
        })
        .collect();
    let threshold = if count == 0 || ids.is_empty() {
        None
    } else {
        let nth = ids.len().saturating_sub(count);
        Some(*ids.select_nth_unstable(nth).1)
    };
    topics
        .iter()
        .zip(floors)
        .map(|(state, &floor)| match threshold {
            Some(threshold) => state.log.last_before(threshold).max(floor),
            None => state.log.last_id(),
        })
        .collect()
}

/// `cursors` moved past each topic's floor: what is gone before it was
/// lost history, which the replay floors account for, or ephemeral.
fn start_at(topics: &[MutexGuard<'_, TopicState>], mut cursors: Vec<u64>) -> Vec<u64> {
    for (cursor, state) in cursors.iter_mut().zip(topics) {
        *cursor = state.log.start_at(*cursor);
    }
    cursors
}
