//! Multi-instance mode on a private `redis-server`, beside in-memory mode
//! in the same run: publish→delivery latency across instances, the
//! publish rate one instance sustains, the CPU the tail adds per delivery,
//! and what each way of tailing costs Redis (Pub/Sub, which the tail uses,
//! against `XREAD BLOCK` over every topic's stream).
//!
//! `cargo xtask bench` runs it (`cargo bench -p sse-hub --features redis
//! --bench redis`) and prints a Markdown table; each figure has its
//! in-memory baseline from the same run.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

#[path = "redis/paths.rs"]
mod paths;
#[path = "../../conformance/src/redis_server/mod.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use redis_server::{RedisCluster, RedisServer};
use sse_hub::Event;
use sse_hub::broker::{Broker, BrokerConfig};
use sse_hub::redis::{RedisBroker, RedisOptions};

/// Events timed one at a time for the latency percentiles.
const LATENCY_EVENTS: usize = 2000;
/// How long the publish rate is measured.
const RATE_FOR: Duration = Duration::from_secs(2);
/// Concurrent publishing tasks for the rate.
const PUBLISHERS: usize = 32;
/// Subscribers of the instance whose CPU is measured.
const SUBSCRIBERS: usize = 100;
/// Events published while that CPU is measured.
const CPU_EVENTS: usize = 2000;
/// Events published while Redis's CPU per tailed event is measured.
const TAIL_EVENTS: usize = 3000;
/// Instances tailing by Pub/Sub at once while Redis's CPU is measured, so
/// that their cost stands out of the noise.
const PUBSUB_TAILERS: usize = 4;

fn config() -> BrokerConfig {
    BrokerConfig {
        max_clients: 10_000,
        // No subscriber may lag while a thread publishes as fast as it can.
        client_buffer: 4096,
        ..BrokerConfig::default()
    }
}

fn options(name: &str) -> RedisOptions {
    let mut options = RedisOptions::default();
    options.prefix = format!("bench-{name}");
    options
}

async fn instance(url: &str, name: &str) -> RedisBroker {
    with_batches(url, name, RedisOptions::default().max_publish_batch).await
}

/// An instance whose publishes share script calls up to `max_batch`.
async fn with_batches(url: &str, name: &str, max_batch: usize) -> RedisBroker {
    let mut options = options(name);
    options.max_publish_batch = max_batch;
    let redis = RedisBroker::with_options(url, config(), options).unwrap();
    let mut state = redis.connection_state();
    tokio::time::timeout(Duration::from_secs(10), state.wait_for(|up| *up))
        .await
        .expect("connected to Redis")
        .unwrap();
    redis
}

/// CPU time a task (thread or process) has run, in nanoseconds.
fn cpu_ns(schedstat: &str) -> u64 {
    std::fs::read_to_string(schedstat)
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

struct Row {
    what: String,
    redis: String,
    memory: String,
    ratio: String,
}

fn main() {
    let Some(server) = RedisServer::start("the Redis benchmark") else {
        return;
    };
    let url = server.url();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    runtime.block_on(async {
        rows.extend(latency(&url).await);
        rows.push(publish_rate(&url).await);
    });
    let batch_rows = runtime.block_on(batch_rates(&url, &server));
    rows.push(tail_cpu(&url));
    let tails = runtime.block_on(tail_costs(&url, &server));

    println!("\n## Multi-instance mode (Redis)\n");
    println!("| measure | Redis mode | in-memory baseline | ratio |");
    println!("|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {} | {} | {} |",
            row.what, row.redis, row.memory, row.ratio
        );
    }
    println!(
        "\n| publish path | publishers | publishes/s | × the path when scale-out work began | \
         Redis CPU per publish (process) | script time per publish (commandstats) | \
         Redis busy | Redis's ceiling at that cost |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in batch_rows {
        println!("{row}");
    }
    println!("\n| tail | Redis CPU per event, per tailing instance |");
    println!("|---|---|");
    for (tail, cost) in tails {
        println!("| {tail} | {cost} |");
    }
}

