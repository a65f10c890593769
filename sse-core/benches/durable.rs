//! What a durable publish costs: `RedisConfig::wait_replicas = 1` (each
//! publish acknowledged only once a replica holds it, Redis's `WAIT`)
//! beside the default (acknowledged once the master has it), on a private
//! master with one replica, measured in the same run, the two alternating
//! round by round. Two loads: one publisher at a time (the latency a
//! request sees) and 64 concurrent publishers (the throughput of an
//! instance, whose publishes share script calls).
//!
//! `cargo xtask bench` runs it (`cargo bench -p sse-hub --features
//! redis,hub --bench durable`) and prints a Markdown table.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

#[path = "../../conformance/src/redis_server/mod.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;

use std::time::{Duration, Instant};

use redis_server::{RedisServer, Setup};
use sse_hub::Event;
use sse_hub::hub::{Hub, HubConfig, RedisConfig};

/// Publishes per round, in each load.
const PUBLISHES: usize = 2000;
/// Rounds of each mode; medians are reported.
const ROUNDS: usize = 9;
/// Concurrent publishers in the second load.
const PUBLISHERS: usize = 64;

async fn hub(url: &str, wait_replicas: usize) -> Hub {
    let mut redis = RedisConfig::new(url);
    redis.key_prefix = format!("bench-durable-{wait_replicas}");
    redis.wait_replicas = wait_replicas;
    Hub::connect(
        HubConfig {
            redis: Some(redis),
            ..HubConfig::default()
        },
        Duration::from_secs(10),
    )
    .await
    .expect("a master")
}

/// Seconds for `PUBLISHES` publishes, one after the other.
async fn one_at_a_time(hub: &Hub) -> f64 {
    let event = Event::new("a durable event");
    let start = Instant::now();
    for n in 0..PUBLISHES {
        hub.publish(&format!("topic-{}", n % 10), &event)
            .await
            .unwrap();
    }
    start.elapsed().as_secs_f64()
}

/// Seconds for `PUBLISHES` publishes by `PUBLISHERS` concurrent tasks.
async fn concurrent(hub: &Hub) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = (0..PUBLISHERS)
        .map(|publisher| {
            let hub = hub.clone();
            tokio::spawn(async move {
                let event = Event::new("a durable event");
                for n in 0..PUBLISHES / PUBLISHERS {
                    hub.publish(&format!("topic-{}", (publisher + n) % 10), &event)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    start.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let Some(master) = RedisServer::start("the durable-publish benchmark") else {
        return;
    };
    let Some(replica) = RedisServer::start_with(
        "the durable-publish benchmark",
        Setup::replica_of(master.port()),
    ) else {
        return;
    };
    while !replica
        .query("INFO replication")
        .is_some_and(|info| info.contains("master_link_status:up"))
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (fast, durable) =
        runtime.block_on(async { (hub(&master.url(), 0).await, hub(&master.url(), 1).await) });
    // [mode][load]: seconds per round.
    let mut times = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
    for _ in 0..ROUNDS {
        for (mode, hub) in [&fast, &durable].into_iter().enumerate() {
            times[mode][0].push(runtime.block_on(one_at_a_time(hub)));
            times[mode][1].push(runtime.block_on(concurrent(hub)));
        }
    }
    let [[fast_one, fast_many], [durable_one, durable_many]] = times.map(|loads| loads.map(median));
    let per_publish = |seconds: f64| seconds / PUBLISHES as f64 * 1e6;
    let per_second = |seconds: f64| PUBLISHES as f64 / seconds;
    println!("\n## Durable publishes (`wait_replicas = 1`) beside the default\n");
    println!("| load | default (`wait_replicas = 0`) | `wait_replicas = 1` | durable / default |");
    println!("|---|---|---|---|");
    println!(
        "| one publisher: µs per publish | {:.1} | {:.1} | {:.2}× |",
        per_publish(fast_one),
        per_publish(durable_one),
        durable_one / fast_one
    );
    println!(
        "| {PUBLISHERS} concurrent publishers: publishes/s | {:.0} | {:.0} | {:.2}× |",
        per_second(fast_many),
        per_second(durable_many),
        fast_many / durable_many
    );
    println!(
        "\nMedians of {ROUNDS} rounds of {PUBLISHES} publishes each, the two modes alternating; \
         a master and one replica on loopback."
    );
}
