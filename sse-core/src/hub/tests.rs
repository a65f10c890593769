use futures::{FutureExt, StreamExt};

use super::*;
use crate::Broker;
use crate::broker::{BrokerConfig, Start};
use crate::decode::{Decoded, Decoder};

/// A hub in memory whose ids start at 1000.
pub(super) fn hub_with(config: HubConfig) -> Hub {
    let broker = Broker::with_first_id(config.broker.clone(), 1000);
    Hub::on(crate::engine::Engine::in_memory(broker), config, None)
}

/// In memory mode, the hub's futures are ready at once.
pub(super) fn in_memory<T>(future: impl Future<Output = T>) -> T {
    futures::FutureExt::now_or_never(Box::pin(future)).expect("ready at once in memory")
}

pub(super) fn hub() -> Hub {
    hub_with(HubConfig::default())
}

pub(super) fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

pub(super) fn json_body(response: Response) -> serde_json::Value {
    let Body::Full(bytes) = response.body else {
        panic!("expected a full body");
    };
    serde_json::from_slice(&bytes).expect("a JSON body")
}

pub(super) async fn publish(hub: &Hub, query: &str, body: &str) -> Response {
    let request = RequestParts {
        query: Some(query),
        headers: &[("content-type", "application/json")],
    };
    hub.routes().notify(request, body.as_bytes()).await
}

/// Publishes, and checks that the publish was taken.
pub(super) async fn publish_ok(hub: &Hub, query: &str, body: &str) {
    let response = publish(hub, query, body).await;
    assert_eq!(response.status, 200, "publish {query} {body}");
}

/// What the stream has ready now, decoded.
pub(super) fn ready(response: &mut Response) -> Vec<Decoded> {
    let Body::Stream(stream) = &mut response.body else {
        panic!("expected a stream");
    };
    let mut decoder = Decoder::new();
    while let Some(Some(Ok(chunk))) = stream.next().now_or_never() {
        decoder.feed(&chunk);
    }
    std::iter::from_fn(|| decoder.next_item())
        .map(Result::unwrap)
        .collect()
}

/// (event, data, last event id) of the events.
pub(super) fn events(items: &[Decoded]) -> Vec<(String, String, String)> {
    items
        .iter()
        .filter_map(|item| match item {
            Decoded::Event(e) => Some((
                e.event().to_owned(),
                e.data().to_owned(),
                e.last_event_id().to_owned(),
            )),
            _ => None,
        })
        .collect()
}

/// `GET /events?{query}`, with one header when given.
pub(super) async fn events_with(hub: &Hub, query: &str, header: Option<(&str, &str)>) -> Response {
    let headers: Vec<(&str, &str)> = header.into_iter().collect();
    hub.routes()
        .events(RequestParts {
            query: Some(query),
            headers: &headers,
        })
        .await
}

pub(super) async fn subscribe(hub: &Hub, query: &str, last_event_id: Option<&str>) -> Response {
    events_with(hub, query, last_event_id.map(|id| ("last-event-id", id))).await
}

#[tokio::test]
async fn events_answers_with_the_stream_headers_and_preamble() {
    let hub = hub();
    let mut response = subscribe(&hub, "", None).await;
    assert_eq!(response.status, 200);
    assert_eq!(header(&response, "content-type"), Some("text/event-stream"));
    assert_eq!(header(&response, "cache-control"), Some("no-cache"));
    assert_eq!(header(&response, "x-accel-buffering"), Some("no"));
    assert_eq!(header(&response, "connection"), Some("keep-alive"));
    let items = ready(&mut response);
    assert_eq!(items[0], Decoded::Retry(std::time::Duration::from_secs(3)));
    let connected = events(&items);
    assert_eq!(connected.len(), 1);
    let (name, data, id) = &connected[0];
    assert_eq!((name.as_str(), id.as_str()), ("connected", ""));
    let data: serde_json::Value = serde_json::from_str(data).unwrap();
    assert!(data["clientId"].as_u64().is_some());
}

