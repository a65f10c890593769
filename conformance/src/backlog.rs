//! Checks of `--client-buffer`: a client is cut off only when it does not
//! read, never for what the server holds back (`--coalesce`), and topics
//! never count against each other. Each runs with the options it is
//! given added, so that the registry runs it with and without coalescing.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::client::{Error, http_client, within};
use crate::launch::Target;
use crate::support::{ensure, metric, publish, publish_with, subscribe};

/// `options` after `own`: the check's own options, then the variant's.
fn with(own: &[&'static str], options: &[&'static str]) -> Vec<&'static str> {
    [own, options].concat()
}

/// A client that sends its request and then never reads, with the
/// smallest receive buffer the kernel allows, so that it falls behind
/// after a few hundred kilobytes rather than megabytes.
async fn stalled_client(base: &str, query: &str) -> Result<TcpStream, Error> {
    let address = base.trim_start_matches("http://");
    let socket_address: std::net::SocketAddr = address.parse().map_err(|e| format!("{e}"))?;
    let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .set_recv_buffer_size(4096)
        .map_err(|e| e.to_string())?;
    let mut stalled = socket
        .connect(socket_address)
        .await
        .map_err(|e| e.to_string())?;
    stalled
        .write_all(format!("GET /events{query} HTTP/1.1\r\nHost: {address}\r\n\r\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    Ok(stalled)
}

/// Publishes small events to `query` (each id pushed to `published`)
/// until `sse_clients_lagged_total` shows a cut: a client that stopped
/// reading is cut at the first publish past its buffer once it has not
/// read for its turn (100 ms), so the cut needs publishes after that. Gives
/// up after [`CUT_WITHIN`].
async fn publish_until_cut(
    client: &reqwest::Client,
    base: &str,
    query: &str,
    published: &mut Vec<String>,
) -> Result<(), Error> {
    let deadline = tokio::time::Instant::now() + CUT_WITHIN;
    while metric(base, "sse_clients_lagged_total").await? < 1.0 {
        ensure(tokio::time::Instant::now() < deadline, || {
            format!("the client that stopped reading was not cut within {CUT_WITHIN:?}")
        })?;
        published.push(publish_with(client, base, query, "\"more\"").await?);
    }
    Ok(())
}

/// A client that resumes `query` after the first of `published` gets
/// every later one, exactly and in order, with no reset.
async fn resumes_exactly(base: &str, query: &str, published: &[String]) -> Result<(), Error> {
    let Some((first, rest)) = published.split_first() else {
        return Ok(());
    };
    let mut back = subscribe(base, query, &[("last-event-id", first)]).await?;
    for want in rest {
        let event = back.next_event().await?;
        ensure(event.last_event_id() == want, || {
            format!("resumed after {first}, got {event:?}, wanted id {want}")
        })?;
    }
    Ok(())
}

/// How long a client that stopped reading may stay connected while events
/// keep coming.
const CUT_WITHIN: Duration = Duration::from_secs(5);

/// More events than a topic keeps go to other topics while a client of a
/// quiet topic waits: the client is not cut off as lagging, and the quiet
/// topic's history is still whole when a client resumes from it.
pub(crate) async fn topics_independent(
    target: &Target,
    options: &[&'static str],
) -> Result<(), Error> {
    let server = target
        .start(&with(&["--history", "3", "--client-buffer", "3"], options))
        .await?;
    let before = publish(&server.base, "topic=quiet", "\"q0\"").await?;
    let mut quiet = subscribe(&server.base, "?topic=quiet", &[]).await?;
    let mut busy = subscribe(&server.base, "?topic=busy", &[]).await?;
    publish(&server.base, "topic=quiet", "\"q1\"").await?;
    for i in 0..10 {
        publish(&server.base, "topic=busy", &i.to_string()).await?;
        busy.next_event().await?;
    }
    for i in 0..10 {
        publish(&server.base, "topic=unread", &i.to_string()).await?;
    }
    publish(&server.base, "topic=quiet", "\"q2\"").await?;
    for want in ["\"q1\"", "\"q2\""] {
        let event = quiet.next_event().await?;
        ensure(event.data() == want, || {
            format!("the quiet stream got {event:?}, wanted {want}")
        })?;
    }
    let lagged = metric(&server.base, "sse_clients_lagged_total").await?;
    ensure(lagged == 0.0, || {
        format!("sse_clients_lagged_total = {lagged}: another topic's traffic counted")
    })?;
    let mut resumed =
        subscribe(&server.base, "?topic=quiet", &[("last-event-id", &before)]).await?;
    for want in ["\"q1\"", "\"q2\""] {
        let event = resumed.next_event().await?;
        ensure(event.data() == want, || {
            format!(
                "resumed after q0, got {event:?} (wanted {want}): the quiet topic's history was evicted"
            )
        })?;
    }
    Ok(())
}

/// A client that stops reading is cut off once its queue passes
/// `--client-buffer` (after its turn); the publisher and a reading client
/// never wait for it, and it catches up from history when it comes back.
pub(crate) async fn slow_client(target: &Target, options: &[&'static str]) -> Result<(), Error> {
    const EVENTS: usize = 40;
    let server = target
        .start(&with(
            &["--client-buffer", "4", "--max-body", "600000"],
            options,
        ))
        .await?;
    let stalled = stalled_client(&server.base, "?topic=slow").await?;
    let mut reader = subscribe(&server.base, "?topic=slow", &[]).await?;
    // Large events fill the socket buffers of the client that never reads.
    let payload = format!("\"{}\"", "x".repeat(500_000));
    let started = tokio::time::Instant::now();
    let client = http_client();
    let mut published = Vec::new();
    for _ in 0..EVENTS {
        published.push(publish_with(&client, &server.base, "topic=slow", &payload).await?);
        reader.next_event().await?;
    }
    let took = started.elapsed();
    ensure(took < Duration::from_secs(20), || {
        format!("publishing took {took:?}")
    })?;
    let large = published.len();
    publish_until_cut(&client, &server.base, "topic=slow", &mut published).await?;
    for _ in large..published.len() {
        reader.next_event().await?;
    }
    drop(stalled);
    resumes_exactly(&server.base, "?topic=slow", &published).await
}

/// The issue that coalescing once caused: with a buffer of 4, events
/// published one after the other (each publish awaited, a millisecond or
/// so apart) reach a reader that reads as fast as they come, all of them
/// in order, and it is never cut; a client beside it that stopped reading
/// is, once large events have filled its socket, and it catches up from
/// history without a reset.
pub(crate) async fn reader_that_keeps_up(
    target: &Target,
    options: &[&'static str],
) -> Result<(), Error> {
    const EVENTS: usize = 800;
    /// Large events, at most this many, until the stalled client is cut.
    const LARGE: usize = 40;
    let server = target
        .start(&with(
            &["--client-buffer", "4", "--max-body", "600000"],
            options,
        ))
        .await?;
    let stalled = stalled_client(&server.base, "?topic=keep").await?;
    let mut reader = subscribe(&server.base, "?topic=keep", &[]).await?;
    let (ids, mut received) = tokio::sync::mpsc::unbounded_channel();
    let reading = tokio::spawn(async move {
        loop {
            let id = reader.next_event().await?.last_event_id().to_owned();
            if ids.send(id).is_err() {
                return Ok::<_, Error>(());
            }
        }
    });
    let client = http_client();
    let mut published = Vec::with_capacity(EVENTS + LARGE);
    for n in 0..EVENTS {
        published.push(publish_with(&client, &server.base, "topic=keep", &format!("{n}")).await?);
    }
    let large = format!("\"{}\"", "x".repeat(500_000));
    let mut lagged = 0.0;
    while lagged < 1.0 && published.len() < EVENTS + LARGE {
        published.push(publish_with(&client, &server.base, "topic=keep", &large).await?);
        lagged = metric(&server.base, "sse_clients_lagged_total").await?;
    }
    publish_until_cut(&client, &server.base, "topic=keep", &mut published).await?;
    for (n, want) in published.iter().enumerate() {
        let got = match within(received.recv(), "the reader's next event").await? {
            Some(id) => id,
            None => {
                let why = match reading.await {
                    Ok(Err(e)) => e,
                    _ => "it stopped".into(),
                };
                return Err(format!(
                    "the reader got {n} of {} events: {why}",
                    published.len()
                ));
            }
        };
        ensure(&got == want, || {
            format!("event {n}: id {got}, wanted {want}")
        })?;
    }
    reading.abort();
    let lagged = metric(&server.base, "sse_clients_lagged_total").await?;
    ensure(lagged == 1.0, || {
        format!("sse_clients_lagged_total = {lagged}: wanted the client that stopped reading only")
    })?;
    drop(stalled);
    resumes_exactly(&server.base, "?topic=keep", &published).await
}
