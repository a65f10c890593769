//! The hub's settings.

use std::time::Duration;

use crate::auth::JwtConfig;
use crate::broker::BrokerConfig;
use crate::engine::RedisConfig;

/// What a [`Hub`](super::Hub) is built from; `HubConfig::default()` gives
/// the defaults the example servers document. Its `Debug` output shows no
/// secret.
///
/// Only what the hub itself uses lives here. The server in front of it
/// (listen address, request-head timeout, connection cap, TLS, CORS) is
/// configured with that server: see [`serve`](crate::serve) for hyper-based
/// frameworks.
///
/// ```
/// use std::time::Duration;
/// use sse_hub::{BrokerConfig, Hub, HubConfig};
///
/// let hub = Hub::open(HubConfig {
///     heartbeat: Duration::from_secs(15),
///     broker: BrokerConfig { history: 100, ..BrokerConfig::default() },
///     ..HubConfig::default()
/// })?;
/// assert_eq!(hub.config().broker.history, 100);
/// # Ok::<(), sse_hub::OpenError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct HubConfig {
    /// Idle time after which a stream sends a `: heartbeat` comment.
    pub heartbeat: Duration,
    /// Sent to clients as `retry:`.
    pub retry: Duration,
    /// A stream sends at most one write per this window while its events
    /// come faster (see [`SseStream::coalesce`](crate::stream::SseStream::coalesce));
    /// zero sends every event at once.
    pub coalesce: Duration,
    /// The broker's settings: history per topic, its TTL, the client
    /// buffer, and the stream limit above which `/events` answers 503.
    pub broker: BrokerConfig,
    /// Largest accepted publish body, in bytes.
    pub max_body: usize,
    /// How long a publish body may take to arrive whole once its head is
    /// read; a slower one is answered `408`.
    pub body_timeout: Duration,
    /// When set, publishing needs `Authorization: Bearer <token>`.
    pub publish_token: Option<String>,
    /// Multi-instance mode: topics, history, idempotency keys and
    /// presence in Redis, shared by every instance on it (needs the
    /// `redis` feature; see [`Hub::open`](super::Hub::open)). Every call
    /// and route works as in memory.
    pub redis: Option<RedisConfig>,
    /// When set, every `/events` and `/notify` request needs a JSON Web
    /// Token granting its topics (needs the `jwt` feature; see
    /// [`auth`](crate::auth)).
    pub jwt: Option<JwtConfig>,
    /// When set, every stream ends cleanly after this, give or take 10%
    /// (each its own draw, so that clients do not all come back at once):
    /// streams then spread over instances added since, and a stream
    /// outlives no revoked grant by more than this. Clients resume with
    /// their `Last-Event-ID` and miss nothing.
    pub max_stream_lifetime: Option<Duration>,
    /// How long a publish's `Idempotency-Key` is remembered with its
    /// answer (see [`hub::idempotency`](super::idempotency)).
    pub idempotency_ttl: Duration,
    /// The most events one `POST /notify/batch` may carry.
    pub max_batch: usize,
}

impl std::fmt::Debug for HubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            heartbeat,
            retry,
            coalesce,
            broker,
            max_body,
            body_timeout,
            publish_token,
            redis,
            jwt,
            max_stream_lifetime,
            idempotency_ttl,
            max_batch,
        } = self;
        f.debug_struct("HubConfig")
            .field("heartbeat", heartbeat)
            .field("retry", retry)
            .field("coalesce", coalesce)
            .field("broker", broker)
            .field("max_body", max_body)
            .field("body_timeout", body_timeout)
            .field(
                "publish_token",
                &publish_token.as_ref().map(|_| "[redacted]"),
            )
            // RedisConfig's own Debug hides its URL, which may hold a
            // password.
            .field("redis", redis)
            .field("jwt", jwt)
            .field("max_stream_lifetime", max_stream_lifetime)
            .field("idempotency_ttl", idempotency_ttl)
            .field("max_batch", max_batch)
            .finish()
    }
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(30),
            retry: Duration::from_secs(3),
            coalesce: Duration::from_millis(5),
            broker: BrokerConfig::default(),
            max_body: 65_536,
            body_timeout: Duration::from_secs(10),
            publish_token: None,
            redis: None,
            jwt: None,
            max_stream_lifetime: None,
            idempotency_ttl: Duration::from_secs(5 * 60),
            max_batch: 1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let config = HubConfig::default();
        assert_eq!(config.heartbeat, Duration::from_secs(30));
        assert_eq!(config.retry, Duration::from_secs(3));
        assert_eq!(config.coalesce, Duration::from_millis(5));
        assert_eq!(config.broker.history, 1000);
        assert_eq!(config.broker.history_ttl, Duration::from_secs(300));
        assert_eq!(config.broker.client_buffer, 256);
        assert_eq!(config.broker.max_clients, 100_000);
        assert_eq!(config.max_body, 65_536);
        assert_eq!(config.body_timeout, Duration::from_secs(10));
        assert_eq!(config.publish_token, None);
        assert_eq!(config.redis, None);
        assert_eq!(config.jwt, None);
        assert_eq!(config.idempotency_ttl, Duration::from_secs(300));
        assert_eq!(config.max_batch, 1000);
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let config = HubConfig {
            publish_token: Some("publish-secret".into()),
            redis: Some(RedisConfig::new("redis://:redis-password@127.0.0.1/")),
            jwt: Some(crate::auth::JwtConfig::secret("jwt-secret")),
            ..HubConfig::default()
        };
        let printed = format!("{config:?}");
        for secret in ["publish-secret", "redis-password", "jwt-secret"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}
