//! The load generator: SSE subscribers and publishers over real TCP, on
//! one thread, so that its cost per connection stays small beside the
//! server's.
//!
//! Subscribers speak raw HTTP/1.1 with a chunked-body decoder and look only
//! for the sequence number the publisher puts in each event's data
//! (`{"seq":N,…}`); the publisher keeps each sequence number's send time,
//! so that every delivery's latency is known, and each subscriber keeps a
//! bitmap of what it saw, so that lost and duplicated events are counted.
//! (Not `sse-hub-client`: a full decoder and a reqwest connection per
//! stream would cost the generator more than the server it measures.)

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::body::{Body, find};

/// Connections set up at once: more would overflow the listen backlog and
/// measure SYN retransmits instead of the server.
const CONNECTING_AT_ONCE: usize = 256;
/// How long the subscribers may take, after the last publish, to receive
/// everything before the rest counts as lost.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);
/// Read buffer per subscriber.
const READ_BUFFER: usize = 16 * 1024;

/// Where the server under load subscribes and publishes: `/events` and
/// `/notify` with a `topic` parameter, which every contender takes.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) addr: SocketAddr,
    /// How many topics the streams spread over: stream `i` follows topic
    /// `i % topics` and event `seq` goes to topic `seq % topics`, so with
    /// as many topics as streams each event is meant for one stream (a
    /// topic per user). With one, every stream follows every event.
    topics: usize,
}

impl Endpoint {
    /// Every stream on one topic.
    pub(crate) fn new(addr: SocketAddr) -> Self {
        Self { addr, topics: 1 }
    }

    /// The same server with the streams spread over `topics` topics.
    pub(crate) fn spread_over(&self, topics: usize) -> Self {
        Self {
            addr: self.addr,
            topics: topics.max(1),
        }
    }

    /// The topic of stream or event number `n`.
    fn topic(&self, n: usize) -> usize {
        n % self.topics
    }
}

/// A topic's name on the wire.
fn topic_name(topic: usize) -> String {
    format!("t{topic}")
}

/// How the publishers publish.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Publishing {
    /// One publisher, `per_second` events a second on a fixed schedule.
    Rate { per_second: u32, duration: Duration },
    /// `connections` publishers, each sending its next event as soon as the
    /// last was answered.
    Flood {
        connections: usize,
        duration: Duration,
    },
}

/// What one run of the load measured, client side.
#[derive(Debug)]
pub(crate) struct Measured {
    pub(crate) published: u64,
    pub(crate) failed_publishes: u64,
    /// From the first publish to the last delivery.
    pub(crate) window: Duration,
    pub(crate) deliveries: u64,
    pub(crate) lost: u64,
    pub(crate) duplicated: u64,
    /// Streams the server ended before the end of the run.
    pub(crate) ended_early: usize,
    /// Publish → receive, in microseconds.
    pub(crate) latency: Histogram<u64>,
}

/// What the subscribers and publishers share (all on one thread).
struct Shared {
    base: Instant,
    /// Send time of each sequence number, in nanoseconds after `base`.
    sent: RefCell<Vec<u64>>,
    latency: RefCell<Histogram<u64>>,
    deliveries: Cell<u64>,
    duplicated: Cell<u64>,
    last_delivery: Cell<u64>,
    ended_early: Cell<usize>,
    first_publish_failure: RefCell<Option<String>>,
    /// Per topic: streams that opened, streams still open, and events the
    /// server accepted. What each stream is owed follows from these.
    opened: RefCell<Vec<u64>>,
    open: RefCell<Vec<u64>>,
    accepted: RefCell<Vec<u64>>,
}

impl Shared {
    fn new(topics: usize) -> Self {
        Self {
            base: Instant::now(),
            sent: RefCell::new(Vec::new()),
            latency: RefCell::new(
                Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds"),
            ),
            deliveries: Cell::new(0),
            duplicated: Cell::new(0),
            last_delivery: Cell::new(0),
            ended_early: Cell::new(0),
            first_publish_failure: RefCell::new(None),
            opened: RefCell::new(vec![0; topics]),
            open: RefCell::new(vec![0; topics]),
            accepted: RefCell::new(vec![0; topics]),
        }
    }

    fn publish_failed(&self, err: String) {
        let mut first = self.first_publish_failure.borrow_mut();
        if first.is_none() {
            eprintln!("  the first publish that failed: {err}");
            *first = Some(err);
        }
    }