/// Publish on one instance, receive on the other; against publish and
/// receive on one in-memory broker.
async fn latency(url: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for max_batch in [RedisOptions::default().max_publish_batch, 1] {
        let a = with_batches(url, "latency", max_batch).await;
        let b = instance(url, "latency").await;
        let mut on_b = b.subscribe(["t"], None).await.unwrap();
        let mut redis = Vec::with_capacity(LATENCY_EVENTS);
        for i in 0..LATENCY_EVENTS {
            let started = Instant::now();
            a.publish("t", &Event::new(i.to_string())).await.unwrap();
            on_b.next().await.unwrap();
            redis.push(started.elapsed());
        }
        let memory_broker = Broker::new(config());
        let mut local = memory_broker.subscribe(["t"], None).unwrap();
        let mut memory = Vec::with_capacity(LATENCY_EVENTS);
        for i in 0..LATENCY_EVENTS {
            let started = Instant::now();
            memory_broker
                .publish("t", &Event::new(i.to_string()))
                .unwrap();
            local.next().await.unwrap();
            memory.push(started.elapsed());
        }
        redis.sort_unstable();
        memory.sort_unstable();
        let path = if max_batch == 1 {
            ", one script call per publish"
        } else {
            ""
        };
        for (name, p) in [("p50", 0.5), ("p99", 0.99)] {
            let (r, m) = (percentile(&redis, p), percentile(&memory, p));
            rows.push(Row {
                what: format!("publish → delivery on another instance, {name}{path}"),
                redis: micros(r),
                memory: micros(m),
                ratio: format!("{:.0}×", r.as_secs_f64() / m.as_secs_f64()),
            });
        }
    }
    rows
}

/// Events per second one instance publishes with many concurrent
/// publishers, against the in-memory broker's.
async fn publish_rate(url: &str) -> Row {
    let a = instance(url, "rate").await;
    let (published, elapsed) = publish_for(&a, PUBLISHERS, RATE_FOR).await;
    let redis_rate = published as f64 / elapsed.as_secs_f64();

    let memory_broker = Broker::new(config());
    let started = Instant::now();
    let mut published = 0u64;
    while started.elapsed() < RATE_FOR {
        for _ in 0..1000 {
            memory_broker
                .publish(&format!("topic-{}", published % 32), &Event::new("x"))
                .unwrap();
            published += 1;
        }
    }
    let memory_rate = published as f64 / started.elapsed().as_secs_f64();
    Row {
        what: format!("publishes per second, one instance, {PUBLISHERS} publishers"),
        redis: format!("{redis_rate:.0}/s"),
        memory: format!("{memory_rate:.0}/s"),
        ratio: format!("{:.3}×", redis_rate / memory_rate),
    }
}

/// Publishes per second of one instance through one script call per
/// publish (`max_publish_batch = 1`) and through batches, with 32 and 256
/// concurrent publishers, each with what it cost Redis: its process CPU
/// and its script time (`INFO commandstats`) per publish, and the rate
/// Redis would reach at that cost on a whole core. Each is set beside the
/// path of the day scale-out work began ([`paths::filing_publish_for`]), replayed in the
/// same run. Then batches on a Redis Cluster of three masters.
async fn batch_rates(url: &str, server: &RedisServer) -> Vec<String> {
    let Some(pid) = server.pid() else {
        return Vec::new();
    };
    let batches = RedisOptions::default().max_publish_batch;
    let mut rows = Vec::new();
    let mut filing_rates = Vec::new();
    for publishers in [32, 256] {
        let filing = measure_cost(url, &[pid], || {
            paths::filing_publish_for(url, publishers, RATE_FOR)
        })
        .await;
        rows.push(filing.row(
            "the path when scale-out work began (replayed)",
            publishers,
            filing.rate,
        ));
        for max_batch in [1, batches] {
            let a = with_batches(url, "batches", max_batch).await;
            let cost = measure_cost(url, &[pid], || publish_for(&a, publishers, RATE_FOR)).await;
            let path = if max_batch == 1 {
                "one script call per publish".to_owned()
            } else {
                format!("batches of up to {max_batch}")
            };
            rows.push(cost.row(&path, publishers, filing.rate));
        }
        filing_rates.push((publishers, filing.rate));
    }
    let ceiling = measure_cost(url, &[pid], || {
        paths::pipelined_publish_for(url, 4, RATE_FOR)
    })
    .await;
    rows.push(ceiling.row(
        "its commands pipelined, no script (Redis's ceiling)",
        4 * 256,
        filing_rates.last().map_or(1.0, |(_, rate)| *rate),
    ));
    if let Some(cluster) = RedisCluster::start("the Redis benchmark's cluster", 3) {
        let urls = cluster.urls().join(",");
        let pids: Vec<u32> = cluster
            .nodes()
            .iter()
            .filter_map(RedisServer::pid)
            .collect();
        for (publishers, filing) in filing_rates {
            let a = with_batches(&urls, "batches", batches).await;
            let cost = measure_cost(&urls, &pids, || publish_for(&a, publishers, RATE_FOR)).await;
            let path = format!("batches of up to {batches}, 3-master cluster");
            rows.push(cost.row(&path, publishers, filing));
        }
    }
    rows
}

/// What publishing for [`RATE_FOR`] cost the Redis servers `pids`.
struct PublishCost {
    rate: f64,
    published: u64,
    elapsed: Duration,
    redis_cpu_ns: u64,
    script_usec: f64,
}