#[tokio::test]
async fn client_ids_are_unique() {
    let hub = hub();
    let mut ids = std::collections::HashSet::new();
    for _ in 0..5 {
        let mut response = subscribe(&hub, "", None).await;
        let (_, data, _) = events(&ready(&mut response)).remove(0);
        assert!(ids.insert(data));
    }
}

#[tokio::test]
async fn notify_publishes_compact_json_under_the_event_name() {
    let hub = hub();
    let mut stream = subscribe(&hub, "topic=news", None).await;
    ready(&mut stream);
    let response = publish(
        &hub,
        "topic=news&event=headline",
        "{ \"b\": 1,\n \"a\": [1, 2] }",
    )
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(
        json_body(response),
        serde_json::json!({"sent": 1, "id": "1000"})
    );
    assert_eq!(
        events(&ready(&mut stream)),
        [(
            "headline".to_owned(),
            r#"{"b":1,"a":[1,2]}"#.to_owned(),
            "1000".to_owned()
        )]
    );
}

#[tokio::test]
async fn notify_defaults_to_the_default_topic_and_notification() {
    let hub = hub();
    let mut stream = subscribe(&hub, "", None).await;
    ready(&mut stream);
    assert_eq!(publish(&hub, "", "\"hi\"").await.status, 200);
    assert_eq!(
        events(&ready(&mut stream)),
        [("notification".into(), "\"hi\"".into(), "1000".into())]
    );
}

#[tokio::test]
async fn replay_by_header_by_query_and_header_over_query() {
    let hub = hub();
    for i in 0..3 {
        publish_ok(&hub, "", &i.to_string()).await;
    }
    let replayed = |query: &str, header: Option<&str>| -> Vec<String> {
        let mut response = in_memory(subscribe(&hub, query, header));
        events(&ready(&mut response))
            .into_iter()
            .filter(|(name, _, _)| name == "notification")
            .map(|(_, data, _)| data)
            .collect()
    };
    assert_eq!(replayed("", Some("1000")), ["1", "2"]);
    assert_eq!(replayed("lastEventId=1001", None), ["2"]);
    assert_eq!(
        replayed("lastEventId=1000", Some("1001")),
        ["2"],
        "header wins"
    );
    assert_eq!(
        replayed("lastEventId=1000", Some("")),
        ["1", "2"],
        "empty header is absent"
    );
    assert!(
        replayed("lastEventId=", None).is_empty(),
        "empty query id is absent"
    );
}

#[tokio::test]
async fn unhonourable_ids_send_reset_then_everything_retained() {
    let hub = hub();
    publish_ok(&hub, "", "1").await;
    publish_ok(&hub, "", "2").await;
    let huge = "9".repeat(10_000);
    for given in [
        "garbage",
        "99999999",
        "1002",
        "-5",
        huge.as_str(),
        "1\u{0}2",
    ] {
        let mut response = subscribe(&hub, "", Some(given)).await;
        let got = events(&ready(&mut response));
        let names: Vec<&str> = got.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["connected", "reset", "notification", "notification"],
            "{given:.20}"
        );
        let (_, reset, reset_id) = &got[1];
        assert_eq!(reset_id, "", "reset carries no id");
        let reset: serde_json::Value = serde_json::from_str(reset).unwrap();
        assert_eq!(reset["lastEventId"], given);
    }
}

#[tokio::test]
async fn a_non_utf8_last_event_id_header_resets() {
    let hub = hub();
    publish_ok(&hub, "", "1").await;
    let mut response = hub
        .routes()
        .events(RequestParts {
            query: None,
            headers: &[("last-event-id", &b"\xFF\xFE"[..])],
        })
        .await;
    assert_eq!(response.status, 200);
    let names: Vec<String> = events(&ready(&mut response))
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(names, ["connected", "reset", "notification"]);
}

