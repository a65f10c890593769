//! A test client: opens event streams over HTTP and reads every one of
//! them with two parsers, `sse-hub`'s decoder and the independent
//! `eventsource-stream`, failing when they disagree; every wait bounded.
//!
//! Not `sse-hub-client`: the checks must see each connection as it is
//! (its status and headers, the bytes both parsers read, the moment it
//! ends), where that client decodes with `sse-hub` alone and reconnects.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::channel::mpsc;
use futures::{FutureExt, Stream, StreamExt};
use reqwest::header::HeaderMap;
use sse_hub::decode::{Decoded, Decoder, MessageEvent};

/// How long any single wait lasts before a check fails.
pub const WAIT: Duration = Duration::from_secs(5);

/// What went wrong, for a check's failure message.
pub type Error = String;

type Chunks = Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>;

/// An open event stream. Each chunk goes to both parsers; every event
/// `sse-hub` reads must be the next event `eventsource-stream` read from
/// the same bytes (name, data and id), or reading fails.
pub struct EventStream {
    /// The response status.
    pub status: u16,
    /// The HTTP version the response came in.
    pub version: reqwest::Version,
    /// The response headers.
    pub headers: HeaderMap,
    chunks: Chunks,
    ended: bool,
    ours: Decoder,
    decoded: VecDeque<Decoded>,
    theirs: SecondParser,
}

/// `eventsource-stream`, which only reads streams: bytes go in through a
/// channel, and the events it has parsed are taken without waiting.
///
/// It gets the same bytes as `sse-hub`, but joined up to each point where
/// `sse-hub` completed an item: it rescans a line for every chunk of it,
/// which makes a 500 kB event arriving in 4 kB chunks cost seconds.
struct SecondParser {
    input: mpsc::UnboundedSender<Result<Bytes, Infallible>>,
    events: eventsource_stream::EventStream<mpsc::UnboundedReceiver<Result<Bytes, Infallible>>>,
    unsent: BytesMut,
    parsed: VecDeque<(String, String, String)>,
}

impl SecondParser {
    fn new() -> Self {
        use eventsource_stream::Eventsource;
        let (input, output) = mpsc::unbounded();
        Self {
            input,
            events: output.eventsource(),
            unsent: BytesMut::new(),
            parsed: VecDeque::new(),
        }
    }

    fn feed(&mut self, chunk: &[u8]) {
        self.unsent.extend_from_slice(chunk);
    }

    /// Parses what was fed so far.
    fn flush(&mut self) -> Result<(), Error> {
        if !self.unsent.is_empty() {
            self.input
                .unbounded_send(Ok(self.unsent.split().freeze()))
                .map_err(|e| e.to_string())?;
        }
        self.drain()
    }

    fn finish(&mut self) -> Result<(), Error> {
        self.flush()?;
        self.input.close_channel();
        self.drain()
    }

