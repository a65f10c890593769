//! A private `redis-server` for tests: on a free loopback port, with no
//! persistence, stopped and restarted by the test, killed when dropped.
//!
//! A test that needs Redis calls [`RedisServer::start`]. Without the
//! `redis-server` binary it gets `None` after a visible notice, unless
//! `SSE_REQUIRE_REDIS=1` (set by `.ci/run`) turns that into a failure.
//! `SSE_TEST_REDIS_URL` points tests that do not stop Redis at a server of
//! your own instead ([`TestRedis::get`]). [`RedisCluster::start`] starts
//! a private Redis Cluster of such servers, [`RedisServer::start_with`]
//! one with TLS, ACL users or a master to replicate ([`Setup`]), and
//! [`sentinel::RedisSentinels::start`] Sentinels watching a master.
//!
//! The files depend on `std` alone, and on `rcgen` for the certificates
//! of TLS tests, so that `sse-hub`'s own tests and benches include them
//! too.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod certs;
mod reshard;
pub mod sentinel;
mod setup;

// Not every test that includes these files uses each part.
#[allow(unused_imports)]
pub use certs::TestCertificates;
#[allow(unused_imports)]
pub use setup::{Setup, TlsFiles};

/// How long a starting server may take to answer `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a server did not start.
#[derive(Debug)]
enum Start {
    /// It exited at once, as `redis-server` does when its port is taken.
    PortTaken,
    /// It did not answer in time.
    Silent,
}

/// One private `redis-server` process.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    /// The cluster bus port, for a node of a [`RedisCluster`].
    cluster_port: Option<u16>,
    /// The TLS port, when [`Setup::tls`] is set.
    tls_port: Option<u16>,
    setup: Setup,
    dir: PathBuf,
    child: Option<Child>,
}