#[tokio::test]
async fn bad_event_queries_answer_400_with_a_json_error() {
    let hub = hub();
    let many = vec!["topic=a"; 5000].join("&");
    for query in ["topic=", "topic=%FF", "topic=a%0Ab", many.as_str()] {
        let response = subscribe(&hub, query, None).await;
        assert_eq!(response.status, 400, "{query:.30}");
        assert!(json_body(response)["error"].as_str().is_some());
    }
    assert_eq!(hub.client_count(), 0);
}

#[tokio::test]
async fn above_max_clients_events_answers_503_with_retry_after() {
    let hub = hub_with(HubConfig {
        broker: BrokerConfig {
            max_clients: 1,
            ..BrokerConfig::default()
        },
        ..HubConfig::default()
    });
    let _first = subscribe(&hub, "", None).await;
    let refused = subscribe(&hub, "", None).await;
    assert_eq!(refused.status, 503);
    assert_eq!(header(&refused, "retry-after"), Some("1"));
    assert!(
        json_body(refused)["error"]
            .as_str()
            .unwrap()
            .contains("too many clients")
    );
}

#[tokio::test]
async fn notify_errors_in_order_and_nothing_published() {
    let hub = hub_with(HubConfig {
        publish_token: Some("s3cret".into()),
        max_body: 16,
        ..HubConfig::default()
    });
    let request = |auth: Option<&'static [u8]>, ct: Option<&'static [u8]>, query, body| {
        let headers: Vec<(&str, &[u8])> = [("authorization", auth), ("content-type", ct)]
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)))
            .collect();
        let request = RequestParts {
            query: Some(query),
            headers: &headers,
        };
        in_memory(hub.routes().notify(request, body))
    };
    let good_auth = Some(&b"Bearer s3cret"[..]);
    let json = Some(&b"application/json"[..]);
    let cases: [(u16, Response); 12] = [
        (
            401,
            request(None, None, "topic=", b"not json and far too long"),
        ),
        (401, request(Some(b"Bearer wrong!"), json, "", b"1")),
        (401, request(Some(b"Basic s3cret"), json, "", b"1")),
        (401, request(Some(b"Bearer"), json, "", b"1")),
        (
            415,
            request(good_auth, None, "topic=", b"not json and far too long"),
        ),
        (415, request(good_auth, Some(b"text/plain"), "", b"1")),
        (
            415,
            request(good_auth, Some(b"application/jsonx"), "", b"1"),
        ),
        (
            413,
            request(good_auth, json, "topic=", b"not json and far too long"),
        ),
        (400, request(good_auth, json, "topic=", b"1")),
        (400, request(good_auth, json, "event=a%0Ab", b"1")),
        (400, request(good_auth, json, "", b"{\"a\":")),
        (400, request(good_auth, json, "", b"\xFF")),
    ];
    for (i, (status, response)) in cases.into_iter().enumerate() {
        assert_eq!(response.status, status, "case {i}");
        if status == 401 {
            assert_eq!(header(&response, "www-authenticate"), Some("Bearer"));
        }
        assert!(json_body(response)["error"].is_string(), "case {i}");
    }
    assert_eq!(hub.stats().published, 0, "nothing published on error");
    let ok = request(
        Some(b"bearer s3cret"),
        Some(b"Application/JSON; charset=utf-8"),
        "",
        b"[1]",
    );
    assert_eq!(ok.status, 200);
    assert_eq!(hub.stats().published, 1);
}

#[tokio::test]
async fn a_body_exactly_at_the_limit_is_accepted() {
    let hub = hub_with(HubConfig {
        max_body: 4,
        ..HubConfig::default()
    });
    assert_eq!(publish(&hub, "", "1234").await.status, 200);
    assert_eq!(publish(&hub, "", "12345").await.status, 413);
}

/// A body whose chunks never come: polling it shows the body was read.
pub(super) fn stalled_body(
    polled: &std::sync::atomic::AtomicBool,
) -> impl futures::Stream<Item = Result<&'static [u8], String>> + '_ {
    futures::stream::poll_fn(move |_| {
        polled.store(true, std::sync::atomic::Ordering::SeqCst);
        std::task::Poll::Pending
    })
}

