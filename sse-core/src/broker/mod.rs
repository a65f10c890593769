//! The broker: topics, fan-out, replay by last event id, slow clients,
//! heartbeats and shutdown, for any framework that can stream `Bytes`.
//!
//! One bounded log is both the replay history and the fan-out buffer: each
//! publish encodes its event once, under the next id, and appends the frame;
//! each client is a cursor into the log. Replay is starting the cursor
//! further back, so there is no separate replay phase that could race with
//! live publishes: no gap and no duplicate at the seam, by construction.
//!
//! ```
//! use futures::StreamExt;
//! use sse_core::{Event, broker::{Broker, BrokerConfig}};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let broker = Broker::new(BrokerConfig::default());
//! let mut stream = broker.subscribe(["news"], None)?;
//! let published = broker.publish("news", &Event::new("hello"))?;
//! assert_eq!(published.sent, 1);
//! let chunk = stream.next().await.unwrap();
//! assert_eq!(chunk, format!("id: {}\ndata: hello\n\n", published.id));
//! # Ok::<(), sse_core::broker::BrokerError>(())
//! # }).unwrap();
//! ```

mod client;
mod log;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use slab::Slab;
use tokio::time::Instant;

pub use client::{ClientStream, PROBE_INTERVAL, TryChunks};

use crate::Event;
use crate::metrics::Metrics;
use log::Log;

/// How a [`Broker`] bounds memory and treats clients. The defaults are
/// those of the example servers' contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    /// Events kept for replay; 0 disables replay.
    pub history: usize,
    /// Events older than this are not replayed.
    pub history_ttl: Duration,
    /// Events queued for one client before it counts as lagging and is
    /// disconnected.
    pub client_buffer: usize,
    /// Idle time after which a stream sends a `: heartbeat` comment; zero
    /// disables heartbeats.
    pub heartbeat: Duration,
    /// Concurrent streams; subscribing above it fails.
    pub max_clients: usize,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            history: 1000,
            history_ttl: Duration::from_secs(5 * 60),
            client_buffer: 256,
            heartbeat: Duration::from_secs(30),
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
}

/// What a publish did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The id the event was given (it is the `id:` on the wire, in decimal).
    pub id: u64,
    /// How many clients were subscribed to the topic when it was published.
    pub sent: usize,
}

/// A snapshot of the broker's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Open streams.
    pub clients: usize,
    /// Events published since the start.
    pub published: u64,
    /// Events written to client streams since the start.
    pub delivered: u64,
    /// Clients disconnected for lagging since the start.
    pub lagged: u64,
    /// Events a replay would offer now.
    pub history: usize,
}

/// A cheap-to-clone handle on one broker.
#[derive(Debug, Clone)]
pub struct Broker {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    config: BrokerConfig,
    metrics: Metrics,
}

#[derive(Debug)]
struct State {
    log: Log,
    /// Each topic's subscribers, as keys into `clients`.
    topics: HashMap<Arc<str>, Slab<usize>>,
    clients: Slab<Client>,
    next_client_id: u64,
    closed: bool,
}

