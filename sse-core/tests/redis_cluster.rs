//! Multi-instance mode on a real Redis Cluster: three masters that each
//! test starts on free ports and joins with `redis-cli --cluster create`
//! (see `conformance/src/redis_server/mod.rs`), torn down when it ends.

#[path = "../../conformance/src/redis_server/mod.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;

use std::time::Duration;

use futures::StreamExt;
#[path = "support/mirror.rs"]
#[allow(dead_code)]
mod mirror;

#[path = "support/cuttable.rs"]
#[allow(dead_code)]
mod cuttable;

use cuttable::{Cuttable, Link};
use mirror::{WAIT, connected, events, ids, order, script_calls};
use redis_server::RedisCluster;
use sse_hub::Event;
use sse_hub::broker::BrokerConfig;
use sse_hub::redis::{RedisBroker, RedisError, RedisOptions};

fn options(test: &str) -> RedisOptions {
    let mut options = RedisOptions::default();
    options.prefix = format!("sse-cluster-{test}-{}", std::process::id());
    options.timeout = Duration::from_secs(1);
    options
}

fn config() -> BrokerConfig {
    BrokerConfig {
        history: 100,
        ..BrokerConfig::default()
    }
}

/// An instance on every node of `cluster`, as `--redis` takes them.
async fn instance(cluster: &RedisCluster, test: &str) -> RedisBroker {
    let urls = cluster.urls().join(",");
    let redis = RedisBroker::with_options(&urls, config(), options(test)).expect("valid URLs");
    connected(&redis, true).await;
    redis
}

async fn publish(redis: &RedisBroker, topic: &str, data: &str) -> Result<String, RedisError> {
    let published = redis.publish(topic, &Event::new(data)).await?;
    Ok(published.id.to_string())
}

