//! Event streams and the hub's responses as axum responses.

use std::time::Duration;

use axum::BoxError;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_core::Stream;
use sse_hub::hub;
use sse_hub::stream::{IntoFrame, KeepAlive, SseStream};

/// Any stream of events as an axum SSE response: items of `Event`,
/// `Result<Event, E>` or encoded frames (`Bytes`), each written to the
/// client as soon as the stream yields it, with the hub's headers
/// and a keep-alive comment after 30 s of silence by default.
///
/// ```
/// use axum::{Router, extract::State, routing::get};
/// use futures::stream::{self, Stream};
/// use sse_axum::{Event, Sse};
/// use tokio::sync::broadcast;
///
/// // Your own feed: here a broadcast channel of texts.
/// async fn feed(State(feed): State<broadcast::Sender<String>>) -> Sse<impl Stream<Item = Event>> {
///     let events = stream::unfold(feed.subscribe(), |mut feed| async move {
///         let text = feed.recv().await.ok()?;
///         Some((Event::new(text), feed))
///     });
///     Sse::new(events)
/// }
///
/// let (texts, _) = broadcast::channel::<String>(16);
/// let app: Router = Router::new().route("/feed", get(feed)).with_state(texts);
/// ```
///
/// A failed item ends the response (axum aborts the body).
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
        let response = hub::Response {
            status: 200,
            headers: hub::stream_headers(),
            body: hub::Body::Full(Default::default()),
        };
        let body = Body::from_stream(self.0);
        response.into_http(|_| body)
    }
}

/// A [`hub::Response`] as an axum response; an event stream is sent
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
        self.0.into_http(|body| match body {
            hub::Body::Full(bytes) => Body::from(bytes),
            hub::Body::Stream(stream) => Body::from_stream(stream),
        })
    }
}
