//! What the publishing side and the tail share: the connection, the keys,
//! the scripts; and the options of a [`RedisBroker`](super::RedisBroker).

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
    /// The prefix of every key and channel, in braces so that Redis
    /// Cluster keeps them in one slot. Deployments that share a Redis but
    /// not their topics use different prefixes.
    pub prefix: String,
    /// How long one command, or one connection attempt, may take before
    /// Redis counts as unreachable.
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
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: "{sse}".into(),
            timeout: Duration::from_secs(2),
            ping_interval: Duration::from_secs(5),
            max_publish_batch: 256,
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
    pub(super) script: redis::Script,
    pub(super) batch_script: redis::Script,
    /// Publishes the marker that closes a catch-up.
    pub(super) marker_script: redis::Script,
    pub(super) metrics: RedisMetrics,
    /// The tail's command connection while its session is up: publishes
    /// use it, and find none while Redis is unreachable.
    pub(super) connection: Mutex<Option<Connection>>,
    /// Signalled after each batch the tail applied.
    pub(super) applied: tokio::sync::Notify,
    /// Whether `connection` is set, for whoever waits on it.
    pub(super) connected: tokio::sync::watch::Sender<bool>,
}

#[derive(Debug)]
pub(super) struct Keys {
    pub(super) index: String,
    pub(super) last: String,
    pub(super) channel: String,
    pub(super) stream_prefix: String,
}

impl Keys {
    pub(super) fn new(prefix: &str) -> Self {
        Self {
            index: format!("{prefix}:topics"),
            last: format!("{prefix}:last-id"),
            channel: format!("{prefix}:events"),
            stream_prefix: format!("{prefix}:topic:"),
        }
    }

    pub(super) fn stream(&self, topic: &str) -> String {
        format!("{}{topic}", self.stream_prefix)
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
    /// tail is connected (and caught up).
    pub(super) fn can_publish(&self) -> Result<(), RedisError> {
        if self.broker.is_closed() {
            Err(RedisError::Closed)
        } else if *self.connected.borrow() {
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
            Ok(Err(err)) => Err(RedisError::Unavailable(err.to_string())),
            Err(_) => Err(RedisError::Unavailable(format!(
                "no answer within {:?}",
                self.options.timeout
            ))),
        }
    }
}
