//! The checks every adapter crate runs against its own routes, served
//! in-process on an ephemeral port: the native response streams unbuffered,
//! the last event id is read in the framework's idiom, a disconnect is
//! noticed at once, and compression does not hold events back.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sse_hub::Hub;
use sse_hub::decode::Decoded;

use crate::client::{Error, EventStream, eventually, http_client, notify, open};

/// An adapter's routes served at `base` (`http://127.0.0.1:PORT`), over
/// `hub`, and a user's own feed served through the adapter's `Sse` at
/// `/own`.
#[derive(Debug, Clone)]
pub struct Server {
    /// `http://HOST:PORT`, without a trailing slash.
    pub base: String,
    /// The hub the routes serve, for its broker's counters.
    pub hub: Hub,
    /// The feed `/own` streams.
    pub own: OwnFeed,
}

/// A user's own event source, not the broker: a broadcast channel of
/// texts. The test serves [`OwnFeed::events`] at `/own` with the
/// adapter's `Sse` type, and counts the streams still open.
#[derive(Debug, Clone)]
pub struct OwnFeed {
    sender: tokio::sync::broadcast::Sender<String>,
    open: Arc<AtomicUsize>,
}

impl Default for OwnFeed {
    fn default() -> Self {
        Self {
            sender: tokio::sync::broadcast::channel(64).0,
            open: Arc::default(),
        }
    }
}

/// The text that ends the feed's streams instead of being sent.
const END: &str = "\u{0}end";

