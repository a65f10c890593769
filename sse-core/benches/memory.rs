//! Heap per idle subscription, measured with a counting allocator, beside a
//! `tokio::sync::broadcast` receiver as the baseline. Prints a Markdown
//! table; `cargo xtask bench` runs it.

// A global allocator can only be written with `unsafe`; it forwards to the
// system allocator and only counts.
#![allow(unsafe_code, clippy::print_stdout)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::pin::Pin;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::task::{Context, Poll};

use futures::Stream;
use futures::task::noop_waker_ref;
use sse_hub::broker::{Broker, BrokerConfig, ClientStream};
use sse_hub::stream::{KeepAlive, SseStream};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

const CLIENTS: usize = 100_000;

/// Heap per stream after `CLIENTS` subscriptions, before and after the
/// first poll, with `topic(i)` naming the i-th stream's topic.
fn per_stream(topic: impl Fn(usize) -> String) -> (f64, f64, std::time::Duration) {
    let mut cx = Context::from_waker(noop_waker_ref());
    let broker = Broker::new(BrokerConfig {
        max_clients: CLIENTS + 1,
        ..BrokerConfig::default()
    });
    // One client first, so that a shared topic's map entry and slabs exist.
    let _first = broker.subscribe([topic(CLIENTS)], None).expect("room");
    let names: Vec<String> = (0..CLIENTS).map(&topic).collect();

    let before = live();
    // As a server sends them: with the contract's keep-alive around.
    let mut streams: Vec<SseStream<ClientStream>> = Vec::with_capacity(CLIENTS);
    let vec_bytes = live() - before;
    for name in &names {
        let subscription = broker.subscribe([name], None).expect("room");
        streams.push(SseStream::new(subscription).keep_alive(KeepAlive::new()));
    }
    let subscribed = live() - before - vec_bytes;

    let before_poll = live();
    let arming = std::time::Instant::now();
    for stream in &mut streams {
        // Idle: no event, so this registers the waker and arms the heartbeat.
        assert!(matches!(
            Pin::new(stream).poll_next(&mut cx),
            Poll::Ready(Some(_)) | Poll::Pending
        ));
    }
    let polled = live() - before_poll;
    let arming = arming.elapsed();
    // A stream lives in the framework's task: count its own size too, as
    // the baseline's receivers are counted inside their Vec.
    let stream_size = std::mem::size_of::<SseStream<ClientStream>>() as f64;
    let per_subscribed = subscribed as f64 / CLIENTS as f64 + stream_size;
    let per_idle = per_subscribed + polled as f64 / CLIENTS as f64;
    (per_subscribed, per_idle, arming)
}

fn main() {
    // `cargo bench` passes criterion-style arguments; a filter that names
    // none of this file's measurements skips them.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if filter.is_some_and(|f| !"memory/idle_subscription".contains(&f)) {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let _guard = rt.enter();

    let (one_subscribed, one_idle, arming) = per_stream(|_| "feed".to_owned());
    // Topic names are counted: they are part of what a per-user topic costs.
    let (user_subscribed, user_idle, _) = per_stream(|i| format!("user-{i}"));

    let (sender, _) = tokio::sync::broadcast::channel::<bytes::Bytes>(256);
    let before = live();
    let receivers: Vec<_> = (0..CLIENTS).map(|_| sender.subscribe()).collect();
    let per_receiver = (live() - before) as f64 / CLIENTS as f64;
    drop(receivers);
    // A channel of its own per user, the baseline for one topic per user.
    let before = live();
    let channels: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::sync::broadcast::channel::<bytes::Bytes>(16))
        .collect();
    let per_channel = (live() - before) as f64 / CLIENTS as f64;
    drop(channels);

    println!("| benchmark | heap per client | vs baseline |");
    println!("|---|---|---|");
    for (name, bytes, base, base_name) in [
        (
            "one topic, subscribed",
            one_subscribed,
            per_receiver,
            "tokio-broadcast",
        ),
        (
            "one topic, idle (polled: waker and heartbeat armed)",
            one_idle,
            per_receiver,
            "tokio-broadcast",
        ),
        (
            "a topic per user, subscribed",
            user_subscribed,
            per_channel,
            "tokio-broadcast channel",
        ),
        (
            "a topic per user, idle",
            user_idle,
            per_channel,
            "tokio-broadcast channel",
        ),
    ] {
        println!(
            "| memory/idle_subscription/sse-core, {name} | {bytes:.0} B | {:.1}× {base_name} |",
            bytes / base
        );
    }
    println!("| memory/idle_subscription/tokio-broadcast (receiver) | {per_receiver:.0} B |  |");
    println!(
        "| memory/idle_subscription/tokio-broadcast channel (capacity 16, one receiver) | {per_channel:.0} B |  |"
    );
    println!(
        "\nFirst poll of {CLIENTS} idle streams on one topic (waker registered, heartbeat timer armed): {:.1} ms",
        arming.as_secs_f64() * 1e3
    );
}
