//! The example servers' options (command line, then environment) and the
//! configuration they describe: the hub's, and the server's own.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use sse_hub::auth::{JwtConfig, JwtKey};
use sse_hub::broker::BrokerConfig;
use sse_hub::hub::RedisConfig;
use sse_hub::serve::{ServeOptions, TlsFiles};
use sse_hub::{Hub, HubConfig};

/// What an example server runs with: its hub's configuration, and the
/// settings of the server in front of it, which the hub never reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Listen address, `HOST:PORT`; port 0 picks a free port.
    pub addr: String,
    /// The hub's settings.
    pub hub: HubConfig,
    /// How long a connection may take to send a whole request head; also
    /// how long an idle keep-alive connection is kept between requests.
    /// Event streams are not bound by it.
    pub request_timeout: Duration,
    /// Open connections of every kind; `None` takes
    /// [`default_max_connections`](sse_hub::connections::default_max_connections),
    /// the open-files limit minus a reserve.
    pub max_connections: Option<usize>,
    /// Origins whose pages may subscribe and publish (CORS), configured
    /// in each framework's own middleware from
    /// [`cors`](sse_hub::hub::cors).
    pub cors_origins: Vec<String>,
    /// Serve TLS with this certificate chain and key (PEM files), HTTP/2
    /// and HTTP/1.1 offered by ALPN.
    pub tls: Option<TlsFiles>,
    /// Serve HTTP/2 over cleartext with prior knowledge (h2c), for a
    /// TLS-terminating proxy in front.
    pub h2c: bool,
    /// On the first stop signal the streams end spread over this window
    /// ([`Hub::drain`]); zero ends them at once.
    pub drain_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:3000".into(),
            hub: HubConfig::default(),
            request_timeout: Duration::from_secs(10),
            max_connections: None,
            cors_origins: Vec::new(),
            tls: None,
            h2c: false,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
        }
    }
}

impl ServerConfig {
    /// The connection cap: `max_connections`, else the open-files limit
    /// minus a reserve.
    pub fn connection_cap(&self) -> usize {
        self.max_connections
            .unwrap_or_else(sse_hub::connections::default_max_connections)
    }

    /// The accept loop's settings for the hyper-based servers, the cap
    /// counted in `hub`'s metrics.
    ///
    /// # Errors
    ///
    /// A TLS certificate or key that cannot be loaded.
    pub fn serve_options(&self, hub: &Hub) -> std::io::Result<ServeOptions> {
        let options = ServeOptions::new()
            .request_timeout(self.request_timeout)
            .connections(hub.connection_limit(self.connection_cap()))
            .h2c(self.h2c);
        Ok(match &self.tls {
            Some(files) => options.tls(sse_hub::serve::server_config(files, true)?),
            None => options,
        })
    }
}

/// The drain window when none is given. Eight seconds spread the
/// reconnects of 10,000 streams to about 1,250 a second for the other
/// instances, and fit, with the second of grace after them, in Docker's
/// default stop timeout (10 s) and in Kubernetes's grace period (30 s)
/// after a 5 s `preStop` pause.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(8);

/// The longest drain window accepted: a longer one is a typo (`8m` for
/// `8s`) more often than a wish.
pub const MAX_DRAIN_TIMEOUT: Duration = Duration::from_secs(3600);

/// A drain window: a duration of at most [`MAX_DRAIN_TIMEOUT`].
fn parse_drain_timeout(text: &str) -> Result<Duration, String> {
    let window = parse_duration(text).map_err(|err| err.to_string())?;
    if window > MAX_DRAIN_TIMEOUT {
        return Err(format!(
            "a drain of {} is longer than the most accepted, 1h",
            humantime::format_duration(window)
        ));
    }
    Ok(window)
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
/// use sse_examples::options::parse_duration;
///
/// assert_eq!(parse_duration("250ms")?, Duration::from_millis(250));
/// assert_eq!(parse_duration("5m")?, Duration::from_secs(300));
/// assert!(parse_duration("soon").is_err());
/// # Ok::<(), sse_examples::options::DurationError>(())
/// ```
///
/// # Errors
///
/// Anything else, with the forms to use.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    humantime::parse_duration(text.trim()).map_err(|err| DurationError {
        given: text.to_owned(),
        reason: err.to_string(),
    })
}

