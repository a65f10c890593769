//! What the example servers share: the contract's options (command line,
//! then environment), logging, the `listening on` line and the shutdown
//! signal. Each `src/bin/<framework>.rs` only wires its adapter.

// The servers' one line of output is their contract: stdout on purpose.
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use sse_core::broker::Broker;
use sse_core::contract::{Config, parse_duration};

/// How long a graceful shutdown may take before the process exits anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// The options of the contract's table; every one also reads an
/// environment variable, and the command line wins.
#[derive(Debug, Clone, Parser)]
#[command(about = "An SSE example server speaking the toolkit's HTTP contract")]
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
    /// Events kept for replay (0 disables replay).
    #[arg(long, env = "SSE_HISTORY", default_value_t = 1000)]
    pub history: usize,
    /// Events older than this are not replayed.
    #[arg(long, env = "SSE_HISTORY_TTL", default_value = "5m", value_parser = parse_duration)]
    pub history_ttl: Duration,
    /// Events queued for one client before it counts as lagging.
    #[arg(long, env = "SSE_CLIENT_BUFFER", default_value_t = 256)]
    pub client_buffer: usize,
    /// Concurrent streams; above it /events answers 503.
    #[arg(long, env = "SSE_MAX_CLIENTS", default_value_t = 100_000)]
    pub max_clients: usize,
    /// Largest accepted publish body, in bytes.
    #[arg(long, env = "SSE_MAX_BODY", default_value_t = 65_536)]
    pub max_body: usize,
    /// When set, publishing needs `Authorization: Bearer <token>`.
    #[arg(long, env = "SSE_PUBLISH_TOKEN")]
    pub publish_token: Option<String>,
    /// Multi-instance mode: broker and history in Redis.
    #[arg(long = "redis", env = "SSE_REDIS_URL")]
    pub redis: Option<String>,
}

impl Options {
    /// Parses the command line and environment, sets up logging, and
    /// returns the contract configuration; exits with a message on a bad
    /// option or one this build cannot honour.
    pub fn load() -> Config {
        let options = Self::parse();
        init_tracing();
        if options.redis.is_some() {
            clap::Error::raw(
                clap::error::ErrorKind::ArgumentConflict,
                "--redis: multi-instance mode is not available in this build yet; \
                 run without it for the in-memory broker\n",
            )
            .exit();
        }
        options.config()
    }

    /// The contract configuration these options describe.
    pub fn config(&self) -> Config {
        Config {
            addr: self.addr.to_string(),
            heartbeat: self.heartbeat,
            retry: self.retry,
            history: self.history,
            history_ttl: self.history_ttl,
            client_buffer: self.client_buffer,
            max_clients: self.max_clients,
            max_body: self.max_body,
            publish_token: self.publish_token.clone(),
            redis: self.redis.clone(),
        }
    }
}

/// Logs to stderr through `tracing`, filtered by `RUST_LOG` (default
/// `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Prints the one line that says the server is ready, with the real port.
pub fn announce(addr: SocketAddr) {
    println!("listening on http://{addr}");
    tracing::info!(%addr, "ready");
}

/// The shutdown of one server: on SIGINT or SIGTERM the broker ends every
/// stream, then the framework's graceful shutdown starts, and the process
/// gives it [`SHUTDOWN_GRACE`] at most.
#[derive(Debug, Clone)]
pub struct Shutdown {
    signalled: tokio::sync::watch::Receiver<bool>,
}

impl Shutdown {
    /// Watches for the signals (needs a Tokio runtime).
    pub fn on_signal(broker: Broker) -> Self {
        let (sender, signalled) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            broker.shutdown();
            let _ = sender.send(true);
        });
        Self { signalled }
    }

    /// Resolves once the signal came and the streams were ended: the
    /// trigger for the framework's graceful shutdown.
    pub async fn started(mut self) {
        let _ = self.signalled.wait_for(|signalled| *signalled).await;
    }

    /// Runs `server` until it stops, or until [`SHUTDOWN_GRACE`] after the
    /// signal, whichever comes first.
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
