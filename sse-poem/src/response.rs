//! Event streams and the hub's responses as poem responses.

use futures_core::Stream;
use poem::{Body, IntoResponse, Response};
use sse_hub::hub;
use sse_hub::stream::IntoFrame;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

sse_hub::sse_response_type! {
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
    /// clients skip) every [`PROBE_INTERVAL`](sse_hub::stream::PROBE_INTERVAL):
    /// a gone client is dropped within a second rather than at the next
    /// keep-alive. [`serve`](crate::serve::serve) notices closed
    /// connections by itself and turns probes off; [`ProbeIdle`](crate::ProbeIdle)
    /// sets them for any endpoint. A failed item ends the response (poem
    /// aborts the body).
    pub struct Sse;
}

impl<S> IntoResponse for Sse<S>
where
    S: Stream + Send + 'static,
    S::Item: IntoFrame,
    <S::Item as IntoFrame>::Error: Into<BoxError>,
{
    fn into_response(self) -> Response {
        let frames = IoErrors(Box::pin(self.0.probe_idle(crate::probe::interval())));
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

sse_hub::hub_response_type! {
    /// A [`hub::Response`] as a poem response; an event stream is sent
    /// as [`Sse`] sends it.
    pub struct HubResponse;
}

impl IntoResponse for HubResponse {
    fn into_response(self) -> Response {
        let answer = self.0;
        let bytes = match answer.body {
            hub::Body::Stream(stream) => return Sse::from(stream).into_response(),
            hub::Body::Full(bytes) => bytes,
        };
        let head = hub::Response {
            body: hub::Body::Full(Default::default()),
            ..answer
        };
        let (parts, ()) = head.into_http(|_| ()).into_parts();
        let mut response = Response::builder()
            .status(parts.status)
            .body(Body::from(bytes));
        *response.headers_mut() = parts.headers;
        response
    }
}
