//! Draining: every stream ends within the window, each with a `retry:`
//! that brings its client back at a moment of its own, the moments evenly
//! spread.

use std::time::Duration;

use futures::StreamExt;
use tokio::time::Instant;

use super::*;
use crate::Event;

const WINDOW: Duration = Duration::from_secs(20);
const RETRY: Duration = Duration::from_secs(2);

/// How a drained stream ended: when, with which last frame, why.
#[derive(Debug)]
struct Ending {
    at: Instant,
    last: Option<bytes::Bytes>,
    why: Option<Ended>,
}

/// Reads `stream` to its end on a task of its own.
fn follow(mut stream: ClientStream) -> tokio::task::JoinHandle<Ending> {
    tokio::spawn(async move {
        let mut last = None;
        while let Some(chunk) = stream.next().await {
            last = Some(chunk);
        }
        Ending {
            at: Instant::now(),
            last,
            why: stream.ended(),
        }
    })
}

/// The `retry:` value a chunk ends with.
fn retry_of(chunk: &[u8]) -> Option<Duration> {
    let text = std::str::from_utf8(chunk).ok()?;
    let field = text.strip_suffix("\n\n")?.rsplit('\n').next()?;
    let millis = field.strip_prefix("retry: ")?.parse().ok()?;
    Some(Duration::from_millis(millis))
}

#[tokio::test(start_paused = true)]
async fn reconnects_spread_evenly_over_the_window_and_every_stream_ends_within_it() {
    let broker = Broker::with_first_id(BrokerConfig::default(), 1);
    let streams = 2_000;
    let mut followers = Vec::new();
    for n in 0..streams {
        // One topic each, and some streams of several.
        let topics = if n % 10 == 0 {
            vec![format!("user-{n}"), "all".to_owned()]
        } else {
            vec![format!("user-{n}")]
        };
        followers.push(follow(broker.subscribe(topics, None).unwrap()));
    }
    tokio::task::yield_now().await;
    let started = Instant::now();
    broker.drain(WINDOW, RETRY);
    assert!(broker.is_draining());
    let mut buckets = [0_usize; 10];
    for follower in followers {
        let ending = follower.await.unwrap();
        assert_eq!(ending.why, Some(Ended::Drained));
        assert!(
            ending.at <= started + WINDOW,
            "ended {:?} in",
            ending.at - started
        );
        let last = ending.last.expect("a last frame");
        let retry = retry_of(&last).unwrap_or_else(|| panic!("no retry: in {last:?}"));
        assert!(retry <= RETRY, "{retry:?}");
        let reconnect = ending.at + retry - started;
        assert!(reconnect <= WINDOW, "reconnects {reconnect:?} in");
        // Ends only as early as the moment requires (Tokio's timer has
        // millisecond steps).
        let tick = Duration::from_millis(1);
        assert!(
            RETRY - retry <= tick || ending.at - started <= tick,
            "{retry:?} at {:?}",
            ending.at - started
        );
        let bucket = (reconnect.as_secs_f64() / WINDOW.as_secs_f64() * 10.0) as usize;
        buckets[bucket.min(9)] += 1;
    }
    // 200 expected in each tenth; ±50% is more than 7 standard deviations.
    for (tenth, count) in buckets.iter().enumerate() {
        assert!(
            (100..=300).contains(count),
            "tenth {tenth}: {count} of {buckets:?}"
        );
    }
    assert_eq!(broker.client_count(), 0);
    broker.streams_closed().await;
}

