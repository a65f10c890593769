use std::time::Duration;

use bytes::Bytes;
use futures::{FutureExt, StreamExt};

use std::sync::atomic::Ordering;

use super::*;
use crate::Event;
use crate::decode::Decoder;

pub(super) fn config() -> BrokerConfig {
    BrokerConfig::default()
}

pub(super) fn broker() -> Broker {
    Broker::with_first_id(config(), 1000)
}

/// The chunk the stream has ready now, `Some(None)` if it ended, `None`
/// if it would wait.
pub(super) fn ready(stream: &mut ClientStream) -> Option<Option<Bytes>> {
    stream.next().now_or_never()
}

/// (id, data) of every event in `bytes`.
pub(super) fn events(bytes: &[u8]) -> Vec<(String, String)> {
    let mut decoder = Decoder::new();
    decoder.feed(bytes);
    std::iter::from_fn(|| decoder.next_item())
        .filter_map(|item| item.ok()?.into_event())
        .map(|e| (e.last_event_id().to_owned(), e.data().to_owned()))
        .collect()
}

pub(super) fn ids(bytes: &[u8]) -> Vec<u64> {
    events(bytes)
        .into_iter()
        .map(|(id, _)| id.parse().unwrap())
        .collect()
}

pub(super) fn publish(broker: &Broker, topic: &str, data: &str) -> u64 {
    broker
        .publish(topic, &Event::new(data))
        .unwrap()
        .id
        .as_u64()
}

#[tokio::test]
async fn a_subscriber_receives_what_is_published_with_its_id() {
    let broker = broker();
    let mut stream = broker.subscribe(["a"], None).unwrap();
    assert_eq!(ready(&mut stream), None, "nothing yet");
    let published = broker
        .publish(
            "a",
            &Event::builder().event("x").data("1\n2").build().unwrap(),
        )
        .unwrap();
    assert_eq!((published.id.as_u64(), published.sent), (1000, 1));
    let chunk = ready(&mut stream).unwrap().unwrap();
    assert_eq!(&chunk[..], b"id: 1000\nevent: x\ndata: 1\ndata: 2\n\n");
}

#[tokio::test]
async fn the_event_s_own_id_is_replaced_by_the_broker_s() {
    let broker = broker();
    let mut stream = broker.subscribe(["a"], None).unwrap();
    let event = Event::builder().id("mine").data("x").build().unwrap();
    broker.publish("a", &event).unwrap();
    let chunk = ready(&mut stream).unwrap().unwrap();
    assert_eq!(&chunk[..], b"id: 1000\ndata: x\n\n");
}

#[tokio::test]
async fn every_subscriber_shares_one_encoding() {
    let broker = broker();
    let mut one = broker.subscribe(["a"], None).unwrap();
    let mut two = broker.subscribe(["a", "b"], None).unwrap();
    broker.publish("a", &Event::new("x")).unwrap();
    let (a, b) = (
        ready(&mut one).unwrap().unwrap(),
        ready(&mut two).unwrap().unwrap(),
    );
    assert_eq!(a.as_ptr(), b.as_ptr(), "the same bytes, not copies");
}

#[tokio::test]
async fn topics_are_separate_and_several_per_client_keep_one_order() {
    let broker = broker();
    let mut a = broker.subscribe(["a"], None).unwrap();
    let mut ab = broker.subscribe(["a", "b", "a"], None).unwrap();
    assert_eq!(broker.subscriber_count("a"), 2);
    assert_eq!(broker.subscriber_count("b"), 1);
    let sent: Vec<u64> = ["a", "b", "c", "b", "a"]
        .iter()
        .map(|topic| publish(&broker, topic, topic))
        .collect();
    assert_eq!(ids(&ready(&mut a).unwrap().unwrap()), [sent[0], sent[4]]);
    assert_eq!(
        ids(&ready(&mut ab).unwrap().unwrap()),
        [sent[0], sent[1], sent[3], sent[4]]
    );
    assert_eq!(broker.publish("c", &Event::new("x")).unwrap().sent, 0);
}

