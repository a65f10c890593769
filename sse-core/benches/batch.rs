//! Batch publishes (`POST /notify/batch`) against the same events
//! published one request at a time, in memory and on a private
//! `redis-server`: the cost per event of each, and their ratio, measured in
//! the same run. Each is measured through the hub's routes called
//! directly, and over HTTP/1.1 (one keep-alive connection on loopback to
//! the hub served by hyper, as the example servers do), which is what a
//! backend that notifies 1,000 users pays.
//!
//! `cargo xtask bench` runs it (`cargo bench -p sse-hub --features
//! redis,hub,serve,http --bench batch`) and prints a Markdown table.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

#[path = "../../conformance/src/redis_server/mod.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;

use std::time::{Duration, Instant};

use redis_server::RedisServer;
use sse_hub::broker::BrokerConfig;
use sse_hub::hub::{Hub, HubConfig, RedisConfig, RequestParts};

/// Events per batch, and single publishes it is compared with.
const EVENTS: usize = 1000;
/// Rounds of each; the median round is reported.
const ROUNDS: usize = 15;

fn config() -> HubConfig {
    HubConfig {
        broker: BrokerConfig {
            // Every event stays retained: eviction costs the same either way.
            history: EVENTS * 2,
            ..BrokerConfig::default()
        },
        // A batch of 1000 small events is about 50 KB.
        max_body: 1 << 20,
        ..HubConfig::default()
    }
}

const HEADERS: [(&str, &str); 1] = [("content-type", "application/json")];

fn request(query: Option<&str>) -> RequestParts<'_> {
    RequestParts {
        query,
        headers: &HEADERS,
    }
}

/// The body of one event, and of a batch of `EVENTS` of them over ten
/// topics.
fn bodies() -> (Vec<String>, String) {
    let singles: Vec<String> = (0..EVENTS)
        .map(|n| format!(r#"{{"user": {n}, "text": "your report is ready"}}"#))
        .collect();
    let items: Vec<String> = singles
        .iter()
        .enumerate()
        .map(|(n, data)| format!(r#"{{"topic": "user-{}", "data": {data}}}"#, n % 10))
        .collect();
    (singles, format!("[{}]", items.join(",")))
}

/// The median of `ROUNDS` timings of `round`.
async fn median<F, Fut>(mut round: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        round().await;
        times.push(start.elapsed());
    }
    times.sort_unstable();
    times[ROUNDS / 2]
}

/// (per event one at a time, per event in a batch) through `hub`.
async fn measure(hub: &Hub) -> (Duration, Duration) {
    let (singles, batch) = bodies();
    let queries: Vec<String> = (0..EVENTS)
        .map(|n| format!("topic=user-{}", n % 10))
        .collect();
    let one_by_one = median(|| async {
        for (query, body) in queries.iter().zip(&singles) {
            let answer = hub
                .routes()
                .notify(request(Some(query)), body.as_bytes())
                .await;
            assert_eq!(answer.status, 200);
        }
    })
    .await;
    let batched = median(|| async {
        let answer = hub
            .routes()
            .notify_batch(request(None), batch.as_bytes())
            .await;
        assert_eq!(answer.status, 200);
    })
    .await;
    (one_by_one / EVENTS as u32, batched / EVENTS as u32)
}

/// `hub`'s publish routes on a loopback port: its address.
async fn serve_http(hub: Hub) -> std::net::SocketAddr {
    use http_body_util::{BodyExt, Full};
    let listener = sse_hub::serve::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let service = move |_peer| {
        let hub = hub.clone();
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let hub = hub.clone();
            async move {
                let (parts, body) = request.into_parts();
                let body = body.collect().await?.to_bytes();
                let head = RequestParts {
                    query: parts.uri.query(),
                    headers: &parts.headers,
                };
                let answer = if parts.uri.path() == "/notify/batch" {
                    hub.routes().notify_batch(head, &body).await
                } else {
                    hub.routes().notify(head, &body).await
                };
                let answer = answer.into_http(|body| match body {
                    sse_hub::hub::Body::Full(bytes) => Full::new(bytes),
                    sse_hub::hub::Body::Stream(_) => Full::default(),
                });
                Ok::<_, hyper::Error>(answer)
            }
        })
    };
    tokio::spawn(sse_hub::serve::serve(
        listener,
        service,
        sse_hub::serve::ServeOptions::new(),
        std::future::pending(),
    ));
    addr
}

/// One keep-alive HTTP/1.1 connection that posts JSON and reads answers.
struct Connection(tokio::io::BufReader<tokio::net::TcpStream>);

impl Connection {
    async fn open(addr: std::net::SocketAddr) -> Self {
        Self(tokio::io::BufReader::new(
            tokio::net::TcpStream::connect(addr).await.unwrap(),
        ))
    }

    /// Posts `body` to `path` and returns the answer's status. The head
    /// and body go in one write: in two, Nagle's algorithm holds the body
    /// until the server's delayed ACK of the head, 40 ms per request.
    async fn post(&mut self, path: &str, body: &str) -> u16 {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n",
            body.len()
        );
        let mut request = head.into_bytes();
        request.extend_from_slice(body.as_bytes());
        self.0.get_mut().write_all(&request).await.unwrap();
        let mut status = 0;
        let mut length = 0;
        let mut line = String::new();
        loop {
            line.clear();
            self.0.read_line(&mut line).await.unwrap();
            let lower = line.trim_end().to_ascii_lowercase();
            if lower.is_empty() {
                break;
            }
            if let Some(code) = lower.strip_prefix("http/1.1 ") {
                status = code[..3].parse().unwrap();
            } else if let Some(value) = lower.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
        }
        let mut answer = vec![0; length];
        self.0.read_exact(&mut answer).await.unwrap();
        status
    }
}

