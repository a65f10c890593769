//! Redis losing a master, through the example servers: a Sentinel master
//! and a cluster master killed with SIGKILL, and a failover that drops
//! events its replica never received; with a live reshard
//! ([`crate::reshard`]), the checks `cargo xtask faults` runs. Two
//! instances of one framework's server, talked to over HTTP only.

use std::time::{Duration, Instant};

use crate::client::{Error, http_client, notify};
use crate::launch::{Running, Target};
use crate::redis_server::sentinel::RedisSentinels;
use crate::redis_server::{RedisCluster, RedisServer, Setup};
use crate::support::{Check, ensure, publish, redis_missing as missing, subscribe};

/// The checks that kill a Redis master: seconds each, run by `cargo xtask
/// faults` in a step of their own.
pub const FAULT_CHECKS: &[Check] = &[
    (
        "Sentinel: the master killed, publishes answer 503 until a replica is promoted, then 200; streams stay open",
        |t| Box::pin(sentinel_failover(t)),
    ),
    (
        "cluster with replicas: a master killed, its topics answer 503 until its replica is promoted, the others never stop; streams stay open",
        |t| Box::pin(cluster_failover(t)),
    ),
    (
        "cluster: a live reshard of busy topics' slots, publishers on both instances: nothing lost or twice, each topic in order",
        |t| Box::pin(crate::reshard::live_reshard(t)),
    ),
    (
        "Sentinel: events a failover drops reset every resume after them, on both instances; their ids are never reused",
        |t| Box::pin(dropped_events(t)),
    ),
];

/// A master with two replicas under three sentinels: after the failover
/// one replica is the master and the other its replica.
struct Sentinelled {
    master: RedisServer,
    replicas: Vec<RedisServer>,
    sentinels: RedisSentinels,
}

