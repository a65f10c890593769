//! The hub's application API on both engines: every test body below runs
//! four times, with the hub in memory (`in_memory::…`), on a private
//! real `redis-server` (`on_redis::…`), on a private Redis Cluster of
//! three masters (`on_cluster::…`), and on a server that takes only TLS
//! with client certificates, as an ACL user with the README's minimal
//! rights (`on_tls_acl::…`), opened from its configuration as an
//! application opens it. What an application sees must not depend on the
//! engine, nor on how Redis is secured.

#[path = "../../conformance/src/redis_server/mod.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;

use std::time::Duration;

use futures::StreamExt;
use sse_hub::broker::{BrokerConfig, BrokerError, Publish, Start};
use sse_hub::decode::{Decoded, Decoder};
use sse_hub::hub::{Body, EventStream, RedisConfig, RequestParts, Response, StreamEnd};
use sse_hub::{Event, Hub, HubConfig};

use redis_server::{RedisCluster, RedisServer, Setup, TestCertificates, TestRedis};

/// Bounds every wait; far above what any step takes.
const WAIT: Duration = Duration::from_secs(15);

fn config() -> HubConfig {
    HubConfig {
        heartbeat: Duration::from_secs(3600),
        ..HubConfig::default()
    }
}

/// A hub of `config` on the Redis that `redis` describes, with keys of its
/// own for `test`.
async fn on_redis(redis: &RedisConfig, test: &str, config: HubConfig) -> Hub {
    let mut redis = redis.clone();
    redis.key_prefix = prefix(test);
    let hub = Hub::connect(
        HubConfig {
            redis: Some(redis),
            ..config
        },
        WAIT,
    )
    .await
    .expect("Redis accepts this instance");
    assert!(hub.is_ready(), "connected to Redis");
    hub
}

/// The key prefix of `test`'s hubs.
fn prefix(test: &str) -> String {
    format!("hub-engines-{test}")
}

/// Each test body, once per engine (on Redis, one server and a cluster).
/// A body is `async fn name(hub: Hub,
/// another, open)`: `another().await` is a second instance (the same hub
/// in memory; another instance on the same Redis), `open(config).await` a
/// hub of its own configuration (in memory, a new one; on Redis, another
/// instance).
macro_rules! on_both_engines {
    (@redis $module:ident $backend:ident; $(async fn $name:ident($hub:ident: Hub, $another:ident, $open:ident) $body:block)*) => {
        mod $module {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some((_backend, redis)) = $backend(stringify!($name)) else {
                        return;
                    };
                    #[allow(unused_variables)]
                    let $hub = on_redis(&redis, stringify!($name), config()).await;
                    let nodes = redis.clone();
                    #[allow(unused_variables)]
                    let $another = move || {
                        let redis = nodes.clone();
                        async move { on_redis(&redis, stringify!($name), config()).await }
                    };
                    #[allow(unused_variables)]
                    let $open = move |config: HubConfig| {
                        let redis = redis.clone();
                        async move { on_redis(&redis, stringify!($name), config).await }
                    };
                    $body
                }
            )*
        }
    };
    ($(async fn $name:ident($hub:ident: Hub, $another:ident, $open:ident) $body:block)*) => {
        mod in_memory {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    #[allow(unused_variables)]
                    let $hub = Hub::open(config()).expect("a hub in memory");
                    let memory = $hub.clone();
                    #[allow(unused_variables)]
                    let $another = move || {
                        let hub = memory.clone();
                        async move { hub }
                    };
                    #[allow(unused_variables)]
                    let $open = |config: HubConfig| async move {
                        Hub::open(config).expect("a hub in memory")
                    };
                    $body
                }
            )*
        }

        on_both_engines!(@redis on_redis one_redis; $(async fn $name($hub: Hub, $another, $open) $body)*);
        on_both_engines!(@redis on_cluster a_cluster; $(async fn $name($hub: Hub, $another, $open) $body)*);
        on_both_engines!(@redis on_tls_acl tls_with_acl_user; $(async fn $name($hub: Hub, $another, $open) $body)*);
    };
}

