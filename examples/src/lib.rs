//! The example servers, one per framework, all speaking the contract
//! (`../shared/CONTRACT.md`), and what they share: the contract's options
//! (command line, then environment), logging, the `listening on` line and
//! the shutdown.
//!
//! Each framework's server is a [`Serve`] function in [`servers`], so that
//! the conformance suite can run it in-process as well as its binary
//! (`src/bin/<framework>.rs`, which is just [`main`] over it).

// The servers' one line of output is their contract: stdout on purpose.
#![allow(clippy::print_stdout)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use sse_core::auth::{JwtConfig, JwtKey};
use sse_core::broker::{Broker, BrokerConfig};
use sse_core::contract::{Config, Hub, TlsFiles, parse_duration};

pub mod servers;

/// Resolves when the server should shut down: a signal for the binaries,
/// the test's word in-process.
pub type Stop = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Told the bound address once the server accepts connections.
pub type Ready = Box<dyn FnOnce(SocketAddr) + Send>;

/// One framework's server: binds `config.addr`, calls `ready` with the
/// real address, serves the contract until `stop` resolves, then ends the
/// streams and returns within [`SHUTDOWN_GRACE`]. It builds the runtime
/// its framework needs, so call it from a plain thread.
pub type Serve = fn(config: Config, stop: Stop, ready: Ready) -> std::io::Result<()>;

/// The `main` of every example binary: options from the command line and
/// environment, logs, the `listening on` line, SIGINT/SIGTERM as stop.
pub fn main(serve: Serve) -> ExitCode {
    let config = Options::load();
    tracing::info!(
        max_connections = config.connection_cap(),
        open_files_limit = ?sse_core::connections::open_files_limit(),
        request_timeout = ?config.request_timeout,
        "connection limits"
    );
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let announce = move |addr| announce(scheme, addr);
    match serve(config, Box::pin(shutdown_signal()), Box::new(announce)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(%err, "the server failed");
            ExitCode::FAILURE
        }
    }
}

/// Runs `serve` with options given as command-line arguments (without
/// the program name), as the conformance suite does in-process.
///
/// # Errors
///
/// A bad option, or the server failing (for instance to bind).
pub fn serve_with_args(
    serve: Serve,
    args: &[String],
    stop: Stop,
    ready: Ready,
) -> Result<(), String> {
    let config =
        Options::config_from(std::iter::once("sse-example".to_owned()).chain(args.iter().cloned()))
            .map_err(|err| err.to_string())?;
    serve(config, stop, ready).map_err(|err| err.to_string())
}

/// How long a graceful shutdown may take before the process exits anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

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
    #[arg(long, env = "SSE_JWT_COOKIE", default_value = sse_core::auth::DEFAULT_COOKIE)]
    pub jwt_cookie: String,
    /// Clock skew tolerated on a token's `exp` and `nbf` (whole seconds).
    #[arg(long, env = "SSE_JWT_LEEWAY", default_value = "5s", value_parser = parse_duration)]
    pub jwt_leeway: Duration,
    /// An origin (`https://app.example`) whose pages may subscribe and
    /// publish, cookies included (CORS); repeatable, or comma-separated in
    /// the environment variable.
    #[arg(long = "cors-origin", env = "SSE_CORS_ORIGINS", value_delimiter = ',', value_parser = sse_core::contract::cors::check_origin)]
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
    #[arg(long = "redis", env = "SSE_REDIS_URL")]
    pub redis: Option<String>,
}

impl Options {
    /// Parses the command line and environment, sets up logging, and
    /// returns the contract configuration; exits with a message on a bad
    /// option or one this build cannot honour.
    pub fn load() -> Config {
        let config = Self::config_from(std::env::args_os()).unwrap_or_else(|err| err.exit());
        init_tracing();
        config
    }

