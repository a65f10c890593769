//! The servers compared: the five example servers, the axum baseline a
//! user writes without the toolkit, and nginx with nchan. Each is started
//! pinned to CPU 0 on a loopback port of its own and killed when dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sse_conformance::process::ServerProcess;

use super::load::Endpoint;

/// One server the benchmark runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contender {
    /// `target/release/<framework>`, speaking the contract.
    Example(&'static str),
    /// `target/release/axum-baseline`: axum's `Sse` over a broadcast channel.
    Baseline,
    /// nginx (Debian's build) with the nchan module.
    Nchan,
}

impl Contender {
    /// The column heading.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Contender::Example(framework) => framework,
            Contender::Baseline => "axum baseline",
            Contender::Nchan => "nchan",
        }
    }

    /// Whether the server has topics: not the baseline, whose one
    /// broadcast channel serves every stream.
    pub(crate) fn has_topics(self) -> bool {
        self != Contender::Baseline
    }

    /// The key in the JSON results.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Contender::Example(framework) => framework,
            Contender::Baseline => "baseline",
            Contender::Nchan => "nchan",
        }
    }
}

/// A started server.
pub(crate) struct Running {
    process: Process,
    pub(crate) endpoint: Endpoint,
}

impl Running {
    /// The server's process (nginx's master, whose worker is its child).
    pub(crate) fn pid(&self) -> u32 {
        match &self.process {
            Process::Announced(server) => server.pid(),
            Process::Nginx { master, .. } => master.id(),
        }
    }
}

/// How a server runs, and so how it stops.
enum Process {
    /// A server that says where it listens; killed when dropped.
    Announced(ServerProcess),
    /// nginx, in a directory of its own.
    Nginx { master: Child, dir: PathBuf },
}

impl Drop for Running {
    fn drop(&mut self) {
        let Process::Nginx { master, dir } = &mut self.process else {
            return;
        };
        // nginx's master takes its worker along on SIGTERM only.
        let _ = Command::new("kill")
            .args(["-TERM", &master.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = master.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = master.kill();
        let _ = master.wait();
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Starts `contender` pinned to CPU 0: the baseline from `binaries`, an
/// example server from `examples`.
pub(crate) fn start(
    contender: Contender,
    binaries: &Path,
    examples: &Path,
) -> Result<Running, String> {
    match contender {
        Contender::Example(framework) => start_binary(&examples.join(framework)),
        Contender::Baseline => start_binary(&binaries.join("axum-baseline")),
        Contender::Nchan => start_nchan(),
    }
}

/// An example server or the baseline: port 0, the real one read off the
/// `listening on` line.
fn start_binary(binary: &Path) -> Result<Running, String> {
    let mut command = Command::new("taskset");
    command
        .args(["-c", "0"])
        .arg(binary)
        .args(["--addr", "127.0.0.1:0"])
        .env("RUST_LOG", "error")
        .stderr(Stdio::inherit());
    let process = ServerProcess::start(command)?;
    let addr = process
        .address()
        .parse::<SocketAddr>()
        .map_err(|e| format!("{} listens at {}: {e}", binary.display(), process.base()))?;
    Ok(Running {
        process: Process::Announced(process),
        endpoint: Endpoint::new(addr),
    })
}

/// The nginx configuration: one worker, as many connections as the
/// machine allows, nchan on the same paths as the others.
fn nchan_config(dir: &Path, port: u16) -> String {
    let dir = dir.display();
    format!(
        "load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log error;
events {{ worker_connections 30000; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /events {{
            nchan_subscriber eventsource;
            nchan_channel_id $arg_topic;
            nchan_subscriber_first_message newest;
        }}
        location = /notify {{
            nchan_publisher;
            nchan_channel_id $arg_topic;
        }}
    }}
}}
"
    )
}

fn start_nchan() -> Result<Running, String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let dir = std::env::temp_dir().join(format!("sse-bench-nchan-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let config = dir.join("nginx.conf");
    std::fs::write(&config, nchan_config(&dir, port)).map_err(|e| e.to_string())?;
    let process = Command::new("taskset")
        .args(["-c", "0", "nginx", "-p"])
        .arg(&dir)
        .arg("-c")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start nginx: {e}"))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut running = Running {
        process: Process::Nginx {
            master: process,
            dir: dir.clone(),
        },
        endpoint: Endpoint::new(addr),
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(addr).is_err() {
        let exited = match &mut running.process {
            Process::Nginx { master, .. } => matches!(master.try_wait(), Ok(Some(_))),
            Process::Announced(_) => false,
        };
        if Instant::now() >= deadline || exited {
            let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            return Err(format!("nginx with nchan did not start: {log}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(running)
}
