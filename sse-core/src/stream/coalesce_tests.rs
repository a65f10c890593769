//! Coalescing never costs a reader that keeps up: what the server holds
//! back never counts toward the client's buffer, with or without a window.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::oneshot;

use super::*;
use crate::broker::{Broker, BrokerConfig, ClientStream};
use crate::decode::Decoder;

const WINDOWS: [Duration; 2] = [Duration::ZERO, Duration::from_millis(5)];

fn broker(history: usize, client_buffer: usize) -> Broker {
    let config = BrokerConfig {
        history,
        client_buffer,
        ..BrokerConfig::default()
    };
    Broker::with_first_id(config, 1000)
}

fn ids(chunk: &[u8]) -> Vec<u64> {
    let mut decoder = Decoder::new();
    decoder.feed(chunk);
    std::iter::from_fn(|| decoder.next_item())
        .filter_map(|item| item.ok()?.into_event())
        .filter_map(|event| event.last_event_id().parse().ok())
        .collect()
}

/// Reads `stream` in a task of its own until it has `want` events or
/// ends; `started` fires once it waits for its first event.
fn reader(
    broker: &Broker,
    window: Duration,
    want: usize,
) -> (oneshot::Receiver<()>, tokio::task::JoinHandle<Vec<u64>>) {
    let subscription = broker.subscribe(["a"], None).unwrap();
    // The preamble goes out after the subscription was first polled, so
    // once it is out the reader waits for events.
    let mut stream = SseStream::new(subscription)
        .preamble(Bytes::from_static(b": hi\n\n"))
        .coalesce(window);
    let (started, waiting) = oneshot::channel();
    let task = tokio::spawn(async move {
        let mut started = Some(started);
        let mut seen = Vec::new();
        while seen.len() < want {
            let Some(chunk) = stream.next().await else {
                break;
            };
            let chunk = chunk.unwrap_or_else(|never| match never {});
            if let Some(started) = started.take() {
                let _ = started.send(());
            }
            seen.extend(ids(&chunk));
        }
        seen
    });
    (waiting, task)
}

fn expected(count: usize) -> Vec<u64> {
    (1000..1000 + count as u64).collect()
}

#[tokio::test(start_paused = true)]
async fn a_reader_that_keeps_up_gets_events_half_a_millisecond_apart_with_a_buffer_of_four() {
    const EVENTS: usize = 800;
    for window in WINDOWS {
        let broker = broker(1000, 4);
        let (started, reader) = reader(&broker, window, EVENTS);
        started.await.unwrap();
        for n in 0..EVENTS {
            broker.publish("a", &Event::new("x")).unwrap();
            // Two a millisecond (the timer's resolution), ten a window:
            // more than the buffer holds.
            if n % 2 == 1 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let seen = tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .expect("the reader ends")
            .unwrap();
        assert_eq!(seen, expected(EVENTS), "window {window:?}");
        assert_eq!(broker.stats().lagged, 0, "window {window:?}");
    }
}

/// A burst from inside the process, with no await between the publishes:
/// the reader cannot run until it ends, so only the log bounds it. (On
/// a runtime with several workers a reader may run during the burst
/// instead; it then takes events as they come, and like any reader is cut
/// only if it falls `client_buffer` behind while away with a chunk.)
async fn burst(window: Duration) {
    const CLIENT_BUFFER: usize = 16;
    const BURST: usize = 10 * CLIENT_BUFFER;
    let broker = broker(1000, CLIENT_BUFFER);
    let (started, reader) = reader(&broker, window, BURST);
    started.await.unwrap();
    for _ in 0..BURST {
        broker.publish("a", &Event::new("x")).unwrap();
    }
    let seen = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("the reader ends")
        .unwrap();
    assert_eq!(seen, expected(BURST), "window {window:?}");
    assert_eq!(broker.stats().lagged, 0, "window {window:?}");
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_ten_buffers_reaches_a_waiting_reader_whole() {
    for window in WINDOWS {
        burst(window).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_burst_past_what_the_log_holds_cuts_the_reader_and_a_resume_resets() {
    // Where bounded memory ends it: the log holds max(history,
    // client_buffer) events, and a reader that cannot run during the
    // burst has lost the oldest once one more comes.
    for window in WINDOWS {
        let broker = broker(100, 16);
        let (started, reader) = reader(&broker, window, 101);
        started.await.unwrap();
        for _ in 0..101 {
            broker.publish("a", &Event::new("x")).unwrap();
        }
        let seen = reader.await.unwrap();
        assert!(seen.is_empty(), "window {window:?}: the stream ended");
        assert_eq!(broker.stats().lagged, 1);
        let resumed = broker.subscribe(["a"], Some("999")).unwrap();
        assert!(resumed.is_reset(), "event 1000 is gone");
    }
}

#[tokio::test(start_paused = true)]
async fn a_reader_that_stops_during_a_window_is_still_cut_and_resumes_from_history() {
    let broker = broker(1000, 4);
    let subscription = broker.subscribe(["a"], None).unwrap();
    let mut stream = SseStream::new(subscription).coalesce(Duration::from_millis(5));
    broker.publish("a", &Event::new("x")).unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(ids(&first), [1000]);
    // Held for the window; then nobody polls the stream again, as when
    // the framework waits for a client that stopped reading.
    broker.publish("a", &Event::new("x")).unwrap();
    assert!(futures::FutureExt::now_or_never(stream.next()).is_none());
    // The held event is the server's; the next four fill the buffer ...
    for _ in 0..4 {
        broker.publish("a", &Event::new("x")).unwrap();
    }
    assert_eq!(broker.stats().lagged, 0);
    // ... and one more, once it has not read for a whole turn, is past it.
    tokio::time::advance(Duration::from_millis(u64::from(crate::broker::TURN))).await;
    broker.publish("a", &Event::new("x")).unwrap();
    assert_eq!(broker.stats().lagged, 1, "5 unread, past a buffer of 4");
    // What it held still goes out, then its stream ends.
    let held = stream.next().await.unwrap().unwrap();
    assert_eq!(ids(&held), [1001]);
    assert!(stream.next().await.is_none(), "its stream ended");
    let mut resumed: ClientStream = broker.subscribe(["a"], Some("1001")).unwrap();
    assert!(!resumed.is_reset());
    let replay = resumed.next().await.unwrap();
    assert_eq!(ids(&replay), [1002, 1003, 1004, 1005, 1006]);
}