/// Waits (bounded) until `node`'s `CLUSTER INFO` says `expected`, or
/// no longer says it when `expected` starts with `!`.
async fn cluster_says(cluster: &RedisCluster, node: usize, expected: &str) {
    let (wanted, text) = match expected.strip_prefix('!') {
        Some(text) => (false, text),
        None => (true, expected),
    };
    let waited = tokio::time::timeout(WAIT, async {
        while cluster.nodes()[node]
            .cluster_info()
            .is_none_or(|info| info.contains(text) != wanted)
        {
            // No signal to wait on: the nodes' gossip decides.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "node {node} never said {expected}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_cluster_serves_every_slot_and_notices_a_master_down() {
    let Some(mut cluster) = RedisCluster::start("cluster", 3) else {
        return;
    };
    assert_eq!(cluster.urls().len(), 3);
    let info = cluster.nodes()[0]
        .cluster_info()
        .expect("CLUSTER INFO answers");
    assert!(info.contains("cluster_known_nodes:3"), "{info}");
    assert!(info.contains("cluster_size:3"), "three masters: {info}");
    let servers: Vec<Option<usize>> = ["{a}", "{b}", "{c}", "{d}", "{e}"]
        .iter()
        .map(|key| cluster.node_serving(key))
        .collect();
    assert!(servers.iter().all(Option::is_some), "{servers:?}");
    assert!(
        servers.windows(2).any(|pair| pair[0] != pair[1]),
        "keys spread over the masters: {servers:?}"
    );

    // A master down: the others see its slots fail and go on serving
    // their own; its return (with its slots, from its nodes.conf) heals it.
    cluster.nodes_mut()[1].stop();
    cluster_says(&cluster, 0, "!cluster_slots_fail:0").await;
    let info = cluster.nodes()[0]
        .cluster_info()
        .expect("CLUSTER INFO answers");
    assert!(info.contains("cluster_state:ok"), "the rest serves: {info}");
    cluster.nodes_mut()[1].restart();
    for node in 0..3 {
        cluster_says(&cluster, node, "cluster_slots_ok:16384").await;
    }
}

/// The master that holds `topic`'s stream, for instances of `test`.
fn master_of(cluster: &RedisCluster, test: &str, topic: &str) -> usize {
    cluster
        .node_serving(&format!("{}:{{{topic}}}", options(test).prefix))
        .expect("a master serves every slot")
}

/// `count` topics whose streams live on `count` different masters.
fn topics_on_different_masters(cluster: &RedisCluster, test: &str, count: usize) -> Vec<String> {
    let mut topics: Vec<(String, usize)> = Vec::new();
    for n in 0..1000 {
        let topic = format!("t{n}");
        let master = master_of(cluster, test, &topic);
        if topics.iter().all(|(_, other)| *other != master) {
            topics.push((topic, master));
        }
        if topics.len() == count {
            return topics.into_iter().map(|(topic, _)| topic).collect();
        }
    }
    panic!("no {count} topics on different masters among 1000");
}

/// The data of `seen` that start with `topic:`, in the order they came.
fn of_topic<'a>(seen: &'a [(String, String)], topic: &str) -> Vec<&'a str> {
    let prefix = format!("{topic}:");
    seen.iter()
        .map(|(_, data)| data.as_str())
        .filter(|data| data.starts_with(&prefix))
        .collect()
}

/// Streams of three topics on three masters, while publishers on two
/// instances write to all of them at once: on each instance every event
/// arrives once, each topic in the order of its ids, and a composite id
/// resumes the stream on a third instance with exactly the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_of_topics_on_different_masters_keep_each_order_and_resume_anywhere() {
    let Some(cluster) = RedisCluster::start("cluster_order", 3) else {
        return;
    };
    let topics = topics_on_different_masters(&cluster, "order", 3);
    let a = instance(&cluster, "order").await;
    let b = instance(&cluster, "order").await;
    let mut on_a = a.subscribe(&topics, None).await.expect("subscribed");
    let mut on_b = b.subscribe(&topics, None).await.expect("subscribed");
    const EACH: usize = 20;
    let publish_all = |redis: &RedisBroker, tag: &'static str| {
        let redis = redis.clone();
        let topics = topics.clone();
        async move {
            let publishes = (0..EACH * topics.len()).map(|i| {
                let redis = redis.clone();
                let topic = topics[i % topics.len()].clone();
                async move {
                    let data = format!("{topic}:{tag}{i}");
                    let id = publish(&redis, &topic, &data).await.expect("published");
                    (topic, id, data)
                }
            });
            futures::future::join_all(publishes).await
        }
    };
    let (from_a, from_b) = tokio::join!(publish_all(&a, "a"), publish_all(&b, "b"));
    let published: Vec<(String, String, String)> = from_a.into_iter().chain(from_b).collect();
    let total = published.len();
    let seen_on_a = events(&mut on_a, total).await;
    let seen_on_b = events(&mut on_b, total).await;
    for topic in &topics {
        let mut expected: Vec<(String, &str)> = published
            .iter()
            .filter(|(t, _, _)| t == topic)
            .map(|(_, id, data)| (id.clone(), data.as_str()))
            .collect();
        expected.sort_by_key(|(id, _)| order(id));
        let expected: Vec<&str> = expected.into_iter().map(|(_, data)| data).collect();
        assert_eq!(
            of_topic(&seen_on_a, topic),
            expected,
            "{topic} on A, in id order"
        );
        assert_eq!(
            of_topic(&seen_on_b, topic),
            expected,
            "{topic} on B, in id order"
        );
    }

    // A client of A resumes on a third instance that started since.
    let c = instance(&cluster, "order").await;
    let cut = total / 2;
    let (last_seen, _) = &seen_on_a[cut - 1];
    let mut resumed = c
        .subscribe(&topics, Some(last_seen))
        .await
        .expect("subscribed");
    assert!(!resumed.is_reset(), "the history is in the cluster");
    let rest = events(&mut resumed, total - cut).await;
    for topic in &topics {
        assert_eq!(
            of_topic(&rest, topic),
            of_topic(&seen_on_a[cut..], topic),
            "{topic}: exactly what it missed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_master_of_the_keys_down_answers_unavailable_until_it_is_back() {
    let Some(mut cluster) = RedisCluster::start("cluster_down", 3) else {
        return;
    };
    let a = instance(&cluster, "down").await;
    let mut stream = a.subscribe(["news"], None).await.expect("subscribed");
    let first = publish(&a, "news", "before").await.expect("published");
    assert_eq!(ids(&mut stream, 1).await, std::slice::from_ref(&first));
    let master = master_of(&cluster, "down", "news");
    let elsewhere = (0..1000)
        .map(|n| format!("other{n}"))
        .find(|topic| master_of(&cluster, "down", topic) != master)
        .expect("a topic on another master");
    let mut other = a.subscribe([&elsewhere], None).await.expect("subscribed");

    cluster.nodes_mut()[master].stop();
    let refused = publish(&a, "news", "while down").await;
    assert!(
        matches!(refused, Err(RedisError::Unavailable(_))),
        "{refused:?}"
    );
    // Other masters' topics are unaffected (once the client's connection
    // to them is not the one that noticed).
    let unaffected = tokio::time::timeout(WAIT, async {
        loop {
            match publish(&a, &elsewhere, "meanwhile").await {
                Ok(id) => return id,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await
    .expect("a topic of another master takes publishes");
    assert_eq!(ids(&mut other, 1).await, [unaffected]);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), stream.next())
            .await
            .is_err(),
        "the stream stays open and quiet"
    );

    cluster.nodes_mut()[master].restart();
    cluster_says(&cluster, master, "cluster_slots_ok:16384").await;
    connected(&a, true).await;
    let after = tokio::time::timeout(WAIT, async {
        loop {
            match publish(&a, "news", "after").await {
                Ok(id) => return id,
                // The cluster client finds the master back on its own.
                Err(RedisError::Unavailable(_)) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(other) => panic!("{other:?}"),
            }
        }
    })
    .await
    .expect("publishing comes back");
    // An attempt that timed out as the master came back may have been
    // stored too: the stream gets it before `after`, never after.
    let mut seen = ids(&mut stream, 1).await;
    while seen.last() != Some(&after) {
        assert!(seen.len() < 50, "{after} never arrived: {seen:?}");
        seen.extend(ids(&mut stream, 1).await);
    }
    assert!(
        seen.iter().all(|id| order(id) > order(&first)),
        "ids keep increasing: {first} then {seen:?}"
    );
}

/// Concurrent publishes to many topics, on every master and in many slots
/// of each, share script calls: one per master and batch. Every stream
/// gets its topic's events under the ids their publishers were told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_one_call_per_master_whatever_the_slots() {
    let Some(cluster) = RedisCluster::start("cluster_batches", 3) else {
        return;
    };
    let a = instance(&cluster, "batches").await;
    let b = instance(&cluster, "batches").await;
    let topics: Vec<String> = (0..30).map(|n| format!("user-{n}")).collect();
    let masters: std::collections::HashSet<usize> = topics
        .iter()
        .map(|topic| master_of(&cluster, "batches", topic))
        .collect();
    assert_eq!(masters.len(), 3, "the topics are on every master");
    let mut streams = Vec::new();
    for topic in &topics {
        streams.push(b.subscribe([topic], None).await.expect("subscribed"));
    }
    let calls = || async {
        let mut total = 0;
        for url in cluster.urls() {
            total += script_calls(&url).await;
        }
        total
    };
    let before = calls().await;
    const EACH: usize = 3;
    let publishes = (0..EACH * topics.len()).map(|i| {
        let (a, topic) = (a.clone(), topics[i % topics.len()].clone());
        async move {
            let id = publish(&a, &topic, &i.to_string())
                .await
                .expect("published");
            (topic, id)
        }
    });
    let published = futures::future::join_all(publishes).await;
    let spent = calls().await - before;
    assert!(
        spent < (EACH * topics.len() / 3) as u64,
        "{spent} script calls for {} publishes",
        EACH * topics.len()
    );
    for (topic, stream) in topics.iter().zip(&mut streams) {
        let mut expected: Vec<String> = published
            .iter()
            .filter(|(t, _)| t == topic)
            .map(|(_, id)| id.clone())
            .collect();
        expected.sort_by_key(|id| order(id));
        assert_eq!(ids(stream, EACH).await, expected, "{topic}");
    }
}

/// A slot moves to another master after the instance learnt the slot map:
/// the batch's call to the old master fails before writing anything, and
/// the instance falls back to a call per slot, which the cluster client
/// routes to the new master. Both events are published, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_slot_map_falls_back_to_a_call_per_slot() {
    let Some(cluster) = RedisCluster::start("cluster_stale_map", 3) else {
        return;
    };
    let test = "stale";
    let a = instance(&cluster, test).await;
    // Two topics on one master; the first one's slot will move.
    let mut on_one_master: Vec<String> = Vec::new();
    let mut master = None;
    for n in 0..1000 {
        let topic = format!("s{n}");
        let serving = master_of(&cluster, test, &topic);
        if master.is_none_or(|m| m == serving) {
            master = Some(serving);
            on_one_master.push(topic);
        }
        if on_one_master.len() == 2 {
            break;
        }
    }
    let (moving, staying) = (on_one_master[0].clone(), on_one_master[1].clone());
    let from = master.expect("a master");
    // The instance learns the slot map with a first publish.
    publish(&a, &staying, "warm-up").await.expect("published");
    let key = format!("{}:{{{moving}}}", options(test).prefix);
    let slot: u16 = cluster.nodes()[0]
        .query(&format!("CLUSTER KEYSLOT {key}"))
        .and_then(|slot| slot.parse().ok())
        .expect("CLUSTER KEYSLOT answers");
    let to = (from + 1) % 3;
    let target = cluster.nodes()[to]
        .query("CLUSTER MYID")
        .expect("CLUSTER MYID answers");
    // The slot holds no key yet: it moves by assignment alone, the new
    // master first, then the others.
    for node in [to, from, (from + 2) % 3] {
        cluster.nodes()[node].query(&format!("CLUSTER SETSLOT {slot} NODE {target}"));
    }
    let moved = tokio::time::timeout(WAIT, async {
        while cluster.node_serving(&key) != Some(to) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(moved.is_ok(), "slot {slot} did not move to node {to}");
    let (first, second) = (Event::new("moved"), Event::new("stayed"));
    let published = a
        .publish_batch(&[
            sse_hub::broker::Publish::new(&moving, &first),
            sse_hub::broker::Publish::new(&staying, &second),
        ])
        .await
        .expect("published through the fallback");
    assert_eq!(published.len(), 2);
    let b = instance(&cluster, test).await;
    for (topic, data) in [(&moving, "moved"), (&staying, "stayed")] {
        let history = b.history([topic], None, 10).await.expect("read");
        let read: Vec<&str> = history.events.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(read.last(), Some(&data), "{topic}: {read:?}");
        assert_eq!(
            read.iter().filter(|d| **d == data).count(),
            1,
            "once: {read:?}"
        );
    }
}

/// `topic:0` to `topic:{count - 1}`, as the cut test publishes them.
fn numbered(topic: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{topic}:{i}")).collect()
}

/// Runs `command` on `node`.
async fn run_on(node: &redis_server::RedisServer, command: &redis::Cmd) {
    let mut connection = redis::Client::open(node.url())
        .expect("a valid URL")
        .get_multiplexed_async_connection()
        .await
        .expect("the node is up");
    let () = command
        .query_async(&mut connection)
        .await
        .expect("the node runs it");
}

/// One instance loses one master (its connections to it cut, new ones
/// refused) while another instance publishes to topics on that master and
/// on another. Its Pub/Sub connection was on that master too. The topic
/// on the other master goes on; once the link is back, the client of
/// both topics gets what it missed of the cut master's topic, once and in
/// order, with no reset, and then live events again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_cut_from_one_master_catches_up_exactly() {
    let Some(cluster) = RedisCluster::start("cluster_cut", 3) else {
        return;
    };
    let test = "cut";
    let topics = topics_on_different_masters(&cluster, test, 2);
    let (cut_topic, other_topic) = (&topics[0], &topics[1]);
    let master = master_of(&cluster, test, cut_topic);

    // Every client reaches the master at the address it announces: the
    // proxy's, which cuts only the connections of the user `instance-a`.
    let proxy = Cuttable::only_for(cluster.nodes()[master].addr(), "instance-a").await;
    let user = [
        "SETUSER",
        "instance-a",
        "on",
        ">secret",
        "~*",
        "&*",
        "+@all",
    ];
    for node in cluster.nodes() {
        run_on(node, redis::cmd("ACL").arg(&user)).await;
    }
    let port = proxy.port().to_string();
    let announce = ["SET", "cluster-announce-port", port.as_str()];
    run_on(
        &cluster.nodes()[master],
        redis::cmd("CONFIG").arg(&announce),
    )
    .await;
    let announced = format!("127.0.0.1:{}@", proxy.port());
    let gossiped = tokio::time::timeout(WAIT, async {
        while !cluster.nodes().iter().all(|node| {
            node.query("CLUSTER NODES")
                .is_some_and(|nodes| nodes.contains(&announced))
        }) {
            // No signal to wait on: the nodes' gossip carries it.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(gossiped.is_ok(), "every node learns the announced port");

    // A's first URL, which its Pub/Sub connection takes, is the master's.
    let nodes = cluster.nodes().len();
    let urls: Vec<String> = (0..nodes)
        .map(|k| (master + k) % nodes)
        .map(|n| {
            let port = if n == master {
                proxy.port()
            } else {
                cluster.nodes()[n].port()
            };
            format!("redis://instance-a:secret@127.0.0.1:{port}/")
        })
        .collect();
    let mut a_options = options(test);
    // The load the cut refused is tried again at each ping.
    a_options.ping_interval = Duration::from_millis(100);
    let a = RedisBroker::with_options(&urls.join(","), config(), a_options).expect("valid URLs");
    connected(&a, true).await;
    let b = instance(&cluster, test).await;
    let mut on_a = a.subscribe(&topics, None).await.expect("subscribed");
    publish(&b, cut_topic, &format!("{cut_topic}:before"))
        .await
        .expect("published");
    assert_eq!(
        events(&mut on_a, 1).await[0].1,
        format!("{cut_topic}:before")
    );

    let mut tail_state = a.connection_state();
    tail_state.borrow_and_update();
    proxy.set(Link::Cut);
    // The tail's Pub/Sub connection was on that master: it notices.
    tokio::time::timeout(WAIT, tail_state.changed())
        .await
        .expect("A's tail notices the cut")
        .expect("the tail is running");
    for i in 0..10 {
        for topic in &topics {
            let data = format!("{topic}:{i}");
            publish(&b, topic, &data)
                .await
                .expect("B reaches both masters");
        }
    }
    // The other master's topic goes on while the cut lasts.
    let during = events(&mut on_a, 10).await;
    assert_eq!(
        of_topic(&during, other_topic),
        numbered(other_topic, 10),
        "the other master's topic, live during the cut"
    );
    // Publishes wait for the tail's new session, which comes once it has
    // loaded what it could.
    connected(&a, true).await;
    let refused = publish(&a, cut_topic, "refused").await;
    assert!(
        matches!(&refused, Err(RedisError::Unavailable(why)) if why != "not connected"),
        "A is cut from the master, and only from it: {refused:?}"
    );
    publish(&a, other_topic, &format!("{other_topic}:from-a"))
        .await
        .expect("A still reaches the other master");
    assert_eq!(
        events(&mut on_a, 1).await[0].1,
        format!("{other_topic}:from-a")
    );

    proxy.set(Link::Open);
    let caught_up = events(&mut on_a, 10).await;
    assert_eq!(
        of_topic(&caught_up, cut_topic),
        numbered(cut_topic, 10),
        "what B published to the cut master's topic, once and in order"
    );
    assert!(!on_a.is_reset(), "nothing was lost");
    publish(&b, cut_topic, &format!("{cut_topic}:live"))
        .await
        .expect("published");
    assert_eq!(
        events(&mut on_a, 1).await[0].1,
        format!("{cut_topic}:live"),
        "live again, with nothing twice before it"
    );
}
