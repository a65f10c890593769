//! The event stream itself: headers, preamble, delivery, topics, data
//! encoding, heartbeats, injection, and two parsers agreeing.

use std::time::Duration;

use sse_hub::decode::Decoded;

use crate::client::{Error, http_client, notify, open};
use crate::launch::*;
use crate::support::*;

pub(crate) async fn preamble_and_headers(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--retry", "1500ms"]).await?;
    let mut stream = open(&http_client(), &server.base, "/events", &[]).await?;
    let mut expected = vec![
        ("content-type", "text/event-stream"),
        ("cache-control", "no-cache"),
    ];
    // X-Accel-Buffering is addressed to nginx, which consumes it.
    if target.nginx_config.is_none() {
        expected.push(("x-accel-buffering", "no"));
    }
    for (name, value) in expected {
        ensure(stream.header(name) == Some(value), || {
            format!("{name}: {:?}", stream.header(name))
        })?;
    }
    let retry = stream.next_item().await?;
    ensure(retry == Decoded::Retry(Duration::from_millis(1500)), || {
        format!("{retry:?}")
    })?;
    let connected = stream.next_event().await?;
    let data: serde_json::Value =
        serde_json::from_str(connected.data()).map_err(|e| e.to_string())?;
    ensure(data["clientId"].is_u64(), || {
        format!("connected data {data}")
    })
}

pub(crate) async fn publish_and_receive(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    let mut stream = subscribe(&server.base, "?topic=t", &[]).await?;
    let mut last: Option<u128> = None;
    for i in 0..5 {
        let id = publish(
            &server.base,
            "topic=t&event=order",
            &format!("{{ \"n\": {i} }}"),
        )
        .await?;
        let event = stream.next_event().await?;
        ensure(event.event() == "order", || {
            format!("event name {}", event.event())
        })?;
        ensure(event.data() == format!("{{\"n\":{i}}}"), || {
            format!("data {}", event.data())
        })?;
        ensure(event.last_event_id() == id, || {
            format!("id {} != {id}", event.last_event_id())
        })?;
        let numeric: u128 = id.parse().map_err(|_| format!("id {id} is not decimal"))?;
        ensure(last.is_none_or(|l| numeric > l), || {
            format!("ids not increasing at {id}")
        })?;
        last = Some(numeric);
    }
    Ok(())
}

pub(crate) async fn topics(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    let mut a = subscribe(&server.base, "?topic=a", &[]).await?;
    let mut ab = subscribe(&server.base, "?topic=a&topic=b", &[]).await?;
    let mut default = subscribe(&server.base, "", &[]).await?;
    publish(&server.base, "topic=b", "\"b\"").await?;
    publish(&server.base, "topic=a", "\"a\"").await?;
    publish(&server.base, "", "\"d\"").await?;
    ensure(a.next_event().await?.data() == "\"a\"", || {
        "topic a got another topic".into()
    })?;
    let first = ab.next_event().await?;
    let second = ab.next_event().await?;
    ensure(first.data() == "\"b\"" && second.data() == "\"a\"", || {
        format!("a+b got {} then {}", first.data(), second.data())
    })?;
    ensure(default.next_event().await?.data() == "\"d\"", || {
        "default topic".into()
    })
}

pub(crate) async fn multi_line_and_unicode(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    let mut stream = subscribe(&server.base, "?topic=u", &[]).await?;
    let json = r#"{"text":"line one\nline two\r\nthree","emoji":"café ☕ 日本"}"#;
    publish(&server.base, "topic=u&event=%C3%A9v%C3%A9nement", json).await?;
    let event = stream.next_event().await?;
    ensure(event.event() == "événement", || {
        format!("name {}", event.event())
    })?;
    ensure(event.data() == json, || format!("data {}", event.data()))
}

pub(crate) async fn heartbeat(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--heartbeat", "300ms"]).await?;
    let mut stream = subscribe(&server.base, "", &[]).await?;
    let started = tokio::time::Instant::now();
    let item = stream.next_item_within(Duration::from_secs(2)).await?;
    let took = started.elapsed();
    ensure(item == Decoded::Comment("heartbeat".into()), || {
        format!("got {item:?}")
    })?;
    ensure(
        (Duration::from_millis(200)..Duration::from_millis(1000)).contains(&took),
        || format!("heartbeat after {took:?}, expected about 300ms"),
    )
}

pub(crate) async fn injection(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    let mut stream = subscribe(&server.base, "?topic=t", &[]).await?;
    for query in [
        "topic=t&event=x%0Aid:%201",
        "topic=t%0Adata:x",
        "topic=t&event=x%0D%0A%0D%0Adata:y",
    ] {
        let (status, _) = notify(&http_client(), &server.base, query, "1").await?;
        ensure(status == 400, || format!("{query}: {status}"))?;
    }
    let sneaky = r#""a\n\nid: 666\nevent: evil\ndata: b""#;
    let id = publish(&server.base, "topic=t", sneaky).await?;
    let event = stream.next_event().await?;
    ensure(
        event.event() == "notification" && event.data() == sneaky && event.last_event_id() == id,
        || format!("got {event:?}"),
    )
}

/// Data that parsers get wrong (line breaks of every kind, non-ASCII,
/// empty arrays, a bare number) reads the same through both parsers, which
/// every stream of every check goes through (see [`EventStream`]).
pub(crate) async fn parsers_agree(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    let mut stream = subscribe(&server.base, "?topic=p", &[]).await?;
    let bodies = [r#""a\nb""#, r#"{"k":"é ☕"}"#, "[]", r#""\r\n\r\n""#, "0"];
    for (i, json) in bodies.iter().enumerate() {
        publish(&server.base, &format!("topic=p&event=e{i}"), json).await?;
    }
    for (i, json) in bodies.iter().enumerate() {
        let event = stream.next_event().await?;
        ensure(
            event.event() == format!("e{i}") && event.data() == *json,
            || format!("event {i}: {event:?}"),
        )?;
    }
    Ok(())
}