#[tokio::test]
async fn queued_frames_come_as_one_chunk() {
    let broker = broker();
    let mut stream = broker.subscribe(["a"], None).unwrap();
    for i in 0..5 {
        publish(&broker, "a", &i.to_string());
    }
    let chunk = ready(&mut stream).unwrap().unwrap();
    assert_eq!(ids(&chunk), [1000, 1001, 1002, 1003, 1004]);
    assert_eq!(ready(&mut stream), None);
    assert_eq!(broker.stats().delivered, 5);
}

#[tokio::test]
async fn replay_then_live_with_no_gap_and_no_duplicate() {
    let broker = broker();
    for i in 0..5 {
        publish(&broker, if i % 2 == 0 { "a" } else { "b" }, "x");
    }
    let mut stream = broker.subscribe(["a"], Some("1001")).unwrap();
    assert!(!stream.is_reset());
    publish(&broker, "a", "live");
    let chunk = ready(&mut stream).unwrap().unwrap();
    assert_eq!(ids(&chunk), [1002, 1004, 1005]);
}

#[tokio::test]
async fn ids_that_cannot_be_honoured_reset_and_replay_everything_retained() {
    let config = BrokerConfig {
        history: 3,
        client_buffer: 3,
        ..config()
    };
    let broker = Broker::with_first_id(config, 1000);
    for _ in 0..5 {
        publish(&broker, "a", "x");
    }
    // Retained: 1002..=1004. 1001 is still exact (nothing after it lost).
    let mut exact = broker.subscribe(["a"], Some("1001")).unwrap();
    assert!(!exact.is_reset());
    assert_eq!(
        ids(&ready(&mut exact).unwrap().unwrap()),
        [1002, 1003, 1004]
    );
    for given in [
        "1000",
        "999",
        "1005",
        "garbage",
        "-1",
        "18446744073709551616",
    ] {
        let mut stream = broker.subscribe(["a"], Some(given)).unwrap();
        assert!(stream.is_reset(), "{given}");
        assert_eq!(
            ids(&ready(&mut stream).unwrap().unwrap()),
            [1002, 1003, 1004],
            "{given}"
        );
    }
}

#[tokio::test]
async fn ids_from_before_a_restart_reset() {
    let before = broker();
    let old_id = publish(&before, "a", "x");
    let after = Broker::with_first_id(config(), 5000);
    publish(&after, "a", "new");
    let mut stream = after.subscribe(["a"], Some(&old_id.to_string())).unwrap();
    assert!(stream.is_reset());
    assert_eq!(ids(&ready(&mut stream).unwrap().unwrap()), [5000]);
}

#[test]
fn wall_clock_ids_increase_across_restarts() {
    let first = Broker::new(config());
    let first_id = first.publish("a", &Event::new("x")).unwrap().id;
    let second = Broker::new(config());
    let second_id = second.publish("a", &Event::new("x")).unwrap().id;
    assert!(second_id > first_id);
    assert!(
        first_id.as_u64() > 1_700_000_000_000_000_000,
        "nanoseconds since the epoch"
    );
}

#[tokio::test(start_paused = true)]
async fn history_ttl_limits_replay() {
    let config = BrokerConfig {
        history_ttl: Duration::from_secs(10),
        ..config()
    };
    let broker = Broker::with_first_id(config, 1000);
    publish(&broker, "a", "old");
    tokio::time::advance(Duration::from_secs(6)).await;
    publish(&broker, "a", "new");
    assert_eq!(broker.stats().history, 2);
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(broker.stats().history, 1);
    let mut stream = broker.subscribe(["a"], Some("999")).unwrap();
    assert!(stream.is_reset(), "the event after 999 expired");
    assert_eq!(ids(&ready(&mut stream).unwrap().unwrap()), [1001]);
    let mut exact = broker.subscribe(["a"], Some("1000")).unwrap();
    assert!(!exact.is_reset());
    assert_eq!(ids(&ready(&mut exact).unwrap().unwrap()), [1001]);
}

