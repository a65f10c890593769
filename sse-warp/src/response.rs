//! Event streams and the hub's responses as warp replies.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use futures_core::Stream;
use sse_hub::hub;
use sse_hub::stream::IntoFrame;
use warp::Reply;
use warp::reply::Response;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

sse_hub::sse_response_type! {
    /// Any stream of events as a warp SSE reply: items of `Event`,
    /// `Result<Event, E>` or encoded frames (`Bytes`), each written to the
    /// client as soon as the stream yields it, with the hub's headers
    /// and a keep-alive comment after 30 s of silence by default.
    ///
    /// ```
    /// use futures::stream::{self, Stream};
    /// use sse_warp::{Event, Sse};
    /// use tokio::sync::broadcast;
    /// use warp::Filter;
    ///
    /// // Your own feed: here a broadcast channel of texts.
    /// fn feed(texts: broadcast::Sender<String>) -> Sse<impl Stream<Item = Event>> {
    ///     let events = stream::unfold(texts.subscribe(), |mut feed| async move {
    ///         let text = feed.recv().await.ok()?;
    ///         Some((Event::new(text), feed))
    ///     });
    ///     Sse::new(events)
    /// }
    ///
    /// let (texts, _) = broadcast::channel::<String>(16);
    /// let route = warp::path("feed").map(move || feed(texts.clone()));
    /// ```
    ///
    /// A failed item ends the reply (warp aborts the body). Unlike
    /// `warp::reply::stream`, the stream need not be `Sync`.
    pub struct Sse;
}

impl<S> Reply for Sse<S>
where
    S: Stream + Send + 'static,
    S::Item: IntoFrame,
    <S::Item as IntoFrame>::Error: Into<BoxError> + Send + 'static,
{
    fn into_response(self) -> Response {
        let head = hub::Response {
            status: 200,
            headers: hub::stream_headers(),
            body: hub::Body::Full(Default::default()),
        };
        let body = warp::reply::stream(Exclusive(Mutex::new(Box::pin(self.0))))
            .into_response()
            .into_body();
        head.into_http(|_| body)
    }
}

/// A stream that is `Sync` because it is only ever used through `&mut`:
/// warp asks for `Sync` bodies, which most streams are not.
struct Exclusive<S>(Mutex<Pin<Box<S>>>);

impl<S: Stream> Stream for Exclusive<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        // `get_mut` takes no lock: `&mut` proves no one else holds it.
        match self.0.get_mut() {
            Ok(stream) => stream.as_mut().poll_next(cx),
            // Only a panic inside `poll_next` poisons it; the stream is done.
            Err(_) => Poll::Ready(None),
        }
    }
}

sse_hub::hub_response_type! {
    /// A [`hub::Response`] as a warp reply; an event stream is sent as
    /// [`Sse`] sends it.
    pub struct HubResponse;
}

impl Reply for HubResponse {
    fn into_response(self) -> Response {
        match self.0.body {
            hub::Body::Stream(stream) => Sse::from(stream).into_response(),
            hub::Body::Full(bytes) => {
                let head = hub::Response {
                    status: self.0.status,
                    headers: self.0.headers,
                    body: hub::Body::Full(Default::default()),
                };
                head.into_http(|_| Response::new(bytes.into()).into_body())
            }
        }
    }
}