    /// Parses `args` (the program name first) and the environment into the
    /// contract configuration.
    ///
    /// # Errors
    ///
    /// A malformed option, or one this build cannot honour (`--redis`).
    pub fn config_from<I, T>(args: I) -> Result<Config, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let options = Self::try_parse_from(args)?;
        Ok(options.config())
    }

    /// The contract configuration these options describe.
    pub fn config(&self) -> Config {
        Config {
            addr: self.addr.to_string(),
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
            request_timeout: self.request_timeout,
            max_connections: self.max_connections,
            publish_token: self.publish_token.clone(),
            redis: self.redis.clone(),
            jwt: self.jwt(),
            cors_origins: self.cors_origins.clone(),
            tls: self
                .tls_cert
                .clone()
                .zip(self.tls_key.clone())
                .map(|(cert, key)| TlsFiles { cert, key }),
            h2c: self.h2c,
        }
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
    std::fs::read_to_string(path).map_err(|err| format!("cannot read the key file {path}: {err}"))
}

/// Logs to stderr through `tracing`, filtered by `RUST_LOG` (default
/// `info`); never a token (see `tests/secrets.rs`).
pub fn init_tracing() {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Rocket's request log prints request lines and heads, query tokens
    // and cookies included, at every level, errors too ("No matching
    // routes for GET /x?token=…"): it stays off whatever RUST_LOG says.
    if let Ok(quiet) = "rocket::server=off".parse() {
        filter = filter.add_directive(quiet);
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// How long a server on Redis waits for it at start before it serves
/// anyway (publishing answers 503 until Redis is reachable).
const REDIS_START_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The hub the configuration describes (see [`Hub::open`]). On Redis it
/// waits a little for the first connection, so that the server starts
/// with the history loaded; needs a Tokio runtime.
///
/// # Errors
///
/// A malformed Redis URL.
pub async fn open_hub(config: Config) -> std::io::Result<Hub> {
    let hub = Hub::open(config)
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))?;
    if let Some(redis) = hub.redis() {
        let mut state = redis.connection_state();
        match tokio::time::timeout(REDIS_START_WAIT, state.wait_for(|up| *up)).await {
            Ok(Ok(_)) => tracing::info!("multi-instance mode: connected to Redis"),
            _ => tracing::warn!(
                "multi-instance mode: Redis is unreachable; serving anyway, and publishing \
                 answers 503 until it is back"
            ),
        }
    }
    Ok(hub)
}

/// Prints the one line that says the server is ready, with the real port.
pub fn announce(scheme: &str, addr: SocketAddr) {
    println!("listening on {scheme}://{addr}");
    tracing::info!(%addr, "ready");
}

/// The shutdown of one server: once its [`Stop`] resolves the broker ends
/// every stream, then the framework's graceful shutdown starts, and the
/// server gets [`SHUTDOWN_GRACE`] at most.
#[derive(Debug, Clone)]
pub struct Shutdown {
    signalled: tokio::sync::watch::Receiver<bool>,
}

