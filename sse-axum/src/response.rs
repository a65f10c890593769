//! Event streams and the hub's responses as axum responses.

use axum::BoxError;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_core::Stream;
use sse_hub::hub;
use sse_hub::stream::IntoFrame;

sse_hub::sse_response_type! {
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
    pub struct Sse;
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

sse_hub::hub_response_type! {
    /// A [`hub::Response`] as an axum response; an event stream is sent
    /// as [`Sse`] sends it.
    pub struct HubResponse;
}

impl IntoResponse for HubResponse {
    fn into_response(self) -> Response {
        self.0.into_http(|body| match body {
            hub::Body::Full(bytes) => Body::from(bytes),
            hub::Body::Stream(stream) => Body::from_stream(stream),
        })
    }
}
