//! The check each adapter's `feed` example runs against itself: its own
//! ticker at `/ticks`, per-user notifications at `/notifications` (the
//! user from the `x-user-id` header), and the contract under `/sse`.

use sse_hub::Hub;
use sse_hub::decode::Decoded;

use crate::client::{Error, EventStream, http_client, notify, open};

fn ensure(condition: bool, message: impl FnOnce() -> String) -> Result<(), Error> {
    if condition { Ok(()) } else { Err(message()) }
}

async fn connected(stream: &mut EventStream) -> Result<(), Error> {
    let retry = stream.next_item().await?;
    ensure(matches!(retry, Decoded::Retry(_)), || {
        format!("expected retry, got {retry:?}")
    })?;
    let connected = stream.next_event().await?;
    ensure(connected.event() == "connected", || {
        format!("expected connected, got {connected:?}")
    })
}

/// Checks a running `feed` example at `base`, over its `hub`.
pub async fn check_feed_example(base: &str, hub: &Hub) -> Result<(), Error> {
    let client = http_client();
    let mut ticks = open(&client, base, "/ticks", &[]).await?;
    ensure(ticks.status == 200, || format!("/ticks: {}", ticks.status))?;
    ensure(
        ticks.header("content-type") == Some("text/event-stream"),
        || format!("/ticks: content-type {:?}", ticks.header("content-type")),
    )?;
    let first = ticks.next_event().await?;
    let second = ticks.next_event().await?;
    ensure(
        first.event() == "tick" && (first.last_event_id(), second.last_event_id()) == ("0", "1"),
        || format!("ticks: {first:?} then {second:?}"),
    )?;

    let anonymous = open(&client, base, "/notifications", &[]).await?;
    ensure(anonymous.status == 401, || {
        format!("no user: {}", anonymous.status)
    })?;

    let mut mine = open(&client, base, "/notifications", &[("x-user-id", "42")]).await?;
    ensure(mine.status == 200, || format!("user 42: {}", mine.status))?;
    connected(&mut mine).await?;
    hub.publish("user-7", &sse_hub::Event::new("not for 42"))
        .await
        .map_err(|e| e.to_string())?;
    let (status, body) = notify(
        &client,
        &format!("{base}/sse"),
        "topic=user-42",
        "\"for 42\"",
    )
    .await?;
    ensure(status == 200, || format!("publish: {status} {body}"))?;
    let event = mine.next_event().await?;
    ensure(event.data() == "\"for 42\"", || {
        format!("user 42 got {event:?}")
    })?;
    hub.publish("user-42", &sse_hub::Event::new("while away"))
        .await
        .map_err(|e| e.to_string())?;
    let missed = mine.next_event().await?;
    drop(mine);

    // Reconnecting with the first id replays what came after it.
    let mut back = open(
        &client,
        base,
        "/notifications",
        &[
            ("x-user-id", "42"),
            ("last-event-id", event.last_event_id()),
        ],
    )
    .await?;
    connected(&mut back).await?;
    let replayed = back.next_event().await?;
    ensure(
        replayed.data() == "while away" && replayed.last_event_id() == missed.last_event_id(),
        || format!("replay after {}: {replayed:?}", event.last_event_id()),
    )
}