/// The options of the contract's table; every one also reads an
/// environment variable, and the command line wins.
#[derive(Debug, Clone, Parser)]
#[command(about = "An SSE example server speaking the toolkit's HTTP contract")]
// An option given twice takes the last value, as most servers' do, so
// that a wrapper script can append an override.
#[command(args_override_self = true)]
pub struct Options {
    /// Listen address; port 0 picks a free port.
    #[arg(long, env = "SSE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Idle time after which a comment line is sent (e.g. 250ms, 3s, 5m).
    #[arg(long, env = "SSE_HEARTBEAT", default_value = "30s", value_parser = parse_duration)]
    pub heartbeat: Duration,
    /// Sent to clients as `retry:`.
    #[arg(long, env = "SSE_RETRY", default_value = "3s", value_parser = parse_duration)]
    pub retry: Duration,
    /// While a stream's events come faster than this, they leave in one
    /// write per window instead of one each; slower streams are not
    /// delayed, and what a window holds never counts toward
    /// --client-buffer. 0s sends every event at once.
    #[arg(long, env = "SSE_COALESCE", default_value = "5ms", value_parser = parse_duration)]
    pub coalesce: Duration,
    /// Events kept for replay, per topic (0 disables replay). A busy topic
    /// never evicts another topic's events.
    #[arg(long, env = "SSE_HISTORY", default_value_t = 1000)]
    pub history: usize,
    /// Events older than this are not replayed; each topic's expire on
    /// their own, and a topic with no subscribers left and nothing
    /// retained is forgotten.
    #[arg(long, env = "SSE_HISTORY_TTL", default_value = "5m", value_parser = parse_duration)]
    pub history_ttl: Duration,
    /// Events of a client's own topics that wait for it while it does not
    /// read before it counts as lagging and is disconnected (what the
    /// server holds back itself never counts).
    #[arg(long, env = "SSE_CLIENT_BUFFER", default_value_t = 256)]
    pub client_buffer: usize,
    /// Concurrent streams; above it /events answers 503.
    #[arg(long, env = "SSE_MAX_CLIENTS", default_value_t = 100_000)]
    pub max_clients: usize,
    /// Largest accepted publish body, in bytes.
    #[arg(long, env = "SSE_MAX_BODY", default_value_t = 65_536)]
    pub max_body: usize,
    /// A connection that has not sent a whole request head, or a whole
    /// publish body, within this time is closed (with 408 where the
    /// framework can send one); idle keep-alive connections are closed
    /// after it too. Event streams are never cut by it. Behind a proxy,
    /// keep the proxy's own client timeouts at or below it. Rocket 0.5
    /// applies it to publish bodies only (see docs/contract.md).
    #[arg(long, env = "SSE_REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Open connections of every kind (streams, publishes, idle sockets);
    /// above it a new connection is closed at once, so the process keeps
    /// descriptors for its own work. Default: the open-files limit minus a
    /// reserve of 2% (64 to 1024), read at start and logged. Not available
    /// with Rocket 0.5, which has no hook on accepted connections.
    #[arg(long, env = "SSE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// When set, publishing needs `Authorization: Bearer <token>`. (With
    /// a JWT option, the token's `publish` claim decides instead.)
    #[arg(long, env = "SSE_PUBLISH_TOKEN", hide_env_values = true, conflicts_with_all = ["jwt_secret", "jwt_public_key"])]
    pub publish_token: Option<String>,
    /// HS256 secret: every /events and /notify then needs a JSON Web Token
    /// granting its topics, from `Authorization: Bearer`, the cookie
    /// (--jwt-cookie), or the query parameter `token`. Prefer the
    /// environment variable: arguments show in `ps`.
    #[arg(
        long,
        env = "SSE_JWT_SECRET",
        hide_env_values = true,
        conflicts_with = "jwt_public_key"
    )]
    pub jwt_secret: Option<String>,
    /// Path of an RS256 (RSA) or ES256 (P-256) public key in PEM, instead
    /// of a secret.
    #[arg(long, env = "SSE_JWT_PUBLIC_KEY", value_parser = read_pem)]
    pub jwt_public_key: Option<String>,
    /// The cookie a token is read from when no Authorization header is sent.
    #[arg(long, env = "SSE_JWT_COOKIE", default_value = sse_hub::auth::DEFAULT_COOKIE)]
    pub jwt_cookie: String,
    /// Clock skew tolerated on a token's `exp` and `nbf` (whole seconds).
    #[arg(long, env = "SSE_JWT_LEEWAY", default_value = "5s", value_parser = parse_duration)]
    pub jwt_leeway: Duration,
    /// An origin (`https://app.example`) whose pages may subscribe and
    /// publish, cookies included (CORS); repeatable, or comma-separated in
    /// the environment variable.
    #[arg(long = "cors-origin", env = "SSE_CORS_ORIGINS", value_delimiter = ',', value_parser = sse_hub::hub::cors::check_origin)]
    pub cors_origins: Vec<String>,
    /// Certificate chain (PEM) to serve TLS with, HTTP/2 and HTTP/1.1
    /// offered by ALPN; needs --tls-key. `cargo xtask cert` makes a
    /// self-signed one for development.
    #[arg(long, env = "SSE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "SSE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Serve HTTP/2 over cleartext with prior knowledge (h2c) instead of
    /// HTTP/1.1, for a TLS-terminating proxy that speaks HTTP/2 to its
    /// upstreams. Not with Rocket 0.5.
    #[arg(long, env = "SSE_H2C", conflicts_with = "tls_cert")]
    pub h2c: bool,
    /// Multi-instance mode: every instance started with the same Redis
    /// (`redis://host:port/db`) shares topics, ids and history, so a
    /// client may publish to, subscribe to or resume on any of them. While
    /// Redis is unreachable /notify answers 503 and streams stay open.
    /// Repeated (or a comma-separated list): the nodes of a Redis Cluster.
    /// `rediss://` connects over TLS, and `redis://user:password@host`
    /// (or `rediss://…`) authenticates as an ACL user.
    #[arg(
        long = "redis",
        env = "SSE_REDIS_URL",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub redis: Vec<String>,
    /// CA certificates (PEM) that `rediss://` servers are checked against,
    /// in place of the platform's roots.
    #[arg(long, env = "SSE_REDIS_CA", value_parser = read_pem_bytes)]
    pub redis_ca: Option<PemFile>,
    /// Client certificate (PEM) for `rediss://` servers that ask for one;
    /// needs --redis-key.
    #[arg(long, env = "SSE_REDIS_CERT", value_parser = read_pem_bytes, requires = "redis_key")]
    pub redis_cert: Option<PemFile>,
    /// The client certificate's private key (PEM).
    #[arg(long, env = "SSE_REDIS_KEY", value_parser = read_pem_bytes, requires = "redis_cert")]
    pub redis_key: Option<PemFile>,
    /// Redis behind Sentinel, instead of --redis: a sentinel's URL
    /// (`redis://` or `rediss://`, with the credentials that the sentinels
    /// and the master take); repeated, or a comma-separated list. The
    /// instance asks them where the master is, and follows a failover.
    #[arg(
        long = "redis-sentinel",
        env = "SSE_REDIS_SENTINELS",
        value_delimiter = ',',
        hide_env_values = true,
        conflicts_with = "redis",
        requires = "redis_master"
    )]
    pub redis_sentinels: Vec<String>,
    /// The name of the master the sentinels watch; needs --redis-sentinel.
    #[arg(long, env = "SSE_REDIS_MASTER", requires = "redis_sentinels")]
    pub redis_master: Option<String>,
    /// A publish answers 200 only once this many replicas hold it (Redis's
    /// WAIT, within the Redis timeout), else 503 (the event is stored,
    /// and may still be delivered): an acknowledged event then survives
    /// the loss of its master.
    #[arg(long, env = "SSE_REDIS_WAIT_REPLICAS", default_value_t = 0)]
    pub redis_wait_replicas: u16,
    /// Each stream ends cleanly after this (e.g. 30m), give or take 10%,
    /// and its client resumes with its last event id: streams spread over
    /// instances added since, and outlive a revoked token by no more than
    /// this. Unset, streams live until the client leaves.
    #[arg(long, env = "SSE_MAX_STREAM_LIFETIME", value_parser = parse_duration)]
    pub max_stream_lifetime: Option<Duration>,
    /// With `--redis`: at most this many concurrent publishes of this
    /// instance go to Redis as one script call; 1 sends each on its own.
    #[arg(
        long,
        env = "SSE_REDIS_PUBLISH_BATCH",
        default_value_t = 256,
        value_parser = clap::value_parser!(u16).range(1..),
    )]
    pub redis_publish_batch: u16,
    /// How long a publish's Idempotency-Key is remembered with its answer
    /// (in Redis with `--redis`, shared by every instance).
    #[arg(long, env = "SSE_IDEMPOTENCY_TTL", default_value = "5m", value_parser = parse_duration)]
    pub idempotency_ttl: Duration,
    /// The most events one POST /notify/batch may carry.
    #[arg(
        long,
        env = "SSE_MAX_BATCH",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u32).range(1..),
    )]
    pub max_batch: u32,
    /// On the first SIGTERM or SIGINT: /readyz answers 503 and new streams
    /// are refused (503, Retry-After), while open streams end spread over
    /// this window, each told by `retry:` to reconnect at a moment of its
    /// own, so that the other instances see no reconnect storm. /notify
    /// keeps working until the last stream has ended; a second signal ends
    /// everything at once. 0s ends every stream at once. At most 1h. The
    /// default fits Docker's 10 s stop timeout.
    #[arg(long, env = "SSE_DRAIN_TIMEOUT", default_value = "8s", value_parser = parse_drain_timeout)]
    pub drain_timeout: Duration,
}

