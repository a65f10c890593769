//! A scripted HTTP/1.1 server on a real socket: each test takes the
//! connections the client makes, reads their requests, and writes what the
//! scenario needs, byte for byte.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses part of it"
)]

use std::time::Duration;

use futures::StreamExt;
use sse_hub_client::{Backoff, Error, Event, EventSource, EventSourceBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long any single step may take before the test fails.
pub const STEP: Duration = Duration::from_secs(10);

pub struct Script {
    listener: TcpListener,
    pub url: String,
}

/// A request as the server read it.
pub struct Request {
    pub head: String,
    pub body: Vec<u8>,
    pub stream: TcpStream,
}

impl Request {
    /// The value of header `name`, if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    pub fn method(&self) -> &str {
        self.head.split(' ').next().unwrap_or_default()
    }

    /// Answers `200` with an event stream; the body follows with `send`.
    pub async fn open(&mut self) {
        self.send(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n",
        )
        .await;
    }

    /// Answers `status` with `headers` (each ending with CRLF) and `body`,
    /// then closes.
    pub async fn answer(mut self, status: &str, headers: &str, body: &str) {
        let answer = format!(
            "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        self.send(answer.as_bytes()).await;
        let _ = self.stream.shutdown().await;
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .await
            .expect("the client reads");
    }

    /// Sends `bytes` unless the client has gone; whether it is still there.
    pub async fn try_send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok()
    }
}

impl Script {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}/events", listener.local_addr().expect("bound"));
        Self { listener, url }
    }

    /// The client's next connection and its request.
    pub async fn next(&self) -> Request {
        tokio::time::timeout(STEP, self.accept())
            .await
            .expect("the client connects within the step")
    }

    async fn accept(&self) -> Request {
        let (mut stream, _) = self.listener.accept().await.expect("accept");
        let mut read = Vec::new();
        let mut buffer = [0u8; 4096];
        let head_end = loop {
            let n = stream.read(&mut buffer).await.expect("the request");
            assert!(n > 0, "the client closed before its request ended");
            read.extend_from_slice(&buffer[..n]);
            if let Some(end) = read.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
        };
        let head = String::from_utf8_lossy(&read[..head_end]).into_owned();
        let mut body = read[head_end..].to_vec();
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while body.len() < length {
            let n = stream.read(&mut buffer).await.expect("the body");
            assert!(n > 0, "the client closed before its body ended");
            body.extend_from_slice(&buffer[..n]);
        }
        Request { head, body, stream }
    }
}

/// Short delays, so that reconnects happen within a test's time.
pub fn quick() -> Backoff {
    Backoff::default()
        .initial(Duration::from_millis(20))
        .min(Duration::from_millis(10))
        .max(Duration::from_millis(200))
}

pub fn client(url: &str) -> EventSourceBuilder {
    EventSource::get(url).backoff(quick())
}

/// The next item, within the step.
pub async fn next(events: &mut EventSource) -> Option<Result<Event, Error>> {
    tokio::time::timeout(STEP, events.next())
        .await
        .expect("an item within the step")
}

/// The next item, which must be a message: its (type, data, id).
pub async fn message(events: &mut EventSource) -> (String, String, String) {
    match next(events).await {
        Some(Ok(Event::Message(m))) => {
            (m.event().to_owned(), m.data().to_owned(), m.id().to_owned())
        }
        other => panic!("expected a message, got {other:?}"),
    }
}

/// The next item, which must be `Opened`.
pub async fn opened(events: &mut EventSource) -> u64 {
    match next(events).await {
        Some(Ok(Event::Opened(opened))) => opened.connection,
        other => panic!("expected Opened, got {other:?}"),
    }
}

/// The next item, which must be `Reconnecting`.
pub async fn reconnecting(events: &mut EventSource) -> sse_hub_client::Reconnecting {
    match next(events).await {
        Some(Ok(Event::Reconnecting(r))) => r,
        other => panic!("expected Reconnecting, got {other:?}"),
    }
}
