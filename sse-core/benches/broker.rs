//! The broker under load: one publish fanned out to many subscribers,
//! subscribe/unsubscribe churn, publishers on different topics at once,
//! many topics, and one topic per user; each beside `tokio::sync::broadcast`
//! (the same design for one topic without replay, one channel per topic) as
//! the baseline.
//!
//! `cargo xtask bench` runs this and prints the ratios.

use std::hint::black_box;
use std::pin::Pin;
use std::sync::Barrier;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::Stream;
use futures::task::noop_waker_ref;
use sse_hub::Event;
use sse_hub::broker::{Broker, BrokerConfig, ClientStream};
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
    let event = notification();

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

fn notification() -> Event {
    Event::builder()
        .event("notification")
        .data(r#"{"type":"order.created","orderId":482913,"amount":129.95,"currency":"EUR"}"#)
        .build()
        .expect("valid event")
}

/// Subscribers per topic in the contention scenario.
const READERS: usize = 100;

/// Two threads, each publishing to a topic of its own and reading that
/// topic's subscribers: what a server does when two publishers and their
/// readers run on two cores. The broker's locking is what this measures.
fn contention(c: &mut Criterion) {
    let rt = runtime();
    let event = notification();
    let mut group = c.benchmark_group("contention");
    group.sample_size(10);
    group.throughput(Throughput::Elements(2 * READERS as u64));

    let broker = Broker::new(config(2 * READERS));
    group.bench_function("sse-core", |b| {
        b.iter_custom(|iters| {
            on_two_threads(|worker, start_together| {
                let topic = ["left", "right"][worker];
                let _guard = rt.enter();
                let mut cx = Context::from_waker(noop_waker_ref());
                let mut streams: Vec<ClientStream> = (0..READERS)
                    .map(|_| broker.subscribe([topic], None).expect("room"))
                    .collect();
                for stream in &mut streams {
                    drain(stream, &mut cx);
                }
                start_together.wait();
                let start = Instant::now();
                for _ in 0..iters {
                    broker.publish(topic, &event).expect("open");
                    for stream in &mut streams {
                        assert!(drain(stream, &mut cx) > 0);
                    }
                }
                start.elapsed()
            })
        })
    });

    group.bench_function("tokio-broadcast", |b| {
        b.iter_custom(|iters| {
            on_two_threads(|_, start_together| {
                let (sender, _) = broadcast::channel(256);
                let mut receivers: Vec<_> = (0..READERS).map(|_| sender.subscribe()).collect();
                start_together.wait();
                let start = Instant::now();
                for _ in 0..iters {
                    sender.send(event.encode()).expect("receivers");
                    for receiver in &mut receivers {
                        assert!(receiver.try_recv().is_ok());
                    }
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

/// Runs `work(0, ..)` and `work(1, ..)` on two threads at once; each sets
/// itself up, waits at the barrier, then times its loop. The slower
/// thread's time.
fn on_two_threads(work: impl Fn(usize, &Barrier) -> Duration + Sync) -> Duration {
    let start_together = Barrier::new(2);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|worker| {
                let (work, start_together) = (&work, &start_together);
                scope.spawn(move || work(worker, start_together))
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("no panic"))
            .max()
            .unwrap_or(Duration::ZERO)
    })
}

/// 10,000 subscribers spread over 1,000 topics: one event to every topic,
/// then every stream read.
fn many_topics(c: &mut Criterion) {
    const TOPICS: usize = 1_000;
    const PER_TOPIC: usize = 10;
    let rt = runtime();
    let _guard = rt.enter();
    let mut cx = Context::from_waker(noop_waker_ref());
    let event = notification();
    let names: Vec<String> = (0..TOPICS).map(|i| format!("topic-{i}")).collect();
    let mut group = c.benchmark_group("many_topics");
    group.sample_size(10);
    group.throughput(Throughput::Elements((TOPICS * PER_TOPIC) as u64));

    let broker = Broker::new(config(TOPICS * PER_TOPIC));
    let mut streams: Vec<ClientStream> = names
        .iter()
        .flat_map(|name| (0..PER_TOPIC).map(move |_| name))
        .map(|name| broker.subscribe([name], None).expect("room"))
        .collect();
    for stream in &mut streams {
        drain(stream, &mut cx);
    }
    group.bench_function("sse-core", |b| {
        b.iter(|| {
            for name in &names {
                broker.publish(name, &event).expect("open");
            }
            for stream in &mut streams {
                assert!(drain(stream, &mut cx) > 0);
            }
        })
    });
    drop(streams);

    let channels: Vec<_> = (0..TOPICS)
        .map(|_| {
            let (sender, _) = broadcast::channel(256);
            let receivers: Vec<_> = (0..PER_TOPIC).map(|_| sender.subscribe()).collect();
            (sender, receivers)
        })
        .collect();
    let mut channels = channels;
    group.bench_function("tokio-broadcast", |b| {
        b.iter(|| {
            for (sender, _) in &channels {
                sender.send(event.encode()).expect("receivers");
            }
            for (_, receivers) in &mut channels {
                for receiver in receivers {
                    assert!(receiver.try_recv().is_ok());
                }
            }
        })
    });
    group.finish();
}

/// The per-user notification pattern: 100,000 topics with one subscriber
/// each; one publish to one user's topic and that user's stream read. The
/// parameter `1` is the same with a single topic, for comparison.
fn per_user(c: &mut Criterion) {
    let rt = runtime();
    let _guard = rt.enter();
    let mut cx = Context::from_waker(noop_waker_ref());
    let event = notification();
    let mut group = c.benchmark_group("per_user");
    group.throughput(Throughput::Elements(1));
    for users in [1usize, 100_000] {
        let names: Vec<String> = (0..users).map(|i| format!("user-{i}")).collect();
        let broker = Broker::new(config(users));
        let mut streams: Vec<ClientStream> = names
            .iter()
            .map(|name| broker.subscribe([name], None).expect("room"))
            .collect();
        for stream in &mut streams {
            drain(stream, &mut cx);
        }
        let mut next = 0;
        group.bench_with_input(BenchmarkId::new("sse-core", users), &users, |b, _| {
            b.iter(|| {
                next = (next + 1) % users;
                broker.publish(&names[next], &event).expect("open");
                assert!(drain(&mut streams[next], &mut cx) > 0);
            })
        });
        drop(streams);

        let mut channels: Vec<_> = (0..users)
            .map(|_| {
                let (sender, receiver) = broadcast::channel(256);
                (sender, receiver)
            })
            .collect();
        let mut next = 0;
        group.bench_with_input(
            BenchmarkId::new("tokio-broadcast", users),
            &users,
            |b, _| {
                b.iter(|| {
                    next = (next + 1) % users;
                    let (sender, receiver) = &mut channels[next];
                    sender.send(event.encode()).expect("receiver");
                    assert!(receiver.try_recv().is_ok());
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, fan_out, churn, contention, many_topics, per_user);
criterion_main!(benches);
