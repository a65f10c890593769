//! Multi-instance mode's settings, as plain data: they can be written
//! into a [`HubConfig`](crate::HubConfig) in any build, and a build
//! without the `redis` feature says so when the hub opens.

use std::time::Duration;

use crate::redis_tls::RedisTls;

/// Where and how a hub keeps its topics in Redis: the `redis` field of
/// [`HubConfig`](crate::HubConfig). Its `Debug` output hides the URL,
/// which may hold a password, and the TLS key.
///
/// ```
/// use std::time::Duration;
/// use sse_hub::hub::RedisConfig;
///
/// let mut redis = RedisConfig::new("rediss://app:secret@redis.internal:6380/");
/// redis.key_prefix = "my-app".into();
/// redis.timeout = Duration::from_secs(1);
/// redis.wait_replicas = 1;
/// assert!(!format!("{redis:?}").contains("secret"));
///
/// // Redis behind Sentinel: the sentinels' URLs, and the master's name.
/// let sentinel = RedisConfig::sentinel(["redis://10.0.0.1:26379", "redis://10.0.0.2:26379"], "events");
/// assert_eq!(sentinel.sentinel_master.as_deref(), Some("events"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port/db` (`rediss://` for TLS), or
    /// the URLs of a Redis Cluster's nodes separated by commas (a comma
    /// inside a password is written `%2C`); with
    /// [`sentinel_master`](Self::sentinel_master), the URLs of the
    /// sentinels.
    pub url: String,
    /// The name of the master that the sentinels in `url` watch: the
    /// instance asks them where it is, at start and after each lost
    /// connection, so that it follows a failover by itself. The master is
    /// reached with the credentials and TLS settings of the sentinels'
    /// URLs.
    pub sentinel_master: Option<String>,
    /// Certificates for `rediss://` URLs.
    pub tls: RedisTls,
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
    /// A publish succeeds only once this many replicas of its master hold
    /// it (Redis's `WAIT`, within `timeout`), so that an acknowledged
    /// event survives the loss of its master; `0`, the default, does not
    /// wait. A publish that times out fails, though its event was stored
    /// and may be delivered: retry it with the same idempotency key.
    pub wait_replicas: usize,
}

impl RedisConfig {
    /// Redis at `url`, with the default prefix (`sse`), a 2 s timeout, a
    /// ping every 5 s, batches of up to 256 publishes, and no wait for
    /// replicas.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            sentinel_master: None,
            tls: RedisTls::default(),
            key_prefix: "sse".into(),
            timeout: Duration::from_secs(2),
            ping_interval: Duration::from_secs(5),
            publish_batch: 256,
            wait_replicas: 0,
        }
    }

    /// The master named `master` that `sentinels` watch, with the
    /// defaults of [`RedisConfig::new`].
    pub fn sentinel<I, S>(sentinels: I, master: impl Into<String>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let urls: Vec<String> = sentinels
            .into_iter()
            .map(|url| url.as_ref().to_owned())
            .collect();
        Self {
            sentinel_master: Some(master.into()),
            ..Self::new(urls.join(","))
        }
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            url: _,
            sentinel_master,
            tls,
            key_prefix,
            timeout,
            ping_interval,
            publish_batch,
            wait_replicas,
        } = self;
        f.debug_struct("RedisConfig")
            .field("url", &"[redacted]")
            .field("sentinel_master", sentinel_master)
            .field("tls", tls)
            .field("key_prefix", key_prefix)
            .field("timeout", timeout)
            .field("ping_interval", ping_interval)
            .field("publish_batch", publish_batch)
            .field("wait_replicas", wait_replicas)
            .finish()
    }
}
