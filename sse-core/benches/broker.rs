//! The broker under load: one publish fanned out to many subscribers, and
//! subscribe/unsubscribe churn, each beside `tokio::sync::broadcast` (the
//! same design for one topic without replay) as the baseline.
//!
//! `cargo xtask bench` runs this and prints the ratios.

use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::Stream;
use futures::task::noop_waker_ref;
use sse_core::Event;
use sse_core::broker::{Broker, BrokerConfig, ClientStream};
use tokio::sync::broadcast;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime")
}

fn config(subscribers: usize) -> BrokerConfig {
    BrokerConfig {
        max_clients: subscribers + 1,
        ..BrokerConfig::default()
    }
}

/// Polls like a server task would: take what is ready, then poll again so
/// the stream registers for the next wake-up.
fn drain(stream: &mut ClientStream, cx: &mut Context<'_>) -> usize {
    let mut bytes = 0;
    while let Poll::Ready(Some(chunk)) = Pin::new(&mut *stream).poll_next(cx) {
        bytes += chunk.len();
    }
    bytes
}

fn fan_out(c: &mut Criterion) {
    let rt = runtime();
    let _guard = rt.enter();
    let mut cx = Context::from_waker(noop_waker_ref());
    let event = Event::builder()
        .event("notification")
        .data(r#"{"type":"order.created","orderId":482913,"amount":129.95,"currency":"EUR"}"#)
        .build()
        .expect("valid event");

    let mut group = c.benchmark_group("fan_out");
    group.sample_size(10);
    for subscribers in [1_000usize, 10_000, 100_000] {
        group.throughput(Throughput::Elements(subscribers as u64));

        let broker = Broker::new(config(subscribers));
        let mut streams: Vec<ClientStream> = (0..subscribers)
            .map(|_| broker.subscribe(["feed"], None).expect("room for all"))
            .collect();
        for stream in &mut streams {
            drain(stream, &mut cx);
        }
        group.bench_with_input(
            BenchmarkId::new("sse-core", subscribers),
            &subscribers,
            |b, _| {
                b.iter(|| {
                    broker.publish("feed", &event).expect("open");
                    let mut delivered = 0;
                    for stream in &mut streams {
                        delivered += usize::from(drain(stream, &mut cx) > 0);
                    }
                    assert_eq!(delivered, subscribers);
                })
            },
        );
        drop(streams);

        let (sender, _) = broadcast::channel(256);
        let mut receivers: Vec<_> = (0..subscribers).map(|_| sender.subscribe()).collect();
        group.bench_with_input(
            BenchmarkId::new("tokio-broadcast", subscribers),
            &subscribers,
            |b, _| {
                b.iter(|| {
                    sender.send(event.encode()).expect("receivers");
                    let mut delivered = 0;
                    for receiver in &mut receivers {
                        delivered += usize::from(receiver.try_recv().is_ok());
                    }
                    assert_eq!(delivered, subscribers);
                })
            },
        );
    }
    group.finish();
}

fn churn(c: &mut Criterion) {
    let rt = runtime();
    let _guard = rt.enter();
    let mut cx = Context::from_waker(noop_waker_ref());
    let mut group = c.benchmark_group("churn");
    group.throughput(Throughput::Elements(1));

    // Others stay subscribed, so the topic's bookkeeping is not trivially empty.
    let broker = Broker::new(config(10_001));
    let _others: Vec<ClientStream> = (0..10_000)
        .map(|_| broker.subscribe(["feed"], None).expect("room"))
        .collect();
    group.bench_function("sse-core", |b| {
        b.iter(|| {
            let mut stream = broker.subscribe(["feed"], None).expect("room");
            black_box(drain(&mut stream, &mut cx));
        })
    });

    let (sender, _) = broadcast::channel::<bytes::Bytes>(256);
    let _others: Vec<_> = (0..10_000).map(|_| sender.subscribe()).collect();
    group.bench_function("tokio-broadcast", |b| {
        b.iter(|| {
            let mut receiver = sender.subscribe();
            black_box(receiver.try_recv().is_err());
        })
    });
    group.finish();
}

criterion_group!(benches, fan_out, churn);
criterion_main!(benches);
