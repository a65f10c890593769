//! Topics side by side: isolation, per-topic lag and reset, forgetting,
//! bounded memory, and exact order across topics under concurrency.

use std::time::Duration;

use futures::StreamExt;

use super::tests::*;
use super::*;
use shared::sweep_interval;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The case: more events than a topic's log holds go to another
/// topic while a client of a quiet topic waits.
#[tokio::test]
async fn a_busy_topic_neither_lags_nor_evicts_a_quiet_one() {
    let config = BrokerConfig {
        history: 3,
        client_buffer: 3,
        ..config()
    };
    let broker = Broker::with_first_id(config, 1000);
    let mut quiet = broker.subscribe(["quiet"], None).unwrap();
    let mut busy = broker.subscribe(["busy"], None).unwrap();
    let quiet_id = publish(&broker, "quiet", "q");
    for _ in 0..100 {
        publish(&broker, "busy", "b");
        ready(&mut busy).unwrap().unwrap();
    }
    // Another busy topic nobody reads: its events only ever go to history.
    for _ in 0..100 {
        publish(&broker, "unread", "u");
    }
    assert_eq!(ids(&ready(&mut quiet).unwrap().unwrap()), [quiet_id]);
    assert_eq!(ready(&mut quiet), None, "still open");
    assert_eq!(broker.stats().lagged, 0);
    // The quiet topic's history is intact: resuming before its event is
    // exact, not a reset.
    let before = (quiet_id - 1).to_string();
    let mut resumed = broker.subscribe(["quiet"], Some(&before)).unwrap();
    assert!(!resumed.is_reset());
    assert_eq!(ids(&ready(&mut resumed).unwrap().unwrap()), [quiet_id]);
    // History is bounded per topic and counted over all of them.
    assert_eq!(broker.stats().history, 1 + 3 + 3);
}

#[tokio::test(start_paused = true)]
async fn a_client_lags_on_its_own_topics_events_only() {
    let config = BrokerConfig {
        client_buffer: 3,
        ..config()
    };
    let broker = Broker::with_first_id(config, 1000);
    let mut both = broker.subscribe(["a", "b"], None).unwrap();
    for _ in 0..50 {
        publish(&broker, "c", "x");
    }
    for topic in ["a", "b", "a"] {
        publish(&broker, topic, "x");
    }
    assert_eq!(ids(&ready(&mut both).unwrap().unwrap()).len(), 3);
    // Four of its own, from two topics, unread for a whole turn: one
    // past its buffer.
    tokio::time::advance(Duration::from_millis(u64::from(TURN))).await;
    for topic in ["a", "b", "b", "a"] {
        publish(&broker, topic, "x");
    }
    assert_eq!(ready(&mut both), Some(None));
    assert_eq!(broker.stats().lagged, 1);
}

#[tokio::test]
async fn reset_only_when_a_subscribed_topic_lost_an_event_after_the_id() {
    let config = BrokerConfig {
        history: 2,
        client_buffer: 2,
        ..config()
    };
    let broker = Broker::with_first_id(config, 1000);
    let a1 = publish(&broker, "a", "a1");
    let b1 = publish(&broker, "b", "b1");
    let a2 = publish(&broker, "a", "a2");
    let b2 = publish(&broker, "b", "b2");
    let b3 = publish(&broker, "b", "b3"); // evicts b1
    let given = a1.to_string();

    let mut only_a = broker.subscribe(["a"], Some(&given)).unwrap();
    assert!(!only_a.is_reset(), "nothing of `a` after {a1} was evicted");
    assert_eq!(ids(&ready(&mut only_a).unwrap().unwrap()), [a2]);

    let mut both = broker.subscribe(["a", "b"], Some(&given)).unwrap();
    assert!(both.is_reset(), "b1 came after {a1} and is gone");
    assert_eq!(
        ids(&ready(&mut both).unwrap().unwrap()),
        [a1, a2, b2, b3],
        "everything both topics retain, in id order"
    );

    let exact = b1.to_string();
    let mut both = broker.subscribe(["a", "b"], Some(&exact)).unwrap();
    assert!(!both.is_reset());
    assert_eq!(ids(&ready(&mut both).unwrap().unwrap()), [a2, b2, b3]);
}

#[tokio::test(start_paused = true)]
async fn a_topic_with_no_subscribers_and_nothing_retained_is_forgotten() {
    let ttl = Duration::from_secs(10);
    let config = BrokerConfig {
        history_ttl: ttl,
        ..config()
    };
    let broker = Broker::with_first_id(config, 1000);
    // Subscribed and left, nothing published: gone at once.
    drop(broker.subscribe(["passing"], None).unwrap());
    assert_eq!(broker.topic_count(), 0);
    // Retained events keep a topic until they expire.
    let old = publish(&broker, "old", "x");
    assert_eq!(broker.topic_count(), 1);
    tokio::time::advance(ttl + sweep_interval(ttl)).await;
    publish(&broker, "new", "x"); // any publish may sweep
    assert_eq!(broker.topic_count(), 1, "`old` expired and was forgotten");
    assert_eq!(broker.subscriber_count("old"), 0);
    let metrics = broker.render_metrics();
    assert!(metrics.contains("sse_topics 1"), "{metrics}");
    // What it lost is remembered: resuming before its event resets,
    // resuming after it does not.
    let before = (old - 1).to_string();
    assert!(broker.subscribe(["old"], Some(&before)).unwrap().is_reset());
    let after = old.to_string();
    assert!(!broker.subscribe(["old"], Some(&after)).unwrap().is_reset());
}