    fn now(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    /// Deliveries owed for the events accepted so far, to the streams
    /// counted in `streams` (per topic).
    fn owed(&self, streams: &RefCell<Vec<u64>>) -> u64 {
        let accepted = self.accepted.borrow();
        let streams = streams.borrow();
        accepted
            .iter()
            .zip(streams.iter())
            .map(|(a, s)| a * s)
            .sum()
    }
}

/// Subscribers connected to one server, receiving.
pub(crate) struct Subscribers {
    endpoint: Endpoint,
    shared: Rc<Shared>,
    tasks: Vec<JoinHandle<()>>,
    subscribers: usize,
    failed_connects: usize,
    first_failure: Option<String>,
    connect_time: Duration,
}

impl Drop for Subscribers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Subscribers {
    /// Opens `count` streams, `CONNECTING_AT_ONCE` at a time, and returns
    /// once every one has its response head (or failed). Runs inside a
    /// `LocalSet`.
    pub(crate) async fn connect(endpoint: &Endpoint, count: usize) -> Self {
        let shared = Rc::new(Shared::new(endpoint.topics));
        let permits = Rc::new(Semaphore::new(CONNECTING_AT_ONCE));
        let (heads, mut heads_in) = tokio::sync::mpsc::unbounded_channel();
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(count);
        for index in 0..count {
            let shared = Rc::clone(&shared);
            let topic = endpoint.topic(index);
            let request = format!(
                "GET /events?topic={} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
                topic_name(topic),
                endpoint.addr
            );
            let permits = Rc::clone(&permits);
            let heads = heads.clone();
            let addr = endpoint.addr;
            let source = source_address(addr, index);
            tasks.push(tokio::task::spawn_local(async move {
                let opened = {
                    let _permit = permits.acquire().await;
                    open_stream(addr, source, request.as_bytes()).await
                };
                match opened {
                    Ok((stream, mut body)) => {
                        shared.opened.borrow_mut()[topic] += 1;
                        shared.open.borrow_mut()[topic] += 1;
                        let _ = heads.send(None);
                        let mut seen = Seen::default();
                        // Returns only when the server ended the stream.
                        let _ = receive(stream, &mut body, &shared, &mut seen).await;
                        shared.ended_early.set(shared.ended_early.get() + 1);
                        shared.open.borrow_mut()[topic] -= 1;
                    }
                    Err(err) => {
                        let _ = heads.send(Some(err));
                    }
                }
            }));
        }
        drop(heads);
        let mut failed_connects = 0;
        let mut first_failure = None;
        for _ in 0..count {
            match heads_in.recv().await {
                Some(None) => {}
                Some(Some(err)) => {
                    failed_connects += 1;
                    first_failure.get_or_insert(err);
                }
                None => break,
            }
        }
        Self {
            endpoint: endpoint.clone(),
            shared,
            tasks,
            subscribers: count,
            failed_connects,
            first_failure,
            connect_time: started.elapsed(),
        }
    }

    /// How long opening every stream took, in seconds.
    pub(crate) fn connect_time_s(&self) -> f64 {
        self.connect_time.as_secs_f64()
    }

    /// Why the first stream that failed to open failed.
    pub(crate) fn first_failure(&self) -> Option<&str> {
        self.first_failure.as_deref()
    }

    /// How many streams are open.
    pub(crate) fn open(&self) -> usize {
        self.subscribers - self.failed_connects - self.shared.ended_early.get()
    }

