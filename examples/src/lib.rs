//! The example servers, one per framework, all speaking the HTTP behaviour
//! described in `docs/contract.md`, and what they share: their options
//! (command line, then environment), logging, the `listening on` line and
//! the shutdown.
//!
//! Each framework's server is a [`Serve`] function in [`servers`], so that
//! the conformance suite can run it in-process as well as its binary
//! (`src/bin/<framework>.rs`, which is just [`main`] over it).

// The servers' one line of output is their contract: stdout on purpose.
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;

use sse_hub::{Hub, HubConfig};

pub mod options;
pub mod servers;

pub use options::{Options, ServerConfig};

/// The server's stop requests: the first drains it (see
/// [`Hub::drain_on`]), a second ends every stream at once. SIGINT and
/// SIGTERM for the binaries, the test's word in-process.
pub type Stop = Pin<Box<dyn futures_core::Stream<Item = ()> + Send>>;

/// Told the bound address once the server accepts connections.
pub type Ready = Box<dyn FnOnce(SocketAddr) + Send>;

/// One framework's server: binds `config.addr`, calls `ready` with the
/// real address, serves the contract until `stop` asks it to, drains the
/// streams for `config.drain_timeout` (or ends them at once on a second
/// request), and returns within [`SHUTDOWN_GRACE`] of their end. It builds the runtime
/// its framework needs, so call it from a plain thread.
pub type Serve = fn(config: ServerConfig, stop: Stop, ready: Ready) -> std::io::Result<()>;

/// The `main` of every example binary: options from the command line and
/// environment, logs, the `listening on` line, SIGINT/SIGTERM as stop.
pub fn main(serve: Serve) -> ExitCode {
    let config = Options::load();
    init_tracing();
    tracing::info!(
        max_connections = config.connection_cap(),
        open_files_limit = ?sse_hub::connections::open_files_limit(),
        request_timeout = ?config.request_timeout,
        "connection limits"
    );
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let announce = move |addr| announce(scheme, addr);
    let stop = Box::pin(sse_hub::hub::stop_signals());
    match serve(config, stop, Box::new(announce)) {
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

/// The hub the configuration describes (see [`Hub::connect`]). On Redis
/// it waits a little for the first connection, so that the server starts
/// with the history loaded; needs a Tokio runtime.
///
/// # Errors
///
/// A malformed Redis URL, settings that do not go together, or Redis's
/// refusal (a wrong password, an untrusted certificate, a Sentinel master
/// name that no sentinel knows): the message names the option to fix.
pub async fn open_hub(config: HubConfig) -> std::io::Result<Hub> {
    let hub = Hub::connect(config, REDIS_START_WAIT).await.map_err(|err| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{err} (see --redis, --redis-sentinel, --redis-master, --redis-ca, --redis-cert, --redis-key)"),
        )
    })?;
    if hub.config().redis.is_some() {
        if hub.is_ready() {
            tracing::info!("multi-instance mode: connected to Redis");
        } else {
            tracing::warn!(
                "multi-instance mode: Redis is unreachable; serving anyway, and publishing \
                 answers 503 until it is back"
            );
        }
    }
    Ok(hub)
}

/// Prints the one line that says the server is ready, with the real port.
pub fn announce(scheme: &str, addr: SocketAddr) {
    println!("listening on {scheme}://{addr}");
    tracing::info!(%addr, "ready");
}

/// The shutdown of one server: on its [`Stop`]'s first request the hub
/// drains for `drain_timeout` while the server goes on serving, and ends
/// every stream at once on a second; then the framework's graceful
/// shutdown starts, and the server gets [`SHUTDOWN_GRACE`] at most.
#[derive(Debug, Clone)]
pub struct Shutdown {
    signalled: tokio::sync::watch::Receiver<bool>,
}

impl Shutdown {
    /// Runs [`Hub::drain_on`] over `stop` (needs a Tokio runtime).
    pub fn on(stop: Stop, hub: Hub, drain_timeout: Duration) -> Self {
        let (sender, signalled) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            hub.drain_on(stop, drain_timeout).await;
            tracing::info!("every stream has ended; stopping the server");
            let _ = sender.send(true);
        });
        Self { signalled }
    }

    /// Resolves once the drain is over and the streams have ended: the
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