/// Counts a stream of [`OwnFeed`] as open until it is dropped.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl OwnFeed {
    /// A stream of the texts sent from now on, as events with an id.
    pub fn events(&self) -> impl futures::Stream<Item = sse_hub::Event> + Send + Sync + use<> {
        self.open.fetch_add(1, Ordering::SeqCst);
        let open = Open(Arc::clone(&self.open));
        futures::stream::unfold(
            (self.sender.subscribe(), open),
            |(mut receiver, open)| async move {
                let text = receiver.recv().await.ok().filter(|text| text != END)?;
                let event = sse_hub::Event::builder()
                    .id(&text)
                    .data(&text)
                    .build()
                    .ok()?;
                Some((event, (receiver, open)))
            },
        )
    }

    /// Ends every stream of this feed, as an application ends its own
    /// streams at shutdown.
    pub fn end(&self) {
        self.send(END);
    }

    fn send(&self, text: &str) {
        let _ = self.sender.send(text.to_owned());
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

/// The coalescing window the adapter tests set on their `/own` streams,
/// so that [`bursts_arrive_whole_and_in_order`] goes through it.
pub const OWN_COALESCE: Duration = Duration::from_millis(1);

/// Events sent back to back by [`bursts_arrive_whole_and_in_order`]; fewer
/// than [`OwnFeed`]'s channel holds.
const BURST: usize = 50;

/// How fast a published event must reach a waiting client.
const PROMPT: Duration = Duration::from_millis(500);

fn ensure(condition: bool, message: impl FnOnce() -> String) -> Result<(), Error> {
    if condition { Ok(()) } else { Err(message()) }
}

/// Reads the `retry:` and `connected` preamble.
async fn preamble(stream: &mut EventStream) -> Result<(), Error> {
    let retry = stream.next_item().await?;
    ensure(matches!(retry, Decoded::Retry(_)), || {
        format!("expected retry first, got {retry:?}")
    })?;
    let connected = stream.next_event().await?;
    ensure(connected.event() == "connected", || {
        format!("expected the connected event, got {connected:?}")
    })
}

/// `GET /events` answers with the contract's headers and preamble.
pub async fn response_headers_and_preamble(server: &Server) -> Result<(), Error> {
    let mut stream = open(&http_client(), &server.base, "/events", &[]).await?;
    ensure(stream.status == 200, || format!("status {}", stream.status))?;
    for (name, value) in [
        ("content-type", "text/event-stream"),
        ("cache-control", "no-cache"),
        ("x-accel-buffering", "no"),
    ] {
        ensure(stream.header(name) == Some(value), || {
            format!("{name}: {:?}, expected {value:?}", stream.header(name))
        })?;
    }
    preamble(&mut stream).await
}

/// The last event id is read from `Last-Event-ID`, else from `lastEventId`,
/// the header winning when both are given.
pub async fn last_event_id_header_then_query(server: &Server) -> Result<(), Error> {
    let client = http_client();
    let mut ids = Vec::new();
    for i in 0..3 {
        let published = server
            .hub
            .publish("replay", &sse_hub::Event::new(i.to_string()))
            .await
            .map_err(|e| e.to_string())?;
        ids.push(published.id.to_string());
    }
    let cases = [
        (
            "/events?topic=replay".to_owned(),
            vec![("last-event-id", ids[0].as_str())],
            "1",
        ),
        (
            format!("/events?topic=replay&lastEventId={}", ids[1]),
            vec![],
            "2",
        ),
        (
            format!("/events?topic=replay&lastEventId={}", ids[0]),
            vec![("last-event-id", ids[1].as_str())],
            "2",
        ),
    ];
    for (path, headers, first) in cases {
        let mut stream = open(&client, &server.base, &path, &headers).await?;
        preamble(&mut stream).await?;
        let event = stream.next_event().await?;
        ensure(event.data() == first, || {
            format!(
                "{path} {headers:?}: replay started at {:?}, expected {first:?}",
                event.data()
            )
        })?;
    }
    Ok(())
}

/// The adapter's `LastEventId` extractor, mounted by the test at `path`
/// on a route answering `format!("{:?}", id)`, reads the header first,
/// then the query.
pub async fn last_event_id_extractor(server: &Server, path: &str) -> Result<(), Error> {
    let client = http_client();
    let cases = [
        ("", None, "None"),
        ("?lastEventId=4", None, "Some(\"4\")"),
        ("?lastEventId=4", Some("5"), "Some(\"5\")"),
        ("?lastEventId=4", Some(""), "Some(\"4\")"),
    ];
    for (query, header, expected) in cases {
        let mut request = client.get(format!("{}{path}{query}", server.base));
        if let Some(id) = header {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let got = response.text().await.map_err(|e| e.to_string())?;
        ensure(got == expected, || {
            format!("{query} {header:?}: {got}, expected {expected}")
        })?;
    }
    Ok(())
}

/// Events published after a silence reach the client at once, one by one,
/// with nothing buffered anywhere in the framework.
pub async fn flushes_each_event_at_once(server: &Server) -> Result<(), Error> {
    let client = http_client();
    let mut stream = open(&client, &server.base, "/events?topic=flush", &[]).await?;
    preamble(&mut stream).await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for i in 0..3 {
        let sent = Instant::now();
        let (status, _) = notify(&client, &server.base, "topic=flush", &i.to_string()).await?;
        ensure(status == 200, || format!("publish answered {status}"))?;
        let event = stream.next_event().await?;
        let took = sent.elapsed();
        ensure(event.data() == i.to_string(), || format!("got {event:?}"))?;
        ensure(took < PROMPT, || {
            format!("event {i} took {took:?} to arrive")
        })?;
    }
    Ok(())
}

/// Dropping the connection, even while the stream is idle (the default
/// heartbeat is far off), removes the client within a second.
pub async fn notices_disconnect(server: &Server) -> Result<(), Error> {
    let wait = Duration::from_secs(1);
    let hub = &server.hub;
    let before = hub.client_count();
    let mut stream = open(&http_client(), &server.base, "/events?topic=gone", &[]).await?;
    preamble(&mut stream).await?;
    eventually(Duration::from_secs(1), "the subscription", || {
        hub.client_count() == before + 1
    })
    .await?;
    drop(stream);
    eventually(wait, "noticing the disconnect", || {
        hub.client_count() == before
    })
    .await
}

/// The user's own stream at `/own` comes with the event-stream headers,
/// and each event sent after a silence reaches the client at once.
pub async fn own_stream_flushes_each_event_at_once(server: &Server) -> Result<(), Error> {
    let mut stream = open(&http_client(), &server.base, "/own", &[]).await?;
    ensure(stream.status == 200, || {
        format!("/own: status {}", stream.status)
    })?;
    ensure(
        stream.header("content-type") == Some("text/event-stream"),
        || format!("/own: content-type {:?}", stream.header("content-type")),
    )?;
    eventually(Duration::from_secs(1), "the /own stream", || {
        server.own.open() > 0
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for i in 0..3 {
        let sent = Instant::now();
        server.own.send(&format!("own-{i}"));
        let event = stream.next_event().await?;
        let took = sent.elapsed();
        ensure(
            event.data() == format!("own-{i}") && event.last_event_id() == format!("own-{i}"),
            || format!("got {event:?}"),
        )?;
        ensure(took < PROMPT, || {
            format!("own event {i} took {took:?} to arrive")
        })?;
    }
    Ok(())
}

/// Events published back to back, faster than the coalescing window,
/// each arrive once, in order and promptly, through `/events` and through
/// the user's own stream. The own stream yields them one by one, so all
/// but the first are held for [`OWN_COALESCE`] and then leave together:
/// the framework must poll the body again when the window's timer fires.
pub async fn bursts_arrive_whole_and_in_order(server: &Server) -> Result<(), Error> {
    let client = http_client();
    let mut stream = open(&client, &server.base, "/events?topic=burst", &[]).await?;
    preamble(&mut stream).await?;
    let mut own = open(&client, &server.base, "/own", &[]).await?;
    eventually(Duration::from_secs(1), "the /own stream", || {
        server.own.open() > 0
    })
    .await?;
    let sent = Instant::now();
    for i in 0..BURST {
        server
            .hub
            .publish("burst", &sse_hub::Event::new(i.to_string()))
            .await
            .map_err(|e| e.to_string())?;
        server.own.send(&format!("own-{i}"));
    }
    for i in 0..BURST {
        let event = stream.next_event().await?;
        ensure(event.data() == i.to_string(), || {
            format!("/events: event {i} was {event:?}")
        })?;
        let event = own.next_event().await?;
        ensure(event.data() == format!("own-{i}"), || {
            format!("/own: event {i} was {event:?}")
        })?;
    }
    let took = sent.elapsed();
    ensure(took < PROMPT, || {
        format!("the burst took {took:?} to arrive")
    })
}

/// Dropping the connection of an idle `/own` stream drops the user's
/// stream within a second.
pub async fn own_stream_notices_disconnect(server: &Server) -> Result<(), Error> {
    let before = server.own.open();
    let stream = open(&http_client(), &server.base, "/own", &[]).await?;
    eventually(Duration::from_secs(1), "the /own stream", || {
        server.own.open() == before + 1
    })
    .await?;
    drop(stream);
    eventually(Duration::from_secs(1), "dropping the user's stream", || {
        server.own.open() == before
    })
    .await
}

/// The routes mounted again under `/sse` work there: the stream, the
/// publish, health and metrics, and the demo page, which reaches the
/// other routes relative to where it is served.
pub async fn nested_under_a_prefix(server: &Server) -> Result<(), Error> {
    let client = http_client();
    let mut stream = open(&client, &server.base, "/sse/events?topic=nested", &[]).await?;
    ensure(stream.status == 200, || {
        format!("/sse/events: status {}", stream.status)
    })?;
    preamble(&mut stream).await?;
    let base = format!("{}/sse", server.base);
    let (status, body) = notify(&client, &base, "topic=nested", "\"under /sse\"").await?;
    ensure(status == 200, || format!("/sse/notify: {status} {body}"))?;
    let event = stream.next_event().await?;
    ensure(event.data() == "\"under /sse\"", || {
        format!("got {event:?}")
    })?;
    for path in ["/sse/healthz", "/sse/metrics"] {
        let response = client
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        ensure(response.status() == 200, || {
            format!("{path}: {}", response.status())
        })?;
    }
    // Both forms of the prefix reach the page, directly or by a redirect
    // (which the client follows); a user types either.
    let mut page = String::new();
    for path in ["/sse", "/sse/"] {
        let response = client
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        ensure(response.status() == 200, || {
            format!("GET {path}: {} instead of the demo page", response.status())
        })?;
        page = response.text().await.map_err(|e| e.to_string())?;
        ensure(page.contains("<title>"), || {
            format!("GET {path} did not answer the demo page")
        })?;
    }
    ensure(page.contains("EventSource(base + \"events"), || {
        "the page does not open its stream relative to itself".into()
    })?;
    ensure(
        !page.contains("\"/events") && !page.contains("\"/notify"),
        || "the page names an absolute route".into(),
    )
}

/// When the user's own stream ends (as an application ends its streams at
/// shutdown), the response ends cleanly after the last event.
pub async fn own_stream_ends_cleanly(server: &Server) -> Result<(), Error> {
    let before = server.own.open();
    let mut stream = open(&http_client(), &server.base, "/own", &[]).await?;
    eventually(Duration::from_secs(1), "the /own stream", || {
        server.own.open() == before + 1
    })
    .await?;
    server.own.send("last");
    let event = stream.next_event().await?;
    ensure(event.data() == "last", || format!("got {event:?}"))?;
    server.own.end();
    stream.ends_within(Duration::from_secs(1)).await
}

/// `POST /notify` reads the body with the contract's checks, refusing an
/// oversized one without reading it all.
pub async fn notify_reads_the_body(server: &Server) -> Result<(), Error> {
    let client = http_client();
    let (status, body) = notify(&client, &server.base, "topic=n&event=e", r#"{"a":1}"#).await?;
    ensure(status == 200 && body.contains("\"sent\""), || {
        format!("{status} {body}")
    })?;
    let too_big = format!("\"{}\"", "x".repeat(server.hub.routes().max_body()));
    let (status, body) = notify(&client, &server.base, "topic=n", &too_big).await?;
    ensure(status == 413, || format!("oversized body: {status} {body}"))?;
    let response = client
        .post(format!("{}/notify", server.base))
        .header("content-type", "text/plain")
        .body("1")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    ensure(response.status().as_u16() == 415, || {
        format!("text/plain: {}", response.status())
    })
}

/// `/metrics`, `/healthz` and `/` answer.
pub async fn other_routes(server: &Server) -> Result<(), Error> {
    let client = http_client();
    for (path, content_type, needle) in [
        ("/healthz", "text/plain", "ok"),
        ("/metrics", "application/openmetrics-text", "sse_clients"),
        ("/", "text/html", "EventSource"),
    ] {
        let response = client
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let ct = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.text().await.map_err(|e| e.to_string())?;
        ensure(
            status == 200 && ct.starts_with(content_type) && body.contains(needle),
            || format!("{path}: {status} {ct} {body:.80}"),
        )?;
    }
    Ok(())
}

/// The server compresses an ordinary response (`/`) for a client that
/// accepts gzip: proof that a compression check ran with compression on.
pub async fn compresses_other_responses(server: &Server) -> Result<(), Error> {
    crate::client::install_crypto();
    let client = reqwest::Client::builder()
        .no_gzip()
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .get(format!("{}/", server.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let encoding = response.headers().get("content-encoding").cloned();
    ensure(encoding.as_ref().is_some_and(|v| v == "gzip"), || {
        format!("the demo page came with content-encoding {encoding:?}, expected gzip")
    })
}

/// Every adapter check but compression, in order; the first failure.
pub async fn all(server: &Server) -> Result<(), Error> {
    response_headers_and_preamble(server).await?;
    last_event_id_header_then_query(server).await?;
    notify_reads_the_body(server).await?;
    other_routes(server).await?;
    notices_disconnect(server).await?;
    flushes_each_event_at_once(server).await
}
