//! Replay by last event id, `reset`, history expiry and the replay/live
//! seam.

use std::time::Duration;

use crate::client::{Error, within};
use crate::launch::*;
use crate::support::*;

pub(crate) async fn replay(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(publish(&server.base, "topic=r", &i.to_string()).await?);
    }
    let cases = [
        (
            "?topic=r".to_owned(),
            vec![("last-event-id", ids[0].as_str())],
            ["1", "2", "3"].as_slice(),
        ),
        (
            format!("?topic=r&lastEventId={}", ids[1]),
            vec![],
            ["2", "3"].as_slice(),
        ),
        (
            format!("?topic=r&lastEventId={}", ids[0]),
            vec![("last-event-id", ids[2].as_str())],
            ["3"].as_slice(),
        ),
    ];
    for (query, headers, expected) in cases {
        let mut stream = subscribe(&server.base, &query, &headers).await?;
        for want in expected {
            let event = stream.next_event().await?;
            ensure(event.data() == *want, || {
                format!("{query} {headers:?}: got {}", event.data())
            })?;
        }
    }
    Ok(())
}

pub(crate) async fn reset(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--history", "2"]).await?;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(publish(&server.base, "topic=r", &i.to_string()).await?);
    }
    let future = (ids[3].parse::<u128>().map_err(|e| e.to_string())? + 1000).to_string();
    for given in ["garbage", future.as_str(), ids[0].as_str()] {
        let mut stream = subscribe(&server.base, "?topic=r", &[("last-event-id", given)]).await?;
        let reset = stream.next_event().await?;
        ensure(
            reset.event() == "reset" && reset.last_event_id().is_empty(),
            || format!("{given}: expected reset, got {reset:?}"),
        )?;
        let data: serde_json::Value =
            serde_json::from_str(reset.data()).map_err(|e| e.to_string())?;
        ensure(data["lastEventId"] == given, || {
            format!("reset data {data}")
        })?;
        for want in ["2", "3"] {
            let event = stream.next_event().await?;
            ensure(event.data() == want, || {
                format!("{given}: replayed {}", event.data())
            })?;
        }
    }
    Ok(())
}

/// An in-memory server forgets its history when it restarts; its ids keep
/// increasing, so an id from before the restart resets, and the client gets
/// what was published since.
pub(crate) async fn reset_after_restart(target: &Target) -> Result<(), Error> {
    let before = target.start(&[]).await?;
    let old = publish(&before.base, "topic=r", "\"before\"").await?;
    drop(before);
    let after = target.start(&[]).await?;
    let new = publish(&after.base, "topic=r", "\"after\"").await?;
    let (old_n, new_n): (u128, u128) = (
        old.parse().map_err(|_| format!("id {old}"))?,
        new.parse().map_err(|_| format!("id {new}"))?,
    );
    ensure(new_n > old_n, || {
        format!("ids went back across the restart: {old} then {new}")
    })?;
    let mut stream = subscribe(&after.base, "?topic=r", &[("last-event-id", &old)]).await?;
    let reset = stream.next_event().await?;
    ensure(reset.event() == "reset", || {
        format!("expected reset, got {reset:?}")
    })?;
    let event = stream.next_event().await?;
    ensure(event.data() == "\"after\"", || {
        format!("then got {event:?}")
    })
}

pub(crate) async fn history_ttl(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--history-ttl", "1s"]).await?;
    let old = publish(&server.base, "topic=ttl", "\"old\"").await?;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    publish(&server.base, "topic=ttl", "\"new\"").await?;
    let mut stream = subscribe(&server.base, "?topic=ttl", &[("last-event-id", &old)]).await?;
    let event = stream.next_event().await?;
    ensure(event.data() == "\"new\"", || {
        format!("replayed {} after the TTL", event.data())
    })
}

