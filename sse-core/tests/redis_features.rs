//! Multi-instance mode beyond publish and subscribe, against a real
//! `redis-server`: ephemeral events, batches, history on an instance that
//! does not follow the topic, presence over instances, and idempotency
//! keys shared by instances.

#[path = "../../conformance/src/redis_server/mod.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;

#[path = "support/mirror.rs"]
#[allow(dead_code)]
mod mirror;

use std::time::Duration;

use sse_hub::Event;
use sse_hub::broker::{BrokerConfig, Publish};
use sse_hub::hub::{Body, Hub, HubConfig, RedisConfig, RequestParts, Response};
use sse_hub::redis::{RedisBroker, RedisOptions};

use mirror::{WAIT, connected, events, order, script_calls};
use redis_server::TestRedis;

fn options(test: &str) -> RedisOptions {
    let mut options = RedisOptions::default();
    // Tests may share one Redis (SSE_TEST_REDIS_URL): each has its keys.
    options.prefix = format!("sse-test-{test}-{}", std::process::id());
    options.timeout = Duration::from_secs(2);
    options
}

async fn instance(url: &str, test: &str) -> RedisBroker {
    let config = BrokerConfig {
        history: 100,
        ..BrokerConfig::default()
    };
    let redis = RedisBroker::with_options(url, config, options(test)).expect("a valid URL");
    connected(&redis, true).await;
    redis
}

/// A hub opened from its configuration, as an application opens it, on
/// the same Redis and keys as `instance(url, test)`.
async fn hub(url: &str, test: &str) -> Hub {
    let mut redis = RedisConfig::new(url);
    redis.key_prefix = options(test).prefix;
    redis.timeout = Duration::from_secs(2);
    let hub = Hub::open(HubConfig {
        redis: Some(redis),
        broker: BrokerConfig {
            history: 100,
            ..BrokerConfig::default()
        },
        ..HubConfig::default()
    })
    .expect("a valid URL");
    assert!(hub.ready_within(WAIT).await, "connected to Redis");
    hub
}

fn json(response: Response) -> serde_json::Value {
    let Body::Full(body) = response.body else {
        panic!("not a full body");
    };
    serde_json::from_slice(&body).expect("JSON")
}

/// An ephemeral event reaches the live streams of both instances with an
/// id, is never replayed, and resuming with its id on an instance that
/// loads the topic only then is not a reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_events_reach_every_instance_live_and_resume_without_reset() {
    let Some(redis) = TestRedis::get("ephemeral_events") else {
        return;
    };
    let (a, b) = (
        instance(&redis.url, "ephemeral").await,
        instance(&redis.url, "ephemeral").await,
    );
    let mut on_a = a.subscribe(["room"], None).await.expect("subscribed");
    let mut on_b = b.subscribe(["room"], None).await.expect("subscribed");
    let kept = a
        .publish("room", &Event::new("kept"))
        .await
        .expect("published");
    let typing = b
        .publish_ephemeral("room", &Event::new("typing"))
        .await
        .expect("published");
    assert!(order(&typing.id.to_string()) > order(&kept.id.to_string()));
    for stream in [&mut on_a, &mut on_b] {
        let got = events(stream, 2).await;
        assert_eq!(got[1], (typing.id.to_string(), "typing".into()));
    }
    drop((on_a, on_b));
    // A third instance loads the topic only now: Redis holds no entry of
    // the ephemeral event, yet its id resumes exactly.
    let c = instance(&redis.url, "ephemeral").await;
    let resumed = c
        .subscribe(["room"], Some(&typing.id.to_string()))
        .await
        .expect("subscribed");
    assert!(
        !resumed.is_reset(),
        "resuming with an ephemeral id is no loss"
    );
    let history = c.history(["room"], None, 10).await.expect("read");
    let data: Vec<&str> = history.events.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(data, ["kept"]);
    let across = c
        .history(["room"], Some(&kept.id.to_string()), 10)
        .await
        .expect("read");
    assert!(!across.reset && across.events.is_empty());
}