/// What a Redis test runs on, kept for its length.
type Backend = Box<dyn std::any::Any>;

/// A private `redis-server` (or `SSE_TEST_REDIS_URL`).
fn one_redis(test: &str) -> Option<(Backend, RedisConfig)> {
    let redis = TestRedis::get(test)?;
    let config = RedisConfig::new(redis.url.clone());
    Some((Box::new(redis), config))
}

/// A private Redis Cluster of three masters.
fn a_cluster(test: &str) -> Option<(Backend, RedisConfig)> {
    let cluster = RedisCluster::start(test, 3)?;
    let config = RedisConfig::new(cluster.urls().join(","));
    Some((Box::new(cluster), config))
}

/// A private `redis-server` that takes only TLS, with client
/// certificates, and the hub as an ACL user with the README's rights.
fn tls_with_acl_user(test: &str) -> Option<(Backend, RedisConfig)> {
    let certificates = TestCertificates::new(test);
    let server = RedisServer::start_with(
        test,
        Setup {
            tls: Some(certificates.server(true)),
            args: Setup::readme_acl_user(&prefix(test), "sse-app", "s3cret"),
            ..Setup::default()
        },
    )?;
    let mut config = RedisConfig::new(server.tls_url("sse-app:s3cret@"));
    config.tls.ca_pem = Some(TestCertificates::read(&certificates.ca));
    config.tls.client_cert_pem = Some(TestCertificates::read(&certificates.client_cert));
    config.tls.client_key_pem = Some(TestCertificates::read(&certificates.client_key));
    Some((Box::new((server, certificates)), config))
}

/// The stream of an answer to a subscription.
fn stream_of(response: Response) -> EventStream {
    assert_eq!(response.status, 200, "a stream");
    let Body::Stream(stream) = response.body else {
        panic!("not a stream")
    };
    stream
}

/// What a client reads of a stream: its events as (id, name, data), and
/// whether it was told `reset`.
struct Client {
    stream: EventStream,
    decoder: Decoder,
    reset: bool,
}

impl Client {
    fn new(response: Response) -> Self {
        Self {
            stream: stream_of(response),
            decoder: Decoder::new(),
            reset: false,
        }
    }

    /// The next `count` events, past `connected` and `reset`.
    async fn events(&mut self, count: usize) -> Vec<(String, String, String)> {
        let mut events = Vec::new();
        while events.len() < count {
            while let Some(item) = self.decoder.next_item() {
                let Ok(Decoded::Event(event)) = item else {
                    continue;
                };
                match event.event() {
                    "connected" => {}
                    "reset" => self.reset = true,
                    name => events.push((
                        event.last_event_id().to_owned(),
                        name.to_owned(),
                        event.data().to_owned(),
                    )),
                }
            }
            if events.len() >= count {
                break;
            }
            let chunk = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .unwrap_or_else(|_| panic!("{} of {count} events came: {events:?}", events.len()))
                .expect("the stream is open")
                .expect("no stream error");
            self.decoder.feed(&chunk);
        }
        assert_eq!(events.len(), count, "more events than expected: {events:?}");
        events
    }

    /// Reads the stream to its end (within the bound): the events it
    /// carried after `connected`, the last `retry:` it was sent, and why it
    /// ended.
    async fn read_to_end(mut self) -> (Vec<String>, Option<Duration>, Option<StreamEnd>) {
        let (mut events, mut retry) = (Vec::new(), None);
        let read = async {
            while let Some(Ok(chunk)) = self.stream.next().await {
                self.decoder.feed(&chunk);
                while let Some(item) = self.decoder.next_item() {
                    match item {
                        Ok(Decoded::Retry(after)) => retry = Some(after),
                        Ok(Decoded::Event(event)) if event.event() == "message" => {
                            events.push(event.data().to_owned());
                        }
                        _ => {}
                    }
                }
            }
        };
        tokio::time::timeout(WAIT, read)
            .await
            .expect("the stream ended");
        (events, retry, self.stream.end_reason())
    }