impl PublishCost {
    fn row(&self, path: &str, publishers: usize, single: f64) -> String {
        let cpu_per = self.redis_cpu_ns as f64 / 1000.0 / self.published as f64;
        format!(
            "| {path} | {publishers} | {:.0}/s | {:.2}× | {cpu_per:.1} µs | {} | {:.0}% | {:.0}/s |",
            self.rate,
            self.rate / single,
            if self.script_usec > 0.0 {
                format!("{:.1} µs", self.script_usec / self.published as f64)
            } else {
                "no script".to_owned()
            },
            self.redis_cpu_ns as f64 / self.elapsed.as_nanos() as f64 * 100.0,
            1e6 / cpu_per,
        )
    }
}

/// Runs `publish` (which says how many it published, in how long)
/// against the Redis servers on `urls` (one server, or a cluster's nodes,
/// whose processes are `pids`) and measures what it cost them.
async fn measure_cost<F>(urls: &str, pids: &[u32], publish: impl FnOnce() -> F) -> PublishCost
where
    F: Future<Output = (u64, Duration)>,
{
    let mut stats = Vec::new();
    for url in urls.split(',') {
        let mut connection = redis::Client::open(url)
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let _: () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query_async(&mut connection)
            .await
            .unwrap();
        stats.push(connection);
    }
    let cpu = || -> u64 {
        pids.iter()
            .map(|pid| cpu_ns(&format!("/proc/{pid}/schedstat")))
            .sum()
    };
    let cpu_before = cpu();
    let (published, elapsed) = publish().await;
    let redis_cpu_ns = cpu() - cpu_before;
    let mut script_usec = 0.0;
    for connection in &mut stats {
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(connection)
            .await
            .unwrap();
        script_usec += info
            .lines()
            .filter(|line| line.starts_with("cmdstat_evalsha:"))
            .filter_map(|line| {
                line.split("usec=")
                    .nth(1)?
                    .split(',')
                    .next()?
                    .parse::<f64>()
                    .ok()
            })
            .sum::<f64>();
    }
    PublishCost {
        rate: published as f64 / elapsed.as_secs_f64(),
        published,
        elapsed,
        redis_cpu_ns,
        script_usec,
    }
}

/// Publishes from `publishers` concurrent tasks for `duration`: how many,
/// and in how long.
async fn publish_for(a: &RedisBroker, publishers: usize, duration: Duration) -> (u64, Duration) {
    paths::for_duration(publishers, duration, |p, run| {
        let a = a.clone();
        async move {
            let topic = format!("topic-{p}");
            while run.going() {
                a.publish(&topic, &Event::new("x")).await.unwrap();
                run.done(1);
            }
        }
    })
    .await
}

/// CPU of the thread that runs an instance's subscribers, per delivery:
/// on Redis, the tail (reading, parsing, fanning out what another instance
/// published) and the subscribers; in memory, the publishes (encoding,
/// fanning out) and the subscribers, at one event per wake-up as the tail
/// gets them.
fn tail_cpu(url: &str) -> Row {
    let redis = on_own_thread(url.to_owned(), true);
    let memory = on_own_thread(url.to_owned(), false);
    Row {
        what: format!(
            "CPU per delivery, instance thread ({SUBSCRIBERS} subscribers, {CPU_EVENTS} events)"
        ),
        redis: format!("{redis:.0} ns (tail and fan-out)"),
        memory: format!("{memory:.0} ns (publish and fan-out)"),
        ratio: format!("{:.2}×", redis / memory),
    }
}

/// Nanoseconds of CPU per delivery on a thread running [`SUBSCRIBERS`]
/// subscribers of a mirror (`redis`, with the events published by another
/// instance on another thread) or of an in-memory broker (published on
/// this thread).
fn on_own_thread(url: String, redis: bool) -> f64 {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let thread_url = url.clone();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            // The mirror is kept until the end: dropping it stops its tail.
            let mirror = if redis {
                Some(instance(&thread_url, "cpu").await)
            } else {
                None
            };
            // Published to only without a mirror.
            let broker = Broker::new(config());
            let mut readers = Vec::new();
            for _ in 0..SUBSCRIBERS {
                let mut stream = match &mirror {
                    Some(mirror) => mirror.subscribe(["cpu"], None).await.unwrap(),
                    None => broker.subscribe(["cpu"], None).unwrap(),
                };
                readers.push(tokio::spawn(async move {
                    let mut events = 0;
                    while events < CPU_EVENTS {
                        let chunk = stream.next().await.unwrap();
                        events += chunk.windows(4).filter(|w| w == b"id: ").count();
                    }
                }));
            }
            ready_tx.send(()).unwrap();
            // Wait for the publisher, without blocking this runtime.
            let go = tokio::task::spawn_blocking(move || go_rx.recv());
            go.await.unwrap().unwrap();
            let before = cpu_ns("/proc/thread-self/schedstat");
            if mirror.is_none() {
                tokio::spawn(async move {
                    for i in 0..CPU_EVENTS {
                        broker.publish("cpu", &Event::new(i.to_string())).unwrap();
                        // The subscribers read it before the next one.
                        tokio::task::yield_now().await;
                    }
                });
            }
            for reader in readers {
                reader.await.unwrap();
            }
            let spent = cpu_ns("/proc/thread-self/schedstat") - before;
            spent as f64 / (SUBSCRIBERS * CPU_EVENTS) as f64
        })
    });
    ready_rx.recv().unwrap();
    if redis {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let publisher = instance(&url, "cpu").await;
            go_tx.send(()).unwrap();
            for i in 0..CPU_EVENTS {
                publisher
                    .publish("cpu", &Event::new(i.to_string()))
                    .await
                    .unwrap();
            }
        });
    } else {
        go_tx.send(()).unwrap();
    }
    thread.join().unwrap()
}

