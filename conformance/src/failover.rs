//! Redis as production runs it, through the example servers: over TLS as
//! the README's least-privileged ACL user, and behind Sentinel while the
//! master is killed. Two instances of one framework's server, talked to
//! over HTTP only.

use std::time::{Duration, Instant};

use crate::client::{Error, http_client, notify};
use crate::launch::{Running, Target};
use crate::redis_server::{RedisCluster, RedisSentinels, RedisServer, Setup, TestCertificates};
use crate::support::{Check, ensure, publish, subscribe};

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
        |t| Box::pin(live_reshard(t)),
    ),
];

/// The password of the checks' ACL user.
const PASSWORD: &str = "conformance-s3cret";

fn missing() -> Error {
    "redis-server is not installed (apt-get install redis-server)".into()
}

/// Two instances on a Redis that takes only TLS with client
/// certificates, as an ACL user with the README's rights: delivery and a
/// resume on the other instance (one of the multi-instance checks).
pub(crate) async fn tls_acl(target: &Target) -> Result<(), Error> {
    let certificates = TestCertificates::new("conformance-tls");
    let server = RedisServer::start_with(
        "TLS check",
        Setup {
            tls: Some(certificates.server(true)),
            // The servers' key prefix is the default, `sse`.
            args: Setup::readme_acl_user("sse", "sse-app", PASSWORD),
            ..Setup::default()
        },
    )
    .ok_or_else(missing)?;
    let url = server.tls_url(&format!("sse-app:{PASSWORD}@"));
    let files = [
        ("--redis-ca", &certificates.ca),
        ("--redis-cert", &certificates.client_cert),
        ("--redis-key", &certificates.client_key),
    ]
    .map(|(flag, path)| (flag, path.display().to_string()));
    let mut options = vec!["--redis", url.as_str()];
    for (flag, path) in &files {
        options.extend([*flag, path.as_str()]);
    }
    let a = target.start(&options).await?;
    let b = target.start(&options).await?;
    let mut on_a = subscribe(&a.base, "?topic=secure", &[]).await?;
    let first = publish(&b.base, "topic=secure", "\"one\"").await?;
    let second = publish(&b.base, "topic=secure", "\"two\"").await?;
    for (id, data) in [(&first, "\"one\""), (&second, "\"two\"")] {
        let event = on_a.next_event().await?;
        ensure(event.last_event_id() == id && event.data() == data, || {
            format!("expected {data} as {id} on the other instance, got {event:?}")
        })?;
    }
    let mut resumed =
        subscribe(&b.base, &format!("?topic=secure&lastEventId={first}"), &[]).await?;
    let event = resumed.next_event().await?;
    ensure(event.last_event_id() == second, || {
        format!("a resume after {first} on the other instance gave {event:?}")
    })?;
    Ok(())
}

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
    let event = on_a.next_event().await?;
    ensure(
        event.last_event_id() == after && event.data() == "\"after\"",
        || format!("the open stream got {event:?} after the failover, not {after}"),
    )?;
    // The acknowledged event survived: a resume after it is no reset.
    let mut resumed =
        subscribe(&a.base, &format!("?topic=orders&lastEventId={before}"), &[]).await?;
    let event = resumed.next_event().await?;
    ensure(
        event.event() != "reset" && event.last_event_id() == after,
        || format!("a resume after {before} gave {event:?}, not {after}"),
    )?;
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
    let mut spared_seen = 0;
    loop {
        let event = on_a.next_event().await?;
        match event.data() {
            "\"spared\"" => spared_seen += 1,
            "\"after\"" => break,
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
    let event = resumed.next_event().await?;
    ensure(
        event.event() != "reset" && event.last_event_id() == after,
        || format!("a resume after {before} gave {event:?}, not {after}"),
    )?;
    Ok(())
}

/// Publishes `topic/0`, `topic/1`, … to each of `topics` through `base`,
/// round after round, until `moving` is false and `rounds` are done: the
/// data answered 200, and those answered 503.
async fn publish_rounds(
    base: String,
    topics: Vec<String>,
    rounds: usize,
    moving: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Result<(Vec<String>, Vec<String>), Error> {
    let client = http_client();
    let (mut acked, mut refused) = (Vec::new(), Vec::new());
    for n in 0.. {
        if n >= rounds && !moving.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        for topic in &topics {
            let data = format!("{topic}/{n}");
            let (status, body) = notify(
                &client,
                &base,
                &format!("topic={topic}"),
                &format!("\"{data}\""),
            )
            .await?;
            match status {
                200 => acked.push(data),
                503 => refused.push(data),
                other => {
                    return Err(format!(
                        "during the reshard /notify answered {other} {body}"
                    ));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok((acked, refused))
}

async fn live_reshard(target: &Target) -> Result<(), Error> {
    let cluster = tokio::task::spawn_blocking(|| RedisCluster::start("reshard check", 3))
        .await
        .map_err(|e| format!("the cluster start failed: {e}"))?
        .ok_or_else(missing)?;
    // Four topics of the first master, each in a slot of its own.
    let (mut topics, mut slots) = (Vec::new(), Vec::new());
    for n in 0..10_000 {
        let topic = format!("busy{n}");
        let key = format!("sse:{{{topic}}}");
        let slot = cluster.slot_of(&key).ok_or("no slot")?;
        if cluster.node_serving(&key) == Some(0) && !slots.contains(&slot) {
            topics.push(topic);
            slots.push(slot);
            if topics.len() == 4 {
                break;
            }
        }
    }
    let options: Vec<String> = cluster
        .urls()
        .into_iter()
        .flat_map(|url| ["--redis".to_owned(), url])
        .collect();
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let a = target.start(&options).await?;
    let b = target.start(&options).await?;
    let query = format!(
        "?{}",
        topics
            .iter()
            .map(|topic| format!("topic={topic}"))
            .collect::<Vec<_>>()
            .join("&")
    );
    let on_a = subscribe(&a.base, &query, &[]).await?;
    let on_b = subscribe(&b.base, &query, &[]).await?;
    let moving = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let from_a = tokio::spawn(publish_rounds(
        a.base.clone(),
        topics[..2].to_vec(),
        60,
        moving.clone(),
    ));
    let from_b = tokio::spawn(publish_rounds(
        b.base.clone(),
        topics[2..].to_vec(),
        60,
        moving.clone(),
    ));
    let done = moving.clone();
    let moved = tokio::task::spawn_blocking(move || {
        let moved = slots
            .iter()
            .try_for_each(|&slot| cluster.move_slot(slot, 0, 1, 10, Duration::from_millis(100)));
        done.store(false, std::sync::atomic::Ordering::SeqCst);
        moved.map(|()| cluster)
    });
    // Read as the events come, so that no stream lags behind.
    let expected_end = topics.len();
    let read = move |mut stream: crate::client::EventStream| async move {
        let mut seen: Vec<String> = Vec::new();
        while seen.iter().filter(|data| data.ends_with("/end\"")).count() < expected_end {
            let event = stream.next_event().await?;
            ensure(event.event() != "reset", || {
                format!("a reset during the reshard: {event:?}")
            })?;
            seen.push(event.data().to_owned());
        }
        Ok::<_, Error>(seen)
    };
    let reading_a = tokio::spawn(async move { read(on_a).await });
    let reading_b = tokio::spawn(async move { read(on_b).await });
    let (acked_a, refused_a) = from_a.await.map_err(|e| e.to_string())??;
    let (acked_b, refused_b) = from_b.await.map_err(|e| e.to_string())??;
    let cluster = moved.await.map_err(|e| e.to_string())??;
    for topic in &topics {
        ensure(
            cluster.node_serving(&format!("sse:{{{topic}}}")) == Some(1),
            || format!("{topic}'s slot did not move"),
        )?;
        publish(
            &a.base,
            &format!("topic={topic}"),
            &format!("\"{topic}/end\""),
        )
        .await?;
    }
    let acked: Vec<String> = acked_a.into_iter().chain(acked_b).collect();
    let refused: Vec<String> = refused_a.into_iter().chain(refused_b).collect();
    for (name, reading) in [("A", reading_a), ("B", reading_b)] {
        let seen = reading.await.map_err(|e| e.to_string())??;
        for data in &acked {
            let quoted = format!("\"{data}\"");
            let times = seen.iter().filter(|d| **d == quoted).count();
            ensure(times == 1, || {
                format!("{data}, answered 200, reached {name} {times} times")
            })?;
        }
        for data in &refused {
            let quoted = format!("\"{data}\"");
            ensure(seen.iter().filter(|d| **d == quoted).count() <= 1, || {
                format!("{data} reached {name} twice")
            })?;
        }
        for topic in &topics {
            let prefix = format!("\"{topic}/");
            let order: Vec<usize> = seen
                .iter()
                .filter_map(|data| data.strip_prefix(&prefix)?.strip_suffix('"')?.parse().ok())
                .collect();
            ensure(order.windows(2).all(|pair| pair[0] < pair[1]), || {
                format!("{topic} out of order on {name}: {order:?}")
            })?;
        }
    }
    ensure(!acked.is_empty(), || {
        "nothing was published during the reshard".into()
    })?;
    Ok(())
}