#[tokio::test]
async fn history_zero_disables_replay_but_not_live_delivery() {
    let config = BrokerConfig {
        history: 0,
        ..config()
    };
    let broker = Broker::with_first_id(config, 1000);
    publish(&broker, "a", "x");
    let mut late = broker.subscribe(["a"], Some("999")).unwrap();
    assert!(late.is_reset());
    assert_eq!(ready(&mut late), None, "nothing to replay");
    publish(&broker, "a", "y");
    assert_eq!(ids(&ready(&mut late).unwrap().unwrap()), [1001]);
}

#[tokio::test(start_paused = true)]
async fn a_slow_client_is_disconnected_and_others_are_unaffected() {
    let config = BrokerConfig {
        client_buffer: 3,
        ..config()
    };
    let broker = Broker::with_first_id(config, 1000);
    let mut slow = broker.subscribe(["a"], None).unwrap();
    let mut fast = broker.subscribe(["a"], None).unwrap();
    // Neither reads for a whole turn: from then on a buffer's worth of
    // unread events is all either may have.
    tokio::time::advance(Duration::from_millis(u64::from(TURN))).await;
    for i in 0..4 {
        publish(&broker, "a", "x");
        assert_eq!(ids(&ready(&mut fast).unwrap().unwrap()), [1000 + i]);
    }
    assert_eq!(ready(&mut slow), Some(None), "the slow stream ended");
    assert_eq!(broker.stats().lagged, 1);
    publish(&broker, "a", "x");
    assert_eq!(ids(&ready(&mut fast).unwrap().unwrap()), [1004]);
    // It reconnects with its last id and catches up from history.
    let mut again = broker.subscribe(["a"], Some("999")).unwrap();
    assert!(!again.is_reset());
    assert_eq!(
        ids(&ready(&mut again).unwrap().unwrap()),
        [1000, 1001, 1002, 1003, 1004]
    );
}

#[tokio::test]
async fn a_client_whose_unread_frames_were_evicted_is_disconnected() {
    let config = BrokerConfig {
        history: 2,
        client_buffer: 2,
        ..config()
    };
    let broker = Broker::with_first_id(config, 1000);
    publish(&broker, "a", "x");
    publish(&broker, "a", "x");
    // Resumed before both, so both are still to be sent; one more publish
    // evicts the first while the stream has only one pending.
    let mut replaying = broker.subscribe(["a"], Some("999")).unwrap();
    assert!(!replaying.is_reset());
    publish(&broker, "a", "y");
    assert_eq!(ready(&mut replaying), Some(None));
    assert_eq!(broker.stats().lagged, 1);
}

#[tokio::test]
async fn a_waiting_stream_is_woken_by_a_publish() {
    let broker = broker();
    let mut stream = broker.subscribe(["a"], None).unwrap();
    let publisher = broker.clone();
    let reader = tokio::spawn(async move { stream.next().await });
    tokio::task::yield_now().await;
    publish(&publisher, "a", "x");
    let chunk = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("woken")
        .unwrap()
        .unwrap();
    assert_eq!(ids(&chunk), [1000]);
}

#[tokio::test]
async fn dropping_a_stream_removes_the_client_at_once() {
    let broker = broker();
    let streams: Vec<_> = (0..10)
        .map(|i| {
            broker
                .subscribe([format!("t{}", i % 3), "all".into()], None)
                .unwrap()
        })
        .collect();
    let ids: std::collections::HashSet<u64> = streams.iter().map(ClientStream::client_id).collect();
    assert_eq!(ids.len(), 10, "client ids are unique");
    assert_eq!(broker.client_count(), 10);
    drop(streams);
    assert_eq!(broker.client_count(), 0);
    assert_eq!(broker.subscriber_count("all"), 0);
    assert_eq!(broker.topic_count(), 0, "no topic left behind");
    assert_eq!(broker.publish("all", &Event::new("x")).unwrap().sent, 0);
    assert!(broker.render_metrics().contains("sse_clients 0"));
}

