//! Multi-instance mode against a real `redis-server` that each test starts
//! on a free port, or the one `SSE_TEST_REDIS_URL` names for the tests
//! that never stop it (see `conformance/src/redis_server/mod.rs`): delivery and
//! order across instances, replay from any instance, history across a
//! restart, the reset rules, and the faults (Redis stopped, one instance
//! cut off while the others publish).

#[path = "../../conformance/src/redis_server/mod.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;

use std::time::Duration;

use futures::StreamExt;
use sse_hub::Event;
use sse_hub::broker::{BrokerConfig, Start};
use sse_hub::hub::{Body, Hub, HubConfig, RedisConfig};
use sse_hub::redis::{RedisBroker, RedisError, RedisOptions};

#[path = "support/mirror.rs"]
#[allow(dead_code)]
mod mirror;

#[path = "support/cuttable.rs"]
#[allow(dead_code)]
mod cuttable;

use cuttable::{Cuttable, Link};
use mirror::{WAIT, connected, events, ids, ids_in, order, script_calls};
use redis_server::{RedisServer, TestRedis};

fn config() -> BrokerConfig {
    BrokerConfig {
        history: 100,
        ..BrokerConfig::default()
    }
}

fn options(test: &str) -> RedisOptions {
    let mut options = RedisOptions::default();
    // Tests may share one Redis (SSE_TEST_REDIS_URL): each has its keys.
    options.prefix = format!("sse-test-{test}-{}", std::process::id());
    options.timeout = Duration::from_secs(1);
    options
}

/// A hub opened from its configuration on the keys of `test`.
async fn hub_on(url: &str, test: &str) -> Hub {
    let mut redis = RedisConfig::new(url);
    redis.key_prefix = options(test).prefix;
    let hub = Hub::open(HubConfig {
        redis: Some(redis),
        broker: config(),
        ..HubConfig::default()
    })
    .expect("a valid URL");
    assert!(hub.ready_within(WAIT).await, "connected to Redis");
    hub
}

async fn instance(url: &str, test: &str, config: BrokerConfig) -> RedisBroker {
    let redis = RedisBroker::with_options(url, config, options(test)).expect("a valid URL");
    connected(&redis, true).await;
    redis
}

async fn publish(redis: &RedisBroker, topic: &str, data: &str) -> String {
    let published = redis
        .publish(topic, &Event::new(data))
        .await
        .expect("Redis is up");
    published.id.to_string()
}

/// Two instances publish to two topics at the same moment; a client of
/// both topics on each instance gets every event once, each topic in
/// publish order, and the composite id of any event resumes the stream on
/// the other instance with exactly the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_each_topic_in_order_and_resume_on_the_other() {
    let Some(redis) = TestRedis::get("two_instances_deliver_each_topic_in_order") else {
        return;
    };
    let url = redis.url.clone();
    let test = "order";
    let a = instance(&url, test, config()).await;
    let b = instance(&url, test, config()).await;
    let mut on_a = a.subscribe(["x", "y"], None).await.expect("subscribed");
    let mut on_b = b.subscribe(["x", "y"], None).await.expect("subscribed");
    const EACH: usize = 50;
    let data = |tag: &str| (0..EACH).map(|i| format!("{tag}{i}")).collect::<Vec<_>>();
    let (x_data, y_data) = (data("a"), data("b"));
    // Two instances publish to different topics at the same moment.
    tokio::join!(
        async {
            for d in &x_data {
                publish(&a, "x", d).await;
            }
        },
        async {
            for d in &y_data {
                publish(&b, "y", d).await;
            }
        },
    );
    let x: Vec<&str> = x_data.iter().map(String::as_str).collect();
    let y: Vec<&str> = y_data.iter().map(String::as_str).collect();
    let seen_on_a = events(&mut on_a, 2 * EACH).await;
    let seen_on_b = events(&mut on_b, 2 * EACH).await;
    for seen in [&seen_on_a, &seen_on_b] {
        assert_eq!(in_topic(seen, &x), x, "x in publish order");
        assert_eq!(in_topic(seen, &y), y, "y in publish order");
    }
    // Resume on B after A's 60th event: the other 40, each topic in order.
    let (cut, _) = &seen_on_a[59];
    let mut resumed = b
        .subscribe(["x", "y"], Some(cut))
        .await
        .expect("subscribed");
    assert!(!resumed.is_reset(), "{cut} is honoured on B");
    let rest = events(&mut resumed, 2 * EACH - 60).await;
    let missed = &seen_on_a[60..];
    for topic in [&x, &y] {
        assert_eq!(
            in_topic(&rest, topic),
            in_topic(missed, topic),
            "exactly what it missed, in order"
        );
    }
}