#[tokio::test(start_paused = true)]
async fn memory_stays_bounded_with_many_topics() {
    const TOPICS: usize = 2_000;
    let ttl = Duration::from_secs(10);
    let config = BrokerConfig {
        history: 3,
        history_ttl: ttl,
        ..config()
    };
    let broker = Broker::with_first_id(config, 1000);
    for round in 0..5 {
        for topic in 0..TOPICS {
            publish(&broker, &format!("user-{topic}"), &round.to_string());
        }
    }
    let stats = broker.stats();
    assert_eq!(stats.topics, TOPICS);
    assert_eq!(stats.history, 3 * TOPICS, "at most `history` per topic");
    tokio::time::advance(ttl + sweep_interval(ttl)).await;
    publish(&broker, "tick", "x");
    let stats = broker.stats();
    assert_eq!(
        (stats.topics, stats.history),
        (1, 1),
        "expired topics freed"
    );
}

/// Several publishers on different topics at once, and clients of several
/// topics that subscribe mid-stream, resume from their last id, or leave
/// and come back at arbitrary points: each must read exactly its topics'
/// ids after the one it started from, in increasing order, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_topic_clients_get_exact_sequences_under_concurrent_publishers() {
    const PER_PUBLISHER: usize = 1500;
    const TOPICS: [&str; 3] = ["a", "b", "c"];
    let config = BrokerConfig {
        history: 4 * PER_PUBLISHER,
        client_buffer: 4 * PER_PUBLISHER,
        ..config()
    };
    let subsets: [&[&str]; 5] = [
        &["a", "b"],
        &["b", "c"],
        &["a", "c"],
        &["a", "b", "c"],
        &["c"],
    ];
    for round in 0..10 {
        let broker = Broker::with_first_id(config.clone(), 1);
        let start_gate = Arc::new(std::sync::Barrier::new(TOPICS.len()));
        let publishers: Vec<_> = TOPICS
            .iter()
            .map(|&topic| {
                let broker = broker.clone();
                let gate = start_gate.clone();
                std::thread::spawn(move || {
                    gate.wait();
                    (0..PER_PUBLISHER)
                        .map(|i| {
                            if i % 64 == 0 {
                                std::thread::yield_now();
                            }
                            (topic, publish(&broker, topic, topic))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut readers = Vec::new();
        for (reader, topics) in subsets.iter().cycle().take(10).enumerate() {
            let topics: Vec<&'static str> = topics.to_vec();
            // Live only, or resumed from wherever the publishers are now.
            let newest = broker.shared.newest.load(Ordering::SeqCst);
            let last = (reader % 2 == 1).then(|| newest.to_string());
            let mut stream = broker.subscribe(&topics, last.as_deref()).unwrap();
            assert!(!stream.is_reset(), "round {round}: {last:?} is retained");
            let broker = broker.clone();
            readers.push(tokio::spawn(async move {
                // Without an id, the stream starts after the newest id its
                // topics held, which is at most `newest`.
                let mut seen: Vec<u64> = Vec::new();
                let mut ends = 0;
                let mut chunks = 0;
                // Each topic's last event says "end".
                while ends < topics.len() {
                    let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
                        .await
                        .expect("no stall")
                        .expect("stream open");
                    for (id, data) in events(&chunk) {
                        seen.push(id.parse().unwrap());
                        ends += usize::from(data == "end");
                    }
                    chunks += 1;
                    if chunks % (3 + reader) == 0 {
                        // Leave and come back with the last id seen.
                        let last = seen.last().map(u64::to_string);
                        stream = broker.subscribe(&topics, last.as_deref()).unwrap();
                        assert!(!stream.is_reset());
                    }
                }
                (topics, last, seen)
            }));
            tokio::task::yield_now().await;
        }
        let mut published: Vec<(&str, u64)> = Vec::new();
        for publisher in publishers {
            published.extend(publisher.join().unwrap());
        }
        for topic in TOPICS {
            published.push((topic, publish(&broker, topic, "end")));
        }
        for reader in readers {
            let (topics, last, seen) = reader.await.unwrap();
            let first = seen.first().copied().unwrap_or(u64::MAX);
            let after: u64 = match last {
                Some(last) => last.parse().unwrap(),
                // Live only: it starts somewhere; from there on, nothing
                // of its topics may be missing.
                None => first - 1,
            };
            let mut expected: Vec<u64> = published
                .iter()
                .filter(|(topic, id)| topics.contains(topic) && *id > after)
                .map(|&(_, id)| id)
                .collect();
            expected.sort_unstable();
            assert_eq!(
                seen, expected,
                "round {round}, topics {topics:?} after {after}"
            );
        }
    }
}
