//! Redis losing its master, against real processes: a master with two
//! replicas under three Sentinels, killed with SIGKILL while a hub serves
//! a stream; and publishes that wait for a replica (`wait_replicas`). The
//! failover takes seconds (it cannot be hurried past Sentinel's own
//! timeouts), so a plain `cargo test` leaves it out: `cargo xtask faults`
//! runs it, and CI runs that in a step of its own.

#[path = "../../conformance/src/redis_server/mod.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;

use std::time::{Duration, Instant};

use futures::StreamExt;
use sse_hub::decode::{Decoded, Decoder};
use sse_hub::hub::{Body, EventStream, Hub, HubConfig, RedisConfig, Response};
use sse_hub::{Event, PublishError};

use redis_server::sentinel::{DOWN_AFTER as SENTINEL_DOWN_AFTER, RedisSentinels};
use redis_server::{RedisCluster, RedisServer, Setup};

/// Bounds every wait; a failover on loopback takes a few seconds.
const WAIT: Duration = Duration::from_secs(60);

/// A stream as a client reads it: events as (id, data), past `connected`.
struct Client {
    stream: EventStream,
    decoder: Decoder,
    reset: bool,
}

impl Client {
    fn new(response: Response) -> Self {
        assert_eq!(response.status, 200, "a stream");
        let Body::Stream(stream) = response.body else {
            panic!("not a stream")
        };
        Self {
            stream,
            decoder: Decoder::new(),
            reset: false,
        }
    }

    /// Reads up to the event `id`: every event on the way carries `data`
    /// (a publish refused during a failover may still have been stored,
    /// and delivered).
    async fn until(&mut self, id: &str, data: &str) {
        loop {
            let (event_id, event_data) = self.next().await;
            assert_eq!(event_data, data, "on the way to {id}");
            if event_id == id {
                return;
            }
        }
    }

    /// The next event that is not `connected` or `reset`, as (id, data).
    async fn next(&mut self) -> (String, String) {
        loop {
            while let Some(item) = self.decoder.next_item() {
                let Ok(Decoded::Event(event)) = item else {
                    continue;
                };
                match event.event() {
                    "connected" => {}
                    "reset" => self.reset = true,
                    _ => return (event.last_event_id().to_owned(), event.data().to_owned()),
                }
            }
            let chunk = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("an event within the bound")
                .expect("the stream stays open")
                .expect("no stream error");
            self.decoder.feed(&chunk);
        }
    }
}