/// The data of `seen` that are among `data`, in the order they came: one
/// topic's events, when each topic's events have data of their own.
fn in_topic<'a>(seen: &'a [(String, String)], data: &[&str]) -> Vec<&'a str> {
    seen.iter()
        .map(|(_, d)| d.as_str())
        .filter(|d| data.contains(d))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishes_share_script_calls_and_each_gets_its_own_id() {
    let Some(server) = RedisServer::start("batches") else {
        return;
    };
    let url = server.url();
    let batched = instance(&url, "batches", config()).await;
    let mut one_by_one = options("batches");
    one_by_one.max_publish_batch = 1;
    let single = RedisBroker::with_options(&url, config(), one_by_one).expect("a valid URL");
    connected(&single, true).await;
    let topics = ["a", "b", "c", "d"];
    // A stream per topic on each instance: a topic's ids are its own.
    let mut on_batched = Vec::new();
    let mut on_single = Vec::new();
    for topic in topics {
        on_batched.push(batched.subscribe([topic], None).await.expect("subscribed"));
        on_single.push(single.subscribe([topic], None).await.expect("subscribed"));
    }
    const BATCHED: usize = 200;
    const SINGLE: usize = 50;
    let before = script_calls(&url).await;

    // Both instances publish at once: one through batches, one a script
    // call per event, into the same topics.
    let publish_all = |redis: &RedisBroker, count: usize, tag: &'static str| {
        let redis = redis.clone();
        async move {
            let publishes = (0..count).map(|i| {
                let redis = redis.clone();
                async move {
                    let data = format!("{tag}{i}");
                    let topic = topics[i % topics.len()];
                    let id = publish(&redis, topic, &data).await;
                    (id, data, topic)
                }
            });
            futures::future::join_all(publishes).await
        }
    };
    let (from_batched, from_single) = tokio::join!(
        publish_all(&batched, BATCHED, "batched-"),
        publish_all(&single, SINGLE, "single-"),
    );
    let calls = script_calls(&url).await - before;
    assert!(
        calls <= (SINGLE + BATCHED / 2) as u64,
        "{calls} script calls for {} publishes: concurrent publishes were not batched",
        SINGLE + BATCHED
    );

    let published: Vec<(String, String, &str)> =
        from_batched.into_iter().chain(from_single).collect();
    for (n, topic) in topics.iter().enumerate() {
        let mut expected: Vec<(String, String)> = published
            .iter()
            .filter(|(_, _, t)| t == topic)
            .map(|(id, data, _)| (id.clone(), data.clone()))
            .collect();
        expected.sort_by_key(|(id, _)| order(id));
        let seen_batched = events(&mut on_batched[n], expected.len()).await;
        let seen_single = events(&mut on_single[n], expected.len()).await;
        assert_eq!(
            seen_batched, expected,
            "every event of {topic} once, in id order, under the id its own publisher was told"
        );
        assert_eq!(seen_single, expected, "the same on the other instance");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resumes_on_the_other_instance_with_exactly_what_it_missed() {
    let Some(redis) = TestRedis::get("resume_elsewhere") else {
        return;
    };
    let url = redis.url.clone();
    let a = instance(&url, "resume", config()).await;
    let mut on_a = a.subscribe(["news"], None).await.expect("subscribed");
    let mut published = Vec::new();
    for i in 0..2 {
        published.push(publish(&a, "news", &i.to_string()).await);
    }
    let seen = ids(&mut on_a, 2).await;
    assert_eq!(seen, published);
    drop(on_a);
    for i in 2..5 {
        published.push(publish(&a, "news", &i.to_string()).await);
    }
    // Through a hub, at once: an instance that may be a moment behind A
    // waits.
    let hub = hub_on(&url, "resume").await;
    let response = hub.subscribe(["news"], Some(&seen[1])).await;
    assert_eq!(response.status, 200);
    let Body::Stream(mut stream) = response.body else {
        panic!("not a stream")
    };
    let mut replayed = Vec::new();
    while replayed.len() < 3 {
        let chunk = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("the replay arrives")
            .expect("the stream is open")
            .expect("no error");
        let text = String::from_utf8_lossy(&chunk).into_owned();
        assert!(!text.contains("event: reset"), "no reset: {text}");
        replayed.extend(ids_in(&chunk));
    }
    assert_eq!(replayed, published[2..], "exactly what it missed");
    let live = publish(&a, "news", "live").await;
    let chunk = tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("the live event arrives")
        .expect("open")
        .expect("no error");
    assert_eq!(ids_in(&chunk), [live]);
}

/// A topic's stream lives `history_ttl` after its last event, whether
/// that event created the stream or was added to it, retained or
/// ephemeral.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_expires_the_history_ttl_after_its_last_event() {
    let Some(redis) = TestRedis::get("ttl") else {
        return;
    };
    let config = BrokerConfig {
        history_ttl: Duration::from_secs(60),
        ..config()
    };
    let a = instance(&redis.url, "ttl", config).await;
    let mut connection = redis::Client::open(redis.url.as_str())
        .expect("a valid URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis is up");
    let prefix = options("ttl").prefix;
    let ttl_connection = connection.clone();
    let ttl_of = |topic: &str| {
        let (mut connection, key) = (ttl_connection.clone(), format!("{prefix}:{{{topic}}}"));
        async move {
            let ttl: i64 = redis::cmd("PTTL")
                .arg(key)
                .query_async(&mut connection)
                .await
                .expect("PTTL answers");
            ttl
        }
    };
    let fresh = 50_000..=60_000;

    publish(&a, "new", "1").await;
    let created = ttl_of("new").await;
    assert!(fresh.contains(&created), "a new stream: {created} ms");
    // As if most of the TTL had passed.
    let _: i64 = redis::cmd("PEXPIRE")
        .arg(format!("{prefix}:{{new}}"))
        .arg(500)
        .query_async(&mut connection)
        .await
        .expect("PEXPIRE answers");
    publish(&a, "new", "2").await;
    let renewed = ttl_of("new").await;
    assert!(
        fresh.contains(&renewed),
        "renewed by an event: {renewed} ms"
    );

    a.publish_ephemeral("fleeting", &Event::new("1"))
        .await
        .expect("published");
    let ephemeral = ttl_of("fleeting").await;
    assert!(
        fresh.contains(&ephemeral),
        "a stream that holds only the last id: {ephemeral} ms"
    );
}