impl Options {
    /// Parses the command line and environment into the server's
    /// configuration; exits with a message on a bad option or one this
    /// build cannot honour.
    pub fn load() -> ServerConfig {
        Self::config_from(std::env::args_os()).unwrap_or_else(|err| err.exit())
    }

    /// Parses `args` (the program name first) and the environment into the
    /// contract configuration.
    ///
    /// # Errors
    ///
    /// A malformed option, or one this build cannot honour (`--redis`).
    pub fn config_from<I, T>(args: I) -> Result<ServerConfig, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let options = Self::try_parse_from(args)?;
        Ok(options.config())
    }

    /// The server configuration these options describe.
    pub fn config(&self) -> ServerConfig {
        ServerConfig {
            addr: self.addr.to_string(),
            hub: HubConfig {
                heartbeat: self.heartbeat,
                retry: self.retry,
                coalesce: self.coalesce,
                broker: BrokerConfig {
                    history: self.history,
                    history_ttl: self.history_ttl,
                    client_buffer: self.client_buffer,
                    max_clients: self.max_clients,
                },
                max_body: self.max_body,
                // A publish body gets the time a request head gets.
                body_timeout: self.request_timeout,
                publish_token: self.publish_token.clone(),
                redis: self.redis(),
                jwt: self.jwt(),
                max_stream_lifetime: self.max_stream_lifetime,
                idempotency_ttl: self.idempotency_ttl,
                max_batch: usize::try_from(self.max_batch).unwrap_or(usize::MAX),
            },
            request_timeout: self.request_timeout,
            max_connections: self.max_connections,
            cors_origins: self.cors_origins.clone(),
            tls: self
                .tls_cert
                .clone()
                .zip(self.tls_key.clone())
                .map(|(cert, key)| TlsFiles { cert, key }),
            h2c: self.h2c,
            drain_timeout: self.drain_timeout,
        }
    }

    /// Multi-instance mode's settings, if `--redis` or `--redis-sentinel`
    /// is given.
    fn redis(&self) -> Option<RedisConfig> {
        let mut redis = match (&self.redis_master, self.redis.is_empty()) {
            (Some(master), _) => RedisConfig::sentinel(&self.redis_sentinels, master.clone()),
            (None, false) => RedisConfig::new(self.redis.join(",")),
            (None, true) => return None,
        };
        redis.publish_batch = usize::from(self.redis_publish_batch);
        redis.wait_replicas = usize::from(self.redis_wait_replicas);
        redis.tls.ca_pem = self.redis_ca.clone().map(|pem| pem.0);
        redis.tls.client_cert_pem = self.redis_cert.clone().map(|pem| pem.0);
        redis.tls.client_key_pem = self.redis_key.clone().map(|pem| pem.0);
        Some(redis)
    }

    fn jwt(&self) -> Option<JwtConfig> {
        let key = match (&self.jwt_secret, &self.jwt_public_key) {
            (Some(secret), _) => JwtKey::Secret(secret.clone()),
            (None, Some(pem)) => JwtKey::PublicKeyPem(pem.clone()),
            (None, None) => return None,
        };
        Some(JwtConfig {
            key,
            cookie: self.jwt_cookie.clone(),
            leeway: self.jwt_leeway,
        })
    }
}

/// The contents of a PEM file named on the command line.
fn read_pem(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|err| format!("cannot read the PEM file {path}: {err}"))
}

/// The contents of a PEM file named on the command line.
#[derive(Clone, PartialEq, Eq)]
pub struct PemFile(pub Vec<u8>);

impl std::fmt::Debug for PemFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // It may be a private key.
        write!(f, "PemFile({} bytes)", self.0.len())
    }
}

fn read_pem_bytes(path: &str) -> Result<PemFile, String> {
    read_pem(path).map(|text| PemFile(text.into_bytes()))
}

#[cfg(test)]
#[path = "options_tests.rs"]
mod tests;