#[tokio::test]
async fn a_content_length_over_the_limit_is_refused_before_the_body_is_read() {
    let hub = hub_with(HubConfig {
        publish_token: Some("t".into()),
        max_body: 16,
        ..HubConfig::default()
    });
    let polled = std::sync::atomic::AtomicBool::new(false);
    let huge_with_token = [
        ("content-type", "application/json"),
        ("authorization", "Bearer t"),
        ("content-length", "99999999999"),
    ];
    let head = |headers| RequestParts {
        query: None,
        headers,
    };
    let huge = head(&huge_with_token);
    let response = hub.routes().notify_from(huge, stalled_body(&polled)).await;
    assert_eq!(response.status, 413);
    assert!(json_body(response)["error"].is_string());
    // The hub's order holds without the body too: 401 comes first.
    let huge_without_token = [
        ("content-type", "application/json"),
        ("content-length", "99999999999"),
    ];
    let unauthorised = head(&huge_without_token);
    let response = hub
        .routes()
        .notify_from(unauthorised, stalled_body(&polled))
        .await;
    assert_eq!(response.status, 401);
    assert!(!polled.into_inner(), "the body was never read");
    // A length at the limit is read as usual.
    let at_limit_headers = [
        ("content-type", "application/json"),
        ("authorization", "Bearer t"),
        ("content-length", "16"),
    ];
    let at_limit = head(&at_limit_headers);
    let body = futures::stream::iter([Ok::<_, String>(&b"\"0123456789abcd\""[..])]);
    assert_eq!(hub.routes().notify_from(at_limit, body).await.status, 200);
    assert_eq!(hub.stats().published, 1);
}

#[tokio::test(start_paused = true)]
async fn a_body_that_stalls_is_answered_408_after_the_request_timeout() {
    let hub = hub_with(HubConfig {
        body_timeout: std::time::Duration::from_secs(10),
        ..HubConfig::default()
    });
    let polled = std::sync::atomic::AtomicBool::new(false);
    let head = RequestParts {
        query: None,
        headers: &[("content-type", "application/json")],
    };
    let started = tokio::time::Instant::now();
    let response = hub.routes().notify_from(head, stalled_body(&polled)).await;
    assert_eq!(response.status, 408);
    assert_eq!(started.elapsed(), std::time::Duration::from_secs(10));
    let message = json_body(response)["error"].as_str().map(str::to_owned);
    assert_eq!(
        message.as_deref(),
        Some("the body did not arrive within 10s")
    );
    assert_eq!(hub.stats().published, 0);
    // A slow body that arrives whole in time is published.
    let slow = futures::stream::unfold(0, |sent| async move {
        (sent < 3).then_some(())?;
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        Some((Ok::<_, String>(&b"1"[..]), sent + 1))
    });
    assert_eq!(hub.routes().notify_from(head, slow).await.status, 200);
}

#[tokio::test]
async fn injection_through_name_topic_or_data_is_impossible() {
    let hub = hub();
    let mut stream = subscribe(&hub, "topic=t", None).await;
    ready(&mut stream);
    for query in [
        "topic=t&event=x%0Aid:%201",
        "topic=t%0Adata:x",
        "topic=t&event=x%0D%0A%0D%0Adata:%20y",
    ] {
        assert_eq!(publish(&hub, query, "1").await.status, 400, "{query}");
    }
    let sneaky = r#""line\nid: 666\n\nevent: evil\ndata: gotcha""#;
    assert_eq!(publish(&hub, "topic=t", sneaky).await.status, 200);
    let got = events(&ready(&mut stream));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "notification");
    assert_eq!(got[0].1, sneaky, "JSON escapes keep it on one data line");
    assert_eq!(got[0].2, "1000");
}