#[derive(Debug)]
struct Client {
    /// The topics and this client's key in each topic's subscriber slab.
    topics: Vec<(Arc<str>, usize)>,
    /// The id of the last frame counted as sent to this client.
    cursor: u64,
    /// Frames of its topics published since it last read.
    pending: usize,
    lagged: bool,
    waker: Option<Waker>,
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
        let log = Log::new(
            first_id.max(1),
            config.history,
            config.history_ttl,
            config.client_buffer,
        );
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    log,
                    topics: HashMap::new(),
                    clients: Slab::new(),
                    next_client_id: 1,
                    closed: false,
                }),
                config,
                metrics: Metrics::new(),
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
    /// disconnected instead.
    pub fn publish(&self, topic: &str, event: &Event) -> Result<Published, BrokerError> {
        let now = Instant::now();
        let mut wakers = Vec::new();
        let mut newly_lagged = 0;
        let mut guard = self.shared.lock();
        if guard.closed {
            return Err(BrokerError::Closed);
        }
        let state = &mut *guard;
        let id = state.log.newest() + 1;
        let frame = event.encode_as(Some(&id.to_string()));
        let topic_name = state.topic_name(topic);
        state.log.append(topic_name, frame, now);
        let subscribers = state.topics.get(topic);
        let sent = subscribers.map_or(0, Slab::len);
        wakers.reserve(sent);
        for (_, &client_key) in subscribers.into_iter().flatten() {
            let client = &mut state.clients[client_key];
            client.pending += 1;
            if client.pending > self.shared.config.client_buffer && !client.lagged {
                client.lagged = true;
                newly_lagged += 1;
            }
            wakers.extend(client.waker.take());
        }
        // Wake outside the lock, so that woken clients do not contend on it.
        drop(guard);
        for waker in wakers {
            waker.wake();
        }
        self.shared.metrics.published.inc();
        self.shared.metrics.lagged.inc_by(newly_lagged);
        Ok(Published { id, sent })
    }

    /// Opens a stream of the frames published to any of `topics`.
    ///
    /// With a `last_event_id`, the stream first replays the retained frames
    /// after it; when that id cannot be honoured (unparsable, unknown, or so
    /// old that frames after it are gone) the stream is marked
    /// [`reset`](ClientStream::reset) and replays everything retained.
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
        let mut names: Vec<&str> = topics.iter().map(AsRef::as_ref).collect();
        names.sort_unstable();
        names.dedup();
        if names.is_empty() {
            return Err(BrokerError::NoTopics);
        }
        let mut guard = self.shared.lock();
        if guard.closed {
            return Err(BrokerError::Closed);
        }
        let max = self.shared.config.max_clients;
        if guard.clients.len() >= max {
            return Err(BrokerError::TooManyClients { max });
        }
        let state = &mut *guard;
        let resume = state.log.resume(last_event_id, Instant::now());
        let key = state.clients.vacant_key();
        let mut client_topics = Vec::with_capacity(names.len());
        for name in names {
            let name = state.topic_name(name);
            let slot = state.topics.entry(name.clone()).or_default().insert(key);
            client_topics.push((name, slot));
        }
        state.clients.insert(Client {
            topics: client_topics,
            cursor: resume.cursor,
            pending: 0,
            lagged: false,
            waker: None,
        });
        let client_id = state.next_client_id;
        state.next_client_id += 1;
        self.shared.metrics.clients.inc();
        Ok(ClientStream::new(
            self.shared.clone(),
            key,
            client_id,
            resume.reset,
        ))
    }

    /// How many streams are open.
    pub fn client_count(&self) -> usize {
        self.shared.lock().clients.len()
    }

    /// How many streams are subscribed to `topic`.
    pub fn subscriber_count(&self, topic: &str) -> usize {
        self.shared.lock().topics.get(topic).map_or(0, Slab::len)
    }

    /// Ends every stream (each finishes cleanly at its next poll) and
    /// refuses new publishes and subscriptions.
    pub fn shutdown(&self) {
        let wakers: Vec<Waker> = {
            let mut state = self.shared.lock();
            state.closed = true;
            state
                .clients
                .iter_mut()
                .filter_map(|(_, client)| client.waker.take())
                .collect()
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// The counters, as they are now.
    pub fn stats(&self) -> Stats {
        let (clients, history) = {
            let state = self.shared.lock();
            (state.clients.len(), state.log.replayable(Instant::now()))
        };
        let metrics = &self.shared.metrics;
        Stats {
            clients,
            published: metrics.published.get(),
            delivered: metrics.delivered.get(),
            lagged: metrics.lagged.get(),
            history,
        }
    }

    /// The metrics in the Prometheus (OpenMetrics) text format; serve it
    /// with [`crate::metrics::CONTENT_TYPE`].
    pub fn render_metrics(&self) -> String {
        let history = self.shared.lock().log.replayable(Instant::now());
        self.shared.metrics.render(history)
    }
}

impl State {
    /// `name` as the topic map's shared `Arc`, so that the log and the
    /// clients hold one copy of each topic name.
    fn topic_name(&self, name: &str) -> Arc<str> {
        match self.topics.get_key_value(name) {
            Some((shared, _)) => shared.clone(),
            None => Arc::from(name),
        }
    }
}

impl Shared {
    /// The state lock. A panic while it was held cannot leave the state
    /// half-updated in a way later calls would trip on, so a poisoned lock
    /// is taken as it is rather than spreading the panic to every client.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests;
