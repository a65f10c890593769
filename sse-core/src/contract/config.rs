//! The example servers' options, with the contract's defaults.

use std::time::Duration;

use crate::auth::JwtConfig;
use crate::broker::BrokerConfig;

/// Every option of the contract's option table, with its default. Its
/// `Debug` output shows no secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// Listen address, `HOST:PORT`; port 0 picks a free port.
    pub addr: String,
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
    /// How long a connection may take to send a whole request head, or a
    /// whole publish body; also how long an idle keep-alive connection is
    /// kept between requests. Event streams are not bound by it.
    pub request_timeout: Duration,
    /// Open connections of every kind; `None` takes
    /// [`default_max_connections`](crate::connections::default_max_connections),
    /// the open-files limit minus a reserve.
    pub max_connections: Option<usize>,
    /// When set, publishing needs `Authorization: Bearer <token>`.
    pub publish_token: Option<String>,
    /// Multi-instance mode: broker and history in Redis.
    pub redis: Option<String>,
    /// When set, every `/events` and `/notify` request needs a JSON Web
    /// Token granting its topics (needs the `jwt` feature; see
    /// [`JwtAuthorizer`](crate::auth)).
    pub jwt: Option<JwtConfig>,
    /// Origins whose pages may subscribe and publish (CORS); the adapters
    /// leave CORS to each framework's own middleware, configured from
    /// [`cors`](super::cors).
    pub cors_origins: Vec<String>,
    /// Serve TLS with this certificate chain and key (PEM files), HTTP/2
    /// and HTTP/1.1 offered by ALPN; the servers do it, not the hub.
    pub tls: Option<TlsFiles>,
    /// Serve HTTP/2 over cleartext with prior knowledge (h2c), for a
    /// TLS-terminating proxy in front; the servers do it, not the hub.
    pub h2c: bool,
}

/// The PEM files of `--tls-cert` and `--tls-key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: std::path::PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: std::path::PathBuf,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            addr,
            heartbeat,
            retry,
            coalesce,
            broker,
            max_body,
            request_timeout,
            max_connections,
            publish_token,
            redis,
            jwt,
            cors_origins,
            tls,
            h2c,
        } = self;
        f.debug_struct("Config")
            .field("addr", addr)
            .field("heartbeat", heartbeat)
            .field("retry", retry)
            .field("coalesce", coalesce)
            .field("broker", broker)
            .field("max_body", max_body)
            .field("request_timeout", request_timeout)
            .field("max_connections", max_connections)
            .field(
                "publish_token",
                &publish_token.as_ref().map(|_| "[redacted]"),
            )
            // A Redis URL may hold a password.
            .field("redis", &redis.as_ref().map(|_| "[redacted]"))
            .field("jwt", jwt)
            .field("cors_origins", cors_origins)
            .field("tls", tls)
            .field("h2c", h2c)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:3000".into(),
            heartbeat: Duration::from_secs(30),
            retry: Duration::from_secs(3),
            coalesce: Duration::from_millis(5),
            broker: BrokerConfig::default(),
            max_body: 65_536,
            request_timeout: Duration::from_secs(10),
            max_connections: None,
            publish_token: None,
            redis: None,
            jwt: None,
            cors_origins: Vec::new(),
            tls: None,
            h2c: false,
        }
    }
}

impl Config {
    /// The connection cap: `max_connections`, else the open-files limit
    /// minus a reserve.
    pub fn connection_cap(&self) -> usize {
        self.max_connections
            .unwrap_or_else(crate::connections::default_max_connections)
    }
}

/// A duration option's value was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {given:?}: {reason} (write it like 250ms, 3s or 5m)")]
pub struct DurationError {
    given: String,
    reason: String,
}

/// Parses a duration such as `250ms`, `3s`, `5m` or `1h 30m`.
///
/// ```
/// use std::time::Duration;
/// use sse_core::contract::parse_duration;
///
/// assert_eq!(parse_duration("250ms")?, Duration::from_millis(250));
/// assert_eq!(parse_duration("5m")?, Duration::from_secs(300));
/// assert!(parse_duration("soon").is_err());
/// # Ok::<(), sse_core::contract::DurationError>(())
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    humantime::parse_duration(text.trim()).map_err(|err| DurationError {
        given: text.to_owned(),
        reason: err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_contract_s() {
        let config = Config::default();
        assert_eq!(config.addr, "127.0.0.1:3000");
        assert_eq!(config.heartbeat, Duration::from_secs(30));
        assert_eq!(config.retry, Duration::from_secs(3));
        assert_eq!(config.coalesce, Duration::from_millis(5));
        assert_eq!(config.broker.history, 1000);
        assert_eq!(config.broker.history_ttl, Duration::from_secs(300));
        assert_eq!(config.broker.client_buffer, 256);
        assert_eq!(config.broker.max_clients, 100_000);
        assert_eq!(config.max_body, 65_536);
        assert_eq!(config.request_timeout, Duration::from_secs(10));
        assert_eq!(
            config.connection_cap(),
            crate::connections::default_max_connections()
        );
        assert_eq!(config.publish_token, None);
        assert_eq!(config.redis, None);
        assert_eq!(config.jwt, None);
        assert!(config.cors_origins.is_empty());
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let config = Config {
            publish_token: Some("publish-secret".into()),
            redis: Some("redis://:redis-password@127.0.0.1/".into()),
            jwt: Some(crate::auth::JwtConfig::secret("jwt-secret")),
            ..Config::default()
        };
        let printed = format!("{config:?}");
        for secret in ["publish-secret", "redis-password", "jwt-secret"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }

    #[test]
    fn durations_in_the_contract_s_forms() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        for bad in ["", "3", "s", "-1s", "3 parsecs"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.to_string().contains("250ms"), "{err}");
        }
    }
}
