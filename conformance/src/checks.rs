//! Black-box checks of `CONTRACT.md` against a server: each check starts
//! the server under test with the options it needs (as command-line
//! arguments), talks to it only over HTTP, and stops it. The server is an
//! example binary run as a process, or the same server run on a thread of
//! the test process.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use sse_hub::decode::Decoded;

use crate::client::{Error, EventStream, WAIT, http_client, notify, open, within};
use crate::raw::{Ending, RawConnection};
use crate::{auth, backlog, h2};

/// A framework's server under test.
#[derive(Debug, Clone)]
pub struct Target {
    /// The framework's name, for reports.
    pub framework: String,
    /// How the server is started.
    pub launch: Launch,
    /// When set, clients reach the server through nginx started with this
    /// configuration (`examples/deploy/nginx.conf`), its upstream and
    /// listen addresses swapped for ephemeral ones.
    pub nginx_config: Option<PathBuf>,
    /// Options every server of this target starts with, before each
    /// check's own (which win): [`NO_COALESCE`] runs the whole suite with
    /// coalescing off, since it must not change what a client receives.
    pub options: Vec<String>,
}

/// How a check starts the server under test; either way it is given
/// `--addr 127.0.0.1:0` and the check's options.
#[derive(Clone)]
pub enum Launch {
    /// An example binary, such as `target/release/axum`, run as a process
    /// that prints `listening on http://HOST:PORT` and stops on SIGTERM.
    Process(PathBuf),
    /// A server run on a thread of this process.
    InProcess(Serve),
}

impl std::fmt::Debug for Launch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Process(binary) => f.debug_tuple("Process").field(binary).finish(),
            Self::InProcess(_) => f.write_str("InProcess"),
        }
    }
}

/// Resolves when an in-process server should shut down.
pub type Stop = Pin<Box<dyn Future<Output = ()> + Send>>;
/// Told an in-process server's address once it accepts connections.
pub type Ready = Box<dyn FnOnce(SocketAddr) + Send>;
/// Runs a server with command-line options until its [`Stop`] resolves,
/// ending its streams and returning within a second of it.
pub type Serve = Arc<dyn Fn(Vec<String>, Stop, Ready) -> Result<(), String> + Send + Sync>;

/// A started server (and its proxy); both stopped when dropped.
#[derive(Debug)]
pub struct Running {
    /// `http://HOST:PORT` clients use: the server's, or the proxy's.
    pub base: String,
    server: Server,
    proxy: Option<Proxy>,
}

#[derive(Debug)]
enum Server {
    Process(Child),
    Thread {
        /// Sending or dropping it stops the server.
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<JoinHandle<Result<(), String>>>,
    },
}

impl Drop for Running {
    fn drop(&mut self) {
        match &mut self.server {
            Server::Process(process) => {
                let _ = process.kill();
                let _ = process.wait();
            }
            // Dropping the sender stops the server; its thread ends within
            // the server's shutdown grace, on its own.
            Server::Thread { stop, .. } => drop(stop.take()),
        }
    }
}

