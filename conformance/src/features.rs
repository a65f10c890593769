//! Checks of what the leading hubs offer beyond publish and subscribe:
//! ephemeral events, batch publishes, idempotency keys, history reads and
//! presence, on one instance and on two sharing Redis.

use std::time::Duration;

use serde_json::{Value, json};

use crate::client::{Error, http_client, within};
use crate::launch::Target;
use crate::support::{ensure, publish, subscribe};

/// A request's answer: status, the `Idempotent-Replayed` header, and the
/// body as JSON (`null` if it is not JSON).
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) replayed: bool,
    pub(crate) body: Value,
}

/// `POST {base}{path}` with a JSON body and `headers`.
pub(crate) async fn post(
    base: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Result<Answer, Error> {
    let mut request = http_client()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    answer(request).await
}

/// `GET {base}{path}`.
pub(crate) async fn get(base: &str, path: &str) -> Result<Answer, Error> {
    answer(http_client().get(format!("{base}{path}"))).await
}

async fn answer(request: reqwest::RequestBuilder) -> Result<Answer, Error> {
    let response = within(request.send(), "the answer")
        .await?
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status().as_u16();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    let text = within(response.text(), "the body")
        .await?
        .map_err(|e| e.to_string())?;
    Ok(Answer {
        status,
        replayed,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    })
}

/// `history=false`: live streams get it with an id; no replay, rewind or
/// history returns it; resuming with its id or across it is no reset.
pub(crate) async fn ephemeral(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    let base = &server.base;
    let mut live = subscribe(base, "?topic=eph", &[]).await?;
    let kept = publish(base, "topic=eph", "\"kept\"").await?;
    let typing = publish(base, "topic=eph&history=false&event=typing", "\"ada\"").await?;
    let after = publish(base, "topic=eph", "\"after\"").await?;
    for (want_id, want_data) in [
        (&kept, "\"kept\""),
        (&typing, "\"ada\""),
        (&after, "\"after\""),
    ] {
        let event = live.next_event().await?;
        ensure(
            event.last_event_id() == want_id && event.data() == want_data,
            || format!("live stream got {event:?}, expected {want_data} with id {want_id}"),
        )?;
    }
    for resume_after in [&kept, &typing] {
        let mut resumed = subscribe(base, "?topic=eph", &[("last-event-id", resume_after)]).await?;
        let event = resumed.next_event().await?;
        ensure(
            event.event() != "reset" && event.data() == "\"after\"",
            || {
                format!(
                    "resuming after {resume_after} gave {event:?}, expected the kept event only"
                )
            },
        )?;
    }
    let mut rewound = subscribe(base, "?topic=eph&rewind=10", &[]).await?;
    for want in ["\"kept\"", "\"after\""] {
        let event = rewound.next_event().await?;
        ensure(event.data() == want, || {
            format!("rewind gave {event:?}, expected {want}")
        })?;
    }
    let history = get(base, "/history?topic=eph").await?;
    let data: Vec<&str> = history.body["events"]
        .as_array()
        .map(|events| events.iter().filter_map(|e| e["data"].as_str()).collect())
        .unwrap_or_default();
    ensure(data == ["\"kept\"", "\"after\""], || {
        format!("/history returned {data:?}: an ephemeral event must never appear")
    })?;
    let bad = post(base, "/notify?topic=eph&history=nope", "1", &[]).await?;
    ensure(bad.status == 400, || {
        format!("history=nope answered {}", bad.status)
    })
}

/// `POST /notify/batch`: every item checked first (400 with its index,
/// nothing published), then published in order with increasing ids.
pub(crate) async fn batch(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--max-batch", "3"]).await?;
    let base = &server.base;
    let mut stream = subscribe(base, "?topic=b1&topic=b2", &[]).await?;
    for (body, index) in [
        (
            r#"[{"topic": "b1", "data": 1}, {"topic": "", "data": 2}]"#,
            Some(1),
        ),
        (r#"[{"topic": "b1", "data": 1}, {"topic": "b2"}]"#, Some(1)),
        (r#"[{"topic": "b1", "data": 1, "history": 0}]"#, Some(0)),
        ("[]", None),
        (
            r#"[{"data": 1}, {"data": 2}, {"data": 3}, {"data": 4}]"#,
            None,
        ),
        (r#"{"data": 1}"#, None),
    ] {
        let refused = post(base, "/notify/batch", body, &[]).await?;
        ensure(refused.status == 400, || {
            format!("{body} answered {}", refused.status)
        })?;
        let got = refused.body["index"].as_u64();
        ensure(got == index.map(|i: u64| i), || {
            format!("{body}: index {got:?}, expected {index:?}")
        })?;
    }
    let body = r#"[{"topic": "b1", "data": "one"}, {"topic": "b2", "event": "e", "data": {"n": 2}},
                   {"topic": "b1", "data": "three", "history": false}]"#;
    let published = post(base, "/notify/batch", body, &[]).await?;
    ensure(published.status == 200, || {
        format!("the batch answered {}", published.status)
    })?;
    let ids = batch_ids(&published.body);
    ensure(
        ids.len() == 3 && published.body["sent"] == json!([1, 1, 1]),
        || format!("the batch answered {}", published.body),
    )?;
    // The refused batches published nothing: the first event is the batch's.
    for (id, want) in ids.iter().zip(["\"one\"", "{\"n\":2}", "\"three\""]) {
        let event = stream.next_event().await?;
        ensure(event.last_event_id() == id && event.data() == want, || {
            format!("got {event:?}, expected {want} with id {id}")
        })?;
    }
    let history = get(base, "/history?topic=b1").await?;
    ensure(
        history.body["events"].as_array().map(Vec::len) == Some(1),
        || format!("the ephemeral item was retained: {}", history.body),
    )
}

/// `Idempotency-Key`: a repeat answers the first answer with
/// `Idempotent-Replayed: true` and publishes nothing; another request
/// with the key answers 422; 50 concurrent requests publish once.
pub(crate) async fn idempotency(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    idempotency_on(&server.base, &server.base).await
}

/// [`idempotency`] with the requests spread over `a` and `b`.
pub(crate) async fn idempotency_on(a: &str, b: &str) -> Result<(), Error> {
    let mut stream = subscribe(a, "?topic=idem", &[]).await?;
    let key = [("idempotency-key", "order-1")];
    let first = post(a, "/notify?topic=idem", r#"{"n": 1}"#, &key).await?;
    ensure(first.status == 200 && !first.replayed, || {
        format!("the first request answered {}", first.status)
    })?;
    let again = post(b, "/notify?topic=idem", r#"{"n": 1}"#, &key).await?;
    ensure(
        again.status == 200 && again.replayed && again.body == first.body,
        || {
            format!(
                "the repeat answered {} {} (replayed: {})",
                again.status, again.body, again.replayed
            )
        },
    )?;
    let other = post(b, "/notify?topic=idem", r#"{"n": 2}"#, &key).await?;
    ensure(other.status == 422, || {
        format!("another body with the key answered {}", other.status)
    })?;
    let concurrent = (0..50).map(|n| {
        let base = if n % 2 == 0 { a } else { b };
        post(
            base,
            "/notify?topic=idem",
            r#"{"n": 3}"#,
            &[("idempotency-key", "order-2")],
        )
    });
    let answers = futures::future::join_all(concurrent).await;
    let mut ids = Vec::new();
    for answer in answers {
        let answer = answer?;
        ensure(answer.status == 200, || {
            format!("a concurrent request answered {}", answer.status)
        })?;
        ids.push(answer.body["id"].clone());
    }
    ensure(ids.iter().all(|id| id == &ids[0]), || {
        format!("different answers: {ids:?}")
    })?;
    let marker = publish(a, "topic=idem", "\"marker\"").await?;
    let seen = [
        stream.next_event().await?,
        stream.next_event().await?,
        stream.next_event().await?,
    ];
    let seen_ids: Vec<&str> = seen.iter().map(|e| e.last_event_id()).collect();
    let expected = [
        first.body["id"].as_str().unwrap_or_default(),
        ids[0].as_str().unwrap_or_default(),
        &marker,
    ];
    ensure(seen_ids == expected, || {
        format!("the stream got {seen_ids:?}, expected each key's event once then {marker}")
    })?;
    for bad in ["a b", &"k".repeat(129)] {
        let refused = post(a, "/notify?topic=idem", "1", &[("idempotency-key", bad)]).await?;
        ensure(refused.status == 400, || {
            format!("key {bad:?} answered {}", refused.status)
        })?;
    }
    Ok(())
}

/// `GET /history`: newest without `after`, pages with `after` and `more`,
/// `reset` for an id it cannot honour, `limit` bounded.
pub(crate) async fn history(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--history", "3"]).await?;
    history_on(&server.base, &server.base).await
}

/// [`history`], publishing on `a` and reading on `b`.
pub(crate) async fn history_on(a: &str, b: &str) -> Result<(), Error> {
    let mut ids = Vec::new();
    for n in 1..=5 {
        ids.push(publish(a, "topic=hist&event=e", &n.to_string()).await?);
    }
    // Three are retained: ids[2..].
    let newest = eventually_json(b, "/history?topic=hist&limit=2", |page| {
        page["events"][1]["id"] == ids[4].as_str()
    })
    .await?;
    ensure(
        newest["events"][0] == json!({"id": ids[3], "topic": "hist", "event": "e", "data": "4"})
            && newest["reset"] == false
            && newest["more"] == false,
        || format!("the newest two: {newest}"),
    )?;
    let page = get(b, &format!("/history?topic=hist&after={}&limit=1", ids[2])).await?;
    ensure(
        page.body["events"][0]["id"] == ids[3].as_str()
            && page.body["more"] == true
            && page.body["reset"] == false,
        || format!("after {}: {}", ids[2], page.body),
    )?;
    let reset = get(b, &format!("/history?topic=hist&after={}", ids[0])).await?;
    ensure(
        reset.body["reset"] == true && reset.body["events"][0]["id"] == ids[2].as_str(),
        || format!("after a trimmed id: {}", reset.body),
    )?;
    for bad in ["limit=0", "limit=1001", "limit=x"] {
        let refused = get(b, &format!("/history?topic=hist&{bad}")).await?;
        ensure(refused.status == 400, || {
            format!("{bad} answered {}", refused.status)
        })?;
    }
    Ok(())
}

/// `GET /presence`: the open streams of each topic, within 2 s.
pub(crate) async fn presence(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    presence_on(&server.base, &server.base).await
}

/// [`presence`] with streams on `a` and on `b`, read on each.
pub(crate) async fn presence_on(a: &str, b: &str) -> Result<(), Error> {
    let counts =
        |n: u64, m: u64| json!({"topics": {"p1": {"subscribers": n}, "p2": {"subscribers": m}}});
    let path = "/presence?topic=p1&topic=p2";
    let first = subscribe(a, "?topic=p1", &[]).await?;
    let second = subscribe(b, "?topic=p1&topic=p2", &[]).await?;
    for base in [a, b] {
        eventually_json(base, path, |body| body == &counts(2, 1)).await?;
    }
    drop(second);
    for base in [a, b] {
        eventually_json(base, path, |body| body == &counts(1, 0)).await?;
    }
    drop(first);
    eventually_json(b, path, |body| body == &counts(0, 0)).await?;
    let many = vec!["topic=x"; 33].join("&");
    let refused = get(a, &format!("/presence?{many}")).await?;
    ensure(refused.status == 400, || {
        format!("33 topics answered {}", refused.status)
    })
}

/// `GET {base}{path}` until its JSON satisfies `done`, within 2 s.
async fn eventually_json(
    base: &str,
    path: &str,
    done: impl Fn(&Value) -> bool,
) -> Result<Value, Error> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let answer = get(base, path).await?;
        if answer.status == 200 && done(&answer.body) {
            return Ok(answer.body);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "{path} on {base} answered {} {} after 2 s",
                answer.status, answer.body
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `ids` of a batch's answer.
pub(crate) fn batch_ids(answer: &Value) -> Vec<String> {
    answer["ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|id| id.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
