//! Multi-instance mode on a real Redis Cluster: three masters that each
//! test starts on free ports and joins with `redis-cli --cluster create`
//! (see `conformance/src/redis_server.rs`), torn down when it ends.

#[path = "../../conformance/src/redis_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;

use std::time::Duration;

use futures::StreamExt;
#[path = "support/mirror.rs"]
#[allow(dead_code)]
mod mirror;

use mirror::{WAIT, connected, ids, order};
use redis_server::RedisCluster;
use sse_hub::Event;
use sse_hub::broker::BrokerConfig;
use sse_hub::redis::{RedisBroker, RedisError, RedisOptions};

fn options(test: &str) -> RedisOptions {
    let mut options = RedisOptions::default();
    options.prefix = format!("{{sse-cluster-{test}-{}}}", std::process::id());
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_a_cluster_share_topics_order_and_history() {
    let Some(cluster) = RedisCluster::start("cluster_order", 3) else {
        return;
    };
    let a = instance(&cluster, "order").await;
    let b = instance(&cluster, "order").await;
    let mut on_a = a.broker().subscribe(["x", "y"], None).expect("subscribed");
    let mut on_b = b.broker().subscribe(["x", "y"], None).expect("subscribed");
    const EACH: usize = 40;
    let publish_all = |redis: &RedisBroker, topic: &'static str| {
        let redis = redis.clone();
        async move {
            let publishes = (0..EACH).map(|i| {
                let redis = redis.clone();
                async move {
                    publish(&redis, topic, &i.to_string())
                        .await
                        .expect("published")
                }
            });
            futures::future::join_all(publishes).await
        }
    };
    let (from_a, from_b) = tokio::join!(publish_all(&a, "x"), publish_all(&b, "y"));
    let seen_on_a = ids(&mut on_a, 2 * EACH).await;
    let seen_on_b = ids(&mut on_b, 2 * EACH).await;
    assert_eq!(seen_on_a, seen_on_b, "one order on both instances");
    assert!(
        seen_on_a
            .windows(2)
            .all(|pair| order(&pair[0]) < order(&pair[1])),
        "ids strictly increasing: {seen_on_a:?}"
    );
    let mut published: Vec<String> = from_a.into_iter().chain(from_b).collect();
    published.sort_by_key(|id| order(id));
    assert_eq!(seen_on_a, published, "every event, with its publish's id");

    // A client of A resumes on a third instance that started since.
    let c = instance(&cluster, "order").await;
    let last_seen = &seen_on_a[EACH];
    let mut resumed = c
        .broker()
        .subscribe(["x", "y"], Some(last_seen))
        .expect("subscribed");
    assert!(!resumed.is_reset(), "the history is in the cluster");
    assert_eq!(ids(&mut resumed, EACH - 1).await, seen_on_a[EACH + 1..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_master_of_the_keys_down_answers_unavailable_until_it_is_back() {
    let Some(mut cluster) = RedisCluster::start("cluster_down", 3) else {
        return;
    };
    let a = instance(&cluster, "down").await;
    let mut stream = a.broker().subscribe(["news"], None).expect("subscribed");
    let first = publish(&a, "news", "before").await.expect("published");
    assert_eq!(ids(&mut stream, 1).await, std::slice::from_ref(&first));

    let master = cluster
        .node_serving(&format!("{}:last-id", options("down").prefix))
        .expect("a master serves the keys");
    cluster.nodes_mut()[master].stop();
    let refused = publish(&a, "news", "while down").await;
    assert!(
        matches!(refused, Err(RedisError::Unavailable(_))),
        "{refused:?}"
    );
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