impl Shutdown {
    /// Waits for `stop` (needs a Tokio runtime).
    pub fn on(stop: Stop, broker: Broker) -> Self {
        let (sender, signalled) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            stop.await;
            broker.shutdown();
            let _ = sender.send(true);
        });
        Self { signalled }
    }

    /// Resolves once the stop came and the streams were ended: the
    /// trigger for the framework's graceful shutdown.
    pub async fn started(mut self) {
        let _ = self.signalled.wait_for(|signalled| *signalled).await;
    }

    /// Runs `server` until it stops, or until [`SHUTDOWN_GRACE`] after the
    /// stop, whichever comes first.
    pub async fn run<F: std::future::Future>(self, server: F) {
        let deadline = async {
            self.clone().started().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
            tracing::warn!("graceful shutdown took too long; exiting");
        };
        tokio::select! {
            _ = server => {}
            () = deadline => {}
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(err) => {
                tracing::warn!(%err, "cannot watch SIGTERM; SIGINT only");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Options::config_from(std::iter::once("server").chain(args.iter().copied()))
    }

    #[test]
    fn the_defaults_are_the_contracts() {
        assert_eq!(parse(&[]).unwrap(), Config::default());
    }

    #[test]
    fn every_option_reaches_the_config() {
        let config = parse(&[
            "--addr=127.0.0.1:0",
            "--heartbeat=250ms",
            "--retry=1s",
            "--coalesce=2ms",
            "--history=7",
            "--history-ttl=2m",
            "--client-buffer=3",
            "--max-clients=9",
            "--max-body=10",
            "--request-timeout=2s",
            "--max-connections=50",
            "--publish-token=t",
            "--cors-origin=https://a.example",
            "--cors-origin=https://b.example,https://c.example",
        ])
        .unwrap();
        let expected = Config {
            addr: "127.0.0.1:0".into(),
            heartbeat: Duration::from_millis(250),
            retry: Duration::from_secs(1),
            coalesce: Duration::from_millis(2),
            broker: BrokerConfig {
                history: 7,
                history_ttl: Duration::from_secs(120),
                client_buffer: 3,
                max_clients: 9,
            },
            max_body: 10,
            request_timeout: Duration::from_secs(2),
            max_connections: Some(50),
            publish_token: Some("t".into()),
            redis: None,
            jwt: None,
            tls: None,
            h2c: false,
            cors_origins: vec![
                "https://a.example".into(),
                "https://b.example".into(),
                "https://c.example".into(),
            ],
        };
        assert_eq!(config, expected);
    }

    #[test]
    fn jwt_options_reach_the_config_and_exclude_the_publish_token() {
        let config = parse(&["--jwt-secret=s", "--jwt-cookie=auth", "--jwt-leeway=2s"]).unwrap();
        assert_eq!(
            config.jwt,
            Some(JwtConfig {
                key: JwtKey::Secret("s".into()),
                cookie: "auth".into(),
                leeway: Duration::from_secs(2),
            })
        );
        let pem = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../sse-core/tests/keys/ec-public.pem"
        );
        let config = parse(&["--jwt-public-key", pem]).unwrap();
        let Some(JwtKey::PublicKeyPem(text)) = config.jwt.map(|jwt| jwt.key) else {
            panic!("a public key");
        };
        assert!(text.starts_with("-----BEGIN PUBLIC KEY-----"));
        assert_eq!(
            parse(&["--jwt-secret=s"])
                .unwrap()
                .jwt
                .map(|j| j.cookie)
                .as_deref(),
            Some("sse_token")
        );
        let missing = parse(&["--jwt-public-key", "/nonexistent.pem"])
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("cannot read the key file /nonexistent.pem"),
            "{missing}"
        );
        let both = parse(&["--jwt-secret=s", "--publish-token=t"])
            .unwrap_err()
            .to_string();
        assert!(both.contains("cannot be used with"), "{both}");
    }

    #[test]
    fn bad_options_are_refused_with_the_reason() {
        let err = parse(&["--heartbeat", "soon"]).unwrap_err().to_string();
        assert!(err.contains("--heartbeat"), "{err}");
        let config = parse(&["--redis", "redis://127.0.0.1:6379/"]).expect("a Redis URL");
        assert_eq!(config.redis.as_deref(), Some("redis://127.0.0.1:6379/"));
    }

    #[test]
    fn a_malformed_redis_url_stops_the_server_with_the_reason() {
        let err = serve_with_args(
            servers::axum::serve,
            &[
                "--addr".into(),
                "127.0.0.1:0".into(),
                "--redis".into(),
                "nonsense".into(),
            ],
            Box::pin(std::future::pending()),
            Box::new(|_| panic!("ready with a malformed Redis URL")),
        )
        .expect_err("refused");
        assert!(err.contains("invalid Redis URL"), "{err}");
    }

    #[test]
    fn a_server_that_cannot_bind_says_so() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let err = serve_with_args(
            servers::axum::serve,
            &["--addr".into(), addr],
            Box::pin(std::future::pending()),
            Box::new(|_| panic!("ready without a socket")),
        )
        .unwrap_err();
        assert!(err.to_lowercase().contains("address"), "{err}");
    }
}
