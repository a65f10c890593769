//! Ephemeral events, batches and history reads.

use super::tests::*;
use super::*;
use crate::Event;

fn ephemeral(broker: &Broker, topic: &str, data: &str) -> u64 {
    broker
        .publish_ephemeral(topic, &Event::new(data))
        .unwrap()
        .id
        .as_u64()
}

fn data(bytes: &[u8]) -> Vec<String> {
    events(bytes).into_iter().map(|(_, data)| data).collect()
}

#[tokio::test]
async fn ephemeral_events_reach_live_subscribers_with_an_id_and_are_never_replayed() {
    let broker = broker();
    let mut live = broker.subscribe(["room"], None).unwrap();
    let first = publish(&broker, "room", "kept-1");
    let typing = ephemeral(&broker, "room", "typing");
    let second = publish(&broker, "room", "kept-2");
    assert_eq!(
        ids(&ready(&mut live).unwrap().unwrap()),
        [first, typing, second]
    );
    // Resuming across it, or with its id: exactly the retained events
    // after, no reset.
    for (after, expected) in [(first, vec!["kept-2"]), (typing, vec!["kept-2"])] {
        let mut resumed = broker
            .subscribe(["room"], Some(&after.to_string()))
            .unwrap();
        assert!(!resumed.is_reset(), "after {after}");
        assert_eq!(data(&ready(&mut resumed).unwrap().unwrap()), expected);
    }
    // Neither rewind, a reset's replay nor history returns it.
    let mut rewound = broker.subscribe_from(["room"], Start::Rewind(10)).unwrap();
    assert_eq!(
        data(&ready(&mut rewound).unwrap().unwrap()),
        ["kept-1", "kept-2"]
    );
    let mut reset = broker.subscribe(["room"], Some("1")).unwrap();
    assert!(reset.is_reset());
    assert_eq!(
        data(&ready(&mut reset).unwrap().unwrap()),
        ["kept-1", "kept-2"]
    );
    let history = broker.history(["room"], None, 10).unwrap();
    let read: Vec<&str> = history.events.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(read, ["kept-1", "kept-2"]);
    // A stream opened after it does not get it either, but gets the next.
    let next = ephemeral(&broker, "room", "typing again");
    let mut later = broker
        .subscribe(["room"], Some(&first.to_string()))
        .unwrap();
    let chunk = ready(&mut later).unwrap().unwrap();
    assert_eq!(data(&chunk), ["kept-2"], "{next}");
    let after_join = ephemeral(&broker, "room", "live");
    assert_eq!(ids(&ready(&mut later).unwrap().unwrap()), [after_join]);
}

#[tokio::test]
async fn ephemeral_events_neither_evict_history_nor_cause_a_reset() {
    let config = BrokerConfig {
        history: 3,
        client_buffer: 4,
        ..config()
    };
    let broker = Broker::with_first_id(config, 1000);
    let kept = publish(&broker, "room", "kept");
    // Many more ephemeral events than the log holds, with and without a
    // live subscriber.
    for _ in 0..50 {
        ephemeral(&broker, "room", "cursor");
    }
    let mut live = broker.subscribe(["room"], None).unwrap();
    let mut last = 0;
    for _ in 0..50 {
        last = ephemeral(&broker, "room", "cursor");
        ready(&mut live).unwrap().unwrap();
    }
    let mut resumed = broker
        .subscribe(["room"], Some(&(kept - 1).to_string()))
        .unwrap();
    assert!(!resumed.is_reset(), "only ephemeral events were lost");
    assert_eq!(data(&ready(&mut resumed).unwrap().unwrap()), ["kept"]);
    let mut with_last = broker.subscribe(["room"], Some(&last.to_string())).unwrap();
    assert!(!with_last.is_reset());
    assert_eq!(ready(&mut with_last), None, "nothing retained after it");
    // Memory stays bounded: the log holds the retained event and at most
    // its fan-out window of ephemeral ones.
    let topic = broker.shared.find("room").unwrap();
    let held = topic.lock().log.after(0).count();
    assert!(held <= 1 + 8 + 4, "{held} frames held");
}

#[tokio::test]
async fn a_batch_takes_consecutive_ids_in_order_and_is_read_whole() {
    let broker = broker();
    let mut both = broker.subscribe(["a", "b"], None).unwrap();
    let (one, two, three) = (Event::new("1"), Event::new("2"), Event::new("3"));
    let published = broker
        .publish_batch(&[
            Publish::new("b", &one),
            Publish::new("a", &two),
            Publish::new("b", &three).ephemeral(),
        ])
        .unwrap();
    let ids_given: Vec<u64> = published.iter().map(|p| p.id.as_u64()).collect();
    assert_eq!(ids_given, [1000, 1001, 1002]);
    assert_eq!(
        published.iter().map(|p| p.sent).collect::<Vec<_>>(),
        [1, 1, 1]
    );
    let chunk = ready(&mut both).unwrap().unwrap();
    assert_eq!(ids(&chunk), [1000, 1001, 1002]);
    assert_eq!(data(&chunk), ["1", "2", "3"]);
    assert_eq!(broker.stats().published, 3);
    assert!(broker.publish_batch(&[]).unwrap().is_empty());
}

#[test]
fn history_reads_pages_after_an_id_and_resets_like_a_stream() {
    let config = BrokerConfig {
        history: 5,
        ..config()
    };
    let broker = Broker::with_first_id(config, 1);
    for n in 1..=4 {
        publish(&broker, "a", &format!("a{n}"));
        publish(&broker, "b", &format!("b{n}"));
    }
    // Ids 1..=8 alternate a, b; each topic keeps all four.
    let page = broker.history(["a", "b"], Some("2"), 3).unwrap();
    let read: Vec<(&str, &str)> = page
        .events
        .iter()
        .map(|e| (e.id.as_str(), e.data.as_str()))
        .collect();
    assert_eq!(read, [("3", "a2"), ("4", "b2"), ("5", "a3")]);
    assert!(page.more && !page.reset);
    assert_eq!(page.events[0].topic, "a");
    assert_eq!(page.events[0].event, "message");
    let rest = broker.history(["a", "b"], Some("5"), 10).unwrap();
    assert_eq!(rest.events.len(), 3);
    assert!(!rest.more);
    let newest = broker.history(["b"], None, 2).unwrap();
    let read: Vec<&str> = newest.events.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(read, ["b3", "b4"]);
    assert!(!newest.more && !newest.reset);
    // An id from before what is retained: the oldest retained instead.
    for _ in 0..5 {
        publish(&broker, "a", "later");
    }
    let reset = broker.history(["a"], Some("1"), 2).unwrap();
    assert!(reset.reset && reset.more);
    assert_eq!(reset.events[0].data, "later");
    // An unknown topic is read as empty and not created.
    let topics = broker.topic_count();
    let empty = broker.history(["nobody"], None, 10).unwrap();
    assert!(empty.events.is_empty() && !empty.reset && !empty.more);
    assert_eq!(broker.topic_count(), topics);
    assert!(matches!(
        broker.history(Vec::<String>::new(), None, 1),
        Err(BrokerError::NoTopics)
    ));
}