/// A topic that has no stream yet when a client subscribes: the client's
/// id still says it has seen that topic up to then, so resuming it on
/// another instance, after the topic's first event created its stream,
/// is no reset. (It was: the new stream's horizon of lost ids lay after
/// the cursor the first instance had given the empty topic.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_created_after_the_client_subscribed_resumes_elsewhere_without_reset() {
    let Some(redis) = TestRedis::get("created_later") else {
        return;
    };
    let url = redis.url.clone();
    let a = instance(&url, "created", config()).await;
    let b = instance(&url, "created", config()).await;
    let topics = ["busy", "quiet"];
    let mut on_a = a.subscribe(topics, None).await.expect("subscribed");
    publish(&a, "busy", "b1").await;
    let seen = events(&mut on_a, 1).await;
    // Not a synchronisation: Redis's clock has to move on, as it does
    // between a subscription and a topic's first event in use.
    tokio::time::sleep(Duration::from_millis(20)).await;
    publish(&b, "quiet", "q1").await;
    let mut resumed = b
        .subscribe(topics, Some(&seen[0].0))
        .await
        .expect("subscribed");
    assert!(!resumed.is_reset(), "nothing of either topic was missed");
    let rest = events(&mut resumed, 1).await;
    assert_eq!(rest[0].1, "q1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_survives_the_restart_of_an_instance() {
    let Some(redis) = TestRedis::get("history_survives_the_restart_of_an_instance") else {
        return;
    };
    let url = redis.url.clone();
    let a = instance(&url, "restart", config()).await;
    let mut published = Vec::new();
    for i in 0..3 {
        published.push(publish(&a, "news", &i.to_string()).await);
    }
    drop(a);
    let restarted = instance(&url, "restart", config()).await;
    let mut resumed = restarted
        .subscribe(["news"], Some(&published[0]))
        .await
        .expect("subscribed");
    assert!(
        !resumed.is_reset(),
        "the restarted instance loaded the history"
    );
    assert_eq!(ids(&mut resumed, 2).await, published[1..]);
    let mut everything = restarted
        .subscribe(["news"], Some("garbage"))
        .await
        .expect("subscribed");
    assert!(everything.is_reset());
    assert_eq!(ids(&mut everything, 3).await, published);
    // A new stream that asks for the newest two, on an instance that has
    // just loaded the topic from Redis.
    let fresh = instance(&url, "restart", config()).await;
    let mut rewound = fresh
        .subscribe_from(["news"], Start::Rewind(2))
        .await
        .expect("subscribed");
    assert!(!rewound.is_reset());
    assert_eq!(ids(&mut rewound, 2).await, published[1..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhonourable_ids_reset_in_multi_instance_mode() {
    let Some(redis) = TestRedis::get("unhonourable_ids_reset_in_multi_instance_mode") else {
        return;
    };
    let url = redis.url.clone();
    let small = BrokerConfig {
        history: 3,
        client_buffer: 3,
        ..BrokerConfig::default()
    };
    let a = instance(&url, "reset", small.clone()).await;
    let b = instance(&url, "reset", small.clone()).await;
    let mut published = Vec::new();
    for i in 0..6 {
        published.push(publish(&a, "news", &i.to_string()).await);
    }
    let retained = &published[3..];
    for given in [
        "garbage",
        "17",
        "99999999999999-0",
        published[0].as_str(),
        published[1].as_str(),
    ] {
        let mut stream = b
            .subscribe(["news"], Some(given))
            .await
            .expect("subscribed");
        assert!(stream.is_reset(), "{given} resets");
        assert_eq!(ids(&mut stream, 3).await, retained, "after {given}");
    }
    let mut honoured = b
        .subscribe(["news"], Some(&published[2]))
        .await
        .expect("subscribed");
    assert!(!honoured.is_reset());
    assert_eq!(ids(&mut honoured, 3).await, retained);
    let mut newest = b
        .subscribe(["news"], Some(&published[5]))
        .await
        .expect("subscribed");
    assert!(!newest.is_reset());
    let live = publish(&a, "news", "live").await;
    assert_eq!(ids(&mut newest, 1).await, [live]);
    // A restarted instance applies the same rules to what it loads.
    let c = instance(&url, "reset", small).await;
    let mut trimmed = c
        .subscribe(["news"], Some(&published[1]))
        .await
        .expect("subscribed");
    assert!(trimmed.is_reset());
    assert_eq!(ids(&mut trimmed, 3).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_refuses_publishes_keeps_streams_and_recovers() {
    let Some(mut server) = RedisServer::start("redis_down") else {
        return;
    };
    let a = instance(&server.url(), "down", config()).await;
    let mut stream = a.subscribe(["news"], None).await.expect("subscribed");
    let first = publish(&a, "news", "before").await;
    assert_eq!(ids(&mut stream, 1).await, std::slice::from_ref(&first));

    server.stop();
    connected(&a, false).await;
    let refused = a.publish("news", &Event::new("while down")).await;
    assert!(
        matches!(refused, Err(RedisError::Unavailable(_))),
        "{refused:?}"
    );
    let metrics = a.render_metrics();
    assert!(metrics.contains("sse_redis_connected 0"), "{metrics}");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), stream.next())
            .await
            .is_err(),
        "the stream stays open and quiet while Redis is down"
    );

    server.restart();
    connected(&a, true).await;
    let metrics = a.render_metrics();
    assert!(metrics.contains("sse_redis_connected 1"), "{metrics}");
    assert!(
        !metrics.contains("sse_redis_reconnects_total 0"),
        "counted the reconnect: {metrics}"
    );
    let after = publish(&a, "news", "after").await;
    assert_eq!(ids(&mut stream, 1).await, std::slice::from_ref(&after));
    assert!(
        order(&after) > order(&first),
        "ids keep increasing when Redis lost its data"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_cut_off_catches_up_with_what_others_published() {
    let Some(server) = RedisServer::start("cut_off") else {
        return;
    };
    let proxy = Cuttable::to(server.addr()).await;
    let a = instance(&proxy.url(), "cut", config()).await;
    let b = instance(&server.url(), "cut", config()).await;
    let mut on_a = a.subscribe(["t", "u"], None).await.expect("subscribed");

    proxy.set(Link::Cut);
    connected(&a, false).await;
    let mut meanwhile = Vec::new();
    for (i, topic) in ["t", "u", "t", "t", "u"].into_iter().enumerate() {
        meanwhile.push(publish(&b, topic, &i.to_string()).await);
    }
    proxy.set(Link::Open);
    connected(&a, true).await;
    let caught_up = events(&mut on_a, meanwhile.len()).await;
    assert_eq!(
        in_topic(&caught_up, &["0", "2", "3"]),
        ["0", "2", "3"],
        "what B published to t while A was cut off, in order: {caught_up:?}"
    );
    assert_eq!(
        in_topic(&caught_up, &["1", "4"]),
        ["1", "4"],
        "and to u: {caught_up:?}"
    );
    // The stream's composite id resumes it on B with nothing missed.
    let last = caught_up.last().map(|(id, _)| id.clone()).expect("events");
    let mut on_b = b
        .subscribe(["t", "u"], Some(&last))
        .await
        .expect("subscribed");
    assert!(!on_b.is_reset(), "{last} is honoured on B");
    let live = publish(&b, "u", "live").await;
    assert_eq!(events(&mut on_a, 1).await[0].1, "live");
    let resumed = events(&mut on_b, 1).await;
    assert_eq!(resumed[0].1, "live", "B replays nothing before it");
    assert!(
        !resumed[0].0.contains('-') && live.contains('-'),
        "a composite id for a stream of two topics: {resumed:?}"
    );
    assert!(
        a.render_metrics().contains("sse_redis_reconnects_total 1"),
        "{}",
        a.render_metrics()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_longer_than_the_stream_ends_owed_clients_who_then_reset() {
    let Some(server) = RedisServer::start("gap") else {
        return;
    };
    let small = BrokerConfig {
        history: 4,
        client_buffer: 4,
        ..BrokerConfig::default()
    };
    let proxy = Cuttable::to(server.addr()).await;
    let a = instance(&proxy.url(), "gap", small.clone()).await;
    let b = instance(&server.url(), "gap", small).await;
    let first = publish(&b, "t", "0").await;
    let mut owed = a.subscribe(["t"], Some(&first)).await.expect("subscribed");

    proxy.set(Link::Cut);
    connected(&a, false).await;
    let mut meanwhile = Vec::new();
    for i in 0..20 {
        meanwhile.push(publish(&b, "t", &i.to_string()).await);
    }
    proxy.set(Link::Open);
    connected(&a, true).await;
    let ended = tokio::time::timeout(WAIT, async {
        while let Some(chunk) = owed.next().await {
            assert!(ids_in(&chunk).is_empty(), "nothing after a gap: {chunk:?}");
        }
    })
    .await;
    assert!(ended.is_ok(), "the owed client's stream ends");
    let mut resumed = a.subscribe(["t"], Some(&first)).await.expect("subscribed");
    assert!(resumed.is_reset(), "events it was owed are gone");
    assert_eq!(ids(&mut resumed, 4).await, meanwhile[16..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_gone_silent_is_noticed_and_left_for_a_live_one() {
    let Some(server) = RedisServer::start("silent") else {
        return;
    };
    let proxy = Cuttable::to(server.addr()).await;
    let mut quick = options("silent");
    quick.ping_interval = Duration::from_millis(200);
    quick.timeout = Duration::from_millis(500);
    let a = RedisBroker::with_options(&proxy.url(), config(), quick).expect("a valid URL");
    connected(&a, true).await;
    let b = instance(&server.url(), "silent", config()).await;
    let mut on_a = a.subscribe(["t"], None).await.expect("subscribed");

    // Nothing closes: only the unanswered ping tells. Publishes queued
    // meanwhile each get the error of their call.
    proxy.set(Link::Frozen);
    let queued = (0..20).map(|i| {
        let a = a.clone();
        async move { a.publish("t", &Event::new(i.to_string())).await }
    });
    for refused in futures::future::join_all(queued).await {
        assert!(
            matches!(refused, Err(RedisError::Unavailable(_))),
            "{refused:?}"
        );
    }
    connected(&a, false).await;
    let refused = a.publish("t", &Event::new("while silent")).await;
    assert!(
        matches!(refused, Err(RedisError::Unavailable(_))),
        "{refused:?}"
    );
    let meanwhile = publish(&b, "t", "meanwhile").await;

    proxy.set(Link::Open);
    connected(&a, true).await;
    assert_eq!(ids(&mut on_a, 1).await, [meanwhile]);
}