#[tokio::test]
async fn healthz_metrics_and_the_demo_page() {
    let hub = hub();
    let health = hub.routes().healthz();
    assert_eq!(health.status, 200);
    assert!(matches!(health.body, Body::Full(ref b) if &b[..] == b"ok"));

    let _stream = subscribe(&hub, "", None).await;
    publish_ok(&hub, "", "1").await;
    let metrics = hub.routes().metrics();
    assert_eq!(
        header(&metrics, "content-type"),
        Some(crate::metrics::CONTENT_TYPE)
    );
    let Body::Full(text) = metrics.body else {
        panic!()
    };
    let text = String::from_utf8(text.to_vec()).unwrap();
    assert!(text.contains("sse_clients 1"), "{text}");
    assert!(text.contains("sse_events_published_total 1"), "{text}");

    let page = hub.routes().index();
    assert_eq!(
        header(&page, "content-type"),
        Some("text/html; charset=utf-8")
    );
    let Body::Full(html) = page.body else {
        panic!()
    };
    let html = String::from_utf8(html.to_vec()).unwrap();
    for needle in [
        "new EventSource(base + \"events",
        "fetch(base + \"notify",
        "lastEventId",
        "attempts",
        "readyState",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external assets"
    );
}

#[test]
fn the_broker_settings_of_the_config_are_the_engines() {
    let hub = Hub::open(HubConfig {
        broker: BrokerConfig {
            history: 3,
            ..BrokerConfig::default()
        },
        ..HubConfig::default()
    })
    .expect("a hub");
    assert_eq!(hub.engine.local().config().history, 3);
}

#[tokio::test]
async fn a_handler_subscribes_to_topics_it_picked_in_one_line() {
    let hub = hub();
    let before = publish(&hub, "topic=user-42", "1").await;
    let id = json_body(before)["id"].as_str().unwrap().to_owned();
    publish_ok(&hub, "topic=user-42", "2").await;
    publish_ok(&hub, "topic=user-7", "3").await;
    // Topics the application chose, resumed after the client's id.
    let mut response = hub.subscribe(["user-42"], Some(&id)).await;
    assert_eq!(response.status, 200);
    assert_eq!(header(&response, "content-type"), Some("text/event-stream"));
    let items = ready(&mut response);
    assert!(matches!(items[0], Decoded::Retry(_)));
    let got = events(&items);
    assert_eq!(got[0].0, "connected");
    assert_eq!(
        got[1..].iter().map(|e| e.1.as_str()).collect::<Vec<_>>(),
        ["2"]
    );
    // An id that cannot be honoured gives the hub's reset.
    let mut response = hub.subscribe(["user-42"], Some("garbage")).await;
    let got = events(&ready(&mut response));
    assert_eq!(got[1].0, "reset");
    assert_eq!(
        got[2..].iter().map(|e| e.1.as_str()).collect::<Vec<_>>(),
        ["1", "2"]
    );
}

#[tokio::test]
async fn rewind_replays_the_newest_events_of_the_topics_then_live() {
    // No coalescing window: a live event right after the replay is ready
    // at once.
    let hub = hub_with(HubConfig {
        coalesce: std::time::Duration::ZERO,
        ..HubConfig::default()
    });
    for (topic, data) in [("a", "1"), ("b", "2"), ("a", "3"), ("a", "4"), ("b", "5")] {
        publish_ok(&hub, &format!("topic={topic}"), data).await;
    }
    let data_of = |response: &mut Response| -> Vec<String> {
        events(&ready(response))
            .into_iter()
            .filter(|(name, _, _)| name != "connected")
            .map(|(name, data, _)| if name == "reset" { name } else { data })
            .collect()
    };
    let mut rewound = subscribe(&hub, "topic=a&topic=b&rewind=3", None).await;
    assert_eq!(
        data_of(&mut rewound),
        ["3", "4", "5"],
        "the newest 3, no reset"
    );
    publish_ok(&hub, "topic=b", "6").await;
    assert_eq!(data_of(&mut rewound), ["6"], "then live");
    let mut more = subscribe(&hub, "topic=a&rewind=1000", None).await;
    assert_eq!(
        data_of(&mut more),
        ["1", "3", "4"],
        "fewer if fewer are retained"
    );
    // A last event id wins over rewind.
    let mut resumed = subscribe(&hub, "topic=a&rewind=1", Some("1001")).await;
    assert_eq!(data_of(&mut resumed), ["3", "4"]);
    for bad in ["0", "1001", "x", ""] {
        let response = subscribe(&hub, &format!("topic=a&rewind={bad}"), None).await;
        assert_eq!(response.status, 400, "rewind={bad}");
        assert!(json_body(response)["error"].as_str().is_some());
    }
    // The library call, as a handler would make it.
    let mut response = hub.subscribe_from(["b"], Start::Rewind(1)).await;
    assert_eq!(data_of(&mut response), ["6"]);
}

