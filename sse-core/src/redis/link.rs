//! What the publishing side and the tail share: the connection, the keys,
//! the scripts; and the options of a [`RedisBroker`](super::RedisBroker).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use super::error::RedisError;
use super::nodes::{Connection, Nodes};
use crate::broker::Broker;
use crate::metrics::RedisMetrics;

/// Settings of a [`RedisBroker`](super::RedisBroker) beyond the [`BrokerConfig`](crate::broker::BrokerConfig).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisOptions {
    /// The prefix of every key and channel. Deployments that share a Redis
    /// but not their topics use different prefixes. Each topic's key is
    /// `<prefix>:{<topic>}`, so that Redis Cluster spreads topics over its
    /// slots; a prefix in braces (`{sse}`) puts them all in one slot.
    pub prefix: String,
    /// How long one command, or one connection attempt, may take before
    /// Redis counts as unreachable. A subscription to a topic this
    /// instance does not follow yet waits as long for it to be loaded.
    pub timeout: Duration,
    /// How often the tail pings Redis while no event comes, so that a
    /// Redis gone silent (a network partition, no connection closed) is
    /// noticed within this plus `timeout`.
    pub ping_interval: Duration,
    /// At most this many concurrent publishes of this instance share one
    /// script call (see [`RedisBroker::publish`](super::RedisBroker::publish)).
    /// `1` makes every publish a script call of its own: fewer events per
    /// second, and no queue between the publisher and Redis.
    pub max_publish_batch: usize,
    /// With a name, the URLs given are those of Sentinels, which say where
    /// the master of this name is (see [`RedisConfig::sentinel_master`](crate::hub::RedisConfig::sentinel_master)).
    pub sentinel_master: Option<String>,
    /// Certificates for `rediss://` URLs.
    pub tls: crate::redis_tls::RedisTls,
    /// A publish succeeds only once this many replicas hold it (`WAIT`
    /// within `timeout`); `0` does not wait.
    pub wait_replicas: usize,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: "sse".into(),
            timeout: Duration::from_secs(2),
            ping_interval: Duration::from_secs(5),
            max_publish_batch: 256,
            sentinel_master: None,
            tls: crate::redis_tls::RedisTls::default(),
            wait_replicas: 0,
        }
    }
}

/// What the publishing side and the tail share.
#[derive(Debug)]
pub(super) struct Link {
    pub(super) broker: Broker,
    pub(super) nodes: Nodes,
    pub(super) options: RedisOptions,
    pub(super) keys: Keys,
    /// `publish.lua`: a batch of events of one slot's topics.
    pub(super) publish_script: redis::Script,
    /// `load.lua`: what a topic's stream holds after an id.
    pub(super) load_script: redis::Script,
    pub(super) metrics: RedisMetrics,
    /// The tail's command connection while its session is up: publishes
    /// use it, and find none while Redis is unreachable.
    pub(super) connection: Mutex<Option<Connection>>,
    /// Whether `connection` is set, for whoever waits on it.
    pub(super) connected: tokio::sync::watch::Sender<bool>,
    /// Why Redis refused the last attempt to connect, when it did (a
    /// wrong password, an untrusted certificate): retrying will not help
    /// until someone changes the configuration.
    pub(super) refused: tokio::sync::watch::Sender<Option<String>>,
    /// Signalled when a command found the tail's server no longer the
    /// master (`READONLY`, after a failover): the tail reconnects.
    pub(super) demoted: tokio::sync::Notify,
    /// The topics this instance's clients follow.
    pub(super) interest: Interest,
    /// In a cluster, which master serves which slots, once asked; dropped
    /// when a batch finds it stale.
    pub(super) slot_map: Mutex<Option<std::sync::Arc<super::slots::SlotMap>>>,
    /// This instance's id in the presence hashes.
    pub(super) instance: String,
    /// Signalled when a stream opened or ended: presence counts may
    /// have changed.
    pub(super) presence_changed: tokio::sync::Notify,
}

/// The topics local clients follow, each with how many leases hold it
/// and whether the tail has loaded it; the tail follows exactly these.
#[derive(Debug, Default)]
pub(super) struct Interest {
    state: Mutex<InterestState>,
    /// Signalled when a topic gains its first lease or loses its last:
    /// the tail then subscribes or unsubscribes.
    pub(super) changed: tokio::sync::Notify,
    /// Signalled after the tail loaded topics, and after each message of
    /// events it applied.
    pub(super) applied: tokio::sync::Notify,
}

#[derive(Debug, Default)]
pub(super) struct InterestState {
    pub(super) topics: HashMap<String, Followed>,
    /// Topics that gained their first lease, or lost their last, since the
    /// tail last looked: what it has to do, without a walk over all.
    pub(super) changes: Vec<String>,
}

#[derive(Debug, Default)]
pub(super) struct Followed {
    pub(super) leases: usize,
    /// The tail subscribed to its channel and loaded its history.
    pub(super) loaded: bool,
}

impl Interest {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, InterestState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One more lease on each of `topics`.
    pub(super) fn take(&self, topics: &[String]) {
        let mut state = self.lock();
        let mut changed = false;
        for topic in topics {
            let followed = state.topics.entry(topic.clone()).or_default();
            followed.leases += 1;
            if followed.leases == 1 {
                state.changes.push(topic.clone());
                changed = true;
            }
        }
        drop(state);
        if changed {
            self.changed.notify_one();
        }
    }