    /// Publishes as `publishing` says, waits until every open stream has
    /// received every event (or `DRAIN_LIMIT` passed), and returns what
    /// was measured.
    pub(crate) async fn publish(self, publishing: Publishing) -> Measured {
        let first_publish = self.shared.now();
        let failed_publishes = match publishing {
            Publishing::Rate {
                per_second,
                duration,
            } => {
                let count = (duration.as_secs_f64() * f64::from(per_second)).round() as u64;
                let interval = Duration::from_secs(1) / per_second.max(1);
                let mut publisher = Publisher::new(&self.endpoint);
                let start = tokio::time::Instant::now();
                let start_ns = self.shared.now();
                let mut failed = 0;
                for i in 0..count {
                    let due = interval * i as u32;
                    tokio::time::sleep_until(start + due).await;
                    // Latency counts from when the event was due: a server
                    // that answers a publish late delays the next one, and
                    // that delay is its latency too (no coordinated
                    // omission).
                    let due = start_ns + due.as_nanos() as u64;
                    if let Err(err) = publisher.publish(&self.shared, Some(due)).await {
                        self.shared.publish_failed(err);
                        failed += 1;
                    }
                }
                failed
            }
            Publishing::Flood {
                connections,
                duration,
            } => {
                let deadline = tokio::time::Instant::now() + duration;
                let floods: Vec<_> = (0..connections)
                    .map(|_| {
                        let endpoint = self.endpoint.clone();
                        let shared = Rc::clone(&self.shared);
                        tokio::task::spawn_local(async move {
                            let mut publisher = Publisher::new(&endpoint);
                            let mut failed = 0;
                            while tokio::time::Instant::now() < deadline {
                                if let Err(err) = publisher.publish(&shared, None).await {
                                    shared.publish_failed(err);
                                    failed += 1;
                                    tokio::time::sleep(Duration::from_millis(1)).await;
                                }
                            }
                            failed
                        })
                    })
                    .collect();
                let mut failed = 0;
                for flood in floods {
                    failed += flood.await.unwrap_or(0);
                }
                failed
            }
        };
        // A publish that was refused owes nothing (and one whose answer
        // was lost may still be delivered: distinct is capped below).
        let published = self.shared.accepted.borrow().iter().sum();
        let drain_until = Instant::now() + DRAIN_LIMIT;
        while self.shared.deliveries.get() - self.shared.duplicated.get()
            < self.shared.owed(&self.shared.open)
            && Instant::now() < drain_until
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let distinct = self.shared.deliveries.get() - self.shared.duplicated.get();
        // Every stream that opened was owed every event of its topic, also
        // those the server ended early.
        let owed = self.shared.owed(&self.shared.opened);
        let lost = owed.saturating_sub(distinct);
        let window = Duration::from_nanos(
            self.shared
                .last_delivery
                .get()
                .saturating_sub(first_publish),
        );
        Measured {
            published,
            failed_publishes,
            window,
            deliveries: self.shared.deliveries.get(),
            lost,
            duplicated: self.shared.duplicated.get(),
            ended_early: self.shared.ended_early.get(),
            latency: self.shared.latency.borrow().clone(),
        }
    }
}

/// Loopback source addresses the subscribers spread over: with one, the
/// kernel's search for a free ephemeral port slows down as the range fills
/// (19,000 streams took 10 s to connect instead of 1).
const SOURCE_ADDRESSES: usize = 32;

/// The local address subscriber `index` binds, for a loopback IPv4 server.
fn source_address(server: SocketAddr, index: usize) -> Option<SocketAddr> {
    match server.ip() {
        std::net::IpAddr::V4(ip) if ip.is_loopback() => {
            let host = 10 + (index % SOURCE_ADDRESSES) as u8;
            Some(SocketAddr::from(([127, 0, 0, host], 0)))
        }
        _ => None,
    }
}

/// Connects, sends the request and reads the response head; the stream
/// and whatever of the body came with the head.
async fn open_stream(
    addr: SocketAddr,
    source: Option<SocketAddr>,
    request: &[u8],
) -> Result<(TcpStream, Body), String> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(|e| format!("socket: {e}"))?;
    // Closed with a reset, so that no TIME_WAIT holds the port: the next
    // scenario needs 19,000 of the 28,000 ephemeral ports again at once.
    // (A zero linger never blocks, which is what the deprecation is about;
    // `set_zero_linger` needs a newer Tokio than the workspace asks for.)
    #[allow(deprecated)]
    let _ = socket.set_linger(Some(Duration::ZERO));
    let _ = socket.set_nodelay(true);
    if let Some(source) = source {
        socket
            .bind(source)
            .map_err(|e| format!("bind {source}: {e}"))?;
    }
    let mut stream = socket
        .connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .write_all(request)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut buffer = Vec::with_capacity(READ_BUFFER);
    let head_end = loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            break end + 4;
        }
        if buffer.len() >= READ_BUFFER {
            return Err("response head over 16 KiB".into());
        }
        let read = stream
            .read_buf(&mut buffer)
            .await
            .map_err(|e| format!("read head: {e}"))?;
        if read == 0 {
            return Err("closed before the response head".into());
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).unwrap_or("");
    if status != "200" {
        let line = head.lines().next().unwrap_or("").to_owned();
        return Err(format!("answered {line:?}"));
    }
    let chunked = head.contains("\r\ntransfer-encoding: chunked");
    let mut body = Body::new(chunked);
    body.rest = buffer.split_off(head_end);
    Ok((stream, body))
}