    /// Takes every event parsed so far; the channel holds all the input,
    /// so the parser never waits on anything but more chunks.
    fn drain(&mut self) -> Result<(), Error> {
        loop {
            // eventsource-stream 0.2 panics on some input (a BOM): that is
            // a failed read, not a crashed suite.
            let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.events.next().now_or_never()
            }))
            .map_err(|_| "eventsource-stream panicked on this stream".to_owned())?;
            let Some(Some(item)) = next else {
                return Ok(());
            };
            let event = item.map_err(|e| format!("eventsource-stream failed: {e}"))?;
            self.parsed.push_back((event.event, event.data, event.id));
        }
    }

    /// Checks that the next event read here is `event`.
    fn agree(&mut self, event: &MessageEvent) -> Result<(), Error> {
        let ours = (event.event(), event.data(), event.last_event_id());
        match self.parsed.pop_front() {
            Some((name, data, id)) if (name.as_str(), data.as_str(), id.as_str()) == ours => Ok(()),
            theirs => Err(format!(
                "the parsers disagree: sse-hub read {ours:?}, eventsource-stream read {theirs:?}"
            )),
        }
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Makes ring rustls's process-wide crypto provider, once: reqwest's
/// TLS is built without one of its own (the workspace verifies with ring,
/// not aws-lc), and a client built before this panics.
pub fn install_crypto() {
    // An error only says that a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client that does not pool connections, so that dropping a stream
/// closes its connection, as a browser tab going away does.
pub fn http_client() -> reqwest::Client {
    install_crypto();
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
    let response_version = response.version();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut stream = EventStream::new(status, headers, Box::pin(response.bytes_stream()));
    stream.version = response_version;
    Ok(stream)
}

impl EventStream {
    fn new(status: u16, headers: HeaderMap, chunks: Chunks) -> Self {
        Self {
            status,
            version: reqwest::Version::HTTP_11,
            headers,
            chunks,
            ended: false,
            ours: Decoder::new(),
            decoded: VecDeque::new(),
            theirs: SecondParser::new(),
        }
    }

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
        let deadline = tokio::time::Instant::now() + wait;
        match self.next_item_until(deadline, wait).await? {
            Some(item) => Ok(item),
            None => Err("the stream ended".into()),
        }
    }

    /// The next item, `None` at the end of the stream; `wait` is what
    /// `deadline` was set to, for the message.
    async fn next_item_until(
        &mut self,
        deadline: tokio::time::Instant,
        wait: Duration,
    ) -> Result<Option<Decoded>, Error> {
        loop {
            if let Some(item) = self.decoded.pop_front() {
                if let Decoded::Event(event) = &item {
                    self.theirs.agree(event)?;
                }
                return Ok(Some(item));
            }
            if self.ended {
                return Ok(None);
            }
            match tokio::time::timeout_at(deadline, self.chunks.next()).await {
                Err(_) => return Err(format!("nothing arrived within {wait:?}")),
                Ok(Some(Err(err))) => return Err(format!("the stream failed: {err}")),
                Ok(Some(Ok(chunk))) => {
                    self.ours.feed(&chunk);
                    self.theirs.feed(&chunk);
                }
                Ok(None) => {
                    self.ended = true;
                    self.ours.finish();
                    self.theirs.finish()?;
                }
            }
            while let Some(item) = self.ours.next_item() {
                self.decoded
                    .push_back(item.map_err(|e| format!("sse-hub failed: {e}"))?);
            }
            if !self.decoded.is_empty() {
                self.theirs.flush()?;
            }
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
        while self
            .next_item_until(deadline, wait)
            .await
            .map_err(|e| format!("the stream was still open: {e}"))?
            .is_some()
        {}
        match self.theirs.parsed.pop_front() {
            None => Ok(()),
            Some(extra) => Err(format!(
                "eventsource-stream read an event sse-hub did not: {extra:?}"
            )),
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

/// `Ok` when `condition` holds, else the error `message` makes.
pub(crate) fn ensure(condition: bool, message: impl FnOnce() -> String) -> Result<(), Error> {
    if condition { Ok(()) } else { Err(message()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_of(chunks: &[&'static [u8]]) -> EventStream {
        let chunks: Vec<Result<Bytes, reqwest::Error>> =
            chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
        EventStream::new(
            200,
            HeaderMap::new(),
            Box::pin(futures::stream::iter(chunks)),
        )
    }

    #[tokio::test]
    async fn both_parsers_read_every_event() {
        let mut stream = stream_of(&[
            b"retry: 10\n\n: hi\nid: 1\nevent: a\nda",
            b"ta: x\r\ndata: y\r\n\r\ndata: z\n",
            b"\nid: 2\ndata: w\n\n",
        ]);
        assert_eq!(
            stream.next_item().await.unwrap(),
            Decoded::Retry(Duration::from_millis(10))
        );
        let a = stream.next_event().await.unwrap();
        assert_eq!((a.event(), a.data(), a.last_event_id()), ("a", "x\ny", "1"));
        let z = stream.next_event().await.unwrap();
        assert_eq!(
            (z.event(), z.data(), z.last_event_id()),
            ("message", "z", "1")
        );
        stream.next_event().await.unwrap();
        stream.ends_within(WAIT).await.unwrap();
        assert!(stream.theirs.parsed.is_empty());
    }

    #[test]
    fn a_disagreement_fails_the_read() {
        let mut theirs = SecondParser::new();
        theirs.feed(b"event: a\ndata: one\n\n");
        theirs.flush().unwrap();
        let mut ours = Decoder::new();
        ours.feed(b"event: a\ndata: two\n\n");
        let Some(Ok(Decoded::Event(event))) = ours.next_item() else {
            panic!("sse-hub read no event");
        };
        let err = theirs.agree(&event).unwrap_err();
        assert!(err.contains("disagree"), "{err}");
        // Nothing parsed on the other side is a disagreement too.
        assert!(theirs.agree(&event).is_err());
    }

    #[tokio::test]
    async fn an_event_the_other_parser_holds_back_fails_the_read() {
        // Lines ended by CR alone: sse-hub dispatches at the blank line,
        // eventsource-stream waits for a byte that might make it CRLF.
        let mut stream = stream_of(&[b"data: a\rdata: b\r\r"]);
        let err = stream.next_event().await.unwrap_err();
        assert!(err.contains("disagree"), "{err}");
    }

    #[tokio::test]
    async fn a_panic_of_the_other_parser_fails_the_read() {
        let mut stream = stream_of(&[b"\xEF\xBB\xBFdata: a\n\n"]);
        let err = stream.next_event().await.unwrap_err();
        assert!(err.contains("panicked"), "{err}");
    }
}
