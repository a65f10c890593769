//! Wire-format throughput: encoding events, and decoding a realistic stream
//! with sse-core's decoder and, in the same run, with `eventsource-stream`
//! (the parser most Rust SSE clients use) as the baseline.
//!
//! `cargo xtask bench` runs this and prints the ratios.

use std::convert::Infallible;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use eventsource_stream::Eventsource;
use futures::executor::block_on;
use futures::{StreamExt, stream};
use sse_hub::Event;
use sse_hub::decode::{DecodeStream, Decoded, Decoder};

/// A 100-byte JSON payload, as a notification feed would send.
const JSON_100: &str = r#"{"type":"order.created","orderId":482913,"amount":129.95,"currency":"EUR","user":"u-1842","ok":true}"#;

#[derive(serde::Serialize)]
struct Order<'a> {
    r#type: &'a str,
    order_id: u64,
    amount: f64,
    currency: &'a str,
    user: &'a str,
}

fn encode(c: &mut Criterion) {
    assert_eq!(JSON_100.len(), 100);
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(1));

    group.bench_function("json_100B", |b| {
        let mut id = 1_764_000_000_000u64;
        b.iter(|| {
            id += 1;
            let event = Event::builder()
                .event("notification")
                .id(id.to_string())
                .data(black_box(JSON_100))
                .build()
                .expect("valid event");
            black_box(event.encode())
        })
    });

    // The baseline: what a hand-rolled encoder does, one `format!` with no
    // validation and no line splitting (so unsafe for arbitrary input).
    group.bench_function("json_100B_format", |b| {
        let mut id = 1_764_000_000_000u64;
        b.iter(|| {
            id += 1;
            let frame = format!(
                "id: {id}\nevent: notification\ndata: {}\n\n",
                black_box(JSON_100)
            );
            black_box(Bytes::from(frame))
        })
    });

    group.bench_function("json_100B_prebuilt", |b| {
        let event = Event::builder()
            .event("notification")
            .id("1764000000001")
            .data(JSON_100)
            .build()
            .expect("valid event");
        b.iter(|| black_box(black_box(&event).encode()))
    });

    group.bench_function("json_100B_serialized", |b| {
        let order = Order {
            r#type: "order.created",
            order_id: 482_913,
            amount: 129.95,
            currency: "EUR",
            user: "u-1842",
        };
        b.iter(|| {
            let event = Event::builder()
                .event("notification")
                .json_data(black_box(&order))
                .build()
                .expect("valid event");
            black_box(event.encode())
        })
    });

    let log_4k: String = (0..64)
        .map(|i| format!("{i:04} INFO request served in 12ms path=/api/v1/items status=200\n"))
        .collect::<String>()
        .chars()
        .take(4096)
        .collect();
    group.bench_function("multiline_4KiB", |b| {
        b.iter(|| {
            let event = Event::builder()
                .event("log")
                .data(black_box(log_4k.as_str()))
                .build()
                .expect("valid event");
            black_box(event.encode())
        })
    });
    group.finish();
}

/// About 1 MiB of what a busy feed sends: JSON notifications with ids,
/// multi-line log events, unnamed messages and heartbeats.
fn realistic_stream() -> Vec<u8> {
    let mut out = sse_hub::encode::retry(std::time::Duration::from_secs(3)).to_vec();
    let mut id = 1_764_000_000_000u64;
    while out.len() < 1 << 20 {
        id += 1;
        let event = match id % 10 {
            0 => Event::builder()
                .event("log")
                .id(id.to_string())
                .data("GET /api/items 200 12ms\nGET /api/users 200 3ms\nPOST /api/orders 201 48ms")
                .build(),
            1 => Ok(Event::new("plain text message for the default listener")),
            _ => Event::builder()
                .event("notification")
                .id(id.to_string())
                .data(JSON_100)
                .build(),
        };
        out.extend_from_slice(&event.expect("valid event").encode());
        if id.is_multiple_of(50) {
            out.extend_from_slice(&sse_hub::encode::keep_alive());
        }
    }
    out
}

fn decode(c: &mut Criterion) {
    let stream_bytes = realistic_stream();
    let events_in_stream = {
        let mut decoder = Decoder::new();
        decoder.feed(&stream_bytes);
        std::iter::from_fn(|| decoder.next_item())
            .filter(|item| matches!(item, Ok(Decoded::Event(_))))
            .count()
    };

    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(stream_bytes.len() as u64));
    group.sample_size(10);

    for chunk_size in [1usize, 1024, 64 * 1024] {
        let chunks: Vec<Bytes> = stream_bytes
            .chunks(chunk_size)
            .map(Bytes::copy_from_slice)
            .collect();

        group.bench_with_input(
            BenchmarkId::new("sse-core", chunk_size),
            &chunks,
            |b, chunks| {
                b.iter(|| {
                    let mut decoder = Decoder::new();
                    let mut events = 0;
                    for chunk in chunks {
                        decoder.feed(chunk);
                        while let Some(item) = decoder.next_item() {
                            if let Ok(Decoded::Event(event)) = item {
                                black_box(&event);
                                events += 1;
                            }
                        }
                    }
                    assert_eq!(events, events_in_stream);
                })
            },
        );

        group.bench_with_input(
            BenchmarkId::new("sse-core-stream", chunk_size),
            &chunks,
            |b, chunks| {
                b.iter(|| {
                    let source = stream::iter(chunks.iter().cloned().map(Ok::<_, Infallible>));
                    let events = block_on(
                        DecodeStream::new(source)
                            .filter(|item| {
                                std::future::ready(matches!(item, Ok(Decoded::Event(_))))
                            })
                            .map(black_box)
                            .count(),
                    );
                    assert_eq!(events, events_in_stream);
                })
            },
        );

        group.bench_with_input(
            BenchmarkId::new("eventsource-stream", chunk_size),
            &chunks,
            |b, chunks| {
                b.iter(|| {
                    let source = stream::iter(chunks.iter().cloned().map(Ok::<_, Infallible>));
                    let events = block_on(
                        source
                            .eventsource()
                            .filter(|item| std::future::ready(item.is_ok()))
                            .map(black_box)
                            .count(),
                    );
                    assert_eq!(events, events_in_stream);
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, encode, decode);
criterion_main!(benches);
