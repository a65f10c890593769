//! `sse-hub-client` against the five example servers, over real sockets:
//! restarts, resets, frozen connections, expiring tokens, a full server,
//! and HTTP/2 over TLS. Each scenario runs in every framework at once and
//! reports each framework's failure by name.

mod binaries;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use binaries::BINARIES;
use futures::StreamExt;
use futures::future::join_all;
use serde_json::json;
use sse_conformance::auth::{SECRET, token};
use sse_conformance::client::http_client;
use sse_conformance::h2::TestCert;
use sse_conformance::process::ServerProcess;
use sse_conformance::redis_server::TestRedis;
use sse_hub_client::reqwest::header::{AUTHORIZATION, HeaderMap};
use sse_hub_client::reqwest::{StatusCode, Version};
use sse_hub_client::{Backoff, Event, EventSource, HeaderError, Reason};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// The longest any one step of a scenario may take.
const STEP: Duration = Duration::from_secs(15);

type Outcome = Result<(), String>;

/// Runs `scenario` in every framework at once; fails with each failure.
async fn in_every_framework<F, Fut>(scenario: F)
where
    F: Fn(&'static str, &'static str) -> Fut,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let runs = BINARIES.map(|(framework, binary)| {
        let run = tokio::spawn(scenario(framework, binary));
        async move { (framework, run.await) }
    });
    let failures: Vec<String> = join_all(runs)
        .await
        .into_iter()
        .filter_map(|(framework, outcome)| match outcome {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(format!("{framework}: {error}")),
            Err(panic) => Some(format!("{framework}: panicked: {panic}")),
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Starts `binary` on `addr` with `args`.
async fn start(binary: &str, addr: &str, args: &[String]) -> Result<ServerProcess, String> {
    let mut command = Command::new(binary);
    command.args(["--addr", addr]).args(args);
    tokio::task::spawn_blocking(move || ServerProcess::start(command))
        .await
        .map_err(|e| e.to_string())?
}

fn kill(server: &mut ServerProcess) {
    let _ = server.child_mut().kill();
    let _ = server.child_mut().wait();
}

/// Publishes `data` (a JSON string) to `topic`, with `headers`.
async fn publish(base: &str, topic: &str, data: &str, headers: &[(&str, &str)]) -> Outcome {
    let mut request = http_client()
        .post(format!("{base}/notify?topic={topic}"))
        .header("content-type", "application/json")
        .body(json!(data).to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = tokio::time::timeout(STEP, request.send())
        .await
        .map_err(|_| "no answer to a publish".to_owned())?
        .map_err(|e| e.to_string())?;
    match response.status() {
        StatusCode::OK => Ok(()),
        status => Err(format!("publish answered {status}")),
    }
}

/// The next item of `events`, within a step.
async fn next(events: &mut EventSource) -> Result<Event, String> {
    match tokio::time::timeout(STEP, events.next()).await {
        Ok(Some(Ok(event))) => Ok(event),
        Ok(Some(Err(error))) => Err(format!("the stream failed: {error}")),
        Ok(None) => Err("the stream ended".to_owned()),
        Err(_) => Err("nothing within a step".to_owned()),
    }
}

/// What a stream showed: the data of its events (the hub's `connected`
/// left out), its reconnects, its connections.
#[derive(Debug, Default)]
struct Seen {
    data: Vec<String>,
    events: Vec<String>,
    reconnects: Vec<Reason>,
    opened: Vec<Version>,
}

impl Seen {
    /// Reads `events` until `done` holds for what was seen.
    async fn until(&mut self, events: &mut EventSource, done: impl Fn(&Seen) -> bool) -> Outcome {
        while !done(self) {
            match next(events).await? {
                Event::Message(message) if message.event() == "connected" => {}
                Event::Message(message) => {
                    self.events.push(message.event().to_owned());
                    self.data.push(message.data().to_owned());
                }
                Event::Opened(opened) => self.opened.push(opened.version),
                Event::Reconnecting(again) => self.reconnects.push(again.reason),
                _ => {}
            }
        }
        Ok(())
    }
}

fn numbered(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|n| format!("\"{n}\"")).collect()
}

/// Delays long enough for a restarted server to be up before the client
/// comes back, so that one restart is one reconnect.
fn patient() -> Backoff {
    Backoff::default()
        .min(Duration::from_secs(2))
        .max(Duration::from_secs(3))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_server_resumes_the_stream_with_nothing_lost_or_repeated() {
    let Some(redis) = TestRedis::get("client restart") else {
        return;
    };
    let redis = Arc::new(redis.url.clone());
    in_every_framework(move |framework, binary| {
        let redis = redis.clone();
        async move {
            let args = vec!["--redis".to_owned(), redis.to_string()];
            let topic = format!("restart-{framework}");
            let mut a = start(binary, "127.0.0.1:0", &args).await?;
            let b = start(binary, "127.0.0.1:0", &args).await?;
            let address = a.address().to_owned();
            let mut events = EventSource::get(format!("{}/events?topic={topic}", a.base()))
                .backoff(patient())
                .build()
                .map_err(|e| e.to_string())?;
            let mut seen = Seen::default();
            seen.until(&mut events, |s| !s.opened.is_empty()).await?;
            for n in 1..=5 {
                publish(a.base(), &topic, &n.to_string(), &[]).await?;
            }
            seen.until(&mut events, |s| s.data.len() == 5).await?;
            kill(&mut a);
            seen.until(&mut events, |s| !s.reconnects.is_empty())
                .await?;
            // Published elsewhere while the client's server is down.
            for n in 6..=10 {
                publish(b.base(), &topic, &n.to_string(), &[]).await?;
            }
            let a = start(binary, &address, &args).await?;
            seen.until(&mut events, |s| s.opened.len() == 2).await?;
            for n in 11..=15 {
                publish(a.base(), &topic, &n.to_string(), &[]).await?;
            }
            seen.until(&mut events, |s| s.data.len() >= 15).await?;
            if seen.data != numbered(1..=15) {
                return Err(format!("received {:?}", seen.data));
            }
            if seen.reconnects.len() != 1 {
                return Err(format!(
                    "{} reconnects: {:?}",
                    seen.reconnects.len(),
                    seen.reconnects
                ));
            }
            Ok(())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_after_an_in_memory_restart_reaches_the_application() {
    in_every_framework(|_, binary| async move {
        let mut server = start(binary, "127.0.0.1:0", &[]).await?;
        let address = server.address().to_owned();
        let mut events = EventSource::get(format!("{}/events?topic=news", server.base()))
            .backoff(patient())
            .build()
            .map_err(|e| e.to_string())?;
        let mut seen = Seen::default();
        seen.until(&mut events, |s| !s.opened.is_empty()).await?;
        publish(server.base(), "news", "before", &[]).await?;
        seen.until(&mut events, |s| s.data.len() == 1).await?;
        kill(&mut server);
        let server = start(binary, &address, &[]).await?;
        seen.until(&mut events, |s| s.data.len() == 2).await?;
        if seen.events[1] != "reset" {
            return Err(format!(
                "after the restart: {:?} {:?}",
                seen.events, seen.data
            ));
        }
        publish(server.base(), "news", "after", &[]).await?;
        seen.until(&mut events, |s| s.data.len() == 3).await?;
        if seen.data[2] != "\"after\"" {
            return Err(format!("received {:?}", seen.data));
        }
        Ok(())
    })
    .await;
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_token_per_reconnect_keeps_a_jwt_stream_going() {
    in_every_framework(|_, binary| async move {
        let args = [
            "--jwt-secret",
            SECRET,
            "--jwt-leeway",
            "0s",
            "--retry",
            "200ms",
        ]
        .map(String::from);
        let server = start(binary, "127.0.0.1:0", &args).await?;
        let tokens = Arc::new(AtomicU64::new(0));
        let issued = tokens.clone();
        let mut events = EventSource::get(format!("{}/events?topic=me", server.base()))
            .headers_with(move || {
                issued.fetch_add(1, Ordering::SeqCst);
                // Valid for one to two seconds: the server ends the stream then.
                let claims = json!({"sse": {"subscribe": ["me"]}, "exp": now() + 2});
                async move {
                    let mut headers = HeaderMap::new();
                    headers.insert(
                        AUTHORIZATION,
                        format!("Bearer {}", token(&claims, SECRET)?).parse()?,
                    );
                    Ok::<_, HeaderError>(headers)
                }
            })
            .build()
            .map_err(|e| e.to_string())?;
        let publisher = token(
            &json!({"sse": {"publish": ["me"]}, "exp": now() + 600}),
            SECRET,
        )?;
        let bearer = format!("Bearer {publisher}");
        let mut seen = Seen::default();
        seen.until(&mut events, |s| !s.opened.is_empty()).await?;
        // Five seconds of events, one every 100 ms, across the expiries.
        let base = server.base().to_owned();
        let publishing = tokio::spawn(async move {
            for n in 1..=50 {
                publish(&base, "me", &n.to_string(), &[("authorization", &bearer)]).await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok::<_, String>(())
        });
        seen.until(&mut events, |s| s.data.len() >= 50).await?;
        publishing.await.map_err(|e| e.to_string())??;
        if seen.data != numbered(1..=50) {
            return Err(format!("received {:?}", seen.data));
        }
        let connects = tokens.load(Ordering::SeqCst);
        if seen.opened.len() < 3 || connects != seen.opened.len() as u64 {
            return Err(format!(
                "{} streams opened, {connects} tokens issued",
                seen.opened.len()
            ));
        }
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_server_is_retried_after_its_retry_after() {
    in_every_framework(|_, binary| async move {
        let server = start(binary, "127.0.0.1:0", &["--max-clients".into(), "1".into()]).await?;
        let url = format!("{}/events?topic=full", server.base());
        let mut first = EventSource::get(&url).build().map_err(|e| e.to_string())?;
        Seen::default()
            .until(&mut first, |s| !s.opened.is_empty())
            .await?;
        let mut second = EventSource::get(&url).build().map_err(|e| e.to_string())?;
        let (after, delay) = match next(&mut second).await? {
            Event::Reconnecting(again) => match again.reason {
                Reason::Status {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    retry_after: Some(after),
                } => (after, again.delay),
                other => return Err(format!("refused with {other}")),
            },
            other => return Err(format!("expected a refusal, got {other:?}")),
        };
        if delay < after {
            return Err(format!("Retry-After {after:?}, waiting only {delay:?}"));
        }
        drop(first);
        let mut seen = Seen::default();
        seen.until(&mut second, |s| !s.opened.is_empty()).await?;
        Ok(())
    })
    .await;
}

/// A TCP proxy whose connections can be frozen: a frozen connection stays
/// open and forwards nothing more, as a dead peer behind a NAT looks.
struct FreezingProxy {
    address: String,
    generation: tokio::sync::watch::Sender<u64>,
}

impl FreezingProxy {
    async fn start(upstream: String) -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let address = listener
            .local_addr()
            .map_err(|e| e.to_string())?
            .to_string();
        let (generation, watch) = tokio::sync::watch::channel(0u64);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let watch = watch.clone();
                tokio::spawn(forward_until_frozen(client, server, watch));
            }
        });
        Ok(Self {
            address,
            generation,
        })
    }

    /// Freezes every connection open now; later ones forward.
    fn freeze(&self) {
        self.generation.send_modify(|generation| *generation += 1);
    }
}

async fn forward_until_frozen(
    client: TcpStream,
    server: TcpStream,
    mut watch: tokio::sync::watch::Receiver<u64>,
) {
    let born = *watch.borrow_and_update();
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let forward = async {
        tokio::select! {
            _ = tokio::io::copy(&mut client_read, &mut server_write) => {}
            _ = tokio::io::copy(&mut server_read, &mut client_write) => {}
        }
    };
    tokio::select! {
        () = forward => {
            let _ = client_write.shutdown().await;
        }
        () = async {
            let _ = watch.wait_for(|generation| *generation != born).await;
        } => {
            // Frozen: hold both sockets open, and forward nothing, until
            // the test ends.
            std::future::pending::<()>().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_connection_is_dropped_after_the_idle_timeout_and_resumed() {
    in_every_framework(|framework, binary| async move {
        let args = ["--heartbeat", "200ms", "--retry", "200ms"].map(String::from);
        let server = start(binary, "127.0.0.1:0", &args).await?;
        let proxy = FreezingProxy::start(server.address().to_owned()).await?;
        let topic = format!("frozen-{framework}");
        let mut events = EventSource::get(format!("http://{}/events?topic={topic}", proxy.address))
            .idle_timeout(Some(Duration::from_secs(1)))
            .build()
            .map_err(|e| e.to_string())?;
        let mut seen = Seen::default();
        seen.until(&mut events, |s| !s.opened.is_empty()).await?;
        publish(server.base(), &topic, "1", &[]).await?;
        seen.until(&mut events, |s| s.data.len() == 1).await?;
        proxy.freeze();
        for n in 2..=4 {
            publish(server.base(), &topic, &n.to_string(), &[]).await?;
        }
        seen.until(&mut events, |s| s.data.len() == 4).await?;
        if seen.data != numbered(1..=4) {
            return Err(format!("received {:?}", seen.data));
        }
        match seen.reconnects.as_slice() {
            [Reason::IdleTimeout(after)] if *after == Duration::from_secs(1) => Ok(()),
            other => Err(format!("reconnects: {other:?}")),
        }
    })
    .await;
}

/// The sockets process `pid` holds, each counted once however often it
/// is duplicated (actix-web gives each worker a copy of the listener).
fn sockets(pid: u32) -> usize {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    let inodes: std::collections::HashSet<String> = fds
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .map(|target| target.display().to_string())
        .filter(|target| target.starts_with("socket:"))
        .collect();
    inodes.len()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_streams_share_one_http2_connection_over_tls() {
    in_every_framework(|framework, binary| async move {
        let cert = TestCert::new()?;
        let server = start(binary, "127.0.0.1:0", &cert.options()).await?;
        let client = cert.client(&[b"h2"])?;
        let sockets_before = sockets(server.pid());
        let topic = format!("h2-{framework}");
        let url = format!("{}/events?topic={topic}", server.base());
        let mut streams = Vec::new();
        for _ in 0..100 {
            let mut events = EventSource::get(&url)
                .client(client.clone())
                .build()
                .map_err(|e| e.to_string())?;
            let mut seen = Seen::default();
            seen.until(&mut events, |s| !s.opened.is_empty()).await?;
            if seen.opened != [Version::HTTP_2] {
                return Err(format!("opened as {:?}", seen.opened));
            }
            streams.push((events, seen));
        }
        let grew = sockets(server.pid()).saturating_sub(sockets_before);
        if grew > 1 {
            return Err(format!(
                "the server has {grew} more sockets for 100 streams"
            ));
        }
        let h2 = cert.client(&[b"h2"])?;
        let answer = h2
            .post(format!("{}/notify?topic={topic}", server.base()))
            .header("content-type", "application/json")
            .body("\"to all\"")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if answer.status() != StatusCode::OK {
            return Err(format!("publish answered {}", answer.status()));
        }
        for (events, seen) in &mut streams {
            seen.until(events, |s| !s.data.is_empty()).await?;
        }
        Ok(())
    })
    .await;
}
