//! The engine behind a hub: where events are published, kept and read,
//! and where idempotency keys and presence live. In memory, or on Redis
//! (feature `redis`) for several instances; the hub calls the same
//! methods on either and never asks which one it has.
//!
//! Both engines feed one local fan-out, a [`Broker`]: the memory engine
//! publishes into it, the Redis engine mirrors the topics this instance's
//! clients follow into it. Streams, cursors, the lag rule, metrics and
//! the connection limit are that broker's, whichever engine runs.
//!
//! An enum rather than a trait object: the calls are `async`, and a
//! `dyn` engine would box every publish's future; two variants that are
//! both known here need no open extension point.

mod error;
mod redis_config;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;

use crate::broker::{Broker, BrokerConfig, ClientStream, History, Publish, Published, Start};
use crate::keys::{KeyState, MemoryKeys};
pub use error::{PublishError, ReadError};
pub use redis_config::RedisConfig;

/// How many open streams follow each topic: what
/// [`Hub::presence`](crate::Hub::presence) answers.
pub type Presence = BTreeMap<String, usize>;

/// Why [`Engine::open`] could not open the engine asked for.
#[derive(Debug)]
pub(crate) enum NotOpened {
    /// Redis could not be set up (a malformed URL, no runtime).
    #[cfg(feature = "redis")]
    Redis(crate::redis::RedisError),
    /// Redis was asked for in a build without it.
    #[cfg(not(feature = "redis"))]
    RedisNotBuilt,
}

#[cfg(feature = "redis")]
impl From<crate::redis::RedisError> for NotOpened {
    fn from(err: crate::redis::RedisError) -> Self {
        Self::Redis(err)
    }
}

/// A hub's engine; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) enum Engine {
    /// Everything in this process.
    Memory(Memory),
    /// Topics, keys and presence in Redis, shared by every instance.
    #[cfg(feature = "redis")]
    Redis(crate::redis::RedisBroker),
}

/// The memory engine: the broker itself, and its idempotency keys.
#[derive(Debug, Clone)]
pub(crate) struct Memory {
    broker: Broker,
    keys: Arc<MemoryKeys>,
}

impl Engine {
    /// The engine `redis` names, in memory without it, whose local fan-out
    /// has the settings of `broker`.
    pub(crate) fn open(
        redis: Option<&RedisConfig>,
        broker: BrokerConfig,
    ) -> Result<Self, NotOpened> {
        match redis {
            None => Ok(Self::memory(broker)),
            #[cfg(feature = "redis")]
            Some(redis) => Ok(Self::redis(redis, broker)?),
            #[cfg(not(feature = "redis"))]
            Some(_) => Err(NotOpened::RedisNotBuilt),
        }
    }

    /// An engine in this process's memory.
    pub(crate) fn memory(config: BrokerConfig) -> Self {
        Self::in_memory(Broker::new(config))
    }

    /// An engine in memory on `broker` (tests pick its first id).
    pub(crate) fn in_memory(broker: Broker) -> Self {
        Self::Memory(Memory {
            broker,
            keys: Arc::default(),
        })
    }

    /// An engine on the Redis `config` names, whose local mirror has the
    /// settings of `broker`. Needs a Tokio runtime, which the mirror's
    /// tail runs in.
    #[cfg(feature = "redis")]
    pub(crate) fn redis(
        config: &RedisConfig,
        broker: BrokerConfig,
    ) -> Result<Self, crate::redis::RedisError> {
        let mut options = crate::redis::RedisOptions::default();
        options.prefix.clone_from(&config.key_prefix);
        options.timeout = config.timeout;
        options.ping_interval = config.ping_interval;
        options.max_publish_batch = config.publish_batch;
        options.sentinel_master.clone_from(&config.sentinel_master);
        options.tls = config.tls.clone();
        options.wait_replicas = config.wait_replicas;
        crate::redis::RedisBroker::with_options(&config.url, broker, options).map(Self::Redis)
    }

    /// This instance's fan-out: its streams, metrics, connection limit
    /// and shutdown.
    pub(crate) fn local(&self) -> &Broker {
        match self {
            Self::Memory(memory) => &memory.broker,
            #[cfg(feature = "redis")]
            Self::Redis(redis) => redis.broker(),
        }
    }

    /// Whether the engine can take publishes now: always in memory until
    /// shut down; on Redis while the connection is up.
    pub(crate) fn is_available(&self) -> bool {
        match self {
            Self::Memory(memory) => !memory.broker.is_closed(),
            #[cfg(feature = "redis")]
            Self::Redis(redis) => redis.is_connected() && !redis.broker().is_closed(),
        }
    }

    /// Returns once the engine is available (see
    /// [`Engine::is_available`]); on Redis, pends while it is unreachable.
    pub(crate) async fn available(&self) {
        match self {
            Self::Memory(_) => {}
            #[cfg(feature = "redis")]
            Self::Redis(redis) => {
                let mut state = redis.connection_state();
                // An error means the tail is gone: nothing to wait for.
                let _ = state.wait_for(|connected| *connected).await;
            }
        }
    }