mod drain_on {
    use std::time::Duration;

    use super::*;

    fn stream_of(response: Response) -> EventStream {
        let Body::Stream(stream) = response.body else {
            panic!("not a stream: {}", response.status)
        };
        stream
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_signal_drains_and_a_second_ends_everything_at_once() {
        let hub = hub();
        let mut stream = stream_of(hub.subscribe(["news"], None).await);
        let (signal, signals) = futures::channel::mpsc::unbounded();
        let stopped = tokio::spawn(hub.clone().drain_on(signals, Duration::from_secs(3600)));
        signal.unbounded_send(()).unwrap();
        while !hub.is_draining() {
            tokio::task::yield_now().await;
        }
        assert!(!hub.is_closed(), "draining, not shut down");
        assert_eq!(hub.routes().readyz().status, 503);
        let started = tokio::time::Instant::now();
        signal.unbounded_send(()).unwrap();
        stopped.await.unwrap();
        assert!(hub.is_closed());
        while stream.next().await.is_some() {}
        assert_eq!(stream.end_reason(), Some(StreamEnd::Shutdown));
        assert_eq!(started.elapsed(), Duration::ZERO, "at once");
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_second_signal_the_drain_runs_its_window_then_shuts_down() {
        let hub = hub();
        let mut stream = stream_of(hub.subscribe(["news"], None).await);
        let window = Duration::from_secs(30);
        let stopped = tokio::spawn(hub.clone().drain_on(futures::stream::iter([()]), window));
        let started = tokio::time::Instant::now();
        while stream.next().await.is_some() {}
        assert_eq!(stream.end_reason(), Some(StreamEnd::Drained));
        assert!(started.elapsed() <= window);
        drop(stream);
        stopped.await.unwrap();
        assert!(hub.is_closed());
    }

    #[tokio::test(start_paused = true)]
    async fn signals_that_end_without_an_item_stop_nothing() {
        let hub = hub();
        let stopping = hub
            .clone()
            .drain_on(futures::stream::empty(), Duration::from_secs(1));
        let waited = tokio::time::timeout(Duration::from_secs(60), stopping).await;
        assert!(waited.is_err(), "resolved without a signal");
        assert!(!hub.is_draining() && !hub.is_closed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_window_ends_every_stream_at_once_and_keeps_the_usual_retry() {
        let hub = hub();
        let mut stream = stream_of(hub.subscribe(["news"], None).await);
        let started = tokio::time::Instant::now();
        let reading = tokio::spawn(async move {
            let mut frames = Vec::new();
            while let Some(Ok(chunk)) = stream.next().await {
                frames.extend_from_slice(&chunk);
            }
            (frames, stream.end_reason())
        });
        hub.drain(Duration::ZERO).await;
        assert!(hub.is_closed());
        let (frames, why) = reading.await.unwrap();
        assert_eq!(why, Some(StreamEnd::Drained));
        assert!(started.elapsed() <= DRAIN_GRACE, "{:?}", started.elapsed());
        // The opening `retry:` and the last one, both the usual 3 s; the
        // last with the id to resume from.
        let text = String::from_utf8_lossy(&frames);
        assert_eq!(text.matches("retry: 3000\n").count(), 2, "{text}");
        assert!(
            text.ends_with("\nretry: 3000\n\n") && text.contains("\nid: "),
            "{text}"
        );
    }
}
