//! How multi-instance mode scales out, on private Redis processes:
//!
//! - the tail's CPU on an instance whose clients follow half of 10,000
//!   per-user topics, against one whose clients follow all of them (what
//!   every instance did before instances followed only their clients'
//!   topics), in the same run, while a third instance publishes to all;
//! - what a channel message costs a 3-master Redis Cluster, summed over
//!   its masters: `PUBLISH` (the cluster bus copies it to every node)
//!   against `SPUBLISH` (it stays in its shard).
//!
//! `cargo xtask bench` runs it (`cargo bench -p sse-hub --features redis
//! --bench redis_scale`) and prints Markdown tables.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

#[path = "../../conformance/src/redis_server/mod.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use redis_server::{RedisCluster, RedisServer};
use sse_hub::Event;
use sse_hub::broker::BrokerConfig;
use sse_hub::redis::{RedisBroker, RedisOptions};

/// Per-user topics, one client each on the instances that follow them.
const TOPICS: usize = 10_000;
/// Events published to them, round-robin, while the tails' CPU is measured.
const EVENTS: usize = 40_000;
/// Concurrent publishers.
const PUBLISHERS: usize = 64;
/// Messages per command while the channels' cost is measured.
const MESSAGES: usize = 20_000;

fn config() -> BrokerConfig {
    BrokerConfig {
        max_clients: 20_000,
        ..BrokerConfig::default()
    }
}

async fn instance(url: &str) -> RedisBroker {
    let mut options = RedisOptions::default();
    options.prefix = "bench-scale".into();
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

fn main() {
    let Some(server) = RedisServer::start("the scale-out benchmark") else {
        return;
    };
    println!("\n## Scale-out (Redis)\n");
    let (half, all) = tails(&server.url());
    println!(
        "| instance | topics it holds (`sse_topics`) | tail CPU per event published to any topic | × following all |"
    );
    println!("|---|---|---|---|");
    for (name, tail) in [
        ("clients follow half the topics", &half),
        ("clients follow every topic", &all),
    ] {
        println!(
            "| {name} | {} | {:.2} µs | {:.2}× |",
            tail.topics,
            tail.cpu_ns / EVENTS as f64 / 1e3,
            tail.cpu_ns / all.cpu_ns
        );
    }
    drop(server);
    if let Some(cluster) = RedisCluster::start("the scale-out benchmark's cluster", 3) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let costs = runtime.block_on(channel_costs(&cluster));
        println!("\n| command, 3-master cluster | Redis CPU per message, all masters |");
        println!("|---|---|");
        for (command, ns) in costs {
            println!("| `{command}` | {:.2} µs |", ns / 1e3);
        }
    }
}

/// What one instance's thread spent while [`EVENTS`] were published.
struct Tail {
    cpu_ns: f64,
    topics: String,
}

/// The tails of two instances, each on a thread of its own: one whose
/// clients follow the even topics, one whose clients follow all.
fn tails(url: &str) -> (Tail, Tail) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let go = Arc::new(tokio::sync::Notify::new());
    let delivered = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = [2, 1]
        .into_iter()
        .map(|step| {
            let (url, ready_tx, go) = (url.to_owned(), ready_tx.clone(), go.clone());
            let delivered = delivered.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(follow(url, step, ready_tx, go, delivered))
            })
        })
        .collect();
    for _ in 0..threads.len() {
        ready_rx.recv().unwrap();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let publisher = instance(url).await;
        go.notify_waiters();
        let next = Arc::new(AtomicU64::new(0));
        let tasks = (0..PUBLISHERS).map(|_| {
            let (publisher, next) = (publisher.clone(), next.clone());
            async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if n >= EVENTS {
                        return;
                    }
                    let topic = format!("user-{}", n % TOPICS);
                    publisher.publish(&topic, &Event::new("x")).await.unwrap();
                }
            }
        });
        futures::future::join_all(tasks).await;
    });
    let mut results = threads.into_iter().map(|thread| thread.join().unwrap());
    let half = results.next().unwrap();
    let all = results.next().unwrap();
    assert_eq!(
        delivered.load(Ordering::Relaxed) as usize,
        EVENTS / 2 + EVENTS,
        "every event reached every client"
    );
    (half, all)
}

/// An instance whose clients follow every `step`th topic, one client
/// each; once `go`, the CPU its thread spends until they received every
/// event of their topics.
async fn follow(
    url: String,
    step: usize,
    ready: std::sync::mpsc::Sender<()>,
    go: Arc<tokio::sync::Notify>,
    delivered: Arc<AtomicU64>,
) -> Tail {
    let redis = instance(&url).await;
    let streams = futures::future::join_all(
        (0..TOPICS)
            .step_by(step)
            .map(|t| redis.subscribe([format!("user-{t}")], None)),
    )
    .await;
    let expected = EVENTS / step;
    let received = Arc::new(AtomicU64::new(0));
    let done = Arc::new(tokio::sync::Notify::new());
    for stream in streams {
        let mut stream = stream.unwrap();
        let (received, done, delivered) = (received.clone(), done.clone(), delivered.clone());
        tokio::spawn(async move {
            while let Some(chunk) = stream.next().await {
                let events = chunk.windows(4).filter(|w| w == b"id: ").count() as u64;
                delivered.fetch_add(events, Ordering::Relaxed);
                if received.fetch_add(events, Ordering::Relaxed) + events >= expected as u64 {
                    done.notify_one();
                }
            }
        });
    }
    let started = go.notified();
    tokio::pin!(started);
    started.as_mut().enable();
    ready.send(()).unwrap();
    started.await;
    let before = cpu_ns("/proc/thread-self/schedstat");
    tokio::time::timeout(Duration::from_secs(120), async {
        while (received.load(Ordering::Relaxed) as usize) < expected {
            done.notified().await;
        }
    })
    .await
    .expect("every event arrives");
    let cpu_ns = (cpu_ns("/proc/thread-self/schedstat") - before) as f64;
    let metrics = redis.render_metrics();
    let topics = metrics
        .lines()
        .find_map(|line| line.strip_prefix("sse_topics "))
        .unwrap_or("?")
        .to_owned();
    Tail { cpu_ns, topics }
}

/// Redis CPU per message, summed over the cluster's masters, for
/// `PUBLISH` and `SPUBLISH` to channels spread over the slots, with no
/// subscriber: what the message costs the cluster before any delivery.
async fn channel_costs(cluster: &RedisCluster) -> Vec<(&'static str, f64)> {
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let mut connection = client.get_async_connection().await.unwrap();
    let pids: Vec<u32> = cluster
        .nodes()
        .iter()
        .filter_map(RedisServer::pid)
        .collect();
    let cpu = || -> u64 {
        pids.iter()
            .map(|pid| cpu_ns(&format!("/proc/{pid}/schedstat")))
            .sum()
    };
    let mut costs = Vec::new();
    for command in ["PUBLISH", "SPUBLISH"] {
        let before = cpu();
        let sends = (0..MESSAGES).map(|n| {
            let mut connection = connection.clone();
            async move {
                let _: i64 = redis::cmd(command)
                    .arg(format!("bench:{{user-{}}}", n % TOPICS))
                    .arg("id: 1-0\ndata: x\n\n")
                    .query_async(&mut connection)
                    .await
                    .unwrap();
            }
        });
        futures::stream::iter(sends)
            .buffer_unordered(64)
            .collect::<Vec<()>>()
            .await;
        costs.push((command, (cpu() - before) as f64 / MESSAGES as f64));
    }
    let _: () = redis::cmd("PING")
        .query_async(&mut connection)
        .await
        .unwrap();
    costs
}
