//! A test client: opens event streams over HTTP and reads them with
//! `sse-core`'s decoder, every wait bounded.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use reqwest::header::HeaderMap;
use sse_core::decode::{DecodeStream, Decoded, MessageEvent};

/// How long any single wait lasts before a check fails.
pub const WAIT: Duration = Duration::from_secs(5);

/// What went wrong, for a check's failure message.
pub type Error = String;

type Chunks = Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>;

/// An open event stream.
pub struct EventStream {
    /// The response status.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    items: DecodeStream<Chunks>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A client that does not pool connections, so that dropping a stream
/// closes its connection, as a browser tab going away does.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Opens `GET {base}{path_and_query}` with `headers` (name, value).
pub async fn open(
    client: &reqwest::Client,
    base: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
) -> Result<EventStream, Error> {
    let mut request = client.get(format!("{base}{path_and_query}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = within(request.send(), "the response head").await?;
    let response = response.map_err(|e| format!("request failed: {e}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let chunks: Chunks = Box::pin(response.bytes_stream());
    Ok(EventStream {
        status,
        headers,
        items: DecodeStream::new(chunks),
    })
}

impl EventStream {
    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The next item (event, comment or retry), or an error when the
    /// stream ends or nothing comes within [`WAIT`].
    pub async fn next_item(&mut self) -> Result<Decoded, Error> {
        self.next_item_within(WAIT).await
    }

    /// [`next_item`](Self::next_item) with another bound.
    pub async fn next_item_within(&mut self, wait: Duration) -> Result<Decoded, Error> {
        match tokio::time::timeout(wait, self.items.next()).await {
            Err(_) => Err(format!("nothing arrived within {wait:?}")),
            Ok(None) => Err("the stream ended".into()),
            Ok(Some(Err(err))) => Err(format!("the stream failed: {err}")),
            Ok(Some(Ok(item))) => Ok(item),
        }
    }

    /// The next event, skipping comments and retries.
    pub async fn next_event(&mut self) -> Result<MessageEvent, Error> {
        loop {
            if let Decoded::Event(event) = self.next_item().await? {
                return Ok(event);
            }
        }
    }

    /// Whether the stream ends (cleanly) within `wait`.
    pub async fn ends_within(&mut self, wait: Duration) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.items.next()).await {
                Err(_) => return Err(format!("the stream was still open after {wait:?}")),
                Ok(None) => return Ok(()),
                Ok(Some(Err(err))) => return Err(format!("the stream failed: {err}")),
                Ok(Some(Ok(_))) => {}
            }
        }
    }
}

/// `future`, or an error naming `what` if it takes longer than [`WAIT`].
pub async fn within<F: Future>(future: F, what: &str) -> Result<F::Output, Error> {
    tokio::time::timeout(WAIT, future)
        .await
        .map_err(|_| format!("{what} did not come within {WAIT:?}"))
}

/// Polls `condition` every 10 ms until it holds or `wait` runs out.
pub async fn eventually(
    wait: Duration,
    what: &str,
    mut condition: impl FnMut() -> bool,
) -> Result<(), Error> {
    let deadline = tokio::time::Instant::now() + wait;
    while !condition() {
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("{what} did not happen within {wait:?}"));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// `POST {base}/notify?{query}` with a JSON body; the status and body.
pub async fn notify(
    client: &reqwest::Client,
    base: &str,
    query: &str,
    json: &str,
) -> Result<(u16, String), Error> {
    let request = client
        .post(format!("{base}/notify?{query}"))
        .header("content-type", "application/json")
        .body(json.to_owned())
        .send();
    let response = within(request, "the publish answer")
        .await?
        .map_err(|e| format!("publish failed: {e}"))?;
    let status = response.status().as_u16();
    let body = within(response.text(), "the publish body")
        .await?
        .map_err(|e| format!("publish body failed: {e}"))?;
    Ok((status, body))
}
