//! When a client counts as lagging: only for what it does not read itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use bytes::Bytes;
use futures::Stream;

use super::*;
use crate::Event;

/// A waker that counts how often it was woken.
#[derive(Default)]
struct Counting(AtomicUsize);

impl Wake for Counting {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Counting {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// One poll of `stream` with `waker`.
fn poll(stream: &mut ClientStream, waker: &Waker) -> Poll<Option<Bytes>> {
    std::pin::Pin::new(stream).poll_next(&mut Context::from_waker(waker))
}

fn broker(history: usize, client_buffer: usize) -> Broker {
    let config = BrokerConfig {
        history,
        client_buffer,
        ..BrokerConfig::default()
    };
    Broker::with_first_id(config, 1000)
}

fn publish(broker: &Broker, times: usize) {
    for _ in 0..times {
        broker.publish("a", &Event::new("x")).unwrap();
    }
}

fn count_events(chunk: &[u8]) -> usize {
    chunk.windows(4).filter(|w| w == b"id: ").count()
}

/// A client's turn, for paused time.
fn turn() -> std::time::Duration {
    std::time::Duration::from_millis(u64::from(TURN))
}

#[tokio::test(start_paused = true)]
async fn a_client_away_with_a_chunk_is_woken_at_half_its_buffer_not_per_event() {
    let broker = broker(1000, 8);
    let mut stream = broker.subscribe(["a"], None).unwrap();
    let counting = Arc::new(Counting::default());
    let waker = Waker::from(counting.clone());
    assert_eq!(poll(&mut stream, &waker), Poll::Pending, "parked");
    publish(&broker, 1);
    assert_eq!(counting.count(), 1, "a parked client is woken at once");
    assert!(matches!(poll(&mut stream, &waker), Poll::Ready(Some(_))));
    // It holds that chunk (a write in progress, a coalescing window):
    // publishes do not wake it one by one ...
    publish(&broker, 3);
    assert_eq!(counting.count(), 1);
    // ... but once half its buffer is used, so that it can take them.
    publish(&broker, 1);
    assert_eq!(counting.count(), 2);
    publish(&broker, 4);
    assert_eq!(counting.count(), 2, "one wake-up per half buffer");
    assert_eq!(broker.stats().lagged, 0, "8 unread: within its buffer");
    // Taking them starts the count again.
    let Poll::Ready(Some(chunk)) = poll(&mut stream, &waker) else {
        panic!("the 8 events");
    };
    assert_eq!(count_events(&chunk), 8);
    publish(&broker, 8);
    assert_eq!(broker.stats().lagged, 0);
    // A client that does not come back for them, for its whole turn,
    // lags past its buffer.
    tokio::time::advance(turn()).await;
    publish(&broker, 1);
    assert_eq!(broker.stats().lagged, 1);
    assert_eq!(poll(&mut stream, &waker), Poll::Ready(None));
}

#[tokio::test(start_paused = true)]
async fn a_client_woken_from_waiting_counts_only_what_it_could_lose() {
    // Between its wake-up and its turn to run, a client cannot read:
    // what comes meanwhile is the server's delay, bounded by the log.
    let broker = broker(100, 4);
    let mut stream = broker.subscribe(["a"], None).unwrap();
    let counting = Arc::new(Counting::default());
    let waker = Waker::from(counting.clone());
    assert_eq!(poll(&mut stream, &waker), Poll::Pending);
    publish(&broker, 100);
    assert_eq!(counting.count(), 1, "woken once");
    assert_eq!(broker.stats().lagged, 0);
    let Poll::Ready(Some(chunk)) = poll(&mut stream, &waker) else {
        panic!("the burst");
    };
    assert_eq!(count_events(&chunk), 100, "the whole burst, in one chunk");
    assert_eq!(poll(&mut stream, &waker), Poll::Pending);
    // One past what the log holds: the oldest unread event is gone, so it
    // lags, and a resume from its last id is a reset.
    publish(&broker, 101);
    assert_eq!(broker.stats().lagged, 1);
    assert_eq!(poll(&mut stream, &waker), Poll::Ready(None));
}

#[tokio::test(start_paused = true)]
async fn a_client_of_several_topics_is_woken_once_and_counts_across_them() {
    let broker = broker(1000, 4);
    let mut both = broker.subscribe(["a", "b"], None).unwrap();
    let counting = Arc::new(Counting::default());
    let waker = Waker::from(counting.clone());
    assert_eq!(poll(&mut both, &waker), Poll::Pending);
    for topic in ["a", "b", "a", "b", "b", "a"] {
        broker.publish(topic, &Event::new("x")).unwrap();
    }
    assert_eq!(counting.count(), 1, "woken by the first publish only");
    assert_eq!(broker.stats().lagged, 0, "woken, not yet run");
    let Poll::Ready(Some(chunk)) = poll(&mut both, &waker) else {
        panic!("the six events");
    };
    assert_eq!(count_events(&chunk), 6);
    // Away with that chunk: half its buffer wakes it, past it it lags.
    for topic in ["a", "b"] {
        broker.publish(topic, &Event::new("x")).unwrap();
    }
    assert_eq!(counting.count(), 2);
    tokio::time::advance(turn()).await;
    for topic in ["b", "a", "a"] {
        broker.publish(topic, &Event::new("x")).unwrap();
    }
    assert_eq!(broker.stats().lagged, 1);
}

#[tokio::test(start_paused = true)]
async fn a_woken_client_that_does_not_take_its_turn_counts_again() {
    // A consumer that parked the stream but went on writing something
    // else does not read when woken: after its turn, it lags as usual.
    let broker = broker(1000, 4);
    let mut stream = broker.subscribe(["a"], None).unwrap();
    let waker = Waker::from(Arc::new(Counting::default()));
    assert_eq!(poll(&mut stream, &waker), Poll::Pending);
    publish(&broker, 10);
    assert_eq!(broker.stats().lagged, 0, "within its turn");
    tokio::time::advance(turn()).await;
    publish(&broker, 1);
    assert_eq!(broker.stats().lagged, 1, "11 unread after its turn");
    assert_eq!(poll(&mut stream, &waker), Poll::Ready(None));
}