/// The events one subscriber has seen, as a bitmap by sequence number.
#[derive(Default)]
struct Seen {
    bits: Vec<u64>,
    distinct: u64,
}

impl Seen {
    /// Marks `seq` seen; false if it was already.
    fn mark(&mut self, seq: u64) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        let fresh = self.bits[word] & (1 << bit) == 0;
        self.bits[word] |= 1 << bit;
        self.distinct += u64::from(fresh);
        fresh
    }
}

/// Reads a stream until it ends, recording every delivery.
async fn receive(
    mut stream: TcpStream,
    body: &mut Body,
    shared: &Shared,
    seen: &mut Seen,
) -> Result<(), ()> {
    let mut buffer = vec![0; READ_BUFFER];
    let mut record = |now: u64, seq: u64| {
        let sent = shared.sent.borrow().get(seq as usize).copied();
        shared.deliveries.set(shared.deliveries.get() + 1);
        shared.last_delivery.set(now);
        if !seen.mark(seq) {
            shared.duplicated.set(shared.duplicated.get() + 1);
        }
        if let Some(sent) = sent {
            let micros = now.saturating_sub(sent) / 1000;
            let _ = shared.latency.borrow_mut().record(micros.max(1));
        }
    };
    let first = std::mem::take(&mut body.rest);
    let now = shared.now();
    body.feed(&first, &mut |seq| record(now, seq))?;
    loop {
        let read = stream.read(&mut buffer).await.map_err(|_| ())?;
        if read == 0 {
            return Err(());
        }
        let now = shared.now();
        body.feed(&buffer[..read], &mut |seq| record(now, seq))?;
    }
}

/// One keep-alive connection that publishes numbered events, each to
/// its topic.
struct Publisher {
    endpoint: Endpoint,
    stream: Option<TcpStream>,
    buffer: Vec<u8>,
}

/// Padding that makes an event about 130 bytes on the wire.
const PAD: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

impl Publisher {
    fn new(endpoint: &Endpoint) -> Self {
        Self {
            endpoint: endpoint.clone(),
            stream: None,
            buffer: Vec::with_capacity(4096),
        }
    }

    /// Publishes the next sequence number and waits for the answer. Its
    /// latency counts from `due` (in [`Shared::now`]'s nanoseconds) when
    /// given and not later than now, else from now.
    async fn publish(&mut self, shared: &Shared, due: Option<u64>) -> Result<(), String> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.endpoint.addr)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            let _ = stream.set_nodelay(true);
            self.stream = Some(stream);
        }
        let seq = shared.sent.borrow().len();
        let topic = self.endpoint.topic(seq);
        let body = format!("{{\"seq\":{seq},\"pad\":\"{PAD}\"}}");
        let request = format!(
            "POST /notify?topic={} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            topic_name(topic),
            self.endpoint.addr,
            body.len()
        );
        let now = shared.now();
        shared
            .sent
            .borrow_mut()
            .push(due.map_or(now, |due| due.min(now)));
        let result = match &mut self.stream {
            Some(stream) => exchange(stream, request.as_bytes(), &mut self.buffer).await,
            None => Err("no connection".into()),
        };
        // nginx closes a keep-alive connection after 1000 requests.
        if !matches!(result, Ok(Connection::KeepAlive)) {
            self.stream = None;
        }
        if result.is_ok() {
            shared.accepted.borrow_mut()[topic] += 1;
        }
        result.map(drop)
    }
}

/// Whether a connection may carry another request.
enum Connection {
    KeepAlive,
    Close,
}

/// Sends one request and reads its whole response; `Err` unless 2xx.
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buffer: &mut Vec<u8>,
) -> Result<Connection, String> {
    stream
        .write_all(request)
        .await
        .map_err(|e| format!("send: {e}"))?;
    buffer.clear();
    loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse::<usize>().ok());
            let complete = match length {
                Some(length) => buffer.len() >= end + 4 + length,
                // Chunked: complete at the last chunk.
                None => buffer.ends_with(b"0\r\n\r\n"),
            };
            if complete {
                let status = head.split(' ').nth(1).unwrap_or("");
                let close = head.contains("\r\nconnection: close");
                return if !status.starts_with('2') {
                    Err(format!("publish answered {status}"))
                } else if close {
                    Ok(Connection::Close)
                } else {
                    Ok(Connection::KeepAlive)
                };
            }
        }
        let read = stream
            .read_buf(buffer)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if read == 0 {
            return Err("closed".into());
        }
    }
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
