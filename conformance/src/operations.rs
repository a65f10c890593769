//! Operating a server: stream limits, publish errors, metrics, health,
//! the demo page, leaks and graceful shutdown.

use std::time::Duration;

use crate::client::{Error, http_client, open};
use crate::launch::*;
use crate::support::*;

pub(crate) async fn max_clients(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--max-clients", "1"]).await?;
    let _first = subscribe(&server.base, "", &[]).await?;
    let refused = open(&http_client(), &server.base, "/events", &[]).await?;
    ensure(refused.status == 503, || {
        format!("second stream: {}", refused.status)
    })?;
    ensure(refused.header("retry-after").is_some(), || {
        "no Retry-After".into()
    })
}

pub(crate) async fn notify_errors(target: &Target) -> Result<(), Error> {
    let server = target
        .start(&["--publish-token", "s3cret", "--max-body", "16"])
        .await?;
    let client = http_client();
    let post = |query: &str, content_type: Option<&str>, auth: Option<&str>, body: &str| {
        let mut request = client
            .post(format!("{}/notify?{query}", server.base))
            .body(body.to_owned());
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        async move {
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let body = response.text().await.map_err(|e| e.to_string())?;
            Ok::<_, Error>((status, body))
        }
    };
    let json = Some("application/json");
    let auth = Some("Bearer s3cret");
    let cases = [
        (
            401,
            post("topic=", None, None, "far too long and not json").await?,
        ),
        (401, post("", json, Some("Bearer nope"), "1").await?),
        (
            415,
            post(
                "topic=",
                Some("text/plain"),
                auth,
                "far too long and not json",
            )
            .await?,
        ),
        (
            413,
            post("topic=", json, auth, "far too long and not json").await?,
        ),
        (400, post("topic=", json, auth, "1").await?),
        (400, post("event=", json, auth, "1").await?),
        (400, post("", json, auth, "{").await?),
    ];
    for (i, (want, (status, body))) in cases.into_iter().enumerate() {
        ensure(status == want, || {
            format!("case {i}: {status} {body}, expected {want}")
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("case {i}: {e}"))?;
        ensure(value["error"].is_string(), || {
            format!("case {i}: body {body}")
        })?;
    }
    let published = metric(&server.base, "sse_events_published_total").await?;
    ensure(published == 0.0, || {
        format!("{published} events published by refused requests")
    })?;
    let (status, _) = post("", Some("application/json; charset=utf-8"), auth, "[1]").await?;
    ensure(status == 200, || {
        format!("a valid publish answered {status}")
    })
}

pub(crate) async fn metrics(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    let mut stream = subscribe(&server.base, "", &[]).await?;
    publish(&server.base, "", "1").await?;
    stream.next_event().await?;
    for (series, at_least) in [
        ("sse_clients", 1.0),
        ("sse_events_published_total", 1.0),
        ("sse_events_delivered_total", 1.0),
        ("sse_clients_lagged_total", 0.0),
        ("sse_history_events", 1.0),
    ] {
        let value = metric(&server.base, series).await?;
        ensure(value >= at_least, || format!("{series} = {value}"))?;
    }
    Ok(())
}

pub(crate) async fn healthz_and_page(target: &Target) -> Result<(), Error> {
    let server = target.start(&[]).await?;
    let client = http_client();
    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    ensure(health.status() == 200, || {
        format!("healthz {}", health.status())
    })?;
    let body = health.text().await.map_err(|e| e.to_string())?;
    ensure(body == "ok", || format!("healthz body {body:?}"))?;
    let page = client
        .get(format!("{}/", server.base))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let html = page.text().await.map_err(|e| e.to_string())?;
    // The page reaches the routes relative to itself (it may be mounted
    // under a prefix).
    ensure(
        html.contains("new EventSource(base + \"events") && html.contains("fetch(base + \"notify"),
        || "the demo page does not subscribe and publish relative to itself".into(),
    )
}

pub(crate) async fn no_leaks(target: &Target) -> Result<(), Error> {
    // The default heartbeat (30 s) is far off: noticing must not wait
    // for a write.
    let server = target.start(&[]).await?;
    let mut streams = Vec::new();
    for _ in 0..10 {
        streams.push(subscribe(&server.base, "?topic=leak", &[]).await?);
    }
    ensure(metric(&server.base, "sse_clients").await? == 10.0, || {
        "10 clients".into()
    })?;
    drop(streams);
    // Rocket's adapter learns of a close from its second probe, two
    // seconds apart (`sse_rocket::probe`): up to 4 s, and a margin.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let clients = metric(&server.base, "sse_clients").await?;
        if clients == 0.0 {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "{clients} clients left 5 s after every client went away"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn graceful_shutdown(target: &Target) -> Result<(), Error> {
    let mut server = target.start(&["--drain-timeout", "0s"]).await?;
    let mut stream = subscribe(&server.base, "", &[]).await?;
    server.terminate()?;
    stream.ends_within(Duration::from_secs(1)).await?;
    // The contract bounds the streams' end, not the exit: the example
    // servers give their framework one more second to close connections
    // (`SHUTDOWN_GRACE`), and Rocket waits out that whole grace whenever a
    // connection task still holds its state at the moment its server
    // future resolves. One second more is for tearing the process down
    // on a loaded machine.
    let code = server.exit_code_within(Duration::from_secs(2)).await?;
    ensure(code == Some(0), || format!("exit code {code:?}"))
}