    /// Waits until the engine is available, at most `within`: whether it
    /// is; on Redis, a refusal (see
    /// [`RedisError::Refused`](crate::redis::RedisError::Refused)) ends
    /// the wait as an error.
    pub(crate) async fn connected_within(&self, within: Duration) -> Result<bool, NotOpened> {
        match self {
            Self::Memory(_) => {
                let _ = within;
                Ok(self.is_available())
            }
            #[cfg(feature = "redis")]
            Self::Redis(redis) => Ok(redis.connected_within(within).await?),
        }
    }

    /// Publishes one event, kept or ephemeral as `publish` says.
    pub(crate) async fn publish(&self, publish: Publish<'_>) -> Result<Published, PublishError> {
        match self {
            Self::Memory(memory) if publish.ephemeral => Ok(memory
                .broker
                .publish_ephemeral(publish.topic, publish.event)?),
            Self::Memory(memory) => Ok(memory.broker.publish(publish.topic, publish.event)?),
            #[cfg(feature = "redis")]
            Self::Redis(redis) if publish.ephemeral => Ok(redis
                .publish_ephemeral(publish.topic, publish.event)
                .await?),
            #[cfg(feature = "redis")]
            Self::Redis(redis) => Ok(redis.publish(publish.topic, publish.event).await?),
        }
    }

    /// Publishes `events` in order as one step.
    pub(crate) async fn publish_batch(
        &self,
        events: &[Publish<'_>],
    ) -> Result<Vec<Published>, PublishError> {
        match self {
            Self::Memory(memory) => Ok(memory.broker.publish_batch(events)?),
            #[cfg(feature = "redis")]
            Self::Redis(redis) => Ok(redis.publish_batch(events).await?),
        }
    }

    /// A stream of `topics` on this instance, starting where `start` says.
    pub(crate) async fn subscribe(
        &self,
        topics: &[String],
        start: Start<'_>,
    ) -> Result<ClientStream, ReadError> {
        match self {
            Self::Memory(memory) => Ok(memory.broker.subscribe_from(topics, start)?),
            #[cfg(feature = "redis")]
            Self::Redis(redis) => Ok(redis.subscribe_from(topics, start).await?),
        }
    }

    /// The retained events of `topics`, after `after` or the newest `limit`.
    pub(crate) async fn history(
        &self,
        topics: &[String],
        after: Option<&str>,
        limit: usize,
    ) -> Result<History, ReadError> {
        match self {
            Self::Memory(memory) => Ok(memory.broker.history(topics, after, limit)?),
            #[cfg(feature = "redis")]
            Self::Redis(redis) => Ok(redis.history(topics, after, limit).await?),
        }
    }

    /// How many open streams follow each of `topics`, over every
    /// instance the engine spans.
    pub(crate) async fn presence(&self, topics: &[String]) -> Result<Presence, ReadError> {
        match self {
            Self::Memory(memory) => Ok(topics
                .iter()
                .map(|topic| (topic.clone(), memory.broker.subscriber_count(topic)))
                .collect()),
            #[cfg(feature = "redis")]
            Self::Redis(redis) => Ok(redis.presence(topics).await?),
        }
    }

    /// Claims idempotency key `key` for a request with `fingerprint`, for
    /// at most `pending_for` unless completed or abandoned; else what it
    /// holds.
    pub(crate) async fn claim_key(
        &self,
        key: &str,
        fingerprint: &str,
        pending_for: Duration,
    ) -> Result<KeyState, ReadError> {
        match self {
            Self::Memory(memory) => Ok(memory.keys.claim(key, fingerprint, pending_for)),
            #[cfg(feature = "redis")]
            Self::Redis(redis) => Ok(redis.claim_key(key, fingerprint, pending_for).await?),
        }
    }

    /// Remembers `answer` for the request that claimed `key`, for `ttl`.
    pub(crate) async fn complete_key(
        &self,
        key: &str,
        fingerprint: &str,
        answer: Bytes,
        ttl: Duration,
    ) -> Result<(), ReadError> {
        match self {
            Self::Memory(memory) => {
                memory.keys.complete(key, fingerprint, answer, ttl);
                Ok(())
            }
            #[cfg(feature = "redis")]
            Self::Redis(redis) => Ok(redis.complete_key(key, fingerprint, &answer, ttl).await?),
        }
    }

    /// Frees `key` if the request with `fingerprint` still holds it,
    /// without waiting: for a request dropped before its answer. Where
    /// that cannot be done (Redis, with no runtime to do it in), the claim
    /// lapses by itself.
    pub(crate) fn abandon_key(&self, key: &str, fingerprint: &str) {
        match self {
            Self::Memory(memory) => memory.keys.abandon(key, fingerprint),
            #[cfg(feature = "redis")]
            Self::Redis(redis) => {
                let (redis, key, fingerprint) =
                    (redis.clone(), key.to_owned(), fingerprint.to_owned());
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move {
                        if let Err(err) = redis.abandon_key(&key, &fingerprint).await {
                            tracing::debug!(%err, "an idempotency key is released when its claim lapses");
                        }
                    });
                }
            }
        }
    }

    /// What signals a change of any key, where the engine has such a
    /// signal; without one, waiters look again at their own pace (keys in
    /// Redis change on other instances, which signal nothing here).
    pub(crate) fn key_changes(&self) -> Option<&Notify> {
        match self {
            Self::Memory(memory) => Some(&memory.keys.changed),
            #[cfg(feature = "redis")]
            Self::Redis(_) => None,
        }
    }
}
