//! From outside the crate, as an application uses the hub: a burst
//! published with `hub.publish` in a loop reaches a reader of
//! `hub.subscribe` whole, with coalescing on (the default) and off, as long
//! as the topic's log holds it: `max(history, client_buffer)` events, when
//! the reader cannot run during the burst (here a current-thread runtime,
//! where the publisher never yields).

use std::time::Duration;

use futures::StreamExt;
use sse_hub::Event;
use sse_hub::broker::BrokerConfig;
use sse_hub::decode::{Decoded, Decoder};
use sse_hub::hub::{Body, Hub, HubConfig};
use tokio::sync::oneshot;

const WINDOWS: [Duration; 2] = [Duration::ZERO, Duration::from_millis(5)];

fn hub(coalesce: Duration, broker: BrokerConfig) -> Hub {
    Hub::open(HubConfig {
        coalesce,
        broker,
        ..HubConfig::default()
    })
    .expect("a hub")
}

/// Publishes `burst` events in a loop to a reader that waits for them:
/// the data of the events it got, in order, before its stream ended or it
/// had them all.
async fn burst(hub: &Hub, burst: usize) -> Vec<String> {
    let Body::Stream(mut stream) = hub.subscribe(["burst"], None).await.body else {
        panic!("a stream");
    };
    let (started, waiting) = oneshot::channel();
    let reader = tokio::spawn(async move {
        let mut started = Some(started);
        let mut decoder = Decoder::new();
        let mut data = Vec::new();
        while data.len() < burst {
            let Some(chunk) = stream.next().await else {
                break;
            };
            decoder.feed(&chunk.unwrap_or_else(|never| match never {}));
            while let Some(item) = decoder.next_item() {
                if let Ok(Decoded::Event(event)) = item
                    && event.event() == "message"
                {
                    data.push(event.data().to_owned());
                }
            }
            // The preamble is out: the stream now waits for events.
            if let Some(started) = started.take() {
                let _ = started.send(());
            }
        }
        data
    });
    waiting.await.expect("the reader started");
    for n in 0..burst {
        hub.publish("burst", &Event::new(n.to_string()))
            .await
            .expect("an in-memory publish succeeds");
    }
    tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("the reader ends")
        .expect("the reader did not panic")
}

fn numbers(count: usize) -> Vec<String> {
    (0..count).map(|n| n.to_string()).collect()
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_ten_client_buffers_reaches_a_reader_whole() {
    for window in WINDOWS {
        let hub = hub(
            window,
            BrokerConfig {
                client_buffer: 16,
                ..BrokerConfig::default()
            },
        );
        assert_eq!(burst(&hub, 160).await, numbers(160), "window {window:?}");
        assert_eq!(hub.stats().lagged, 0);
    }
}

#[tokio::test(start_paused = true)]
async fn with_the_defaults_a_burst_reaches_a_reader_whole_up_to_the_history() {
    // 1,000 events: four buffers of 256, with and without the window.
    for window in WINDOWS {
        let hub = hub(window, BrokerConfig::default());
        assert_eq!(burst(&hub, 1000).await, numbers(1000), "window {window:?}");
        assert_eq!(hub.stats().lagged, 0);
    }
    // One more than the topic holds: the oldest unread event is gone
    // before the reader runs, so its stream ends, and it resumes with a
    // reset. Ten buffers (2,560) need `--history 2560`.
    for window in WINDOWS {
        let hub = hub(window, BrokerConfig::default());
        assert!(burst(&hub, 1001).await.is_empty(), "window {window:?}");
        assert_eq!(hub.stats().lagged, 1);
    }
}