/// A batch over several topics is one script call on a standalone Redis,
/// each topic's events under increasing ids in batch order; an instance
/// that follows none of the topics reads them back through `history`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_one_call_and_history_reads_topics_nobody_follows_here() {
    let Some(redis) = TestRedis::get("batch_and_history") else {
        return;
    };
    let a = instance(&redis.url, "batch").await;
    let texts: Vec<(String, Event)> = (0..30)
        .map(|n| (format!("user-{}", n % 3), Event::new(n.to_string())))
        .collect();
    let batch: Vec<Publish<'_>> = texts.iter().map(|(t, e)| Publish::new(t, e)).collect();
    // Redis learns the script on its first call, which then counts twice.
    a.publish("warm-up", &Event::new("x"))
        .await
        .expect("published");
    let before = script_calls(&redis.url).await;
    let on_a = hub(&redis.url, "batch").await;
    let published = on_a.publish_batch(&batch).await.expect("published");
    let calls = script_calls(&redis.url).await - before;
    assert_eq!(calls, 1, "one script call for 30 events over 3 topics");
    for user in 0..3 {
        let ids: Vec<(u64, u64)> = published
            .iter()
            .skip(user)
            .step_by(3)
            .map(|p| order(&p.id.to_string()))
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "increasing: {ids:?}");
    }
    // B follows none of them: it reads Redis.
    let on_b = hub(&redis.url, "batch").await;
    let page = on_b.history(["user-1"], None, 4).await.expect("read");
    let data: Vec<&str> = page.events.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(data, ["16", "19", "22", "25", "28"][1..]);
    assert!(!page.more && !page.reset);
    let first = page.events[0].id.clone();
    let rest = on_b
        .history(["user-1"], Some(&first), 2)
        .await
        .expect("read");
    assert_eq!(rest.events.len(), 2);
    assert!(rest.more);
    // The tail lets the topic go once the read is done (no signal is
    // public for it: look, within a bound).
    let deadline = tokio::time::Instant::now() + WAIT;
    while !on_b.render_metrics().contains("\nsse_topics 0\n") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the read left a topic followed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Streams on two instances are counted on both within 2 s, and a stream
/// that ends is uncounted within 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_counts_streams_over_instances() {
    let Some(redis) = TestRedis::get("presence") else {
        return;
    };
    let (on_a, on_b) = (
        hub(&redis.url, "presence").await,
        hub(&redis.url, "presence").await,
    );
    let count = |hub: &Hub| {
        let hub = hub.clone();
        async move { hub.presence(["lobby"]).await.expect("read")["lobby"] }
    };
    let until = |hub: Hub, expected: usize| async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        loop {
            let now = hub.presence(["lobby"]).await.expect("read")["lobby"];
            if now == expected {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{now} streams counted, {expected} open, after 2 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    assert_eq!(count(&on_a).await, 0);
    let first = on_a.subscribe(["lobby"], None).await;
    let second = on_b.subscribe(["lobby", "other"], None).await;
    let third = on_b.subscribe(["lobby"], None).await;
    until(on_a.clone(), 3).await;
    until(on_b.clone(), 3).await;
    drop((second, third));
    until(on_a.clone(), 1).await;
    drop(first);
    until(on_b.clone(), 0).await;
}

/// 50 concurrent publishes with one key, split over two instances,
/// publish once, and every one of them answers the same id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_publishes_once_over_two_instances() {
    let Some(redis) = TestRedis::get("idempotency") else {
        return;
    };
    let a = instance(&redis.url, "idempotency").await;
    let (on_a, on_b) = (
        hub(&redis.url, "idempotency").await,
        hub(&redis.url, "idempotency").await,
    );
    let mut stream = a.subscribe(["orders"], None).await.expect("subscribed");
    let headers = [
        ("content-type", "application/json"),
        ("idempotency-key", "order-77"),
    ];
    let request = RequestParts {
        query: Some("topic=orders"),
        headers: &headers,
    };
    let calls = (0..50).map(|n| {
        let hub = if n % 2 == 0 {
            on_a.clone()
        } else {
            on_b.clone()
        };
        async move { hub.routes().notify(request, br#"{"order": 77}"#).await }
    });
    let answers = futures::future::join_all(calls).await;
    let mut replayed = 0;
    let mut bodies = Vec::new();
    for answer in answers {
        assert_eq!(answer.status, 200);
        replayed += usize::from(
            answer
                .headers
                .iter()
                .any(|(n, v)| *n == "idempotent-replayed" && v == "true"),
        );
        bodies.push(json(answer)["id"].clone());
    }
    assert_eq!(replayed, 49, "all but the first are replays");
    assert!(bodies.iter().all(|id| id == &bodies[0]), "{bodies:?}");
    // Exactly one event: a second publish comes right after it.
    let next = a
        .publish("orders", &Event::new("next"))
        .await
        .expect("published");
    let got = events(&mut stream, 2).await;
    assert_eq!(got[0].0, bodies[0].as_str().unwrap_or_default());
    assert_eq!(got[1].0, next.id.to_string());
    // The same key for another request, on the other instance: 422.
    let other = on_b.routes().notify(request, br#"{"order": 78}"#).await;
    assert_eq!(other.status, 422);
}