/// Subscribers resume at various points while a publisher is busy; each
/// must read exactly the ids published after its resume point, in order.
pub(crate) async fn seam(target: &Target) -> Result<(), Error> {
    const EVENTS: usize = 150;
    let server = target.start(&[]).await?;
    let base = server.base.clone();
    let ids = std::sync::Arc::new(std::sync::Mutex::new(vec![
        publish(&base, "topic=s", "0").await?,
    ]));
    let publisher = {
        let (base, ids) = (base.clone(), ids.clone());
        tokio::spawn(async move {
            for i in 1..EVENTS {
                let id = publish(&base, "topic=s", &i.to_string()).await?;
                ids.lock().map_err(|e| e.to_string())?.push(id);
            }
            Ok::<_, Error>(())
        })
    };
    let mut readers = Vec::new();
    for _ in 0..6 {
        let (resume_at, resume_id) = {
            let ids = ids.lock().map_err(|e| e.to_string())?;
            (ids.len() - 1, ids[ids.len() - 1].clone())
        };
        let mut stream = subscribe(&base, "?topic=s", &[("last-event-id", &resume_id)]).await?;
        readers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while seen.len() < EVENTS - 1 - resume_at {
                seen.push(stream.next_event().await?.data().to_owned());
            }
            Ok::<_, Error>((resume_at, seen))
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    publisher.await.map_err(|e| e.to_string())??;
    for reader in readers {
        let (resume_at, seen) = reader.await.map_err(|e| e.to_string())??;
        let expected: Vec<String> = (resume_at + 1..EVENTS).map(|i| i.to_string()).collect();
        ensure(seen == expected, || {
            format!("resumed after event {resume_at}: got {seen:?}")
        })?;
    }
    Ok(())
}

/// `--max-stream-lifetime 1s`: a stream ends cleanly within 0.9–1.1 s
/// (give a loaded machine its slack), and its client, resuming with its
/// last event id, gets what was published since, nothing twice.
pub(crate) async fn max_stream_lifetime(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--max-stream-lifetime", "1s"]).await?;
    let opened = tokio::time::Instant::now();
    let mut stream = subscribe(&server.base, "?topic=life", &[]).await?;
    let first = publish(&server.base, "topic=life", "\"first\"").await?;
    let event = stream.next_event().await?;
    ensure(event.last_event_id() == first, || {
        format!("got {event:?}, expected {first}")
    })?;
    stream.ends_within(Duration::from_secs(3)).await?;
    let lasted = opened.elapsed();
    ensure(lasted >= Duration::from_millis(850), || {
        format!("the stream ended after {lasted:?}, before 0.9 s")
    })?;
    let missed = publish(&server.base, "topic=life", "\"missed\"").await?;
    let mut resumed = subscribe(&server.base, "?topic=life", &[("last-event-id", &first)]).await?;
    let event = resumed.next_event().await?;
    ensure(
        event.last_event_id() == missed && event.data() == "\"missed\"",
        || format!("resumed with {event:?}, expected {missed}"),
    )
}

/// `GET /events?rewind=N`: with no last event id, the newest N retained
/// events of the stream's topics, oldest first, then live with no gap, and
/// no `reset`; a last event id wins; a bad N answers `400`.
pub(crate) async fn rewind(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    for (topic, data) in [
        ("rw1", "1"),
        ("rw2", "2"),
        ("rw1", "3"),
        ("rw1", "4"),
        ("rw2", "5"),
    ] {
        publish(&server.base, &format!("topic={topic}"), data).await?;
    }
    let mut stream = subscribe(&server.base, "?topic=rw1&topic=rw2&rewind=3", &[]).await?;
    for want in ["3", "4", "5"] {
        let event = stream.next_event().await?;
        ensure(event.data() == want, || {
            format!("rewind=3 gave {event:?}, expected data {want}")
        })?;
    }
    let live = publish(&server.base, "topic=rw1", "\"live\"").await?;
    let event = stream.next_event().await?;
    ensure(event.last_event_id() == live, || {
        format!("after the rewind, got {event:?} instead of {live}")
    })?;
    let first = subscribe(&server.base, "?topic=rw1&rewind=1000", &[])
        .await?
        .next_event()
        .await?;
    ensure(first.data() == "1", || {
        format!("rewind=1000 started with {first:?}, not the oldest retained")
    })?;
    let mut resumed = subscribe(
        &server.base,
        "?topic=rw1&rewind=1",
        &[("last-event-id", &live)],
    )
    .await?;
    let after = publish(&server.base, "topic=rw1", "\"after\"").await?;
    let event = resumed.next_event().await?;
    ensure(event.last_event_id() == after, || {
        format!("with a last event id, rewind must be ignored: got {event:?}")
    })?;
    for bad in ["0", "1001", "x"] {
        let url = format!("{}/events?topic=rw1&rewind={bad}", server.base);
        let response = within(crate::client::http_client().get(&url).send(), "/events")
            .await?
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        ensure(status == 400, || format!("rewind={bad} answered {status}"))?;
    }
    Ok(())
}
