//! Multi-instance mode's settings, as plain data: they can be written
//! into a [`HubConfig`](crate::HubConfig) in any build, and a build
//! without the `redis` feature says so when the hub opens.

use std::time::Duration;

/// Where and how a hub keeps its topics in Redis: the `redis` field of
/// [`HubConfig`](crate::HubConfig). Its `Debug` output hides the URL,
/// which may hold a password.
///
/// ```
/// use std::time::Duration;
/// use sse_hub::hub::RedisConfig;
///
/// let mut redis = RedisConfig::new("redis://127.0.0.1:6379/");
/// redis.key_prefix = "my-app".into();
/// redis.timeout = Duration::from_secs(1);
/// assert!(!format!("{redis:?}").contains("6379"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port/db`, or the URLs of a Redis
    /// Cluster's nodes separated by commas (a comma inside a password is
    /// written `%2C`).
    pub url: String,
    /// The prefix of every key and channel. Deployments that share a
    /// Redis but not their topics use different prefixes; a prefix in
    /// braces (`{sse}`) puts every topic in one cluster slot.
    pub key_prefix: String,
    /// How long one command, or one connection attempt, may take before
    /// Redis counts as unreachable (publishes then fail with `503`).
    pub timeout: Duration,
    /// How often an idle instance pings Redis, so that a Redis gone
    /// silent without closing the connection is noticed within this plus
    /// `timeout`.
    pub ping_interval: Duration,
    /// At most this many concurrent publishes of one instance share one
    /// script call in Redis; `1` gives each its own.
    pub publish_batch: usize,
}

impl RedisConfig {
    /// Redis at `url`, with the default prefix (`sse`), a 2 s timeout, a
    /// ping every 5 s and batches of up to 256 publishes.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key_prefix: "sse".into(),
            timeout: Duration::from_secs(2),
            ping_interval: Duration::from_secs(5),
            publish_batch: 256,
        }
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            url: _,
            key_prefix,
            timeout,
            ping_interval,
            publish_batch,
        } = self;
        f.debug_struct("RedisConfig")
            .field("url", &"[redacted]")
            .field("key_prefix", key_prefix)
            .field("timeout", timeout)
            .field("ping_interval", ping_interval)
            .field("publish_batch", publish_batch)
            .finish()
    }
}
