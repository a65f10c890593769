//! Private Redis Sentinels for a test: they watch one master under a
//! name, with short timeouts, so that a failover takes a few seconds.

use std::time::{Duration, Instant};

use super::{RedisServer, Setup, installed, unavailable};

/// How long a master may be silent before the sentinels call it down.
pub const DOWN_AFTER: Duration = Duration::from_millis(1000);

/// Sentinels watching one master; every process killed when dropped.
#[derive(Debug)]
pub struct RedisSentinels {
    sentinels: Vec<RedisServer>,
    name: String,
}

impl RedisSentinels {
    /// Starts `count` sentinels for `test` that watch `master` as `name`,
    /// with a quorum of a majority; waits until each has found the
    /// master's replicas. `None` (after a notice) when `redis-server` is
    /// missing and not required.
    ///
    /// # Panics
    ///
    /// When a sentinel does not start, or does not see `replicas`
    /// replicas within 10 seconds.
    pub fn start(
        test: &str,
        master: &RedisServer,
        name: &str,
        count: usize,
        replicas: usize,
    ) -> Option<Self> {
        if !installed("redis-server") {
            return unavailable(test, "redis-server is not on PATH");
        }
        let quorum = count / 2 + 1;
        let sentinels = (0..count)
            .map(|n| {
                let file = std::env::temp_dir().join(format!(
                    "sse-sentinel-{}-{}-{n}-{}.conf",
                    std::process::id(),
                    master.port(),
                    fastish_id()
                ));
                // The deployment's file, for this master and name, with
                // shorter timeouts for quick tests.
                let conf = include_str!("../../../examples/deploy/redis-sentinel.conf")
                    .replace(
                        "127.0.0.1 6379 2",
                        &format!("127.0.0.1 {} {quorum}", master.port()),
                    )
                    .replace(
                        "down-after-milliseconds sse-events 5000",
                        &format!(
                            "down-after-milliseconds sse-events {}",
                            DOWN_AFTER.as_millis()
                        ),
                    )
                    .replace(
                        "failover-timeout sse-events 60000",
                        "failover-timeout sse-events 5000",
                    )
                    .replace("sse-events", name);
                assert!(
                    conf.contains(&format!(
                        "sentinel monitor {name} 127.0.0.1 {} ",
                        master.port()
                    )) && conf.contains(&format!(
                        "down-after-milliseconds {name} {}",
                        DOWN_AFTER.as_millis()
                    )),
                    "examples/deploy/redis-sentinel.conf no longer has the lines the tests adapt"
                );
                std::fs::write(&file, conf).expect("a Sentinel configuration file");
                RedisServer::launch(
                    false,
                    Setup {
                        config_file: Some(file),
                        sentinel: true,
                        ..Setup::default()
                    },
                )
            })
            .collect();
        let sentinels = Self {
            sentinels,
            name: name.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sentinels.see(replicas, count) {
            assert!(
                Instant::now() < deadline,
                "the sentinels did not find {replicas} replicas of {name}, and each other, within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(sentinels)
    }

    /// The sentinels' URLs, as `--redis-sentinel` takes them.
    pub fn urls(&self) -> Vec<String> {
        self.sentinels.iter().map(RedisServer::url).collect()
    }

    /// Whether every sentinel counts `replicas` replicas of the master
    /// and `sentinels` sentinels, itself included (`INFO sentinel`:
    /// `master0:name=…,status=ok,…,slaves=N,sentinels=M`).
    fn see(&self, replicas: usize, sentinels: usize) -> bool {
        self.sentinels.iter().all(|sentinel| {
            sentinel.query("INFO sentinel").is_some_and(|info| {
                info.lines().any(|line| {
                    line.contains(&format!("name={},", self.name))
                        && line.contains("status=ok")
                        && line.contains(&format!("slaves={replicas},"))
                        && line.ends_with(&format!("sentinels={sentinels}"))
                })
            })
        })
    }
}

/// A number that differs between calls in one process.
fn fastish_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Drop for RedisSentinels {
    fn drop(&mut self) {
        for sentinel in &self.sentinels {
            if let Some(file) = &sentinel.setup.config_file {
                let _ = std::fs::remove_file(file);
            }
        }
    }
}
