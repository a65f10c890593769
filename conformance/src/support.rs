//! What every check uses: what a check is, and the small requests and
//! assertions they share.

use std::future::Future;
use std::pin::Pin;

use sse_hub::decode::Decoded;

use crate::client::{Error, EventStream, http_client, notify, open, within};
use crate::launch::Target;

/// A check's future.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;
/// A check: its name and how to run it against a target.
pub type Check = (&'static str, for<'a> fn(&'a Target) -> CheckFuture<'a>);

/// A series' value in a metrics text.
pub(crate) fn series(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let (series, value) = line.split_once(' ')?;
        (series == name).then(|| value.trim().parse().ok())?
    })
}

pub(crate) use crate::client::ensure;

/// Why a check that needs `redis-server` cannot run.
pub(crate) fn redis_missing() -> Error {
    "redis-server is not installed (apt-get install redis-server)".into()
}

pub(crate) async fn subscribe(
    base: &str,
    query: &str,
    headers: &[(&str, &str)],
) -> Result<EventStream, Error> {
    let mut stream = open(&http_client(), base, &format!("/events{query}"), headers).await?;
    ensure(stream.status == 200, || {
        format!("/events{query}: status {}", stream.status)
    })?;
    let retry = stream.next_item().await?;
    ensure(matches!(retry, Decoded::Retry(_)), || {
        format!("expected retry first, got {retry:?}")
    })?;
    let connected = stream.next_event().await?;
    ensure(
        connected.event() == "connected" && connected.last_event_id().is_empty(),
        || format!("expected connected without id, got {connected:?}"),
    )?;
    Ok(stream)
}

/// Publishes and returns the id the server gave.
pub(crate) async fn publish(base: &str, query: &str, json: &str) -> Result<String, Error> {
    publish_with(&http_client(), base, query, json).await
}

/// [`publish`] with `client`: one client for many publishes spares
/// building one each time.
pub(crate) async fn publish_with(
    client: &reqwest::Client,
    base: &str,
    query: &str,
    json: &str,
) -> Result<String, Error> {
    let (status, body) = notify(client, base, query, json).await?;
    ensure(status == 200, || {
        format!("publish {query}: {status} {body}")
    })?;
    let value: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    value["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no id in {body}"))
}

/// The value of a metric series in `/metrics`.
pub(crate) async fn metric(base: &str, name: &str) -> Result<f64, Error> {
    metric_with(&http_client(), base, name).await
}

/// One series of `base`'s `/metrics`, read with `client` (one that speaks
/// the server's protocol).
pub(crate) async fn metric_with(
    client: &reqwest::Client,
    base: &str,
    name: &str,
) -> Result<f64, Error> {
    let text = within(client.get(format!("{base}/metrics")).send(), "the metrics")
        .await?
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    series(&text, name).ok_or_else(|| format!("no {name} in /metrics"))
}

/// `GET {base}/readyz`: the status and body.
pub(crate) async fn readyz(base: &str) -> Result<(u16, String), Error> {
    let response = http_client()
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map_err(|e| format!("GET /readyz: {e}"))?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(|e| e.to_string())?;
    Ok((status, body))
}
