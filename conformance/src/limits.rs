//! Hostile clients: slow heads, stalled bodies, oversized bodies and too
//! many connections, each refused as the contract says.

use std::time::Duration;

use crate::client::{Error, WAIT};
use crate::launch::*;
use crate::raw::{Ending, RawConnection};
use crate::support::*;

/// The request timeout the hostile-client checks run with.
const REQUEST_TIMEOUT: &str = "2s";
/// How long after [`REQUEST_TIMEOUT`] a closing may come.
const CLOSE_SLACK: Duration = Duration::from_millis(1500);

/// `ending` is a close within the request timeout (plus slack), answered
/// with nothing or `408`.
pub(crate) fn closed_for_timeout(what: &str, ending: &Ending) -> Result<(), Error> {
    let limit = Duration::from_secs(2) + CLOSE_SLACK;
    match ending {
        Ending::Closed { after, .. } if *after <= limit => {}
        other => return Err(format!("{what}: not closed within {limit:?}: {other:?}")),
    }
    ensure(matches!(ending.status(), None | Some(408)), || {
        format!("{what}: answered {:?} instead of closing", ending.status())
    })
}

/// A connection that sends nothing, one that sends half a request head,
/// and one idle after a request are all closed after the request
/// timeout, while an event stream that has been quiet all along is not.
pub(crate) async fn slow_heads(target: &Target) -> Result<(), Error> {
    let server = target
        .start(&["--request-timeout", REQUEST_TIMEOUT])
        .await?;
    let address = address_of(&server.base);
    let mut stream = subscribe(&server.base, "?topic=quiet", &[]).await?;
    let silent = RawConnection::connect(&address).await?;
    let mut half = RawConnection::connect(&address).await?;
    half.send(b"GET /healthz HTTP/1.1\r\nHost: conformance\r\n")
        .await?;
    let mut idle = RawConnection::connect(&address).await?;
    let (status, _) = idle.request("GET", "/healthz", "").await?;
    ensure(status == 200, || format!("/healthz answered {status}"))?;
    let limit = Duration::from_secs(2) + CLOSE_SLACK;
    let (silent, half, idle) = tokio::join!(
        silent.ending_within(limit),
        half.ending_within(limit),
        idle.ending_within(limit),
    );
    closed_for_timeout("a connection that sent nothing", &silent)?;
    closed_for_timeout("half a request head", &half)?;
    closed_for_timeout("an idle keep-alive connection", &idle)?;
    // The stream outlived the timeout with nothing sent, and still works.
    let id = publish(&server.base, "topic=quiet", "1").await?;
    let event = stream.next_event().await?;
    ensure(event.last_event_id() == id, || {
        format!("the quiet stream got {event:?}")
    })
}

/// A publish whose body stops after one byte is closed (or answered
/// `408`) after the request timeout, and publishes nothing.
pub(crate) async fn stalled_body(target: &Target) -> Result<(), Error> {
    let server = target
        .start(&["--request-timeout", REQUEST_TIMEOUT])
        .await?;
    let mut stalled = RawConnection::connect(&address_of(&server.base)).await?;
    stalled
        .send(
            b"POST /notify HTTP/1.1\r\nHost: conformance\r\n\
              Content-Type: application/json\r\nContent-Length: 10\r\n\r\n1",
        )
        .await?;
    let ending = stalled
        .ending_within(Duration::from_secs(2) + CLOSE_SLACK)
        .await;
    closed_for_timeout("a stalled body", &ending)?;
    let published = metric(&server.base, "sse_events_published_total").await?;
    ensure(published == 0.0, || format!("{published} events published"))
}

/// `Content-Length: 99999999999` and no body: `413` with the JSON error,
/// long before the request timeout, without waiting for the body.
pub(crate) async fn early_413(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--max-body", "1000"]).await?;
    let mut huge = RawConnection::connect(&address_of(&server.base)).await?;
    huge.send(
        b"POST /notify HTTP/1.1\r\nHost: conformance\r\n\
          Content-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n",
    )
    .await?;
    let ending = huge.ending_within(Duration::from_secs(1)).await;
    let (Ending::Closed { sent, .. } | Ending::Open { sent }) = &ending;
    let text = String::from_utf8_lossy(sent);
    ensure(ending.status() == Some(413), || {
        format!("expected 413 within 1 s, got {ending:?}")
    })?;
    ensure(text.contains("\"error\""), || {
        format!("no JSON error: {text}")
    })
}

/// With `--max-connections 6` and six open (an event stream, a
/// keep-alive connection, four silent ones), new connections are closed
/// at once without an answer; the open ones are still served, and once
/// some close, new ones are served again.
pub(crate) async fn connection_cap(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--max-connections", "6"]).await?;
    let address = address_of(&server.base);
    let mut stream = subscribe(&server.base, "?topic=cap", &[]).await?;
    let mut kept = RawConnection::connect(&address).await?;
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(RawConnection::connect(&address).await?);
    }
    // The server may count the last ones a moment after they connect.
    let mut open = 0.0;
    for _ in 0..100 {
        let (_, text) = kept.request("GET", "/metrics", "").await?;
        open = series(&text, "sse_connections").unwrap_or(-1.0);
        if open == 6.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ensure(open == 6.0, || format!("sse_connections = {open}, not 6"))?;
    for i in 0..3 {
        let mut extra = RawConnection::connect(&address).await?;
        // The server may close before the request is sent.
        let _ = extra
            .send(b"GET /healthz HTTP/1.1\r\nHost: conformance\r\n\r\n")
            .await;
        match extra.ending_within(Duration::from_secs(1)).await {
            Ending::Closed { sent, .. } if sent.is_empty() => {}
            other => return Err(format!("connection {} past the cap: {other:?}", 7 + i)),
        }
    }
    let (status, text) = kept.request("GET", "/metrics", "").await?;
    let refused = series(&text, "sse_connections_refused_total").unwrap_or(0.0);
    ensure(status == 200 && refused >= 3.0, || {
        format!("/metrics on an open connection: {status}, refused {refused}")
    })?;
    let (status, body) = kept.request("POST", "/notify?topic=cap", "1").await?;
    ensure(status == 200, || {
        format!("publish on an open connection: {status} {body}")
    })?;
    stream.next_event().await?;
    drop(silent);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut again = RawConnection::connect(&address).await?;
        if let Ok((200, _)) = again.request("GET", "/healthz", "").await {
            return Ok(());
        }
        ensure(tokio::time::Instant::now() < deadline, || {
            "no new connection served after the silent ones closed".into()
        })?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
