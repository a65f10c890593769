//! Starting a server under test: an example binary as a process, the same
//! server on a thread of the test process, or either behind nginx.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::client::{Error, WAIT, ensure, within};
use crate::process::ServerProcess;

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

/// An in-process server's stop requests, as a process's signals: the
/// first drains it, a second ends every stream at once.
pub type Stop = Pin<Box<dyn futures::Stream<Item = ()> + Send>>;
/// Told an in-process server's address once it accepts connections.
pub type Ready = Box<dyn FnOnce(SocketAddr) + Send>;
/// Runs a server with command-line options until its [`Stop`] asks,
/// draining or ending its streams and returning within a second of
/// their end.
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
    Process(ServerProcess),
    Thread {
        /// Each message is a stop signal (see [`Stop`]).
        stop: futures::channel::mpsc::UnboundedSender<()>,
        thread: Option<JoinHandle<Result<(), String>>>,
    },
}

impl Drop for Running {
    fn drop(&mut self) {
        match &mut self.server {
            // Dropping the process kills it.
            Server::Process(_) => {}
            // Two signals end every stream at once, drain or not; the
            // thread ends within the server's shutdown grace, on its own.
            Server::Thread { stop, .. } => {
                let _ = stop.unbounded_send(());
                let _ = stop.unbounded_send(());
            }
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
/// `127.0.0.1:3001`, …) pointed at `upstreams` (`HOST:PORT`), those of
/// the template beyond them left out; the proxy and the address clients
/// use.
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
    for unused in upstreams.len()..16 {
        config = config.replace(&format!("server 127.0.0.1:{};", 3000 + unused), "");
    }
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
        let mut command = Command::new(&binary);
        command
            .args(&args)
            .env("RUST_LOG", "warn")
            .stderr(Stdio::null());
        let process = ServerProcess::start(command)?;
        Ok(Running {
            base: process.base().to_owned(),
            server: Server::Process(process),
            proxy: None,
        })
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
    let (stop, stopped) = futures::channel::mpsc::unbounded::<()>();
    let thread = std::thread::Builder::new()
        .name(format!("{framework} server"))
        .spawn(move || {
            serve(
                args,
                Box::pin(stopped),
                Box::new(move |addr| {
                    let _ = ready.send(addr);
                }),
            )
        })
        .map_err(|e| format!("cannot start a server thread: {e}"))?;
    let mut running = Running {
        base: String::new(),
        server: Server::Thread {
            stop,
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
            Server::Process(process) => Some(process.pid()),
            Server::Thread { .. } => None,
        }
    }

    /// Asks the server to shut down: SIGTERM to a process, the stop signal
    /// to a thread. A second call, during a drain, ends it at once.
    pub fn terminate(&mut self) -> Result<(), Error> {
        match &mut self.server {
            Server::Process(process) => {
                let status = Command::new("kill")
                    .args(["-TERM", &process.pid().to_string()])
                    .status()
                    .map_err(|e| e.to_string())?;
                ensure(status.success(), || "kill -TERM failed".into())
            }
            Server::Thread { stop, .. } => stop
                .unbounded_send(())
                .map_err(|_| "the server had already stopped".to_owned()),
        }
    }

    /// Kills the server's process outright (SIGKILL), as the kernel's OOM
    /// killer or a lost node would; a server on a thread cannot be.
    pub fn kill(&mut self) -> Result<(), Error> {
        let Server::Process(process) = &mut self.server else {
            return Err("a server on a thread cannot be killed".into());
        };
        process
            .child_mut()
            .kill()
            .map_err(|e| format!("SIGKILL failed: {e}"))
    }

    /// Waits up to `limit` for the server to end; its exit code (0 for a
    /// thread whose server returned cleanly).
    pub async fn exit_code_within(&mut self, limit: Duration) -> Result<Option<i32>, Error> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match &mut self.server {
                Server::Process(process) => {
                    let exited = process.child_mut().try_wait();
                    if let Some(status) = exited.map_err(|e| e.to_string())? {
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

/// The options that turn coalescing off: checks of what a client receives
/// run with and without it, since it must never change that.
pub const NO_COALESCE: &[&str] = &["--coalesce", "0s"];

pub(crate) fn address_of(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}
