//! The bench's event source: a plain HTTP/1.1 server on loopback that
//! writes frames made by `sse-hub`'s encoder, as fast as the socket takes
//! them (`fast`) or once and then nothing (`idle`), and records when
//! connections arrive.

use std::time::{Duration, Instant};

use sse_hub::Event;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n";

/// The `retry:` every stream starts with: the base of every client's
/// backoff, so that the clients are compared on one setting. 3 s is the
/// hub's default.
pub(crate) const RETRY_MS: u64 = 3000;

/// A 130-byte event, as the socket benchmarks use.
pub(crate) fn frame(n: u64) -> bytes::Bytes {
    let data = format!("{{\"n\":{n},\"pad\":\"{}\"}}", "x".repeat(90));
    Event::builder()
        .id(n.to_string())
        .data(data)
        .build()
        .map(|event| event.encode())
        .unwrap_or_default()
}

/// Serves on `port` (0: any) until killed: `fast N` writes N events to
/// each connection and closes it; `idle` writes one and holds the
/// connection. Prints `listening PORT`, then, `report_after` after it
/// started, the connections accepted per 100 ms as `accepts a b c …`.
pub(crate) async fn run(port: u16, mode: &str, events: u64, report_after: Duration) {
    let socket = TcpSocket::new_v4().expect("a socket");
    socket.set_reuseaddr(true).expect("SO_REUSEADDR");
    socket
        .bind(([127, 0, 0, 1], port).into())
        .expect("the port is free");
    // A deep queue: a reconnect storm is what is measured, not the
    // kernel dropping SYNs.
    let listener = socket.listen(8192).expect("listen");
    let address = listener.local_addr().expect("bound");
    println!("listening {}", address.port());
    let started = Instant::now();
    let (accepted, mut accepts) = tokio::sync::mpsc::unbounded_channel::<Duration>();
    let fast = mode == "fast";
    tokio::spawn(async move {
        tokio::time::sleep(report_after).await;
        let mut buckets = vec![0u32; usize::try_from(report_after.as_millis() / 100).unwrap_or(0)];
        while let Ok(at) = accepts.try_recv() {
            let bucket = usize::try_from(at.as_millis() / 100).unwrap_or(usize::MAX);
            if let Some(count) = buckets.get_mut(bucket) {
                *count += 1;
            }
        }
        let counts: Vec<String> = buckets.iter().map(u32::to_string).collect();
        println!("accepts {}", counts.join(" "));
    });
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = accepted.send(started.elapsed());
        tokio::spawn(serve(stream, fast, events));
    }
}

async fn serve(mut stream: TcpStream, fast: bool, events: u64) {
    let _ = stream.set_nodelay(true);
    // The request's head; its content does not matter.
    let mut request = [0u8; 4096];
    let mut read = 0;
    while !request[..read].windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut request[read..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => read += n,
        }
        if read == request.len() {
            return;
        }
    }
    let mut start = HEAD.to_vec();
    start.extend_from_slice(format!("retry: {RETRY_MS}\n\n").as_bytes());
    if stream.write_all(&start).await.is_err() {
        return;
    }
    if fast {
        // Frames batched into 64 KiB writes: the server is never the bound.
        let mut batch = Vec::with_capacity(70_000);
        for n in 1..=events {
            batch.extend_from_slice(&frame(n));
            if batch.len() >= 64 << 10 || n == events {
                if stream.write_all(&batch).await.is_err() {
                    return;
                }
                batch.clear();
            }
        }
        let _ = stream.shutdown().await;
    } else {
        if stream.write_all(&frame(1)).await.is_err() {
            return;
        }
        // Held open, silent, until the client goes or the process ends.
        let _ = stream.read(&mut request).await;
    }
}