#[tokio::test]
async fn shutdown_ends_every_stream_and_refuses_new_work() {
    let broker = broker();
    let mut a = broker.subscribe(["a"], None).unwrap();
    let waiting = {
        let mut b = broker.subscribe(["b"], None).unwrap();
        tokio::spawn(async move { b.next().await })
    };
    tokio::task::yield_now().await;
    broker.shutdown();
    assert_eq!(ready(&mut a), Some(None));
    let ended = tokio::time::timeout(Duration::from_secs(5), waiting).await;
    assert_eq!(ended.expect("woken").unwrap(), None);
    assert_eq!(
        broker.publish("a", &Event::new("x")),
        Err(BrokerError::Closed)
    );
    assert_eq!(
        broker.subscribe(["a"], None).err(),
        Some(BrokerError::Closed)
    );
}

#[tokio::test]
async fn max_clients_is_enforced_and_freed_by_drops() {
    let config = BrokerConfig {
        max_clients: 2,
        ..config()
    };
    let broker = Broker::with_first_id(config, 1000);
    let one = broker.subscribe(["a"], None).unwrap();
    let _two = broker.subscribe(["a"], None).unwrap();
    assert_eq!(
        broker.subscribe(["a"], None).err(),
        Some(BrokerError::TooManyClients { max: 2 })
    );
    drop(one);
    assert!(broker.subscribe(["a"], None).is_ok());
}

#[test]
fn a_subscription_needs_a_topic() {
    let topics: [&str; 0] = [];
    assert_eq!(
        broker().subscribe(topics, None).err(),
        Some(BrokerError::NoTopics)
    );
}

#[tokio::test]
async fn metrics_name_the_contract_series_and_counters_move() {
    let broker = broker();
    let mut stream = broker.subscribe(["a"], None).unwrap();
    publish(&broker, "a", "x");
    publish(&broker, "a", "y");
    ready(&mut stream).unwrap().unwrap();
    let text = broker.render_metrics();
    for line in [
        "sse_clients 1",
        "sse_events_published_total 2",
        "sse_events_delivered_total 2",
        "sse_clients_lagged_total 0",
        "sse_history_events 2",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
    }
}

/// Subscribing with a last event id while another thread publishes: every
/// stream must read exactly the ids after its last one, in order, up to
/// the end, whatever the interleaving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replay_live_seam_holds_under_concurrent_publishing() {
    const EVENTS: u64 = 2000;
    // Large enough that no reader lags: this test is about the seam.
    let config = BrokerConfig {
        history: 2 * EVENTS as usize,
        client_buffer: 2 * EVENTS as usize,
        ..config()
    };
    let mut raced = 0;
    for round in 0..25 {
        let broker = Broker::with_first_id(config.clone(), 1);
        publish(&broker, "a", "first");
        let publisher = {
            let broker = broker.clone();
            std::thread::spawn(move || {
                for i in 1..EVENTS {
                    publish(&broker, if i % 3 == 0 { "b" } else { "a" }, "x");
                    if i % 16 == 0 {
                        std::thread::yield_now(); // let subscribers in mid-stream
                    }
                }
            })
        };
        let mut readers = Vec::new();
        for reader in 0..8u64 {
            // Resume from wherever the log is now: the publisher is racing.
            let newest = broker.shared.newest.load(Ordering::SeqCst);
            raced += usize::from(newest < EVENTS);
            let last = newest.saturating_sub(reader * 7).max(1);
            let stream = broker
                .subscribe(["a", "b"], Some(&last.to_string()))
                .unwrap();
            assert!(!stream.is_reset(), "round {round}: {last} is retained");
            readers.push(tokio::spawn(async move {
                let mut stream = stream;
                let mut seen = Vec::new();
                // A reader that came after the last publish resumes from
                // it and has nothing to wait for.
                while seen.last().copied().unwrap_or(last) != EVENTS {
                    let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
                        .await
                        .expect("no stall")
                        .expect("stream open");
                    seen.extend(ids(&chunk));
                }
                (last, seen)
            }));
            tokio::task::yield_now().await;
        }
        publisher.join().unwrap();
        for reader in readers {
            let (last, seen) = reader.await.unwrap();
            let expected: Vec<u64> = (last + 1..=EVENTS).collect();
            assert_eq!(seen, expected, "round {round}, resumed after {last}");
        }
    }
    assert!(raced > 0, "no subscription happened while publishing");
}