/// What to do when `redis-server` is missing: fail if required, else
/// print why the test does nothing.
fn unavailable<T>(test: &str, why: &str) -> Option<T> {
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
        if !installed("redis-server") {
            return unavailable(test, "redis-server is not on PATH");
        }
        Some(Self::launch(false, Setup::default()))
    }

    /// [`RedisServer::start`], run as `setup` says.
    ///
    /// # Panics
    ///
    /// As [`RedisServer::start`].
    pub fn start_with(test: &str, setup: Setup) -> Option<Self> {
        if !installed("redis-server") {
            return unavailable(test, "redis-server is not on PATH");
        }
        Some(Self::launch(false, setup))
    }

    /// A server on ports the system called free, started on other ones
    /// when another process took them meanwhile: a port cannot be held
    /// for `redis-server` until it binds it (its `--port 0` means no TCP).
    fn launch(cluster: bool, setup: Setup) -> Self {
        const ATTEMPTS: usize = 5;
        for attempt in 1..=ATTEMPTS {
            let ports = free_ports(1 + usize::from(cluster) + usize::from(setup.tls.is_some()));
            let port = ports[0];
            let dir = std::env::temp_dir().join(format!("sse-redis-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("a directory for redis-server");
            let mut server = Self {
                port,
                cluster_port: cluster.then(|| ports[1]),
                tls_port: setup.tls.as_ref().map(|_| ports[ports.len() - 1]),
                setup: setup.clone(),
                dir,
                child: None,
            };
            match server.try_restart() {
                Ok(()) => return server,
                Err(Start::PortTaken) if attempt < ATTEMPTS => {}
                Err(err) => panic!("{}", server.failure(&err)),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// This server's URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Its TLS URL (with [`Setup::tls`]), as `user:password@` says:
    /// `rediss://{credentials}127.0.0.1:{tls port}/`.
    pub fn tls_url(&self, credentials: &str) -> String {
        let port = self.tls_port.expect("a server started with TLS");
        format!("rediss://{credentials}127.0.0.1:{port}/")
    }

    /// The server process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
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
    /// When it does not answer within 10 seconds, or another process took
    /// its port meanwhile.
    pub fn restart(&mut self) {
        if let Err(err) = self.try_restart() {
            panic!("{}", self.failure(&err));
        }
    }

    fn failure(&self, err: &Start) -> String {
        let why = match err {
            Start::PortTaken => "exited at once: its port was taken",
            Start::Silent => "did not answer within the start timeout",
        };
        format!(
            "redis-server on port {} {why} ({START_TIMEOUT:?}); its log ends:\n{}",
            self.port,
            self.log_tail()
        )
    }

    fn try_restart(&mut self) -> Result<(), Start> {
        self.stop();
        let mut command = Command::new("redis-server");
        // A configuration file must be redis-server's first argument.
        if self.cluster_port.is_some() {
            command.arg(cluster_node_conf());
        } else if let Some(file) = &self.setup.config_file {
            command.arg(file);
        }
        command
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--logfile", "redis.log"]);
        if !self.setup.sentinel {
            command.args(["--save", "", "--appendonly", "no"]);
        }
        self.setup.add_args(&mut command, self.tls_port);
        if let Some(bus) = self.cluster_port {
            // The deployment's node configuration (its file comes first),
            // with a shorter node timeout for quick tests. The bus port is
            // set, not derived (port + 10000), since an ephemeral port
            // plus 10000 may be past 65535. The node's cluster state lives
            // in its directory, so a restarted master comes back with its
            // slots (and without its data).
            command
                .args(["--cluster-port", &bus.to_string()])
                .args(["--cluster-node-timeout", "1000"]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let pid = child.id();
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        // The server that answers must be this child: another process may
        // hold the port, even another test's redis-server.
        while !self.is_served_by(pid) {
            let exited = self
                .child
                .as_mut()
                .is_some_and(|child| child.try_wait().ok().flatten().is_some());
            if exited {
                self.child = None;
                return Err(Start::PortTaken);
            }
            if Instant::now() >= deadline {
                return Err(Start::Silent);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// The last lines of the server's log, to say why it failed.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }

    /// Whether the server answering on this port is process `pid`.
    fn is_served_by(&self, pid: u32) -> bool {
        self.query("INFO server").is_some_and(|info| {
            info.lines()
                .any(|line| line.trim_end() == format!("process_id:{pid}"))
        })
    }

    /// The text of `CLUSTER INFO`, if the node answers.
    pub fn cluster_info(&self) -> Option<String> {
        self.query("CLUSTER INFO")
    }

    /// The reply to an inline `command` whose answer is text (a bulk
    /// string) or a number, if the node answers.
    pub fn query(&self, command: &str) -> Option<String> {
        let mut stream = TcpStream::connect_timeout(&self.addr(), Duration::from_secs(1)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
        stream.write_all(format!("{command}\r\n").as_bytes()).ok()?;
        let mut head = Vec::new();
        let mut byte = [0; 1];
        while !head.ends_with(b"\r\n") {
            stream.read_exact(&mut byte).ok()?;
            head.push(byte[0]);
        }
        let head = std::str::from_utf8(&head).ok()?.trim_end();
        if let Some(number) = head.strip_prefix(':') {
            return Some(number.to_owned());
        }
        // `$<length>\r\n<text>\r\n`.
        let length: usize = head.strip_prefix('$')?.parse().ok()?;
        let mut text = vec![0; length];
        stream.read_exact(&mut text).ok()?;
        String::from_utf8(text).ok()
    }

    /// Whether this node, a cluster master, serves `slot`, by its own
    /// line of `CLUSTER NODES` (`… myself,master … 0-5460 …`).
    fn serves(&self, slot: u16) -> bool {
        let Some(nodes) = self.query("CLUSTER NODES") else {
            return false;
        };
        nodes
            .lines()
            .find(|line| {
                line.split(' ')
                    .nth(2)
                    .is_some_and(|flags| flags.contains("myself"))
            })
            .is_some_and(|line| {
                line.split(' ').skip(8).any(|range| {
                    let (first, last) = range.split_once('-').unwrap_or((range, range));
                    matches!(
                        (first.parse::<u16>(), last.parse::<u16>()),
                        (Ok(first), Ok(last)) if (first..=last).contains(&slot)
                    )
                })
            })
    }
}

/// A private Redis Cluster for a test: masters only, each a
/// [`RedisServer`] started in cluster mode, joined by `redis-cli --cluster
/// create` with the slots split evenly; every node killed when dropped.
/// Each node runs `examples/deploy/redis-cluster-node.conf`, so while a
/// master is down the others go on serving their own slots.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters` nodes for `test` and joins them; `None` (after a
    /// notice) when `redis-server` or `redis-cli` is missing and not
    /// required.
    ///
    /// # Panics
    ///
    /// When the nodes do not start, or the cluster does not come up with
    /// every slot served within 10 seconds.
    pub fn start(test: &str, masters: usize) -> Option<Self> {
        Self::start_with_replicas(test, masters, 0)
    }

    /// [`RedisCluster::start`] with `replicas` replicas of each master, so
    /// that a replica takes over a master that fails (after the nodes'
    /// timeout of 1 s). The first `masters` nodes are the masters.
    ///
    /// # Panics
    ///
    /// As [`RedisCluster::start`].
    pub fn start_with_replicas(test: &str, masters: usize, replicas: usize) -> Option<Self> {
        for binary in ["redis-server", "redis-cli"] {
            if !installed(binary) {
                return unavailable(test, &format!("{binary} is not on PATH"));
            }
        }
        // Each node started (on ports no other one then holds) before the
        // next one picks its ports.
        let nodes: Vec<RedisServer> = (0..masters * (1 + replicas))
            .map(|_| RedisServer::launch(true, Setup::default()))
            .collect();
        let status = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(nodes.iter().map(|node| format!("127.0.0.1:{}", node.port)))
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli runs");
        assert!(
            status.success(),
            "redis-cli --cluster create failed: {status}"
        );
        let cluster = Self { nodes };
        let deadline = Instant::now() + START_TIMEOUT;
        while !cluster.is_up() || cluster.synchronised_replicas() < masters * replicas {
            assert!(
                Instant::now() < deadline,
                "the cluster did not serve every slot, with its replicas synchronised, within {START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(cluster)
    }

    /// Whether every node says the cluster is up, with every slot served.
    pub fn is_up(&self) -> bool {
        self.nodes.iter().all(|node| {
            node.cluster_info().is_some_and(|info| {
                info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384")
            })
        })
    }

    /// How many nodes are replicas whose link to their master is up.
    pub fn synchronised_replicas(&self) -> usize {
        self.nodes
            .iter()
            .filter(|node| {
                node.query("INFO replication").is_some_and(|info| {
                    info.contains("role:slave") && info.contains("master_link_status:up")
                })
            })
            .count()
    }

    /// Waits until every replica of node `master` holds what it held when
    /// asked (its replication offset), at most `limit`: whether they do.
    pub fn replicated(&self, master: usize, limit: Duration) -> bool {
        let field = |info: &str, name: &str| -> Option<u64> {
            info.lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|value| value.trim().parse().ok())
        };
        let node = &self.nodes[master];
        let Some(offset) = node
            .query("INFO replication")
            .and_then(|info| field(&info, "master_repl_offset:"))
        else {
            return false;
        };
        let port = format!("master_port:{}", node.port);
        let deadline = Instant::now() + limit;
        loop {
            let behind = self.nodes.iter().any(|replica| {
                replica.query("INFO replication").is_some_and(|info| {
                    info.lines().any(|line| line.trim_end() == port)
                        && field(&info, "slave_repl_offset:").is_none_or(|held| held < offset)
                })
            });
            if !behind {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The nodes' URLs, as `--redis` takes them.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The position of the node that serves `key`'s slot.
    pub fn node_serving(&self, key: &str) -> Option<usize> {
        let slot: u16 = self
            .nodes
            .first()?
            .query(&format!("CLUSTER KEYSLOT {key}"))?
            .parse()
            .ok()?;
        self.nodes.iter().position(|node| node.serves(slot))
    }

    /// The nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// The nodes, to stop or restart one.
    pub fn nodes_mut(&mut self) -> &mut [RedisServer] {
        &mut self.nodes
    }
}

fn installed(binary: &str) -> bool {
    Command::new(binary)
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok()
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

/// `examples/deploy/redis-cluster-node.conf`, from the crate that
/// includes this file (one level below the workspace's root).
fn cluster_node_conf() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/deploy/redis-cluster-node.conf")
}

/// `count` different ports the system considers free now: all bound at
/// once, then released (a server started on them checks that it got
/// them, see [`RedisServer::launch`]).
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free loopback port"))
        .collect();
    listeners
        .iter()
        .map(|listener| listener.local_addr().expect("a bound address").port())
        .collect()
}
