//! Event streams and the hub's responses as Rocket responses.

use std::io::Cursor;

use bytes::Bytes;

use futures_core::Stream;
use rocket::Request;
use rocket::futures::StreamExt;
use rocket::futures::future::ready;
use rocket::http::Status;
use rocket::response::stream::ReaderStream;
use rocket::response::{self, Responder, Response};
use sse_hub::hub;
use sse_hub::stream::IntoFrame;

sse_hub::sse_response_type! {
    /// Any stream of events as a Rocket SSE response: items of `Event`,
    /// `Result<Event, E>` or encoded frames (`Bytes`), each written to the
    /// client as soon as the stream yields it, with the hub's headers
    /// and a keep-alive comment after 30 s of silence by default.
    ///
    /// ```
    /// use futures::stream::{self, Stream};
    /// use rocket::{State, get, routes};
    /// use sse_rocket::{Event, Sse};
    /// use tokio::sync::broadcast;
    ///
    /// // Your own feed: here a broadcast channel of texts.
    /// #[get("/feed")]
    /// fn feed(texts: &State<broadcast::Sender<String>>) -> Sse<impl Stream<Item = Event> + Send + 'static> {
    ///     let events = stream::unfold(texts.subscribe(), |mut feed| async move {
    ///         let text = feed.recv().await.ok()?;
    ///         Some((Event::new(text), feed))
    ///     });
    ///     Sse::new(events)
    /// }
    ///
    /// let (texts, _) = broadcast::channel::<String>(16);
    /// let rocket = rocket::build().manage(texts).mount("/", routes![feed]);
    /// ```
    ///
    /// Rocket 0.5 only notices that a client went away when a write to it
    /// fails, so an idle stream also writes an empty line (which clients
    /// skip) every two seconds, or 500 ms over TLS ([`probe`](crate::probe)):
    /// a gone client is dropped within four seconds (a reset HTTP/2 stream
    /// within one) rather than at the next keep-alive.
    /// Rocket's streamed bodies cannot fail: a failed item ends the
    /// response cleanly.
    pub struct Sse;
}

impl<'r, S> Responder<'r, 'static> for Sse<S>
where
    S: Stream + Send + 'static,
    S::Item: IntoFrame,
    <S::Item as IntoFrame>::Error: Send,
{
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let frames = self
            .0
            .probe_idle(crate::ProbeIdle::of(request))
            .take_while(|frame| ready(frame.is_ok()))
            .filter_map(|frame| ready(frame.ok()))
            // Rocket hands each item to hyper as a chunk of its own, and
            // hyper writes each one on its own: what is ready together
            // goes as one item, so that one write carries it.
            .ready_chunks(READY_CHUNKS)
            .map(|frames| Cursor::new(joined(frames)));
        let mut response = Response::build();
        for (name, value) in hub::stream_headers() {
            response.raw_header(name, value);
        }
        response.streamed_body(ReaderStream::from(Box::pin(frames)));
        response.ok()
    }
}

sse_hub::hub_response_type! {
    /// A [`hub::Response`] as a Rocket response; an event stream is sent
    /// as [`Sse`] sends it.
    pub struct HubResponse;
}

impl<'r> Responder<'r, 'static> for HubResponse {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let answer = self.0;
        let bytes = match answer.body {
            hub::Body::Stream(stream) => return Sse::from(stream).respond_to(request),
            hub::Body::Full(bytes) => bytes,
        };
        let mut response = Response::build();
        response.status(Status::new(answer.status));
        for (name, value) in answer.headers {
            response.raw_header(name, value);
        }
        response.sized_body(bytes.len(), Cursor::new(bytes));
        response.ok()
    }
}

/// Most frames joined into one chunk for Rocket.
const READY_CHUNKS: usize = 64;

/// `frames` as one buffer; a single frame as it is.
fn joined(mut frames: Vec<Bytes>) -> Bytes {
    if frames.len() == 1 {
        return frames.pop().unwrap_or_default();
    }
    frames.concat().into()
}
