//! Event streams and the hub's responses as poem responses.

use std::time::Duration;

use futures_core::Stream;
use poem::{Body, IntoResponse, Response};
use sse_hub::hub;
use sse_hub::stream::{IntoFrame, KeepAlive, PROBE_INTERVAL, SseStream};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Any stream of events as a poem SSE response: items of `Event`,
/// `Result<Event, E>` or encoded frames (`Bytes`), each written to the
/// client as soon as the stream yields it, with the hub's headers
/// and a keep-alive comment after 30 s of silence by default.
///
/// ```
/// use futures::stream::{self, Stream};
/// use poem::{Route, get, handler, web::Data, EndpointExt};
/// use sse_poem::{Event, Sse};
/// use tokio::sync::broadcast;
///
/// // Your own feed: here a broadcast channel of texts.
/// #[handler]
/// fn feed(texts: Data<&broadcast::Sender<String>>) -> Sse<impl Stream<Item = Event> + Send + 'static> {
///     let events = stream::unfold(texts.subscribe(), |mut feed| async move {
///         let text = feed.recv().await.ok()?;
///         Some((Event::new(text), feed))
///     });
///     Sse::new(events)
/// }
///
/// let (texts, _) = broadcast::channel::<String>(16);
/// let app = Route::new().at("/feed", get(feed)).data(texts);
/// ```
///
/// poem 3.1's server keeps the body of a closed connection until a write
/// to it fails, so an idle stream also writes an empty line (which
/// clients skip) every [`PROBE_INTERVAL`]: a gone client is dropped within
/// a second rather than at the next keep-alive. A failed item ends the
/// response (poem aborts the body).
#[derive(Debug)]
#[must_use = "a response does nothing unless returned"]
pub struct Sse<S>(SseStream<S>);

impl<S> Sse<S> {
    /// `events` as an SSE response, with the default [`KeepAlive`].
    pub fn new(events: S) -> Self {
        Self(SseStream::new(events).keep_alive(KeepAlive::new()))
    }

    /// Replaces the keep-alive; a zero interval turns it off.
    pub fn keep_alive(self, keep_alive: KeepAlive) -> Self {
        Self(self.0.keep_alive(keep_alive))
    }

    /// Sends `retry:` first: how long the client waits before reconnecting.
    pub fn retry(self, retry: Duration) -> Self {
        Self(self.0.retry(retry))
    }

    /// Writes at most once per `window` while events come faster than
    /// that, sending what arrived meanwhile in one write; slower streams
    /// are not delayed. Off by default; see
    /// [`SseStream::coalesce`](sse_hub::stream::SseStream::coalesce).
    pub fn coalesce(self, window: Duration) -> Self {
        Self(self.0.coalesce(window))
    }
}

/// A stream set up in `sse-hub` (keep-alive, retry, preamble) as it is.
impl<S> From<SseStream<S>> for Sse<S> {
    fn from(stream: SseStream<S>) -> Self {
        Self(stream)
    }
}

impl<S> IntoResponse for Sse<S>
where
    S: Stream + Send + 'static,
    S::Item: IntoFrame,
    <S::Item as IntoFrame>::Error: Into<BoxError>,
{
    fn into_response(self) -> Response {
        let frames = IoErrors(Box::pin(self.0.probe_idle(PROBE_INTERVAL)));
        let mut response = Response::builder()
            .status(poem::http::StatusCode::OK)
            .body(Body::from_bytes_stream(frames));
        for (name, value) in hub::stream_headers() {
            if let Ok(value) = poem::http::HeaderValue::try_from(value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// The frames with their errors as the `std::io::Error`s poem's body asks
/// for.
struct IoErrors<S>(S);

impl<S, E> Stream for IoErrors<S>
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: Into<BoxError>,
{
    type Item = std::io::Result<bytes::Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::pin::Pin::new(&mut self.0)
            .poll_next(cx)
            .map(|item| item.map(|frame| frame.map_err(std::io::Error::other)))
    }
}

/// A [`hub::Response`] as a poem response; an event stream is sent
/// as [`Sse`] sends it.
#[derive(Debug)]
pub struct SseResponse(pub hub::Response);

impl From<hub::Response> for SseResponse {
    fn from(response: hub::Response) -> Self {
        Self(response)
    }
}

impl IntoResponse for SseResponse {
    fn into_response(self) -> Response {
        let hub::Response {
            status,
            headers,
            body,
        } = self.0;
        let bytes = match body {
            hub::Body::Stream(stream) => return Sse::from(stream).into_response(),
            hub::Body::Full(bytes) => bytes,
        };
        let head = hub::Response {
            status,
            headers,
            body: hub::Body::Full(Default::default()),
        };
        let (parts, ()) = head.into_http(|_| ()).into_parts();
        let mut response = Response::builder()
            .status(parts.status)
            .body(Body::from(bytes));
        *response.headers_mut() = parts.headers;
        response
    }
}
