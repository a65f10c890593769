//! A private `redis-server` for tests: on a free loopback port, with no
//! persistence, stopped and restarted by the test, killed when dropped.
//!
//! A test that needs Redis calls [`RedisServer::start`]. Without the
//! `redis-server` binary it gets `None` after a visible notice, unless
//! `SSE_REQUIRE_REDIS=1` (set by `.ci/run`) turns that into a failure.
//! `SSE_TEST_REDIS_URL` points tests that do not stop Redis at a server of
//! your own instead ([`TestRedis::get`]).
//!
//! The file has no dependency beyond `std`, so that `sse-hub`'s own tests
//! include it too.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a starting server may take to answer `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// One private `redis-server` process.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

/// What to do when `redis-server` is missing: fail if required, else
/// print why the test does nothing.
fn unavailable(test: &str, why: &str) -> Option<RedisServer> {
    let required = std::env::var("SSE_REQUIRE_REDIS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{test}: SSE_REQUIRE_REDIS=1 but {why}; install redis-server (apt-get install redis-server)"
    );
    println!("SKIPPED {test}: {why}; install redis-server to run it");
    #[allow(clippy::print_stderr)]
    {
        eprintln!("SKIPPED {test}: {why}; install redis-server to run it");
    }
    None
}

impl RedisServer {
    /// Starts a private server for `test`; `None` (after a notice) when
    /// `redis-server` is not installed and not required.
    ///
    /// # Panics
    ///
    /// When the server does not start, or is missing and required.
    pub fn start(test: &str) -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            return unavailable(test, "redis-server is not on PATH");
        }
        let dir =
            std::env::temp_dir().join(format!("sse-redis-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("a directory for redis-server");
        let mut server = Self {
            port: free_port(),
            dir,
            child: None,
        };
        server.restart();
        Some(server)
    }

    /// This server's URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The server process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Kills the server (all data goes: there is no persistence) and waits
    /// for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (after [`stop`](Self::stop)), and
    /// waits until it answers.
    ///
    /// # Panics
    ///
    /// When it does not answer `PING` within 10 seconds.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while !self.answers_ping() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on port {} within {START_TIMEOUT:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect_timeout(&self.addr(), Duration::from_secs(1))
        else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis for a test that never stops it: the one `SSE_TEST_REDIS_URL`
/// names, else a private server.
#[derive(Debug)]
pub struct TestRedis {
    /// Its URL.
    pub url: String,
    _private: Option<RedisServer>,
}

impl TestRedis {
    /// `SSE_TEST_REDIS_URL` if set, else [`RedisServer::start`].
    pub fn get(test: &str) -> Option<Self> {
        if let Ok(url) = std::env::var("SSE_TEST_REDIS_URL") {
            return Some(Self {
                url,
                _private: None,
            });
        }
        let server = RedisServer::start(test)?;
        Some(Self {
            url: server.url(),
            _private: Some(server),
        })
    }
}

/// A port the system considers free now.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}
