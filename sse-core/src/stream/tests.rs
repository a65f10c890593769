use std::time::Duration;

use bytes::Bytes;
use futures::{FutureExt, StreamExt};

use super::*;
use crate::broker::{Broker, BrokerConfig};

const HEARTBEAT: &[u8] = b": heartbeat\n\n";

/// The chunk the stream has ready now, `Some(None)` if it ended, `None`
/// if it would wait.
fn ready<S>(stream: &mut SseStream<S>) -> Option<Option<Bytes>>
where
    S: Stream + Unpin,
    S::Item: IntoFrame<Error = Infallible>,
{
    stream
        .next()
        .now_or_never()
        .map(|chunk| chunk.map(|chunk| chunk.unwrap_or_else(|never| match never {})))
}

fn broker() -> Broker {
    Broker::with_first_id(BrokerConfig::default(), 1000)
}

fn publish(broker: &Broker, topic: &str, data: &str) {
    broker.publish(topic, &Event::new(data)).unwrap();
}

fn every(interval: Duration) -> KeepAlive {
    KeepAlive::new().interval(interval)
}

#[tokio::test(start_paused = true)]
async fn a_keep_alive_after_the_idle_interval_only() {
    let broker = broker();
    let subscription = broker.subscribe(["a"], None).unwrap();
    let mut stream = SseStream::new(subscription).keep_alive(every(Duration::from_secs(10)));
    assert_eq!(ready(&mut stream), None);
    tokio::time::advance(Duration::from_secs(9)).await;
    assert_eq!(ready(&mut stream), None);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(
        ready(&mut stream),
        Some(Some(Bytes::from_static(HEARTBEAT)))
    );
    // A write postpones the next keep-alive by a whole interval.
    tokio::time::advance(Duration::from_secs(5)).await;
    publish(&broker, "a", "x");
    assert!(ready(&mut stream).unwrap().is_some());
    tokio::time::advance(Duration::from_secs(9)).await;
    assert_eq!(ready(&mut stream), None, "9 s after the write");
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(
        ready(&mut stream),
        Some(Some(Bytes::from_static(HEARTBEAT)))
    );
}

#[tokio::test(start_paused = true)]
async fn an_idle_stream_is_woken_for_its_keep_alive() {
    let events = futures::stream::pending::<Event>();
    let mut stream =
        SseStream::new(events).keep_alive(every(Duration::from_millis(250)).text("ping"));
    let start = tokio::time::Instant::now();
    let chunk = stream.next().await.unwrap().unwrap();
    assert_eq!(&chunk[..], b": ping\n\n");
    assert_eq!(start.elapsed(), Duration::from_millis(250));
}

#[tokio::test(start_paused = true)]
async fn a_zero_interval_turns_keep_alives_off() {
    let broker = broker();
    let subscription = broker.subscribe(["a"], None).unwrap();
    let mut stream = SseStream::new(subscription).keep_alive(every(Duration::ZERO));
    assert_eq!(ready(&mut stream), None);
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(ready(&mut stream), None, "no keep-alive, and no busy loop");
    publish(&broker, "a", "x");
    assert!(ready(&mut stream).unwrap().is_some(), "events still flow");
}