/// nginx in front of one server, in a directory of its own; dropping it
/// stops nginx and removes the directory.
#[derive(Debug)]
pub struct Proxy {
    nginx: Child,
    dir: PathBuf,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL, so that the master takes its workers along.
        let _ = Command::new("kill")
            .args(["-TERM", &self.nginx.id().to_string()])
            .status();
        let _ = self.nginx.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts nginx with `template`, its upstream servers (`127.0.0.1:3000`,
/// `127.0.0.1:3001`, …) pointed at `upstreams` (`HOST:PORT`); the proxy
/// and the address clients use.
pub async fn start_nginx(
    template: &std::path::Path,
    upstreams: &[&str],
) -> Result<(Proxy, String), Error> {
    let text = std::fs::read_to_string(template)
        .map_err(|e| format!("cannot read {}: {e}", template.display()))?;
    // nginx cannot take a bound socket: find a free port, then let it bind.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut config = text.replace("listen 127.0.0.1:8080;", &format!("listen {listen};"));
    for (i, upstream) in upstreams.iter().enumerate() {
        let placeholder = format!("server 127.0.0.1:{};", 3000 + i);
        ensure(config.contains(&placeholder), || {
            format!("the nginx template has no `{placeholder}` to swap")
        })?;
        config = config.replace(&placeholder, &format!("server {upstream};"));
    }
    ensure(config != text, || {
        "the nginx template has no addresses to swap".into()
    })?;
    let dir = std::env::temp_dir().join(format!("sse-nginx-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("nginx.conf"), config).map_err(|e| e.to_string())?;
    let globals = format!(
        "daemon off; pid {0}/nginx.pid; error_log {0}/error.log warn;",
        dir.display()
    );
    let nginx = Command::new("nginx")
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", &globals])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start nginx (apt-get install nginx-light): {e}"))?;
    let proxy = Proxy { nginx, dir };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(&listen).await.is_err() {
        if tokio::time::Instant::now() >= deadline {
            return Err("nginx did not start listening within 5 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((proxy, format!("http://{listen}")))
}

impl Target {
    /// Starts the server on an ephemeral loopback port with `options`.
    pub async fn start(&self, options: &[&str]) -> Result<Running, Error> {
        self.start_at("127.0.0.1:0", options).await
    }

    /// Starts the server on `addr` (`HOST:PORT`) with `options`: a
    /// restart on the port an earlier run announced.
    pub async fn start_at(&self, addr: &str, options: &[&str]) -> Result<Running, Error> {
        let args: Vec<String> = ["--addr", addr]
            .into_iter()
            .chain(self.options.iter().map(String::as_str))
            .chain(options.iter().copied())
            .map(str::to_owned)
            .collect();
        let mut running = match &self.launch {
            Launch::Process(binary) => start_process(binary.clone(), args).await?,
            Launch::InProcess(serve) => start_thread(&self.framework, serve.clone(), args).await?,
        };
        ensure(!running.base.ends_with(":0"), || {
            format!("announced {} instead of the real port", running.base)
        })?;
        if let Some(template) = &self.nginx_config {
            let upstream = running.base.trim_start_matches("http://").to_owned();
            let (proxy, base) = start_nginx(template, &[&upstream]).await?;
            running.proxy = Some(proxy);
            running.base = base;
        }
        Ok(running)
    }
}

async fn start_process(binary: PathBuf, args: Vec<String>) -> Result<Running, Error> {
    let started = tokio::task::spawn_blocking(move || {
        let mut process = Command::new(&binary)
            .args(&args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let Some(stdout) = process.stdout.take() else {
            return Err("no stdout".to_owned());
        };
        // From here on, dropping `running` kills the process.
        let mut running = Running {
            base: String::new(),
            server: Server::Process(process),
            proxy: None,
        };
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| format!("reading the first line: {e}"))?;
        running.base = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("unexpected first line {line:?}"))?
            .to_owned();
        Ok(running)
    });
    within(started, "the server start")
        .await?
        .map_err(|e| format!("start task failed: {e}"))?
}

async fn start_thread(framework: &str, serve: Serve, args: Vec<String>) -> Result<Running, Error> {
    let scheme = if args.iter().any(|arg| arg == "--tls-cert") {
        "https"
    } else {
        "http"
    };
    let (ready, address) = tokio::sync::oneshot::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(format!("{framework} server"))
        .spawn(move || {
            serve(
                args,
                Box::pin(async move {
                    let _ = stopped.await;
                }),
                Box::new(move |addr| {
                    let _ = ready.send(addr);
                }),
            )
        })
        .map_err(|e| format!("cannot start a server thread: {e}"))?;
    let mut running = Running {
        base: String::new(),
        server: Server::Thread {
            stop: Some(stop),
            thread: Some(thread),
        },
        proxy: None,
    };
    match within(address, "the server start").await? {
        Ok(addr) => running.base = format!("{scheme}://{addr}"),
        // The server returned without binding: say why.
        Err(_) => {
            return Err(match running.exit_code_within(WAIT).await {
                Ok(code) => format!("the server stopped before it was ready (exit {code:?})"),
                Err(err) => err,
            });
        }
    }
    Ok(running)
}

impl Running {
    /// The server's process id, when it runs as a process.
    pub fn pid(&self) -> Option<u32> {
        match &self.server {
            Server::Process(process) => Some(process.id()),
            Server::Thread { .. } => None,
        }
    }

    /// Asks the server to shut down: SIGTERM to a process, the stop signal
    /// to a thread.
    pub fn terminate(&mut self) -> Result<(), Error> {
        match &mut self.server {
            Server::Process(process) => {
                let status = Command::new("kill")
                    .args(["-TERM", &process.id().to_string()])
                    .status()
                    .map_err(|e| e.to_string())?;
                ensure(status.success(), || "kill -TERM failed".into())
            }
            Server::Thread { stop, .. } => {
                let stop = stop.take().ok_or("the server was already stopped")?;
                stop.send(())
                    .map_err(|()| "the server had already stopped".to_owned())
            }
        }
    }

    /// Waits up to `limit` for the server to end; its exit code (0 for a
    /// thread whose server returned cleanly).
    pub async fn exit_code_within(&mut self, limit: Duration) -> Result<Option<i32>, Error> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match &mut self.server {
                Server::Process(process) => {
                    if let Some(status) = process.try_wait().map_err(|e| e.to_string())? {
                        return Ok(status.code());
                    }
                }
                Server::Thread { thread, .. } => {
                    if thread.as_ref().is_some_and(JoinHandle::is_finished) {
                        let joined = thread.take().map(JoinHandle::join);
                        return match joined {
                            Some(Ok(Ok(()))) => Ok(Some(0)),
                            Some(Ok(Err(err))) => Err(format!("the server failed: {err}")),
                            Some(Err(_)) => Err("the server thread panicked".into()),
                            None => Err("the server was already joined".into()),
                        };
                    }
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("the server was still running after {limit:?}"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A check's future.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;
/// A check: its name and how to run it against a target.
pub type Check = (&'static str, for<'a> fn(&'a Target) -> CheckFuture<'a>);

/// Every check, in the order a report lists them.
pub const CHECKS: &[Check] = &[
    ("preamble and headers", |t| {
        Box::pin(preamble_and_headers(t))
    }),
    ("publish and receive exactly", |t| {
        Box::pin(publish_and_receive(t))
    }),
    ("topics, several per client", |t| Box::pin(topics(t))),
    ("a busy topic neither lags nor evicts a quiet one", |t| {
        Box::pin(backlog::topics_independent(t, &[]))
    }),
    (
        "a busy topic neither lags nor evicts a quiet one (--coalesce 0s)",
        |t| Box::pin(backlog::topics_independent(t, NO_COALESCE)),
    ),
    ("multi-line and non-ASCII data", |t| {
        Box::pin(multi_line_and_unicode(t))
    }),
    ("replay by header, by query, header wins", |t| {
        Box::pin(replay(t))
    }),
    ("reset for ids that cannot be honoured", |t| {
        Box::pin(reset(t))
    }),
    ("reset after a restart", |t| {
        Box::pin(reset_after_restart(t))
    }),
    ("history TTL", |t| Box::pin(history_ttl(t))),
    ("heartbeat after the idle interval", |t| {
        Box::pin(heartbeat(t))
    }),
    ("503 above max clients", |t| Box::pin(max_clients(t))),
    ("notify errors publish nothing", |t| {
        Box::pin(notify_errors(t))
    }),
    ("no injection through name, topic or data", |t| {
        Box::pin(injection(t))
    }),
    ("replay/live seam under concurrent publishing", |t| {
        Box::pin(seam(t))
    }),
    ("slow client cut off, others unaffected", |t| {
        Box::pin(backlog::slow_client(t, &[]))
    }),
    (
        "slow client cut off, others unaffected (--coalesce 0s)",
        |t| Box::pin(backlog::slow_client(t, NO_COALESCE)),
    ),
    (
        "a reader that keeps up is never cut (--client-buffer 4, 800 events)",
        |t| Box::pin(backlog::reader_that_keeps_up(t, &[])),
    ),
    (
        "a reader that keeps up is never cut (--client-buffer 4, 800 events, --coalesce 0s)",
        |t| Box::pin(backlog::reader_that_keeps_up(t, NO_COALESCE)),
    ),
    ("two independent parsers agree", |t| {
        Box::pin(parsers_agree(t))
    }),
    ("metrics series move", |t| Box::pin(metrics(t))),
    ("healthz and demo page", |t| Box::pin(healthz_and_page(t))),
    ("no leaked clients after disconnects", |t| {
        Box::pin(no_leaks(t))
    }),
    ("graceful shutdown", |t| Box::pin(graceful_shutdown(t))),
    (HEAD_TIMEOUT, |t| Box::pin(slow_heads(t))),
    (BODY_TIMEOUT, |t| Box::pin(stalled_body(t))),
    (EARLY_413, |t| Box::pin(early_413(t))),
    (CONNECTION_CAP, |t| Box::pin(connection_cap(t))),
    (AUTH_BAD_TOKENS, |t| Box::pin(auth::bad_tokens(t))),
    ("auth: expired, not-yet-valid, no exp → 401", |t| {
        Box::pin(auth::expired_and_not_yet_valid(t))
    }),
    (
        "auth: topics not granted → 403, patterns grant families",
        |t| Box::pin(auth::topics_granted(t)),
    ),
    (AUTH_TRANSPORTS, |t| Box::pin(auth::token_transports(t))),
    ("auth: a stream ends when its token expires", |t| {
        Box::pin(auth::expiry_ends_stream(t))
    }),
    ("auth: ES256 public key, no algorithm confusion", |t| {
        Box::pin(auth::public_keys(t))
    }),
    ("auth: the demo page's routes with a cookie", |t| {
        Box::pin(auth::demo_page_with_cookie(t))
    }),
    (CORS_ALLOWED, |t| Box::pin(auth::cors_allowed(t))),
    ("cors: preflight of /notify → 204", |t| {
        Box::pin(auth::cors_preflight(t))
    }),
    (
        "cors: other origins, or no option → no CORS headers",
        |t| Box::pin(auth::cors_refused(t)),
    ),
    (
        "h2: TLS offers h2 and http/1.1; events and heartbeats exact over both",
        |t| Box::pin(h2::tls_negotiates_both(t)),
    ),
    ("h2: replay by Last-Event-ID", |t| {
        Box::pin(h2::replay_over_h2(t))
    }),
    ("h2: 100 streams on one connection, each exact", |t| {
        Box::pin(h2::hundred_streams_one_connection(t))
    }),
    (
        "h2: a reset stream unsubscribed within 1 s, the others go on",
        |t| Box::pin(h2::reset_stream_unsubscribed(t)),
    ),
    ("h2: shutdown ends every stream", |t| {
        Box::pin(h2::shutdown_over_h2(t))
    }),
    (H2C, |t| Box::pin(h2::h2c_prior_knowledge(t))),
];

const H2C: &str = "h2c: HTTP/2 with prior knowledge (--h2c)";

/// The options that turn coalescing off: checks of what a client receives
/// run with and without it, since it must never change that.
pub const NO_COALESCE: &[&str] = &["--coalesce", "0s"];

const AUTH_BAD_TOKENS: &str = "auth: no, wrongly signed or malformed token → 401";
const AUTH_TRANSPORTS: &str = "auth: token by header, cookie or query, in that order";
const CORS_ALLOWED: &str = "cors: a listed origin streams and publishes";

const HEAD_TIMEOUT: &str =
    "silent, half-sent and idle connections closed after the request timeout";
const BODY_TIMEOUT: &str = "a stalled publish body closed after the request timeout";
const EARLY_413: &str = "413 at once for a Content-Length over --max-body";
const CONNECTION_CAP: &str = "connections past --max-connections closed at once";

/// What Rocket 0.5 cannot do, and why.
const ROCKET_GAP_HOOKS: &str = "Rocket 0.5 keeps its hyper server private: it sets no header read \
     timeout, has no idle timeout for HTTP/1 keep-alive, and accepts connections with no hook to \
     count or refuse them";
const ROCKET_GAP_PEEK: &str = "Rocket 0.5 waits for the first 14 bytes of every request body \
     (to look for a `_method` form field) before any fairing, guard or handler runs, with no \
     timeout";

/// The checks a framework is known to fail, and why. The report marks
/// them; the tests require them to fail still, so that the list is
/// corrected as soon as one is fixed.
pub const KNOWN_GAPS: &[(&str, &str, &str)] = &[
    ("rocket", HEAD_TIMEOUT, ROCKET_GAP_HOOKS),
    ("rocket", BODY_TIMEOUT, ROCKET_GAP_PEEK),
    ("rocket", EARLY_413, ROCKET_GAP_PEEK),
    ("rocket", CONNECTION_CAP, ROCKET_GAP_HOOKS),
    ("rocket", H2C, ROCKET_GAP_H2C),
];

const ROCKET_GAP_H2C: &str = "Rocket 0.5 serves HTTP/2 over TLS only: its server has no \
    cleartext HTTP/2, so the example refuses --h2c at start";

/// Why `framework` is known to fail `check`, if it is.
pub fn known_gap(framework: &str, check: &str) -> Option<&'static str> {
    KNOWN_GAPS
        .iter()
        .find(|(f, c, _)| *f == framework && *c == check)
        .map(|(_, _, why)| *why)
}

/// The request timeout the hostile-client checks run with.
const REQUEST_TIMEOUT: &str = "2s";
/// How long after [`REQUEST_TIMEOUT`] a closing may come.
const CLOSE_SLACK: Duration = Duration::from_millis(1500);

fn address_of(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

/// `ending` is a close within the request timeout (plus slack), answered
/// with nothing or `408`.
fn closed_for_timeout(what: &str, ending: &Ending) -> Result<(), Error> {
    let limit = Duration::from_secs(2) + CLOSE_SLACK;
    match ending {
        Ending::Closed { after, .. } if *after <= limit => {}
        other => return Err(format!("{what}: not closed within {limit:?}: {other:?}")),
    }
    ensure(matches!(ending.status(), None | Some(408)), || {
        format!("{what}: answered {:?} instead of closing", ending.status())
    })
}

/// A connection that sends nothing, one that sends half a request head,
/// and one idle after a request are all closed after the request
/// timeout, while an event stream that has been quiet all along is not.
async fn slow_heads(target: &Target) -> Result<(), Error> {
    let server = target
        .start(&["--request-timeout", REQUEST_TIMEOUT])
        .await?;
    let address = address_of(&server.base);
    let mut stream = subscribe(&server.base, "?topic=quiet", &[]).await?;
    let silent = RawConnection::connect(&address).await?;
    let mut half = RawConnection::connect(&address).await?;
    half.send(b"GET /healthz HTTP/1.1\r\nHost: conformance\r\n")
        .await?;
    let mut idle = RawConnection::connect(&address).await?;
    let (status, _) = idle.request("GET", "/healthz", "").await?;
    ensure(status == 200, || format!("/healthz answered {status}"))?;
    let limit = Duration::from_secs(2) + CLOSE_SLACK;
    let (silent, half, idle) = tokio::join!(
        silent.ending_within(limit),
        half.ending_within(limit),
        idle.ending_within(limit),
    );
    closed_for_timeout("a connection that sent nothing", &silent)?;
    closed_for_timeout("half a request head", &half)?;
    closed_for_timeout("an idle keep-alive connection", &idle)?;
    // The stream outlived the timeout with nothing sent, and still works.
    let id = publish(&server.base, "topic=quiet", "1").await?;
    let event = stream.next_event().await?;
    ensure(event.last_event_id() == id, || {
        format!("the quiet stream got {event:?}")
    })
}

/// A publish whose body stops after one byte is closed (or answered
/// `408`) after the request timeout, and publishes nothing.
async fn stalled_body(target: &Target) -> Result<(), Error> {
    let server = target
        .start(&["--request-timeout", REQUEST_TIMEOUT])
        .await?;
    let mut stalled = RawConnection::connect(&address_of(&server.base)).await?;
    stalled
        .send(
            b"POST /notify HTTP/1.1\r\nHost: conformance\r\n\
              Content-Type: application/json\r\nContent-Length: 10\r\n\r\n1",
        )
        .await?;
    let ending = stalled
        .ending_within(Duration::from_secs(2) + CLOSE_SLACK)
        .await;
    closed_for_timeout("a stalled body", &ending)?;
    let published = metric(&server.base, "sse_events_published_total").await?;
    ensure(published == 0.0, || format!("{published} events published"))
}

/// `Content-Length: 99999999999` and no body: `413` with the JSON error,
/// long before the request timeout, without waiting for the body.
async fn early_413(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--max-body", "1000"]).await?;
    let mut huge = RawConnection::connect(&address_of(&server.base)).await?;
    huge.send(
        b"POST /notify HTTP/1.1\r\nHost: conformance\r\n\
          Content-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n",
    )
    .await?;
    let ending = huge.ending_within(Duration::from_secs(1)).await;
    let (Ending::Closed { sent, .. } | Ending::Open { sent }) = &ending;
    let text = String::from_utf8_lossy(sent);
    ensure(ending.status() == Some(413), || {
        format!("expected 413 within 1 s, got {ending:?}")
    })?;
    ensure(text.contains("\"error\""), || {
        format!("no JSON error: {text}")
    })
}

/// With `--max-connections 6` and six open (an event stream, a
/// keep-alive connection, four silent ones), new connections are closed
/// at once without an answer; the open ones are still served, and once
/// some close, new ones are served again.
async fn connection_cap(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--max-connections", "6"]).await?;
    let address = address_of(&server.base);
    let mut stream = subscribe(&server.base, "?topic=cap", &[]).await?;
    let mut kept = RawConnection::connect(&address).await?;
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(RawConnection::connect(&address).await?);
    }
    // The server may count the last ones a moment after they connect.
    let mut open = 0.0;
    for _ in 0..100 {
        let (_, text) = kept.request("GET", "/metrics", "").await?;
        open = series(&text, "sse_connections").unwrap_or(-1.0);
        if open == 6.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ensure(open == 6.0, || format!("sse_connections = {open}, not 6"))?;
    for i in 0..3 {
        let mut extra = RawConnection::connect(&address).await?;
        // The server may close before the request is sent.
        let _ = extra
            .send(b"GET /healthz HTTP/1.1\r\nHost: conformance\r\n\r\n")
            .await;
        match extra.ending_within(Duration::from_secs(1)).await {
            Ending::Closed { sent, .. } if sent.is_empty() => {}
            other => return Err(format!("connection {} past the cap: {other:?}", 7 + i)),
        }
    }
    let (status, text) = kept.request("GET", "/metrics", "").await?;
    let refused = series(&text, "sse_connections_refused_total").unwrap_or(0.0);
    ensure(status == 200 && refused >= 3.0, || {
        format!("/metrics on an open connection: {status}, refused {refused}")
    })?;
    let (status, body) = kept.request("POST", "/notify?topic=cap", "1").await?;
    ensure(status == 200, || {
        format!("publish on an open connection: {status} {body}")
    })?;
    stream.next_event().await?;
    drop(silent);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut again = RawConnection::connect(&address).await?;
        if let Ok((200, _)) = again.request("GET", "/healthz", "").await {
            return Ok(());
        }
        ensure(tokio::time::Instant::now() < deadline, || {
            "no new connection served after the silent ones closed".into()
        })?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A series' value in a metrics text.
fn series(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let (series, value) = line.split_once(' ')?;
        (series == name).then(|| value.trim().parse().ok())?
    })
}

pub(crate) fn ensure(condition: bool, message: impl FnOnce() -> String) -> Result<(), Error> {
    if condition { Ok(()) } else { Err(message()) }
}

pub(crate) async fn subscribe(
    base: &str,
    query: &str,
    headers: &[(&str, &str)],
) -> Result<EventStream, Error> {
    let mut stream = open(&http_client(), base, &format!("/events{query}"), headers).await?;
    ensure(stream.status == 200, || {
        format!("/events{query}: status {}", stream.status)
    })?;
    let retry = stream.next_item().await?;
    ensure(matches!(retry, Decoded::Retry(_)), || {
        format!("expected retry first, got {retry:?}")
    })?;
    let connected = stream.next_event().await?;
    ensure(
        connected.event() == "connected" && connected.last_event_id().is_empty(),
        || format!("expected connected without id, got {connected:?}"),
    )?;
    Ok(stream)
}

/// Publishes and returns the id the server gave.
pub(crate) async fn publish(base: &str, query: &str, json: &str) -> Result<String, Error> {
    publish_with(&http_client(), base, query, json).await
}

/// [`publish`] with `client`: one client for many publishes spares
/// building one each time.
pub(crate) async fn publish_with(
    client: &reqwest::Client,
    base: &str,
    query: &str,
    json: &str,
) -> Result<String, Error> {
    let (status, body) = notify(client, base, query, json).await?;
    ensure(status == 200, || {
        format!("publish {query}: {status} {body}")
    })?;
    let value: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    value["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no id in {body}"))
}

/// The value of a metric series in `/metrics`.
pub(crate) async fn metric(base: &str, name: &str) -> Result<f64, Error> {
    metric_with(&http_client(), base, name).await
}

/// One series of `base`'s `/metrics`, read with `client` (one that speaks
/// the server's protocol).
pub(crate) async fn metric_with(
    client: &reqwest::Client,
    base: &str,
    name: &str,
) -> Result<f64, Error> {
    let text = within(client.get(format!("{base}/metrics")).send(), "the metrics")
        .await?
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    series(&text, name).ok_or_else(|| format!("no {name} in /metrics"))
}

async fn preamble_and_headers(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--retry", "1500ms"]).await?;
    let mut stream = open(&http_client(), &server.base, "/events", &[]).await?;
    let mut expected = vec![
        ("content-type", "text/event-stream"),
        ("cache-control", "no-cache"),
    ];
    // X-Accel-Buffering is addressed to nginx, which consumes it.
    if target.nginx_config.is_none() {
        expected.push(("x-accel-buffering", "no"));
    }
    for (name, value) in expected {
        ensure(stream.header(name) == Some(value), || {
            format!("{name}: {:?}", stream.header(name))
        })?;
    }
    let retry = stream.next_item().await?;
    ensure(retry == Decoded::Retry(Duration::from_millis(1500)), || {
        format!("{retry:?}")
    })?;
    let connected = stream.next_event().await?;
    let data: serde_json::Value =
        serde_json::from_str(connected.data()).map_err(|e| e.to_string())?;
    ensure(data["clientId"].is_u64(), || {
        format!("connected data {data}")
    })
}

async fn publish_and_receive(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    let mut stream = subscribe(&server.base, "?topic=t", &[]).await?;
    let mut last: Option<u128> = None;
    for i in 0..5 {
        let id = publish(
            &server.base,
            "topic=t&event=order",
            &format!("{{ \"n\": {i} }}"),
        )
        .await?;
        let event = stream.next_event().await?;
        ensure(event.event() == "order", || {
            format!("event name {}", event.event())
        })?;
        ensure(event.data() == format!("{{\"n\":{i}}}"), || {
            format!("data {}", event.data())
        })?;
        ensure(event.last_event_id() == id, || {
            format!("id {} != {id}", event.last_event_id())
        })?;
        let numeric: u128 = id.parse().map_err(|_| format!("id {id} is not decimal"))?;
        ensure(last.is_none_or(|l| numeric > l), || {
            format!("ids not increasing at {id}")
        })?;
        last = Some(numeric);
    }
    Ok(())
}

async fn topics(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    let mut a = subscribe(&server.base, "?topic=a", &[]).await?;
    let mut ab = subscribe(&server.base, "?topic=a&topic=b", &[]).await?;
    let mut default = subscribe(&server.base, "", &[]).await?;
    publish(&server.base, "topic=b", "\"b\"").await?;
    publish(&server.base, "topic=a", "\"a\"").await?;
    publish(&server.base, "", "\"d\"").await?;
    ensure(a.next_event().await?.data() == "\"a\"", || {
        "topic a got another topic".into()
    })?;
    let first = ab.next_event().await?;
    let second = ab.next_event().await?;
    ensure(first.data() == "\"b\"" && second.data() == "\"a\"", || {
        format!("a+b got {} then {}", first.data(), second.data())
    })?;
    ensure(default.next_event().await?.data() == "\"d\"", || {
        "default topic".into()
    })
}

async fn multi_line_and_unicode(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    let mut stream = subscribe(&server.base, "?topic=u", &[]).await?;
    let json = r#"{"text":"line one\nline two\r\nthree","emoji":"café ☕ 日本"}"#;
    publish(&server.base, "topic=u&event=%C3%A9v%C3%A9nement", json).await?;
    let event = stream.next_event().await?;
    ensure(event.event() == "événement", || {
        format!("name {}", event.event())
    })?;
    ensure(event.data() == json, || format!("data {}", event.data()))
}

async fn replay(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(publish(&server.base, "topic=r", &i.to_string()).await?);
    }
    let cases = [
        (
            "?topic=r".to_owned(),
            vec![("last-event-id", ids[0].as_str())],
            ["1", "2", "3"].as_slice(),
        ),
        (
            format!("?topic=r&lastEventId={}", ids[1]),
            vec![],
            ["2", "3"].as_slice(),
        ),
        (
            format!("?topic=r&lastEventId={}", ids[0]),
            vec![("last-event-id", ids[2].as_str())],
            ["3"].as_slice(),
        ),
    ];
    for (query, headers, expected) in cases {
        let mut stream = subscribe(&server.base, &query, &headers).await?;
        for want in expected {
            let event = stream.next_event().await?;
            ensure(event.data() == *want, || {
                format!("{query} {headers:?}: got {}", event.data())
            })?;
        }
    }
    Ok(())
}

async fn reset(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--history", "2"]).await?;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(publish(&server.base, "topic=r", &i.to_string()).await?);
    }
    let future = (ids[3].parse::<u128>().map_err(|e| e.to_string())? + 1000).to_string();
    for given in ["garbage", future.as_str(), ids[0].as_str()] {
        let mut stream = subscribe(&server.base, "?topic=r", &[("last-event-id", given)]).await?;
        let reset = stream.next_event().await?;
        ensure(
            reset.event() == "reset" && reset.last_event_id().is_empty(),
            || format!("{given}: expected reset, got {reset:?}"),
        )?;
        let data: serde_json::Value =
            serde_json::from_str(reset.data()).map_err(|e| e.to_string())?;
        ensure(data["lastEventId"] == given, || {
            format!("reset data {data}")
        })?;
        for want in ["2", "3"] {
            let event = stream.next_event().await?;
            ensure(event.data() == want, || {
                format!("{given}: replayed {}", event.data())
            })?;
        }
    }
    Ok(())
}

/// An in-memory server forgets its history when it restarts; its ids keep
/// increasing, so an id from before the restart resets, and the client gets
/// what was published since.
async fn reset_after_restart(target: &Target) -> Result<(), Error> {
    let before = target.start(&[]).await?;
    let old = publish(&before.base, "topic=r", "\"before\"").await?;
    drop(before);
    let after = target.start(&[]).await?;
    let new = publish(&after.base, "topic=r", "\"after\"").await?;
    let (old_n, new_n): (u128, u128) = (
        old.parse().map_err(|_| format!("id {old}"))?,
        new.parse().map_err(|_| format!("id {new}"))?,
    );
    ensure(new_n > old_n, || {
        format!("ids went back across the restart: {old} then {new}")
    })?;
    let mut stream = subscribe(&after.base, "?topic=r", &[("last-event-id", &old)]).await?;
    let reset = stream.next_event().await?;
    ensure(reset.event() == "reset", || {
        format!("expected reset, got {reset:?}")
    })?;
    let event = stream.next_event().await?;
    ensure(event.data() == "\"after\"", || {
        format!("then got {event:?}")
    })
}

async fn history_ttl(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--history-ttl", "1s"]).await?;
    let old = publish(&server.base, "topic=ttl", "\"old\"").await?;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    publish(&server.base, "topic=ttl", "\"new\"").await?;
    let mut stream = subscribe(&server.base, "?topic=ttl", &[("last-event-id", &old)]).await?;
    let event = stream.next_event().await?;
    ensure(event.data() == "\"new\"", || {
        format!("replayed {} after the TTL", event.data())
    })
}

async fn heartbeat(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--heartbeat", "300ms"]).await?;
    let mut stream = subscribe(&server.base, "", &[]).await?;
    let started = tokio::time::Instant::now();
    let item = stream.next_item_within(Duration::from_secs(2)).await?;
    let took = started.elapsed();
    ensure(item == Decoded::Comment("heartbeat".into()), || {
        format!("got {item:?}")
    })?;
    ensure(
        (Duration::from_millis(200)..Duration::from_millis(1000)).contains(&took),
        || format!("heartbeat after {took:?}, expected about 300ms"),
    )
}

async fn max_clients(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--max-clients", "1"]).await?;
    let _first = subscribe(&server.base, "", &[]).await?;
    let refused = open(&http_client(), &server.base, "/events", &[]).await?;
    ensure(refused.status == 503, || {
        format!("second stream: {}", refused.status)
    })?;
    ensure(refused.header("retry-after").is_some(), || {
        "no Retry-After".into()
    })
}

async fn notify_errors(target: &Target) -> Result<(), Error> {
    let server = target
        .start(&["--publish-token", "s3cret", "--max-body", "16"])
        .await?;
    let client = http_client();
    let post = |query: &str, content_type: Option<&str>, auth: Option<&str>, body: &str| {
        let mut request = client
            .post(format!("{}/notify?{query}", server.base))
            .body(body.to_owned());
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        async move {
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let body = response.text().await.map_err(|e| e.to_string())?;
            Ok::<_, Error>((status, body))
        }
    };
    let json = Some("application/json");
    let auth = Some("Bearer s3cret");
    let cases = [
        (
            401,
            post("topic=", None, None, "far too long and not json").await?,
        ),
        (401, post("", json, Some("Bearer nope"), "1").await?),
        (
            415,
            post(
                "topic=",
                Some("text/plain"),
                auth,
                "far too long and not json",
            )
            .await?,
        ),
        (
            413,
            post("topic=", json, auth, "far too long and not json").await?,
        ),
        (400, post("topic=", json, auth, "1").await?),
        (400, post("event=", json, auth, "1").await?),
        (400, post("", json, auth, "{").await?),
    ];
    for (i, (want, (status, body))) in cases.into_iter().enumerate() {
        ensure(status == want, || {
            format!("case {i}: {status} {body}, expected {want}")
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("case {i}: {e}"))?;
        ensure(value["error"].is_string(), || {
            format!("case {i}: body {body}")
        })?;
    }
    let published = metric(&server.base, "sse_events_published_total").await?;
    ensure(published == 0.0, || {
        format!("{published} events published by refused requests")
    })?;
    let (status, _) = post("", Some("application/json; charset=utf-8"), auth, "[1]").await?;
    ensure(status == 200, || {
        format!("a valid publish answered {status}")
    })
}

async fn injection(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    let mut stream = subscribe(&server.base, "?topic=t", &[]).await?;
    for query in [
        "topic=t&event=x%0Aid:%201",
        "topic=t%0Adata:x",
        "topic=t&event=x%0D%0A%0D%0Adata:y",
    ] {
        let (status, _) = notify(&http_client(), &server.base, query, "1").await?;
        ensure(status == 400, || format!("{query}: {status}"))?;
    }
    let sneaky = r#""a\n\nid: 666\nevent: evil\ndata: b""#;
    let id = publish(&server.base, "topic=t", sneaky).await?;
    let event = stream.next_event().await?;
    ensure(
        event.event() == "notification" && event.data() == sneaky && event.last_event_id() == id,
        || format!("got {event:?}"),
    )
}

/// Subscribers resume at various points while a publisher is busy; each
/// must read exactly the ids published after its resume point, in order.
async fn seam(target: &Target) -> Result<(), Error> {
    const EVENTS: usize = 150;
    let server = target.start(&[]).await?;
    let base = server.base.clone();
    let ids = std::sync::Arc::new(std::sync::Mutex::new(vec![
        publish(&base, "topic=s", "0").await?,
    ]));
    let publisher = {
        let (base, ids) = (base.clone(), ids.clone());
        tokio::spawn(async move {
            for i in 1..EVENTS {
                let id = publish(&base, "topic=s", &i.to_string()).await?;
                ids.lock().map_err(|e| e.to_string())?.push(id);
            }
            Ok::<_, Error>(())
        })
    };
    let mut readers = Vec::new();
    for _ in 0..6 {
        let (resume_at, resume_id) = {
            let ids = ids.lock().map_err(|e| e.to_string())?;
            (ids.len() - 1, ids[ids.len() - 1].clone())
        };
        let mut stream = subscribe(&base, "?topic=s", &[("last-event-id", &resume_id)]).await?;
        readers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while seen.len() < EVENTS - 1 - resume_at {
                seen.push(stream.next_event().await?.data().to_owned());
            }
            Ok::<_, Error>((resume_at, seen))
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    publisher.await.map_err(|e| e.to_string())??;
    for reader in readers {
        let (resume_at, seen) = reader.await.map_err(|e| e.to_string())??;
        let expected: Vec<String> = (resume_at + 1..EVENTS).map(|i| i.to_string()).collect();
        ensure(seen == expected, || {
            format!("resumed after event {resume_at}: got {seen:?}")
        })?;
    }
    Ok(())
}

/// Data that parsers get wrong (line breaks of every kind, non-ASCII,
/// empty arrays, a bare number) reads the same through both parsers, which
/// every stream of every check goes through (see [`EventStream`]).
async fn parsers_agree(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    let mut stream = subscribe(&server.base, "?topic=p", &[]).await?;
    let bodies = [r#""a\nb""#, r#"{"k":"é ☕"}"#, "[]", r#""\r\n\r\n""#, "0"];
    for (i, json) in bodies.iter().enumerate() {
        publish(&server.base, &format!("topic=p&event=e{i}"), json).await?;
    }
    for (i, json) in bodies.iter().enumerate() {
        let event = stream.next_event().await?;
        ensure(
            event.event() == format!("e{i}") && event.data() == *json,
            || format!("event {i}: {event:?}"),
        )?;
    }
    Ok(())
}

async fn metrics(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    let mut stream = subscribe(&server.base, "", &[]).await?;
    publish(&server.base, "", "1").await?;
    stream.next_event().await?;
    for (series, at_least) in [
        ("sse_clients", 1.0),
        ("sse_events_published_total", 1.0),
        ("sse_events_delivered_total", 1.0),
        ("sse_clients_lagged_total", 0.0),
        ("sse_history_events", 1.0),
    ] {
        let value = metric(&server.base, series).await?;
        ensure(value >= at_least, || format!("{series} = {value}"))?;
    }
    Ok(())
}

async fn healthz_and_page(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    let client = http_client();
    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    ensure(health.status() == 200, || {
        format!("healthz {}", health.status())
    })?;
    let body = health.text().await.map_err(|e| e.to_string())?;
    ensure(body == "ok", || format!("healthz body {body:?}"))?;
    let page = client
        .get(format!("{}/", server.base))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let html = page.text().await.map_err(|e| e.to_string())?;
    // The page reaches the routes relative to itself (it may be mounted
    // under a prefix).
    ensure(
        html.contains("new EventSource(base + \"events") && html.contains("fetch(base + \"notify"),
        || "the demo page does not subscribe and publish relative to itself".into(),
    )
}

async fn no_leaks(target: &Target) -> Result<(), Error> {
    // The default heartbeat (30 s) is far off: noticing must not wait
    // for a write.
    let server = target.start(&[]).await?;
    let mut streams = Vec::new();
    for _ in 0..10 {
        streams.push(subscribe(&server.base, "?topic=leak", &[]).await?);
    }
    ensure(metric(&server.base, "sse_clients").await? == 10.0, || {
        "10 clients".into()
    })?;
    drop(streams);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let clients = metric(&server.base, "sse_clients").await?;
        if clients == 0.0 {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "{clients} clients left 2 s after every client went away"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn graceful_shutdown(target: &Target) -> Result<(), Error> {
    let mut server = target.start(&[]).await?;
    let mut stream = subscribe(&server.base, "", &[]).await?;
    server.terminate()?;
    stream.ends_within(Duration::from_secs(1)).await?;
    // The contract bounds the streams' end, not the exit: the example
    // servers give their framework one more second to close connections
    // (`SHUTDOWN_GRACE`), and Rocket waits out that whole grace whenever a
    // connection task still holds its state at the moment its server
    // future resolves. One second more is for tearing the process down
    // on a loaded machine.
    let code = server.exit_code_within(Duration::from_secs(2)).await?;
    ensure(code == Some(0), || format!("exit code {code:?}"))
}

/// The checks of streaming and replay, which a proxy could break: those run
/// through nginx.
pub const THROUGH_PROXY: &[&str] = &[
    "preamble and headers",
    "publish and receive exactly",
    "multi-line and non-ASCII data",
    "replay by header, by query, header wins",
    "reset for ids that cannot be honoured",
    "reset after a restart",
    "heartbeat after the idle interval",
    "replay/live seam under concurrent publishing",
    "two independent parsers agree",
    AUTH_TRANSPORTS,
    CORS_ALLOWED,
];

/// Runs every check against `target` (only [`THROUGH_PROXY`] when it sits
/// behind nginx): (check name, outcome).
pub async fn run_all(target: &Target) -> Vec<(&'static str, Result<(), Error>)> {
    if target.nginx_config.is_some() {
        run_named(target, THROUGH_PROXY).await
    } else {
        run_checks(target, CHECKS.iter()).await
    }
}

/// Runs the multi-instance checks against `target`: two instances of it
/// on one private Redis (see [`crate::multi`]); behind nginx, the check of
/// `examples/deploy/nginx-redis.conf` (found beside the target's nginx
/// configuration).
pub async fn run_multi_instance(target: &Target) -> Vec<(&'static str, Result<(), Error>)> {
    if target.nginx_config.is_some() {
        run_checks(target, crate::multi::BEHIND_NGINX.iter()).await
    } else {
        run_checks(target, crate::multi::MULTI_INSTANCE_CHECKS.iter()).await
    }
}

/// Runs the checks called `names` against `target`, in [`CHECKS`] order.
pub async fn run_named(target: &Target, names: &[&str]) -> Vec<(&'static str, Result<(), Error>)> {
    run_checks(
        target,
        CHECKS.iter().filter(|(name, _)| names.contains(name)),
    )
    .await
}

async fn run_checks(
    target: &Target,
    checks: impl Iterator<Item = &Check>,
) -> Vec<(&'static str, Result<(), Error>)> {
    let mut outcomes = Vec::new();
    for (name, check) in checks {
        let outcome = match tokio::time::timeout(Duration::from_secs(30), check(target)).await {
            Ok(outcome) => outcome,
            Err(_) => Err("the check took longer than 30 s".into()),
        };
        outcomes.push((*name, outcome));
    }
    outcomes
}