/// Redis's own CPU per event for each way of tailing `topics` topics:
/// the publisher alone, then with [`PUBSUB_TAILERS`] more instances
/// tailing by Pub/Sub (the figure is per instance), then with one reader
/// of every topic's stream by `XREAD BLOCK`; each the median of three.
async fn tail_costs(url: &str, server: &RedisServer) -> Vec<(String, String)> {
    let Some(pid) = server.pid() else {
        return Vec::new();
    };
    let schedstat = format!("/proc/{pid}/schedstat");
    let publisher = instance(url, "tails").await;
    let measure = |topics: usize| {
        let publisher = publisher.clone();
        let schedstat = schedstat.clone();
        async move {
            let before = cpu_ns(&schedstat);
            for i in 0..TAIL_EVENTS {
                publisher
                    .publish(&format!("t{}", i % topics), &Event::new("x"))
                    .await
                    .unwrap();
            }
            (cpu_ns(&schedstat) - before) as f64 / TAIL_EVENTS as f64
        }
    };
    let median = |mut runs: Vec<f64>| {
        runs.sort_by(f64::total_cmp);
        runs[runs.len() / 2]
    };
    let mut rows = Vec::new();
    for topics in [1, 100, 1000] {
        let (mut alone, mut pubsub, mut xread) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            alone.push(measure(topics).await);
            let mut tailers = Vec::new();
            for _ in 0..PUBSUB_TAILERS {
                let tailer = instance(url, "tails").await;
                // A client of every topic, so that the instance follows all.
                let streams = futures::future::join_all(
                    (0..topics).map(|t| tailer.subscribe([format!("t{t}")], None)),
                )
                .await;
                tailers.push((tailer, streams));
            }
            pubsub.push(measure(topics).await);
            drop(tailers);
            let stop = Arc::new(AtomicBool::new(false));
            let reader = tokio::spawn(xread_tail(url.to_owned(), topics, stop.clone()));
            // Let the reader block before publishing.
            tokio::time::sleep(Duration::from_millis(100)).await;
            xread.push(measure(topics).await);
            stop.store(true, Ordering::Relaxed);
            let _ = publisher.publish("t0", &Event::new("wake")).await;
            reader.await.unwrap();
        }
        let (alone, pubsub, xread) = (median(alone), median(pubsub), median(xread));
        rows.push((
            format!("Pub/Sub (this tail), {topics} topics"),
            format!(
                "{:+.1} µs per instance (publish alone: {:.1} µs)",
                (pubsub - alone) / PUBSUB_TAILERS as f64 / 1e3,
                alone / 1e3
            ),
        ));
        rows.push((
            format!("XREAD BLOCK over every stream, {topics} topics"),
            format!("{:+.1} µs per instance", (xread - alone) / 1e3),
        ));
    }
    rows
}

/// A stream entry as Redis sends it: its id and its fields.
type StreamEntry = (String, Vec<Vec<u8>>);

/// Tails `topics` streams with `XREAD BLOCK`, as an instance mirroring
/// every topic that way would, until `stop`.
async fn xread_tail(url: String, topics: usize, stop: Arc<AtomicBool>) {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    connection.set_response_timeout(Duration::from_secs(30));
    let keys: Vec<String> = (0..topics)
        .map(|t| format!("bench-tails:{{t{t}}}"))
        .collect();
    let mut ids = vec!["$".to_owned(); topics];
    while !stop.load(Ordering::Relaxed) {
        let mut command = redis::cmd("XREAD");
        command.arg("BLOCK").arg(1000).arg("STREAMS");
        command.arg(&keys).arg(&ids);
        let reply: Option<Vec<(String, Vec<StreamEntry>)>> =
            command.query_async(&mut connection).await.unwrap();
        for (key, entries) in reply.unwrap_or_default() {
            if let (Some(index), Some((id, _))) =
                (keys.iter().position(|k| *k == key), entries.last())
            {
                ids[index] = id.clone();
            }
        }
    }
}