#[tokio::test(start_paused = true)]
async fn probes_fill_idle_gaps_and_keep_alives_keep_their_schedule() {
    let events = futures::stream::pending::<Event>();
    let mut stream = SseStream::new(events)
        .keep_alive(every(Duration::from_secs(1)))
        .probe_idle(Duration::from_millis(300));
    let start = tokio::time::Instant::now();
    let mut written = Vec::new();
    while start.elapsed() < Duration::from_millis(2100) {
        let chunk = stream.next().await.unwrap().unwrap();
        written.push((start.elapsed().as_millis(), chunk));
    }
    let probe = Bytes::from_static(b"\n");
    let heartbeat = Bytes::from_static(HEARTBEAT);
    assert_eq!(
        written,
        vec![
            (300, probe.clone()),
            (600, probe.clone()),
            (900, probe.clone()),
            (1000, heartbeat.clone()),
            (1300, probe.clone()),
            (1600, probe.clone()),
            (1900, probe.clone()),
            (2000, heartbeat),
            (2300, probe),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_write_postpones_the_probe_and_clients_skip_probes() {
    let broker = broker();
    let subscription = broker.subscribe(["a"], None).unwrap();
    let mut stream = SseStream::new(subscription).probe_idle(Duration::from_millis(300));
    let mut bytes = Vec::new();
    tokio::time::advance(Duration::from_millis(200)).await;
    publish(&broker, "a", "x");
    bytes.extend_from_slice(&ready(&mut stream).unwrap().unwrap());
    tokio::time::advance(Duration::from_millis(299)).await;
    assert_eq!(ready(&mut stream), None, "299 ms after the write");
    tokio::time::advance(Duration::from_millis(1)).await;
    let probe = ready(&mut stream).unwrap().unwrap();
    assert_eq!(&probe[..], b"\n");
    bytes.extend_from_slice(&probe);
    publish(&broker, "a", "y");
    bytes.extend_from_slice(&ready(&mut stream).unwrap().unwrap());
    let mut decoder = crate::decode::Decoder::new();
    decoder.feed(&bytes);
    let data: Vec<String> = std::iter::from_fn(|| decoder.next_item())
        .filter_map(|item| item.ok()?.into_event())
        .map(|event| event.data().to_owned())
        .collect();
    assert_eq!(data, ["x", "y"]);
}

#[tokio::test(start_paused = true)]
async fn a_zero_probe_interval_turns_probing_off() {
    let events = futures::stream::pending::<Event>();
    let mut stream = SseStream::new(events).probe_idle(Duration::ZERO);
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(ready(&mut stream), None);
}

#[tokio::test]
async fn the_preamble_goes_first_with_the_first_item_or_alone() {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let events = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|event| (event, receiver))
    });
    let mut stream = Box::pin(
        SseStream::new(events)
            .retry(Duration::from_secs(2))
            .preamble(Bytes::from_static(b"event: hello\ndata: {}\n\n")),
    );
    let first = stream.next().now_or_never().unwrap().unwrap().unwrap();
    assert_eq!(&first[..], b"retry: 2000\n\nevent: hello\ndata: {}\n\n");
    assert!(stream.next().now_or_never().is_none(), "then it waits");
    sender.send(Event::new("a\nb")).unwrap();
    let next = stream.next().await.unwrap().unwrap();
    assert_eq!(&next[..], b"data: a\ndata: b\n\n");
    drop(sender);
    assert!(stream.next().await.is_none(), "it ends with its source");

    // An item ready at once goes out in the same chunk as the preamble.
    let ready_at_once = futures::stream::iter([Event::new("now")]);
    let mut stream = SseStream::new(ready_at_once).retry(Duration::from_secs(1));
    let chunk = stream.next().await.unwrap().unwrap();
    assert_eq!(&chunk[..], b"retry: 1000\n\ndata: now\n\n");
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn a_failed_item_ends_the_stream_with_its_error() {
    let items = futures::stream::iter([
        Ok(Event::new("1")),
        Err("the feed broke"),
        Ok(Event::new("never sent")),
    ]);
    let mut stream = SseStream::new(items);
    assert_eq!(&stream.next().await.unwrap().unwrap()[..], b"data: 1\n\n");
    assert_eq!(stream.next().await.unwrap(), Err("the feed broke"));
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn an_empty_source_still_sends_its_preamble() {
    let mut stream =
        SseStream::new(futures::stream::empty::<Event>()).retry(Duration::from_secs(1));
    let chunk = stream.next().await.unwrap().unwrap();
    assert_eq!(&chunk[..], b"retry: 1000\n\n");
    assert!(stream.next().await.is_none());
}

const WINDOW: Duration = Duration::from_millis(5);

#[tokio::test(start_paused = true)]
async fn coalescing_holds_what_comes_within_the_window_and_sends_it_together() {
    let broker = broker();
    let subscription = broker.subscribe(["a"], None).unwrap();
    let mut stream = SseStream::new(subscription).coalesce(WINDOW);
    assert_eq!(ready(&mut stream), None);
    publish(&broker, "a", "1");
    // The first frame goes out at once.
    assert_eq!(
        ready(&mut stream),
        Some(Some(Bytes::from("id: 1000\ndata: 1\n\n")))
    );
    publish(&broker, "a", "2");
    publish(&broker, "a", "3");
    assert_eq!(
        ready(&mut stream),
        None,
        "held: the last write was just now"
    );
    publish(&broker, "a", "4");
    tokio::time::advance(WINDOW - Duration::from_millis(1)).await;
    assert_eq!(ready(&mut stream), None, "the window is still open");
    tokio::time::advance(Duration::from_millis(1)).await;
    // What was held, then at once what came meanwhile: one write for the
    // framework, which polls until the stream waits.
    assert_eq!(
        ready(&mut stream),
        Some(Some(Bytes::from(
            "id: 1001\ndata: 2\n\nid: 1002\ndata: 3\n\n"
        )))
    );
    assert_eq!(
        ready(&mut stream),
        Some(Some(Bytes::from("id: 1003\ndata: 4\n\n")))
    );
    assert_eq!(ready(&mut stream), None);
    // The next frame within the window of that write is held again.
    publish(&broker, "a", "5");
    assert_eq!(ready(&mut stream), None);
    tokio::time::advance(WINDOW).await;
    assert_eq!(
        ready(&mut stream),
        Some(Some(Bytes::from("id: 1004\ndata: 5\n\n")))
    );
}

#[tokio::test(start_paused = true)]
async fn a_held_stream_takes_what_piles_up_once_half_the_buffer_waits() {
    let broker = Broker::with_first_id(
        BrokerConfig {
            client_buffer: 4,
            ..BrokerConfig::default()
        },
        1000,
    );
    let subscription = broker.subscribe(["a"], None).unwrap();
    let mut stream = SseStream::new(subscription).coalesce(WINDOW);
    publish(&broker, "a", "1");
    assert!(ready(&mut stream).unwrap().is_some(), "the first, at once");
    publish(&broker, "a", "2");
    assert_eq!(ready(&mut stream), None, "held");
    // One unread: polling reads nothing (a framework's own polls cost no
    // read); two, half the buffer of 4: it takes them into what it holds.
    publish(&broker, "a", "3");
    assert_eq!(ready(&mut stream), None);
    assert_eq!(stream.get_ref().size_hint(), (0, None));
    publish(&broker, "a", "4");
    assert_eq!(stream.get_ref().size_hint(), (1, None));
    assert_eq!(ready(&mut stream), None, "still held");
    assert_eq!(stream.get_ref().size_hint(), (0, None), "taken");
    for n in 5..=8 {
        publish(&broker, "a", &n.to_string());
        let _ = ready(&mut stream);
    }
    assert_eq!(broker.stats().lagged, 0, "7 published within the window");
    tokio::time::advance(WINDOW).await;
    let held = ready(&mut stream).unwrap().unwrap();
    let data: Vec<&str> = std::str::from_utf8(&held)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .collect();
    assert_eq!(data, ["2", "3", "4", "5", "6", "7", "8"]);
}

#[tokio::test(start_paused = true)]
async fn coalescing_does_not_delay_events_further_apart_than_the_window() {
    let broker = broker();
    let subscription = broker.subscribe(["a"], None).unwrap();
    let mut stream = SseStream::new(subscription)
        .retry(Duration::from_secs(1))
        .coalesce(WINDOW);
    assert!(ready(&mut stream).unwrap().is_some(), "the preamble");
    for n in 0..3 {
        tokio::time::advance(WINDOW).await;
        publish(&broker, "a", &n.to_string());
        let chunk = ready(&mut stream).unwrap().unwrap();
        assert!(chunk.ends_with(format!("data: {n}\n\n").as_bytes()));
    }
}

#[tokio::test(start_paused = true)]
async fn a_held_item_goes_out_before_the_end_or_the_error() {
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let mut stream = SseStream::new(rx).coalesce(WINDOW);
    tx.unbounded_send(Ok(Event::new("1"))).unwrap();
    tx.unbounded_send(Ok(Event::new("2"))).unwrap();
    tx.unbounded_send(Err("the feed broke")).unwrap();
    drop(tx);
    let started = Instant::now();
    assert_eq!(&stream.next().await.unwrap().unwrap()[..], b"data: 1\n\n");
    assert_eq!(&stream.next().await.unwrap().unwrap()[..], b"data: 2\n\n");
    assert_eq!(started.elapsed(), WINDOW, "2 was held for the window");
    assert_eq!(stream.next().await.unwrap(), Err("the feed broke"));
    assert!(stream.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_zero_window_sends_everything_at_once() {
    let broker = broker();
    let subscription = broker.subscribe(["a"], None).unwrap();
    let mut stream = SseStream::new(subscription).coalesce(Duration::ZERO);
    for n in 0..3 {
        publish(&broker, "a", &n.to_string());
        assert!(ready(&mut stream).unwrap().is_some(), "event {n}");
    }
}

#[tokio::test(start_paused = true)]
async fn keep_alives_keep_their_schedule_after_a_hold() {
    let broker = broker();
    let subscription = broker.subscribe(["a"], None).unwrap();
    let mut stream = SseStream::new(subscription)
        .keep_alive(every(Duration::from_secs(10)))
        .coalesce(WINDOW);
    publish(&broker, "a", "1");
    assert!(ready(&mut stream).unwrap().is_some());
    publish(&broker, "a", "2");
    assert_eq!(ready(&mut stream), None, "held");
    tokio::time::advance(WINDOW).await;
    assert!(ready(&mut stream).unwrap().is_some(), "released");
    assert_eq!(ready(&mut stream), None);
    tokio::time::advance(Duration::from_secs(10) - Duration::from_millis(1)).await;
    assert_eq!(
        ready(&mut stream),
        None,
        "10 s after the last write, not before"
    );
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(
        ready(&mut stream),
        Some(Some(Bytes::from_static(HEARTBEAT)))
    );
}

#[tokio::test(start_paused = true)]
async fn end_at_ends_an_idle_or_busy_stream_at_its_deadline() {
    let broker = broker();
    let start = tokio::time::Instant::now();
    let subscription = broker.subscribe(["a"], None).unwrap();
    let mut stream = SseStream::new(subscription)
        .keep_alive(every(Duration::from_secs(10)))
        .preamble(Bytes::from_static(b": hi\n\n"))
        .end_at(start + Duration::from_secs(25));
    assert_eq!(
        ready(&mut stream),
        Some(Some(Bytes::from_static(b": hi\n\n")))
    );
    publish(&broker, "a", "x");
    assert_eq!(
        ready(&mut stream),
        Some(Some(Bytes::from(&b"id: 1000\ndata: x\n\n"[..])))
    );
    // Keep-alives keep their schedule until the deadline ...
    let mut heartbeats = 0;
    while let Some(chunk) = stream.next().await {
        assert_eq!(chunk.unwrap_or_else(|never| match never {}), HEARTBEAT);
        heartbeats += 1;
    }
    // ... which ends the stream to the microsecond, with no more frames.
    assert_eq!(heartbeats, 2);
    assert_eq!(start.elapsed(), Duration::from_secs(25));
    publish(&broker, "a", "late");
    assert_eq!(ready(&mut stream), Some(None));
}

#[tokio::test(start_paused = true)]
async fn end_at_stops_a_stream_whose_events_keep_coming() {
    let broker = broker();
    let start = tokio::time::Instant::now();
    let subscription = broker.subscribe(["a"], None).unwrap();
    let mut stream = SseStream::new(subscription).end_at(start + Duration::from_secs(1));
    for i in 0..10 {
        publish(&broker, "a", &i.to_string());
        assert!(ready(&mut stream).unwrap().is_some());
        tokio::time::advance(Duration::from_millis(99)).await;
    }
    tokio::time::advance(Duration::from_millis(10)).await;
    publish(&broker, "a", "after");
    assert_eq!(ready(&mut stream), Some(None), "nothing after the deadline");
}

#[test]
fn the_stream_wrapper_does_not_grow_for_its_rare_settings() {
    // Probes and deadlines share one box; a stream with neither pays a pointer.
    let plain = SseStream::new(futures::stream::pending::<Event>());
    assert!(plain.extra.is_none());
    let probed = SseStream::new(futures::stream::pending::<Event>()).probe_idle(Duration::ZERO);
    assert!(probed.extra.is_none());
}