#[tokio::test(start_paused = true)]
async fn events_are_delivered_until_the_end_and_a_busy_stream_still_ends_on_time() {
    let broker = Broker::with_first_id(BrokerConfig::default(), 1);
    let mut stream = broker.subscribe(["news"], None).unwrap();
    let started = Instant::now();
    broker.drain(Duration::from_secs(5), Duration::from_millis(100));
    let mut received = Vec::new();
    let mut sent = 0;
    loop {
        // A publish before every read: the stream always has a chunk.
        sent += 1;
        broker
            .publish("news", &Event::new(sent.to_string()))
            .unwrap();
        match stream.next().await {
            Some(chunk) => received.push(chunk),
            None => break,
        }
        tokio::time::advance(Duration::from_millis(10)).await;
    }
    assert!(Instant::now() - started <= Duration::from_secs(5));
    assert_eq!(stream.ended(), Some(Ended::Drained));
    let last = received.last().unwrap();
    assert!(retry_of(last).is_some(), "{last:?}");
    // Every event published before the end reached the stream, in its
    // last chunk if not before.
    let events = received
        .iter()
        .map(|chunk| chunk.windows(6).filter(|w| w == b"data: ").count())
        .sum::<usize>();
    assert_eq!(events, sent - 1, "the last publish came after the end");
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_already_lagged_ends_once_without_a_retry() {
    let config = BrokerConfig {
        client_buffer: 4,
        history: 4,
        ..BrokerConfig::default()
    };
    let broker = Broker::with_first_id(config, 1);
    let mut stream = broker.subscribe(["news"], None).unwrap();
    for n in 0..10 {
        broker.publish("news", &Event::new(n.to_string())).unwrap();
    }
    broker.drain(WINDOW, RETRY);
    let mut frames = Vec::new();
    while let Some(chunk) = stream.next().await {
        frames.push(chunk);
    }
    assert!(
        matches!(stream.ended(), Some(Ended::Lagged { .. })),
        "{:?}",
        stream.ended()
    );
    assert!(
        frames.iter().all(|chunk| retry_of(chunk).is_none()),
        "{frames:?}"
    );
    assert_eq!(stream.next().await, None);
}

#[tokio::test(start_paused = true)]
async fn a_stream_opened_during_the_drain_ends_within_what_is_left_of_it() {
    let broker = Broker::with_first_id(BrokerConfig::default(), 1);
    let started = Instant::now();
    broker.drain(WINDOW, RETRY);
    tokio::time::advance(WINDOW - Duration::from_secs(1)).await;
    for _ in 0..50 {
        let ending = follow(broker.subscribe(["late"], None).unwrap())
            .await
            .unwrap();
        assert_eq!(ending.why, Some(Ended::Drained));
        let retry = retry_of(&ending.last.unwrap()).unwrap();
        assert!(ending.at + retry <= started + WINDOW, "{retry:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn streams_closed_resolves_when_the_last_stream_goes() {
    let broker = Broker::with_first_id(BrokerConfig::default(), 1);
    broker.streams_closed().await;
    let first = broker.subscribe(["a"], None).unwrap();
    let second = broker.subscribe(["b"], None).unwrap();
    let mut closed = std::pin::pin!(broker.streams_closed());
    assert!(futures::poll!(closed.as_mut()).is_pending());
    drop(first);
    assert!(futures::poll!(closed.as_mut()).is_pending());
    drop(second);
    assert!(futures::poll!(closed.as_mut()).is_ready());
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_received_nothing_ends_with_the_id_to_resume_from() {
    let broker = Broker::with_first_id(BrokerConfig::default(), 1);
    broker.publish("other", &Event::new("elsewhere")).unwrap();
    for topics in [&["quiet"][..], &["quiet-a", "quiet-b"][..]] {
        let stream = broker.subscribe(topics, None).unwrap();
        let reader = follow(stream);
        broker.drain(Duration::from_secs(1), RETRY);
        let ending = reader.await.unwrap();
        let mut decoder = crate::decode::Decoder::new();
        decoder.feed(&ending.last.unwrap());
        while decoder.next_item().is_some() {}
        let resume = decoder.last_event_id().to_owned();
        assert!(!resume.is_empty(), "{topics:?}");
        // Published while its client reconnects: the resume replays it.
        let missed = broker
            .publish(topics[0], &Event::new("while away"))
            .unwrap();
        let mut back = broker.subscribe(topics, Some(&resume)).unwrap();
        assert!(!back.is_reset(), "{topics:?}: {resume}");
        let replay = back.next().await.unwrap();
        assert!(
            replay.starts_with(format!("id: {}\n", missed.id).as_bytes()),
            "{topics:?}: {replay:?}"
        );
    }
}