    /// One lease less on each of `topics`.
    pub(super) fn release(&self, topics: &[String]) {
        let mut state = self.lock();
        let mut changed = false;
        for topic in topics {
            let Some(followed) = state.topics.get_mut(topic) else {
                continue;
            };
            followed.leases -= 1;
            if followed.leases == 0 {
                state.topics.remove(topic);
                state.changes.push(topic.clone());
                changed = true;
            }
        }
        drop(state);
        if changed {
            self.changed.notify_one();
        }
    }

    /// Whether the tail has loaded every one of `topics`.
    pub(super) fn loaded(&self, topics: &[String]) -> bool {
        let state = self.lock();
        topics.iter().all(|topic| {
            state
                .topics
                .get(topic)
                .is_some_and(|followed| followed.loaded)
        })
    }
}

/// Where a topic lives in Redis.
#[derive(Debug)]
pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    pub(super) fn new(prefix: &str) -> Self {
        Self {
            prefix: format!("{prefix}:{{"),
        }
    }

    /// The topic's stream, whose name is also its channel's: `<prefix>:{<topic>}`.
    pub(super) fn stream(&self, topic: &str) -> String {
        format!("{}{topic}}}", self.prefix)
    }

    /// The topic's presence hash: each instance's count of its streams.
    pub(super) fn presence(&self, topic: &str) -> String {
        format!("{}{topic}}}:presence", self.prefix)
    }

    /// The instances' heartbeats: `<prefix>:instances`.
    pub(super) fn instances(&self) -> String {
        format!("{}instances", self.prefix.trim_end_matches('{'))
    }

    /// The cluster slot of the topic's keys.
    pub(super) fn slot(&self, topic: &str) -> u16 {
        super::slots::slot_of(self.stream(topic).as_bytes())
    }

    /// The topic of a channel [`Keys::stream`] named.
    pub(super) fn topic<'a>(&self, channel: &'a str) -> Option<&'a str> {
        channel.strip_prefix(&self.prefix)?.strip_suffix('}')
    }
}

impl Link {
    /// The length bound of each topic's stream, and its TTL in
    /// milliseconds, as the publish scripts take them.
    pub(super) fn stream_limits(&self) -> (usize, u64) {
        let config = self.broker.config();
        let bound = config.history.max(config.client_buffer).max(1);
        let ttl = u64::try_from(config.history_ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        (bound, ttl)
    }

    /// Whether a publish may go to Redis now: the broker is open and the
    /// tail is connected (and caught up); on a cluster, also while the
    /// tail reconnects, since its command connection routes around a lost
    /// node by itself: topics of the other masters go on.
    pub(super) fn can_publish(&self) -> Result<(), RedisError> {
        if self.broker.is_closed() {
            Err(RedisError::Closed)
        } else if *self.connected.borrow() || self.nodes.is_cluster() {
            Ok(())
        } else {
            Err(RedisError::Unavailable("not connected".into()))
        }
    }

    /// The command connection for a publish, as [`Link::can_publish`]
    /// allows.
    pub(super) fn publish_connection(&self) -> Result<Connection, RedisError> {
        self.can_publish()?;
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .ok_or_else(|| RedisError::Unavailable("not connected".into()))
    }

    /// Which master serves which slots: as last heard, or asked now.
    /// `None` when Redis does not say (the publish then goes by slot).
    pub(super) async fn slot_map(&self) -> Option<std::sync::Arc<super::slots::SlotMap>> {
        let known = self
            .slot_map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if known.is_some() {
            return known;
        }
        let mut connection = self.publish_connection().ok()?;
        let answer: redis::Value = self
            .within(
                redis::cmd("CLUSTER")
                    .arg("SLOTS")
                    .query_async(&mut connection),
            )
            .await
            .ok()?;
        let map = std::sync::Arc::new(super::slots::SlotMap::parse(&answer)?);
        *self
            .slot_map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(map.clone());
        Some(map)
    }

    /// The map of the slots turned out stale: ask again next time.
    pub(super) fn forget_slot_map(&self) {
        *self
            .slot_map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// The tail lost its connection: not connected until it is back. A
    /// cluster's command connection stays in use meanwhile (see
    /// [`Link::can_publish`]); another server's goes, since the next
    /// session may find its master elsewhere (Sentinel).
    pub(super) fn tail_lost(&self) {
        if self.nodes.is_cluster() {
            self.metrics.connected.set(0);
            self.connected
                .send_if_modified(|state| std::mem::replace(state, false));
        } else {
            self.set_connection(None);
        }
    }

    pub(super) fn set_connection(&self, connection: Option<Connection>) {
        let connected = connection.is_some();
        self.metrics.connected.set(i64::from(connected));
        *self
            .connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = connection;
        self.connected
            .send_if_modified(|state| std::mem::replace(state, connected) != connected);
    }

    /// `future` within the command timeout, its errors as unavailability.
    pub(super) async fn within<T>(
        &self,
        future: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, RedisError> {
        match tokio::time::timeout(self.options.timeout, future).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => {
                if err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly) {
                    self.demoted.notify_waiters();
                }
                Err(RedisError::from_redis(&err))
            }
            Err(_) => Err(RedisError::Unavailable(format!(
                "no answer within {:?}",
                self.options.timeout
            ))),
        }
    }
}