/// Waits until `replica` has synchronised with its master.
fn in_sync(replica: &RedisServer) {
    let deadline = Instant::now() + WAIT;
    while !replica
        .query("INFO replication")
        .is_some_and(|info| info.contains("master_link_status:up"))
    {
        assert!(Instant::now() < deadline, "the replica did not synchronise");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn hub_config(redis: RedisConfig) -> HubConfig {
    HubConfig {
        redis: Some(redis),
        heartbeat: Duration::from_secs(3600),
        ..HubConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "kills a Redis master, seconds: cargo xtask faults"]
async fn a_sentinel_failover_keeps_the_hub_serving_without_a_restart() {
    let test = "sentinel_failover";
    let Some(mut master) = RedisServer::start(test) else {
        return;
    };
    // Two replicas: after the failover, one of them is the master and the
    // other its replica, so publishes that wait for one can succeed.
    let replicas: Vec<RedisServer> = (0..2)
        .filter_map(|_| RedisServer::start_with(test, Setup::replica_of(master.port())))
        .collect();
    if replicas.len() < 2 {
        return;
    }
    replicas.iter().for_each(in_sync);
    let Some(sentinels) = RedisSentinels::start(test, &master, "events", 3, 2) else {
        return;
    };
    let mut redis = RedisConfig::sentinel(sentinels.urls(), "events");
    redis.timeout = Duration::from_secs(1);
    // What was acknowledged before the failover is on the replica.
    redis.wait_replicas = 1;
    let hub = Hub::connect(hub_config(redis), WAIT)
        .await
        .expect("the sentinels name the master");
    let mut live = Client::new(hub.subscribe(["orders"], None).await);
    let before = hub
        .publish("orders", &Event::new("before"))
        .await
        .expect("a publish to the master");
    assert_eq!(live.next().await.1, "before");

    master.stop(); // SIGKILL: no goodbye to anyone
    let killed = Instant::now();
    let mut refused = 0;
    let after = loop {
        match hub.publish("orders", &Event::new("after")).await {
            Ok(published) => break published,
            Err(PublishError::Redis(_)) => refused += 1,
            Err(err) => panic!("not an outage: {err}"),
        }
        assert!(
            killed.elapsed() < WAIT,
            "no publish succeeded after the failover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let gap = killed.elapsed();
    println!(
        "Sentinel failover: {refused} publishes refused (503) over {gap:.2?}; \
         down-after-milliseconds {SENTINEL_DOWN_AFTER:?}"
    );
    assert!(
        replicas.iter().any(|replica| replica
            .query("INFO replication")
            .is_some_and(|info| info.contains("role:master"))),
        "a replica was promoted"
    );

    // The stream opened before the failover goes on, with the new event.
    live.until(&after.id.to_string(), "after").await;
    assert!(!live.reset);
    // A client that saw "before" resumes, on the new master's data, with
    // exactly what it missed.
    let mut resumed = Client::new(
        hub.subscribe(["orders"], Some(&before.id.to_string()))
            .await,
    );
    resumed.until(&after.id.to_string(), "after").await;
    assert!(
        !resumed.reset,
        "the acknowledged event survived the failover"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_that_waits_for_replicas_succeeds_only_once_they_hold_it() {
    let test = "wait_replicas";
    let Some(master) = RedisServer::start(test) else {
        return;
    };
    let Some(replica) = RedisServer::start_with(test, Setup::replica_of(master.port())) else {
        return;
    };
    in_sync(&replica);
    let open = |wait_replicas: usize| {
        let mut redis = RedisConfig::new(master.url());
        redis.key_prefix = test.into();
        redis.timeout = Duration::from_millis(500);
        redis.wait_replicas = wait_replicas;
        Hub::connect(hub_config(redis), WAIT)
    };
    let one = open(1).await.expect("a master");
    let published = one
        .publish("news", &Event::new("held by a replica"))
        .await
        .expect("one replica holds it");
    let held = replica
        .query(&format!("XLEN {test}:{{news}}"))
        .expect("the replica answers");
    assert_eq!(held, "1", "the replica had it when the publish answered");

    // More replicas than there are: stored, but never acknowledged.
    let two = open(2).await.expect("a master");
    let err = two
        .publish("news", &Event::new("not enough replicas"))
        .await
        .expect_err("only one replica exists");
    assert!(err.to_string().contains("1 of the 2 replicas"), "{err}");
    assert!(!published.id.to_string().is_empty());
    let stored = master
        .query(&format!("XLEN {test}:{{news}}"))
        .expect("the master answers");
    assert_eq!(
        stored, "2",
        "the unacknowledged event was stored all the same"
    );
}

/// A topic whose key (`sse:{topic}`) the cluster's node `node` serves, or
/// does not serve.
fn topic_on(cluster: &RedisCluster, node: usize, on_it: bool) -> String {
    (0..)
        .map(|n| format!("topic-{n}"))
        .find(|topic| (cluster.node_serving(&format!("sse:{{{topic}}}")) == Some(node)) == on_it)
        .expect("some topic")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "kills a Redis Cluster master, seconds: cargo xtask faults"]
async fn a_cluster_master_killed_is_replaced_by_its_replica_without_a_restart() {
    let test = "cluster_failover";
    let Some(mut cluster) = RedisCluster::start_with_replicas(test, 3, 1) else {
        return;
    };
    // The first node: a master, and the one the tail subscribes through
    // first, so that the tail loses its own connection too.
    let victim = 0;
    let doomed = topic_on(&cluster, victim, true);
    let spared = topic_on(&cluster, victim, false);
    let mut redis = RedisConfig::new(cluster.urls().join(","));
    redis.timeout = Duration::from_secs(1);
    let hub = Hub::connect(hub_config(redis.clone()), WAIT)
        .await
        .expect("the cluster");
    let mut live = Client::new(
        hub.subscribe([doomed.as_str(), spared.as_str()], None)
            .await,
    );
    // Published through another instance that waits for the replica: it
    // survives the failover. (Once its replica is promoted, the lost
    // master's slots have no replica left to wait for.)
    redis.wait_replicas = 1;
    let durable = Hub::connect(hub_config(redis), WAIT)
        .await
        .expect("the cluster");
    let before = durable
        .publish(&doomed, &Event::new("before"))
        .await
        .expect("a publish to the doomed master");
    drop(durable);
    assert_eq!(live.next().await.1, "before");

    cluster.nodes_mut()[victim].stop(); // SIGKILL
    let killed = Instant::now();
    let (mut refused, mut spared_refused, mut spared_published) = (0, 0, 0);
    let after = loop {
        match hub.publish(&spared, &Event::new("spared")).await {
            Ok(_) => spared_published += 1,
            Err(_) => spared_refused += 1,
        }
        match hub.publish(&doomed, &Event::new("after")).await {
            Ok(published) => break published,
            Err(PublishError::Redis(_)) => refused += 1,
            Err(err) => panic!("not an outage: {err}"),
        }
        assert!(
            killed.elapsed() < WAIT,
            "no publish succeeded after the failover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let gap = killed.elapsed();
    println!(
        "Cluster failover: {refused} publishes to the lost master's topic refused (503) over \
         {gap:.2?}; the other master's topic: {spared_published} published, {spared_refused} refused"
    );
    assert_eq!(spared_refused, 0, "a topic of another master stopped");
    // Its topics interleave in no promised order.
    let mut seen: Vec<(String, String)> = Vec::new();
    while seen.iter().filter(|(_, data)| data == "spared").count() < spared_published
        || !seen.iter().any(|(_, data)| data == "after")
    {
        seen.push(live.next().await);
    }
    assert_eq!(
        seen.iter().filter(|(_, data)| data == "spared").count(),
        spared_published,
        "the open stream got every event of the other topic once: {seen:?}"
    );
    assert!(!live.reset);
    let mut resumed = Client::new(
        hub.subscribe([doomed.as_str()], Some(&before.id.to_string()))
            .await,
    );
    resumed.until(&after.id.to_string(), "after").await;
    assert!(
        !resumed.reset,
        "the acknowledged event survived the failover"
    );
}

/// Events published per topic during the reshard.
const RESHARD_EVENTS: usize = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "moves Redis Cluster slots while publishing, seconds: cargo xtask faults"]
async fn a_live_reshard_loses_nothing_and_keeps_each_topics_order() {
    let test = "live_reshard";
    let Some(cluster) = RedisCluster::start(test, 3) else {
        return;
    };
    // Four busy topics of the first master, each in a slot of its own.
    let mut topics: Vec<String> = Vec::new();
    let mut slots = Vec::new();
    for n in 0.. {
        let topic = format!("busy-{n}");
        let key = format!("sse:{{{topic}}}");
        let slot = cluster.slot_of(&key).expect("a slot");
        if cluster.node_serving(&key) == Some(0) && !slots.contains(&slot) {
            topics.push(topic);
            slots.push(slot);
        }
        if topics.len() == 4 {
            break;
        }
    }
    let redis = RedisConfig::new(cluster.urls().join(","));
    let a = Hub::connect(hub_config(redis.clone()), WAIT)
        .await
        .expect("the cluster");
    let b = Hub::connect(hub_config(redis), WAIT)
        .await
        .expect("the cluster");
    // Each stream read as it comes, as a browser would, until the end
    // marker of every topic.
    let reader = |mut client: Client, markers: usize| {
        tokio::spawn(async move {
            let mut seen: Vec<String> = Vec::new();
            while seen.iter().filter(|data| data.ends_with("/end")).count() < markers {
                seen.push(client.next().await.1);
            }
            (seen, client.reset)
        })
    };
    let on_a = reader(Client::new(a.subscribe(&topics, None).await), topics.len());
    let on_b = reader(Client::new(b.subscribe(&topics, None).await), topics.len());

    // Publishers on both instances, two topics each, from before the
    // slots start moving until after the last has moved.
    let moving = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let started = std::sync::Arc::new(tokio::sync::Notify::new());
    let publisher = |hub: Hub, topics: Vec<String>| {
        let (moving, started) = (moving.clone(), started.clone());
        tokio::spawn(async move {
            let (mut acked, mut refused) = (Vec::new(), Vec::new());
            for n in 0.. {
                if n == RESHARD_EVENTS / 10 {
                    started.notify_one();
                }
                if n >= RESHARD_EVENTS && !moving.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                for topic in &topics {
                    let data = format!("{topic}/{n}");
                    match hub.publish(topic, &Event::new(data.clone())).await {
                        Ok(_) => acked.push(data),
                        Err(PublishError::Redis(_)) => refused.push(data),
                        Err(err) => panic!("not an outage: {err}"),
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (acked, refused)
        })
    };
    let from_a = publisher(a.clone(), topics[..2].to_vec());
    let from_b = publisher(b.clone(), topics[2..].to_vec());
    started.notified().await;
    let asked_before = cluster.nodes()[1].command_calls("asking");
    let done = moving.clone();
    let moved = tokio::task::spawn_blocking(move || {
        for &slot in &slots {
            cluster
                .move_slot(slot, 0, 1, 10, Duration::from_millis(100))
                .expect("the slot moves");
        }
        done.store(false, std::sync::atomic::Ordering::SeqCst);
        cluster
    });
    let (acked_a, refused_a) = from_a.await.expect("a publisher");
    let (acked_b, refused_b) = from_b.await.expect("a publisher");
    let cluster = moved.await.expect("the slots moved");
    for topic in &topics {
        assert_eq!(
            cluster.node_serving(&format!("sse:{{{topic}}}")),
            Some(1),
            "{topic} moved"
        );
    }
    let asked = cluster.nodes()[1].command_calls("asking") - asked_before;
    assert!(
        asked > 0,
        "no publish or read was sent to the importing master with ASK"
    );
    let acked: Vec<String> = acked_a.into_iter().chain(acked_b).collect();
    let refused: Vec<String> = refused_a.into_iter().chain(refused_b).collect();
    println!(
        "Live reshard of 4 slots: {} publishes answered 200, {} answered 503; {asked} ASK redirections followed",
        acked.len(),
        refused.len()
    );

    // A publish after the move, on every topic, marks the end of each
    // stream's reading.
    for topic in &topics {
        a.publish(topic, &Event::new(format!("{topic}/end")))
            .await
            .expect("a publish after the move");
    }
    for (name, reader) in [("A", on_a), ("B", on_b)] {
        let (seen, reset) = reader.await.expect("a reader");
        for data in &acked {
            assert_eq!(
                seen.iter().filter(|d| *d == data).count(),
                1,
                "{data}, answered 200, reached {name} once"
            );
        }
        for data in &refused {
            assert!(
                seen.iter().filter(|d| *d == data).count() <= 1,
                "{data} twice on {name}"
            );
        }
        for topic in &topics {
            let order: Vec<usize> = seen
                .iter()
                .filter_map(|data| data.strip_prefix(&format!("{topic}/"))?.parse().ok())
                .collect();
            assert!(
                order.windows(2).all(|pair| pair[0] < pair[1]),
                "{topic} out of order on {name}: {order:?}"
            );
        }
        assert!(!reset, "no reset on {name}");
    }
}

/// Sends `signal` (`STOP`, `CONT`) to `server`'s process.
fn signal(server: &RedisServer, signal: &str) {
    let pid = server.pid().expect("a running server");
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Whether `id` comes after `other` in Redis's order of ids.
fn after(id: &str, other: &str) -> bool {
    let order = |id: &str| -> (u64, u64) {
        let (ms, seq) = id.split_once('-').expect("a Redis id");
        (ms.parse().expect("ms"), seq.parse().expect("seq"))
    };
    order(id) > order(other)
}

/// Subscribes to `topic` after `id`, reads until `newest` (or a reset
/// and then `newest`): (whether it was a reset, the data of the events
/// replayed, oldest first).
async fn resume(hub: &Hub, topic: &str, id: &str, newest: &str) -> (bool, Vec<String>) {
    let mut client = Client::new(hub.subscribe([topic], Some(id)).await);
    let mut seen = Vec::new();
    loop {
        let (event_id, data) = client.next().await;
        seen.push(data);
        if event_id == newest {
            return (client.reset, seen);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "kills a Redis master whose replica is stopped, seconds: cargo xtask faults"]
async fn events_a_failover_drops_reset_every_client_that_saw_them() {
    let test = "dropped_events";
    let Some(mut master) = RedisServer::start(test) else {
        return;
    };
    let Some(replica) = RedisServer::start_with(test, Setup::replica_of(master.port())) else {
        return;
    };
    in_sync(&replica);
    let Some(sentinels) = RedisSentinels::start(test, &master, "events", 3, 1) else {
        return;
    };
    let mut redis = RedisConfig::sentinel(sentinels.urls(), "events");
    redis.timeout = Duration::from_secs(1);
    let a = Hub::connect(hub_config(redis.clone()), WAIT)
        .await
        .expect("the master");
    let mut live = Client::new(a.subscribe(["orders"], None).await);
    let mut ids = Vec::new();
    for n in 1..=3 {
        ids.push(
            a.publish("orders", &Event::new(format!("e{n}")))
                .await
                .expect("a publish")
                .id
                .to_string(),
        );
    }
    // The replica holds e1..e3, then stops: e4 and e5 reach the master
    // and every client of `a`, never the replica.
    let synced = Instant::now() + WAIT;
    while replica
        .query("XLEN sse:{orders}")
        .is_none_or(|len| len != "3")
    {
        assert!(Instant::now() < synced, "the replica did not get e1..e3");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Stopped, and cut off by its master (whatever was on its way in the
    // socket goes with the connection): it cannot fetch them back.
    signal(&replica, "STOP");
    assert_eq!(
        master.query("CLIENT KILL TYPE replica").as_deref(),
        Some("1")
    );
    for n in 4..=5 {
        ids.push(
            a.publish("orders", &Event::new(format!("e{n}")))
                .await
                .expect("a publish")
                .id
                .to_string(),
        );
    }
    for n in 1..=5 {
        assert_eq!(live.next().await.1, format!("e{n}"));
    }
    master.stop(); // SIGKILL: e4 and e5 die with it
    signal(&replica, "CONT");

    let killed = Instant::now();
    let e6 = loop {
        if let Ok(published) = a.publish("orders", &Event::new("e6")).await {
            break published.id.to_string();
        }
        assert!(
            killed.elapsed() < WAIT,
            "no publish succeeded after the failover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // No dropped event's id is ever taken again.
    assert!(
        after(&e6, &ids[4]),
        "e6 took {e6}, not after the dropped e5 {}",
        ids[4]
    );
    // The live stream goes on, with e6.
    live.until(&e6, "e6").await;

    // On the instance that delivered them, and on one that never held
    // them: a resume after a dropped event resets; one after a kept event
    // never skips silently (a reset, or exactly what followed).
    let b = Hub::connect(hub_config(redis), WAIT)
        .await
        .expect("the new master");
    for (name, hub) in [("the instance that saw them", &a), ("another instance", &b)] {
        for dropped in &ids[3..] {
            let (reset, replayed) = resume(hub, "orders", dropped, &e6).await;
            assert!(
                reset,
                "{name}: a resume after the dropped {dropped} is no reset: {replayed:?}"
            );
        }
        let (reset, replayed) = resume(hub, "orders", &ids[1], &e6).await;
        assert!(
            reset
                || (replayed.first().map(String::as_str) == Some("e3")
                    && replayed[1..].iter().all(|d| d == "e6")),
            "{name}: a resume after e2 replayed {replayed:?} without a reset"
        );
    }
}