    /// Whether the stream ends within the bound.
    async fn ends(mut self) -> bool {
        let end = async {
            while let Some(item) = self.stream.next().await {
                if item.is_err() {
                    return;
                }
            }
        };
        tokio::time::timeout(WAIT, end).await.is_ok()
    }
}

fn data(events: &[(String, String, String)]) -> Vec<&str> {
    events.iter().map(|(_, _, data)| data.as_str()).collect()
}

async fn notify(hub: &Hub, key: &str, body: &str) -> Response {
    let headers = [
        ("content-type", "application/json"),
        ("idempotency-key", key),
    ];
    let request = RequestParts {
        query: Some("topic=orders"),
        headers: &headers,
    };
    hub.routes().notify(request, body.as_bytes()).await
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

on_both_engines! {
    async fn a_client_resumes_on_another_instance_with_exactly_what_it_missed(hub: Hub, another, open) {
        let mut client = Client::new(hub.subscribe(["user-42"], None).await);
        for n in 0..3 {
            hub.publish("user-42", &Event::new(format!("seen {n}"))).await.expect("published");
        }
        let seen = client.events(3).await;
        assert_eq!(data(&seen), ["seen 0", "seen 1", "seen 2"]);
        drop(client);
        for n in 0..2 {
            hub.publish("user-42", &Event::new(format!("missed {n}"))).await.expect("published");
        }
        let other = another().await;
        let mut back = Client::new(other.subscribe(["user-42"], Some(&seen[2].0)).await);
        let missed = back.events(2).await;
        assert_eq!(data(&missed), ["missed 0", "missed 1"]);
        assert!(!back.reset, "the id was honoured");
        let live = hub.publish("user-42", &Event::new("live")).await.expect("published");
        assert_eq!(back.events(1).await[0].0, live.id.to_string());
    }

    async fn batches_ephemeral_events_and_history_read_alike(hub: Hub, another, open) {
        let (a, b) = (Event::new("a"), Event::new("b"));
        let typing = Event::new("typing");
        let mut client = Client::new(hub.subscribe(["room"], None).await);
        let published = hub
            .publish_batch(&[Publish::new("room", &a), Publish::new("news", &b), Publish::new("room", &b)])
            .await
            .expect("published");
        assert_eq!(published.len(), 3);
        hub.publish_ephemeral("room", &typing).await.expect("published");
        let got = client.events(3).await;
        assert_eq!(data(&got), ["a", "b", "typing"]);
        assert_eq!(got[0].0, published[0].id.to_string());
        // Another instance reads the same history; the ephemeral event is
        // in none.
        let other = another().await;
        let page = other.history(["room"], None, 10).await.expect("read");
        let kept: Vec<&str> = page.events.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(kept, ["a", "b"]);
        let after = other.history(["room"], Some(&page.events[0].id), 10).await.expect("read");
        assert_eq!(after.events.len(), 1);
        assert!(!after.reset && !after.more);
    }

    async fn a_rewound_stream_starts_with_the_newest_events(hub: Hub, another, open) {
        for n in 0..3 {
            hub.publish("feed", &Event::new(n.to_string())).await.expect("published");
        }
        let mut client = Client::new(hub.subscribe_from(["feed"], Start::Rewind(2)).await);
        assert_eq!(data(&client.events(2).await), ["1", "2"]);
        hub.publish("feed", &Event::new("3")).await.expect("published");
        assert_eq!(data(&client.events(1).await), ["3"]);
    }

    async fn presence_counts_open_streams(hub: Hub, another, open) {
        let count = || async { hub.presence(["lobby"]).await.expect("read")["lobby"] };
        assert_eq!(count().await, 0);
        let first = hub.subscribe(["lobby"], None).await;
        let second = hub.subscribe(["lobby", "other"], None).await;
        // Redis counts within 2 s, and no signal says when: look, within a
        // bound.
        let deadline = tokio::time::Instant::now() + WAIT;
        while count().await != 2 {
            assert!(tokio::time::Instant::now() < deadline, "2 streams never counted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop((first, second));
        while count().await != 0 {
            assert!(tokio::time::Instant::now() < deadline, "ended streams still counted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn a_retried_publish_answers_the_first_ones_answer(hub: Hub, another, open) {
        let mut client = Client::new(hub.subscribe(["orders"], None).await);
        let first = notify(&hub, "order-7", r#"{"order": 7}"#).await;
        assert_eq!(first.status, 200);
        let other = another().await;
        let retried = notify(&other, "order-7", r#"{"order": 7}"#).await;
        assert_eq!(retried.status, 200);
        assert_eq!(header(&retried, "idempotent-replayed"), Some("true"));
        let Body::Full(first) = first.body else { panic!("a full body") };
        let Body::Full(retried_body) = retried.body else { panic!("a full body") };
        assert_eq!(first, retried_body);
        let different = notify(&other, "order-7", r#"{"order": 8}"#).await;
        assert_eq!(different.status, 422);
        // Exactly one event: the next publish comes right after it.
        hub.publish("orders", &Event::new("next")).await.expect("published");
        assert_eq!(data(&client.events(2).await), [r#"{"order":7}"#, "next"]);
    }

    async fn no_topic_is_the_callers_mistake_not_an_outage(hub: Hub, another, open) {
        let refused = hub.subscribe(Vec::<String>::new(), None).await;
        assert_eq!(refused.status, 400, "not a 503");
        assert_eq!(header(&refused, "retry-after"), None);
        let err = hub.history(Vec::<String>::new(), None, 10).await.expect_err("no topic");
        assert_eq!(err.broker_error(), Some(&BrokerError::NoTopics));
    }

    async fn shutdown_ends_streams_and_refuses_publishes(hub: Hub, another, open) {
        let client = Client::new(hub.subscribe(["news"], None).await);
        assert!(hub.is_ready());
        hub.shutdown();
        assert!(client.ends().await, "the stream ended");
        assert!(hub.is_closed() && !hub.is_ready());
        assert!(hub.publish("news", &Event::new("late")).await.is_err());
        assert_eq!(hub.subscribe(["news"], None).await.status, 503);
    }

    async fn a_stream_that_falls_behind_ends_and_says_how_far(hub: Hub, another, open) {
        let small = open(HubConfig {
            broker: BrokerConfig { client_buffer: 4, ..BrokerConfig::default() },
            ..config()
        })
        .await;
        let Body::Stream(mut stream) = small.subscribe_events_only(["firehose"], None).await.body else {
            panic!("not a stream")
        };
        for n in 0..8 {
            small.publish("firehose", &Event::new(n.to_string())).await.expect("published");
        }
        // A client gets a turn (100 ms) to read a burst before its buffer
        // counts: wait it out, then the next publish finds it behind.
        tokio::time::sleep(Duration::from_millis(300)).await;
        small.publish("firehose", &Event::new("one more")).await.expect("published");
        // On Redis the publish is answered before this instance's mirror
        // applies it: the cut shows in the counters once it has.
        let deadline = tokio::time::Instant::now() + WAIT;
        while small.stats().lagged == 0 {
            assert!(tokio::time::Instant::now() < deadline, "never cut off");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // It read nothing: it is cut off, and told why once it ends.
        let drained = async { while stream.next().await.is_some() {} };
        tokio::time::timeout(WAIT, drained).await.expect("the stream ended");
        let Some(StreamEnd::Lagged { behind }) = stream.end_reason() else {
            panic!("ended for {:?}", stream.end_reason());
        };
        assert!(behind >= 4, "{behind} events behind");
    }

    async fn metrics_count_this_instances_streams(hub: Hub, another, open) {
        let _client = Client::new(hub.subscribe(["news"], None).await);
        assert_eq!(hub.client_count(), 1);
        assert!(hub.render_metrics().contains("sse_clients 1"), "{}", hub.render_metrics());
    }

    async fn a_drain_ends_every_stream_with_a_retry_and_publishing_goes_on(hub: Hub, another, open) {
        let retry = Duration::from_millis(300);
        let draining = open(HubConfig { retry, ..config() }).await;
        let mut clients = Vec::new();
        for n in 0..20 {
            clients.push(Client::new(draining.subscribe([format!("user-{n}")], None).await));
        }
        let window = Duration::from_secs(2);
        let started = tokio::time::Instant::now();
        let drain = tokio::spawn({
            let hub = draining.clone();
            async move { hub.drain(window).await }
        });
        tokio::time::timeout(WAIT, async {
            while !draining.is_draining() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the drain began");
        // Readiness turns first; new streams are sent elsewhere.
        assert!(!draining.is_ready());
        let ready = draining.routes().readyz();
        assert_eq!(ready.status, 503);
        let Body::Full(why) = &ready.body else { panic!("a JSON error") };
        assert!(String::from_utf8_lossy(why).contains("draining"), "{why:?}");
        let refused = draining.subscribe(["user-0"], None).await;
        assert_eq!(refused.status, 503);
        assert_eq!(header(&refused, "retry-after"), Some("1"));
        // Publishing goes on while the streams drain.
        let mut delivered = 0;
        for n in 0..20 {
            draining.publish(&format!("user-{n}"), &Event::new("during")).await.expect("published");
        }
        for client in clients {
            let (events, sent_retry, why) = client.read_to_end().await;
            assert_eq!(why, Some(StreamEnd::Drained));
            let sent_retry = sent_retry.expect("a retry: before the end");
            assert!(sent_retry <= retry, "{sent_retry:?}");
            delivered += events.len();
        }
        assert!(started.elapsed() <= window + Duration::from_secs(1), "{:?}", started.elapsed());
        tokio::time::timeout(WAIT, drain).await.expect("the drain ended").expect("no panic");
        assert!(draining.is_closed());
        // Most streams were still open for the publishes (those whose
        // moment came within `retry` of the start had ended).
        assert!(delivered >= 5, "{delivered} of 20 delivered during the drain");
    }

    async fn a_drained_stream_that_received_nothing_resumes_without_a_gap(hub: Hub, another, open) {
        // Resuming on another instance needs a shared engine: in memory
        // the broker's own test covers it (`broker::drain_tests`).
        if hub.config().redis.is_none() {
            return;
        }
        for topics in [&["quiet-1"][..], &["quiet-a", "quiet-b"][..]] {
            let draining = open(config()).await;
            let mut stream = stream_of(draining.subscribe(topics, None).await);
            let drain = tokio::spawn({
                let draining = draining.clone();
                async move { draining.drain(Duration::from_millis(300)).await }
            });
            let mut decoder = Decoder::new();
            let read = async {
                while let Some(Ok(chunk)) = stream.next().await {
                    decoder.feed(&chunk);
                    while decoder.next_item().is_some() {}
                }
            };
            tokio::time::timeout(WAIT, read).await.expect("the stream ended");
            assert_eq!(stream.end_reason(), Some(StreamEnd::Drained));
            drop(stream);
            tokio::time::timeout(WAIT, drain).await.expect("drained").expect("no panic");
            // The stream carried no event, yet its end set a last event id.
            let resume = decoder.last_event_id().to_owned();
            assert!(!resume.is_empty(), "{topics:?}: no last event id");
            let missed = hub.publish(topics[topics.len() - 1], &Event::new("while away")).await.expect("published");
            let mut back = Client::new(another().await.subscribe(topics, Some(&resume)).await);
            let got = back.events(1).await;
            assert_eq!(data(&got), ["while away"], "{topics:?}");
            assert!(!back.reset, "{topics:?}: resumed after {resume:?} with a reset");
            if let [_] = topics {
                assert_eq!(got[0].0, missed.id.to_string());
            }
        }
    }
}
