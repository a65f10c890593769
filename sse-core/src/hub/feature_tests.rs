//! The hub's routes beyond publish and subscribe: ephemeral events, batch
//! publishes, idempotency keys, history and presence.

use serde_json::json;

use super::response::error;
use super::tests::*;
use super::*;
use crate::auth::{AuthError, AuthRequest, Grants};
use crate::broker::BrokerConfig;

const JSON: (&str, &str) = ("content-type", "application/json");

async fn batch(hub: &Hub, body: &str) -> Response {
    let request = RequestParts {
        query: None,
        headers: &[JSON],
    };
    hub.routes().notify_batch(request, body.as_bytes()).await
}

async fn keyed(hub: &Hub, key: &str, query: &str, body: &str) -> Response {
    let headers = [JSON, ("idempotency-key", key)];
    let request = RequestParts {
        query: Some(query),
        headers: &headers,
    };
    hub.routes().notify(request, body.as_bytes()).await
}

async fn read(hub: &Hub, route: &str, query: &str, headers: &[(&str, &str)]) -> Response {
    let request = RequestParts {
        query: Some(query),
        headers: &headers.to_vec(),
    };
    match route {
        "history" => hub.routes().history(request).await,
        _ => hub.routes().presence(request).await,
    }
}

#[tokio::test]
async fn history_false_reaches_live_streams_only() {
    let hub = hub();
    let mut live = subscribe(&hub, "topic=room", None).await;
    publish_ok(&hub, "topic=room", r#""kept""#).await;
    let typing =
        json_body(publish(&hub, "topic=room&history=false&event=typing", r#""ada""#).await);
    let typing_id = typing["id"].as_str().unwrap().to_owned();
    let seen = events(&ready(&mut live));
    assert_eq!(
        seen[2],
        ("typing".into(), r#""ada""#.into(), typing_id.clone())
    );
    // Resuming with its id: nothing lost, nothing replayed.
    let mut resumed = subscribe(&hub, "topic=room", Some(&typing_id)).await;
    let names: Vec<String> = events(&ready(&mut resumed))
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(names, ["connected"], "no reset, no replay");
    let page = json_body(read(&hub, "history", "topic=room", &[]).await);
    assert_eq!(page["events"].as_array().map(Vec::len), Some(1));
    let bad = publish(&hub, "topic=room&history=maybe", "1").await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn a_batch_is_checked_whole_then_published_in_order() {
    let hub = hub();
    let mut stream = subscribe(&hub, "topic=a&topic=b", None).await;
    let answer = json_body(
        batch(
            &hub,
            r#"[{"topic": "a", "data": 1}, {"topic": "b", "event": "e", "data": {"x": 2}},
                {"topic": "a", "data": "three", "history": false}]"#,
        )
        .await,
    );
    let ids: Vec<u64> = answer["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, [ids[0], ids[0] + 1, ids[0] + 2], "consecutive");
    assert_eq!(answer["sent"], json!([1, 1, 1]));
    let seen = events(&ready(&mut stream));
    let got: Vec<(&str, &str)> = seen[1..]
        .iter()
        .map(|e| (e.0.as_str(), e.1.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("notification", "1"),
            ("e", r#"{"x":2}"#),
            ("notification", r#""three""#)
        ]
    );
    // Any bad item: 400 with its index, and nothing published.
    let before = hub.stats().published;
    for (body, index) in [
        (
            r#"[{"topic": "a", "data": 1}, {"topic": "", "data": 1}]"#,
            Some(1),
        ),
        (r#"[{"topic": "a"}]"#, Some(0)),
        (r#"[{"data": 1}, {"data": 1, "history": "no"}]"#, Some(1)),
        (r#"[{"data": 1}, {"data": 1, "event": "a\nb"}]"#, Some(1)),
        (r#"[{"data": 1}, 7]"#, Some(1)),
        ("[]", None),
        (r#"{"data": 1}"#, None),
        ("[", None),
    ] {
        let response = batch(&hub, body).await;
        assert_eq!(response.status, 400, "{body}");
        assert_eq!(
            json_body(response)["index"].as_u64(),
            index.map(|i| i as u64),
            "{body}"
        );
    }
    let small = hub_with(HubConfig {
        max_batch: 2,
        ..HubConfig::default()
    });
    let over = batch(&small, r#"[{"data": 1}, {"data": 2}, {"data": 3}]"#).await;
    assert_eq!(over.status, 400);
    assert_eq!(hub.stats().published, before);
}

fn publisher_of_chat(_: &AuthRequest<'_>) -> Result<Grants, AuthError> {
    Ok(Grants::new().publish("chat/*").subscribe("chat/*"))
}

#[tokio::test]
async fn a_batch_with_one_ungranted_topic_publishes_nothing() {
    let hub = hub().with_authorizer(publisher_of_chat);
    let ok = batch(&hub, r#"[{"topic": "chat/1", "data": 1}]"#).await;
    assert_eq!(ok.status, 200);
    let refused = batch(
        &hub,
        r#"[{"topic": "chat/1", "data": 1}, {"topic": "admin", "data": 2}]"#,
    )
    .await;
    assert_eq!(refused.status, 403);
    assert_eq!(hub.stats().published, 1);
    // Reads are authorized as subscribing.
    assert_eq!(read(&hub, "history", "topic=admin", &[]).await.status, 403);
    assert_eq!(read(&hub, "presence", "topic=admin", &[]).await.status, 403);
    assert_eq!(read(&hub, "history", "topic=chat/1", &[]).await.status, 200);
}

#[tokio::test]
async fn a_repeated_key_answers_the_first_answer_and_publishes_nothing() {
    let hub = hub();
    let first = keyed(&hub, "order-1", "topic=t", r#"{"n": 1}"#).await;
    assert_eq!(first.status, 200);
    assert_eq!(header(&first, "idempotent-replayed"), None);
    let first = json_body(first);
    let again = keyed(&hub, "order-1", "topic=t", r#"{"n": 1}"#).await;
    assert_eq!(header(&again, "idempotent-replayed"), Some("true"));
    assert_eq!(json_body(again), first);
    assert_eq!(hub.stats().published, 1);
    // The same key for something else: 422, nothing published.
    for (query, body) in [
        ("topic=t", r#"{"n": 2}"#),
        ("topic=u", r#"{"n": 1}"#),
        ("topic=t&event=x", r#"{"n": 1}"#),
    ] {
        let other = keyed(&hub, "order-1", query, body).await;
        assert_eq!(other.status, 422, "{query} {body}");
    }
    assert_eq!(hub.stats().published, 1);
    // A batch's key remembers the batch's answer.
    let headers = [JSON, ("idempotency-key", "batch-1")];
    let request = RequestParts {
        query: None,
        headers: &headers,
    };
    let body = br#"[{"data": 1}, {"data": 2}]"#;
    let first = json_body(hub.routes().notify_batch(request, body).await);
    let again = hub.routes().notify_batch(request, body).await;
    assert_eq!(header(&again, "idempotent-replayed"), Some("true"));
    assert_eq!(json_body(again), first);
    assert_eq!(hub.stats().published, 3);
    // Keys are checked.
    for bad in ["", "a b", "é", &"k".repeat(129)] {
        assert_eq!(
            keyed(&hub, bad, "topic=t", "1").await.status,
            400,
            "{bad:?}"
        );
    }
    assert_eq!(
        keyed(&hub, &"k".repeat(128), "topic=t", "1").await.status,
        200
    );
}

#[tokio::test]
async fn concurrent_requests_with_one_key_publish_once() {
    let hub = hub();
    let requests = (0..50).map(|_| keyed(&hub, "k", "topic=t", r#""once""#));
    let answers = futures::future::join_all(requests).await;
    let bodies: Vec<(u16, serde_json::Value)> = answers
        .into_iter()
        .map(|r| (r.status, json_body(r)))
        .collect();
    assert!(bodies.iter().all(|b| b == &bodies[0]), "{bodies:?}");
    assert_eq!(bodies[0].0, 200);
    assert_eq!(hub.stats().published, 1);
}

/// A request with key `k` (as `keyed(hub, "k", "topic=t", "1")` sends it)
/// that claims the key and answers `answer(hub)` only once `released`.
fn key_k_held_until<F>(
    hub: &Hub,
    released: tokio::sync::oneshot::Receiver<()>,
    answer: impl FnOnce(Hub) -> F + Send + 'static,
) -> tokio::task::JoinHandle<Response>
where
    F: Future<Output = Response> + Send,
{
    let hub = hub.clone();
    tokio::spawn(async move {
        let fingerprint =
            || idempotency::fingerprint(&[b"/notify", b"t", b"notification", b"1", b"1"]);
        let publish = async {
            let _ = released.await;
            answer(hub.clone()).await
        };
        hub.key_store()
            .idempotent(Some("k".into()), fingerprint, publish)
            .await
    })
}

/// The same request arriving while the first still runs waits for it (it
/// is parked on the key, not answered), then gets the first one's answer.
#[tokio::test]
async fn a_retry_waits_for_the_request_in_progress_then_replays_its_answer() {
    let hub = hub();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let first = key_k_held_until(&hub, released, |hub| async move {
        publish(&hub, "topic=t", "1").await
    });
    let second = tokio::spawn({
        let hub = hub.clone();
        async move { keyed(&hub, "k", "topic=t", "1").await }
    });
    // On this one-thread runtime each yield lets both tasks run: the first
    // holds the key, the second finds it pending and must wait.
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(!first.is_finished() && !second.is_finished());
    assert_eq!(hub.stats().published, 0);
    release.send(()).expect("the first request waits");
    let (first, second) = (first.await.expect("ran"), second.await.expect("ran"));
    assert_eq!((first.status, second.status), (200, 200));
    assert_eq!(header(&second, "idempotent-replayed"), Some("true"));
    assert_eq!(json_body(first), json_body(second));
    assert_eq!(hub.stats().published, 1);
}

#[tokio::test(start_paused = true)]
async fn keys_expire_after_their_ttl_and_failures_are_not_remembered() {
    let hub = hub_with(HubConfig {
        idempotency_ttl: std::time::Duration::from_secs(60),
        ..HubConfig::default()
    });
    assert_eq!(keyed(&hub, "k", "topic=t", "1").await.status, 200);
    tokio::time::advance(std::time::Duration::from_secs(61)).await;
    let later = keyed(&hub, "k", "topic=t", "2").await;
    assert_eq!(later.status, 200, "the key was forgotten");
    assert_eq!(hub.stats().published, 2);
    // A publish that fails is not remembered: the retry publishes.
    hub.shutdown();
    assert_eq!(keyed(&hub, "down", "topic=t", "1").await.status, 503);
    let retried = keyed(&hub, "down", "topic=t", "1").await;
    assert_eq!(retried.status, 503, "tried again, not replayed");
    assert_eq!(header(&retried, "idempotent-replayed"), None);
}

#[tokio::test]
async fn a_request_still_in_progress_answers_409_after_the_timeout() {
    let hub = hub_with(HubConfig {
        body_timeout: std::time::Duration::from_millis(50),
        ..HubConfig::default()
    });
    // A first request that claimed the key and has not finished.
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let held = key_k_held_until(&hub, released, |_| async { error(500, "dropped") });
    tokio::task::yield_now().await;
    let waiting = keyed(&hub, "k", "topic=t", "1").await;
    assert_eq!(waiting.status, 409);
    // Its answer is not a 200: the key is released, not remembered.
    drop(release);
    assert_eq!(held.await.expect("ran").status, 500);
    assert_eq!(
        keyed(&hub, "k", "topic=t", "1").await.status,
        200,
        "released"
    );
}

#[tokio::test]
async fn history_pages_and_reports_reset_and_more() {
    let hub = hub_with(HubConfig {
        broker: BrokerConfig {
            history: 3,
            ..BrokerConfig::default()
        },
        ..HubConfig::default()
    });
    for n in 1..=5 {
        publish_ok(&hub, "topic=t&event=e", &n.to_string()).await;
    }
    // Ids 1000..=1004; 1002..=1004 are retained.
    let newest = json_body(read(&hub, "history", "topic=t&limit=2", &[]).await);
    assert_eq!(
        newest["events"][0],
        json!({"id": "1003", "topic": "t", "event": "e", "data": "4"})
    );
    assert_eq!(
        (newest["reset"].clone(), newest["more"].clone()),
        (json!(false), json!(false))
    );
    let page = json_body(read(&hub, "history", "topic=t&after=1002&limit=1", &[]).await);
    assert_eq!(page["events"][0]["id"], "1003");
    assert_eq!(
        (page["reset"].clone(), page["more"].clone()),
        (json!(false), json!(true))
    );
    let reset = json_body(read(&hub, "history", "topic=t&after=1000", &[]).await);
    assert_eq!(reset["reset"], true);
    assert_eq!(reset["events"][0]["id"], "1002");
    for bad in ["limit=0", "limit=1001", "limit=x", "topic="] {
        assert_eq!(read(&hub, "history", bad, &[]).await.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn presence_counts_the_open_streams_of_each_topic() {
    let hub = hub();
    let one = subscribe(&hub, "topic=a", None).await;
    let _two = subscribe(&hub, "topic=a&topic=b", None).await;
    let counts = json_body(read(&hub, "presence", "topic=a&topic=b&topic=c", &[]).await);
    assert_eq!(
        counts,
        json!({"topics": {"a": {"subscribers": 2}, "b": {"subscribers": 1}, "c": {"subscribers": 0}}})
    );
    drop(one);
    let counts = json_body(read(&hub, "presence", "topic=a", &[]).await);
    assert_eq!(counts["topics"]["a"]["subscribers"], 1);
    let many = vec!["topic=x"; 33].join("&");
    assert_eq!(read(&hub, "presence", &many, &[]).await.status, 400);
}