/// [`measure`] over HTTP: (per event one request at a time, per event in
/// a batch request).
async fn measure_http(hub: Hub) -> (Duration, Duration) {
    let (singles, batch) = bodies();
    let addr = serve_http(hub).await;
    let mut connection = Connection::open(addr).await;
    let paths: Vec<String> = (0..EVENTS)
        .map(|n| format!("/notify?topic=user-{}", n % 10))
        .collect();
    let mut one_by_one = Vec::with_capacity(ROUNDS);
    let mut batched = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for (path, body) in paths.iter().zip(&singles) {
            assert_eq!(connection.post(path, body).await, 200);
        }
        one_by_one.push(start.elapsed());
        let start = Instant::now();
        assert_eq!(connection.post("/notify/batch", &batch).await, 200);
        batched.push(start.elapsed());
    }
    one_by_one.sort_unstable();
    batched.sort_unstable();
    (
        one_by_one[ROUNDS / 2] / EVENTS as u32,
        batched[ROUNDS / 2] / EVENTS as u32,
    )
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let memory = Hub::open(config()).expect("a hub");
    let mut rows = vec![
        (
            "in memory, hub routes called",
            runtime.block_on(measure(&memory)),
        ),
        (
            "in memory, over HTTP/1.1",
            runtime.block_on(measure_http(memory)),
        ),
    ];
    if let Some(server) = RedisServer::start("the batch benchmark") {
        let hub = runtime.block_on(async {
            let mut redis = RedisConfig::new(server.url());
            redis.key_prefix = "bench-batch".into();
            let hub = Hub::open(HubConfig {
                redis: Some(redis),
                ..config()
            })
            .expect("a valid URL");
            assert!(
                hub.ready_within(Duration::from_secs(10)).await,
                "connected to Redis"
            );
            hub
        });
        rows.push(("Redis, hub routes called", runtime.block_on(measure(&hub))));
        rows.push(("Redis, over HTTP/1.1", runtime.block_on(measure_http(hub))));
    }
    println!("\n## Batch publishes\n");
    println!(
        "| mode, path | per event, {EVENTS} publishes one at a time | per event, one batch of {EVENTS} | \
         batch cost / single cost |"
    );
    println!("|---|---|---|---|");
    for (mode, (single, batched)) in rows {
        println!(
            "| {mode} | {single:.2?} | {batched:.2?} | {:.3} |",
            batched.as_secs_f64() / single.as_secs_f64()
        );
    }
}