impl Sentinelled {
    fn start() -> Result<Self, Error> {
        let test = "Sentinel check";
        let master = RedisServer::start(test).ok_or_else(missing)?;
        let replicas = (0..2)
            .map(|_| {
                RedisServer::start_with(test, Setup::replica_of(master.port())).ok_or_else(missing)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !replicas.iter().all(|replica| {
            replica
                .query("INFO replication")
                .is_some_and(|info| info.contains("master_link_status:up"))
        }) {
            ensure(Instant::now() < deadline, || {
                "the replicas did not synchronise".into()
            })?;
            std::thread::sleep(Duration::from_millis(20));
        }
        let sentinels = RedisSentinels::start(test, &master, "events", 3, 2).ok_or_else(missing)?;
        Ok(Self {
            master,
            replicas,
            sentinels,
        })
    }

    /// The servers' options: the sentinels, the master's name, and an
    /// acknowledgement only once a replica holds an event.
    fn options(&self) -> Vec<String> {
        let mut options: Vec<String> = self
            .sentinels
            .urls()
            .into_iter()
            .flat_map(|url| ["--redis-sentinel".to_owned(), url])
            .collect();
        options
            .extend(["--redis-master", "events", "--redis-wait-replicas", "1"].map(String::from));
        options
    }

    async fn instance(&self, target: &Target) -> Result<Running, Error> {
        let options = self.options();
        let options: Vec<&str> = options.iter().map(String::as_str).collect();
        target.start(&options).await
    }
}

async fn sentinel_failover(target: &Target) -> Result<(), Error> {
    let mut redis = tokio::task::spawn_blocking(Sentinelled::start)
        .await
        .map_err(|e| format!("the Redis start failed: {e}"))??;
    let a = redis.instance(target).await?;
    let b = redis.instance(target).await?;
    let mut on_a = subscribe(&a.base, "?topic=orders", &[]).await?;
    let before = publish(&b.base, "topic=orders", "\"before\"").await?;
    let event = on_a.next_event().await?;
    ensure(event.data() == "\"before\"", || {
        format!("expected before, got {event:?}")
    })?;

    redis.master.stop(); // SIGKILL
    let killed = Instant::now();
    let client = http_client();
    let mut refused = 0;
    let after = loop {
        let (status, body) = notify(&client, &b.base, "topic=orders", "\"after\"").await?;
        match status {
            200 => {
                let value: serde_json::Value =
                    serde_json::from_str(&body).map_err(|e| e.to_string())?;
                break value["id"].as_str().map(str::to_owned).ok_or("no id")?;
            }
            503 => refused += 1,
            other => {
                return Err(format!(
                    "during the failover /notify answered {other} {body}"
                ));
            }
        }
        ensure(killed.elapsed() < Duration::from_secs(20), || {
            format!("no publish succeeded within 20 s of the master's death ({refused} refused)")
        })?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    ensure(
        redis.replicas.iter().any(|replica| {
            replica
                .query("INFO replication")
                .is_some_and(|info| info.contains("role:master"))
        }),
        || "no replica was promoted".into(),
    )?;
    // The stream opened before the failover goes on.
    until(&mut on_a, &after, "\"after\"").await?;
    // The acknowledged event survived: a resume after it is no reset.
    let mut resumed =
        subscribe(&a.base, &format!("?topic=orders&lastEventId={before}"), &[]).await?;
    until(&mut resumed, &after, "\"after\"").await?;
    Ok(())
}

/// A topic of the servers (key prefix `sse`) whose slot node `node` of
/// `cluster` serves, or does not serve.
fn topic_on(cluster: &RedisCluster, node: usize, on_it: bool) -> Result<String, Error> {
    (0..1000)
        .map(|n| format!("t{n}"))
        .find(|topic| (cluster.node_serving(&format!("sse:{{{topic}}}")) == Some(node)) == on_it)
        .ok_or_else(|| {
            format!(
                "no topic found {} node {node}",
                if on_it { "on" } else { "off" }
            )
        })
}

async fn cluster_failover(target: &Target) -> Result<(), Error> {
    let mut cluster = tokio::task::spawn_blocking(|| {
        RedisCluster::start_with_replicas("cluster failover check", 3, 1)
    })
    .await
    .map_err(|e| format!("the cluster start failed: {e}"))?
    .ok_or_else(missing)?;
    // The first node, a master, is also where a tail subscribes first.
    let victim = 0;
    let doomed = topic_on(&cluster, victim, true)?;
    let spared = topic_on(&cluster, victim, false)?;
    let options: Vec<String> = cluster
        .urls()
        .into_iter()
        .flat_map(|url| ["--redis".to_owned(), url])
        .collect();
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let a = target.start(&options).await?;
    let b = target.start(&options).await?;
    let mut on_a = subscribe(&a.base, &format!("?topic={doomed}&topic={spared}"), &[]).await?;
    let before = publish(&b.base, &format!("topic={doomed}"), "\"before\"").await?;
    let event = on_a.next_event().await?;
    ensure(event.data() == "\"before\"", || {
        format!("expected before, got {event:?}")
    })?;
    ensure(cluster.replicated(victim, Duration::from_secs(5)), || {
        "the replica did not catch up with its master".into()
    })?;

    cluster.nodes_mut()[victim].stop(); // SIGKILL
    let killed = Instant::now();
    let client = http_client();
    let (mut refused, mut spared_published) = (0, 0);
    let after = loop {
        let (status, body) =
            notify(&client, &b.base, &format!("topic={spared}"), "\"spared\"").await?;
        ensure(status == 200, || {
            format!("a topic of another master answered {status} {body} during the failover")
        })?;
        spared_published += 1;
        let (status, body) =
            notify(&client, &b.base, &format!("topic={doomed}"), "\"after\"").await?;
        match status {
            200 => {
                let value: serde_json::Value =
                    serde_json::from_str(&body).map_err(|e| e.to_string())?;
                break value["id"].as_str().map(str::to_owned).ok_or("no id")?;
            }
            503 => refused += 1,
            other => {
                return Err(format!(
                    "during the failover /notify answered {other} {body}"
                ));
            }
        }
        ensure(killed.elapsed() < Duration::from_secs(20), || {
            format!("no publish succeeded within 20 s of the master's death ({refused} refused)")
        })?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The open stream goes on: every event of the other topic once, then
    // the lost master's topic again.
    // (Its topics interleave in no promised order.)
    let (mut spared_seen, mut after_seen) = (0, false);
    while spared_seen < spared_published || !after_seen {
        let event = on_a.next_event().await?;
        match event.data() {
            "\"spared\"" => spared_seen += 1,
            "\"after\"" => after_seen = true,
            other => return Err(format!("unexpected {other} on the open stream")),
        }
    }
    ensure(spared_seen == spared_published, || {
        format!(
            "the open stream got {spared_seen} of the {spared_published} events of the other topic"
        )
    })?;
    let mut resumed = subscribe(
        &a.base,
        &format!("?topic={doomed}&lastEventId={before}"),
        &[],
    )
    .await?;
    until(&mut resumed, &after, "\"after\"").await?;
    Ok(())
}

/// Sends `signal` (`STOP`, `CONT`) to `server`'s process.
fn signal(server: &RedisServer, signal: &str) -> Result<(), Error> {
    let pid = server.pid().ok_or("the server is not running")?;
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .map_err(|e| e.to_string())?;
    ensure(status.success(), || format!("kill -{signal} {pid} failed"))
}

/// `<ms>-<seq>` as a pair, to compare ids as Redis orders them.
fn redis_order(id: &str) -> Result<(u64, u64), Error> {
    let parse = || {
        let (ms, seq) = id.split_once('-')?;
        Some((ms.parse().ok()?, seq.parse().ok()?))
    };
    parse().ok_or_else(|| format!("{id:?} is not a Redis id"))
}

async fn dropped_events(target: &Target) -> Result<(), Error> {
    let test = "dropped events check";
    let (mut master, replica, sentinels) = tokio::task::spawn_blocking(move || {
        let master = RedisServer::start(test).ok_or_else(missing)?;
        let replica =
            RedisServer::start_with(test, Setup::replica_of(master.port())).ok_or_else(missing)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !replica
            .query("INFO replication")
            .is_some_and(|info| info.contains("master_link_status:up"))
        {
            ensure(Instant::now() < deadline, || {
                "the replica did not synchronise".into()
            })?;
            std::thread::sleep(Duration::from_millis(20));
        }
        let sentinels = RedisSentinels::start(test, &master, "events", 3, 1).ok_or_else(missing)?;
        Ok::<_, Error>((master, replica, sentinels))
    })
    .await
    .map_err(|e| e.to_string())??;
    let mut options: Vec<String> = sentinels
        .urls()
        .into_iter()
        .flat_map(|url| ["--redis-sentinel".to_owned(), url])
        .collect();
    options.extend(["--redis-master".into(), "events".into()]);
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let a = target.start(&options).await?;
    let mut live = subscribe(&a.base, "?topic=orders", &[]).await?;
    let mut ids = Vec::new();
    for n in 1..=3 {
        ids.push(publish(&a.base, "topic=orders", &format!("\"e{n}\"")).await?);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while replica
        .query("XLEN sse:{orders}")
        .is_none_or(|len| len != "3")
    {
        ensure(Instant::now() < deadline, || {
            "the replica did not get e1..e3".into()
        })?;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The replica stops and its master cuts it off: e4 and e5 reach the
    // master and the live stream, never the replica.
    signal(&replica, "STOP")?;
    ensure(
        master.query("CLIENT KILL TYPE replica").as_deref() == Some("1"),
        || "the master had no replica to cut off".into(),
    )?;
    for n in 4..=5 {
        ids.push(publish(&a.base, "topic=orders", &format!("\"e{n}\"")).await?);
    }
    for n in 1..=5 {
        let event = live.next_event().await?;
        ensure(event.data() == format!("\"e{n}\""), || {
            format!("expected e{n}, got {event:?}")
        })?;
    }
    master.stop(); // SIGKILL: e4 and e5 die with it
    signal(&replica, "CONT")?;
    let client = http_client();
    let killed = Instant::now();
    let e6 = loop {
        let (status, body) = notify(&client, &a.base, "topic=orders", "\"e6\"").await?;
        if status == 200 {
            let value: serde_json::Value =
                serde_json::from_str(&body).map_err(|e| e.to_string())?;
            break value["id"].as_str().map(str::to_owned).ok_or("no id")?;
        }
        ensure(killed.elapsed() < Duration::from_secs(20), || {
            format!("no publish succeeded within 20 s of the master's death: {status} {body}")
        })?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    ensure(redis_order(&e6)? > redis_order(&ids[4])?, || {
        format!("e6 took {e6}, not after the dropped e5 {}", ids[4])
    })?;
    until(&mut live, &e6, "\"e6\"").await?;

    let b = target.start(&options).await?;
    for (name, base) in [
        ("the instance that saw them", &a.base),
        ("the other", &b.base),
    ] {
        for dropped in &ids[3..] {
            let mut resumed = crate::client::open(
                &client,
                base,
                &format!("/events?topic=orders&lastEventId={dropped}"),
                &[],
            )
            .await?;
            let mut names = Vec::new();
            loop {
                let event = resumed.next_event().await?;
                names.push(event.event().to_owned());
                if event.last_event_id() == e6 {
                    break;
                }
            }
            ensure(names.iter().any(|name| name == "reset"), || {
                format!("{name}: a resume after the dropped {dropped} gave {names:?}, no reset")
            })?;
        }
    }
    Ok(())
}

/// Reads `stream` up to the event `id`: every event on the way must carry
/// `data` (a publish answered 503 during a failover may still have been
/// stored, and delivered), and none may be a `reset`.
async fn until(stream: &mut crate::client::EventStream, id: &str, data: &str) -> Result<(), Error> {
    loop {
        let event = stream.next_event().await?;
        ensure(event.event() != "reset" && event.data() == data, || {
            format!("expected {data} up to {id}, got {event:?}")
        })?;
        if event.last_event_id() == id {
            return Ok(());
        }
    }
}
