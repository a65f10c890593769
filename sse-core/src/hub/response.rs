//! The hub's answers in framework-free terms, and the demo page.

use bytes::Bytes;
use serde_json::json;

use crate::Event;
use crate::auth::AuthError;
use crate::broker::{BrokerError, ClientStream, Ended};
use crate::engine::{PublishError, ReadError};
use crate::stream::SseStream;

/// The demo page served at `GET /`: one HTML file with its style and
/// script inline, no external assets. It subscribes with `EventSource`,
/// shows the connection state, `clientId`, reconnect attempts, last event
/// id and a live list of events, lets the visitor pick topics and publish
/// through `/notify`, and reaches those routes relative to its own address,
/// so it works under any mount prefix.
///
/// ```
/// use sse_hub::hub::INDEX_HTML;
///
/// assert!(INDEX_HTML.contains("new EventSource(base + \"events?\""));
/// assert!(!INDEX_HTML.contains("://"), "no external assets");
/// ```
pub const INDEX_HTML: &str = include_str!("index.html");

/// A response in framework-free terms.
#[derive(Debug)]
#[must_use = "a response does nothing unless it is sent"]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Header names (lower case) and values, all visible ASCII.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Body,
}

#[cfg(feature = "http")]
impl Response {
    /// Converts into an `http::Response` (the type axum, warp and poem
    /// build on), `body` turning the [`Body`] into the framework's body.
    pub fn into_http<B>(self, body: impl FnOnce(Body) -> B) -> http::Response<B> {
        let mut response = http::Response::new(body(self.body));
        *response.status_mut() = http::StatusCode::from_u16(self.status)
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        for (name, value) in self.headers {
            // The contract writes only valid names and ASCII values.
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::try_from(value),
            ) {
                response.headers_mut().append(name, value);
            }
        }
        response
    }
}

impl Response {
    /// A `200` event stream with the hub's headers.
    pub fn stream(stream: EventStream) -> Self {
        Response {
            status: 200,
            headers: stream_headers(),
            body: Body::Stream(stream),
        }
    }
}

/// The body of the hub's event streams: a broker subscription with
/// its keep-alives and preamble.
pub type EventStream = SseStream<ClientStream>;

/// Why a hub's event stream ended, as [`EventStream::end_reason`] tells
/// it: the client's response ends the same way whatever the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamEnd {
    /// The client fell more than `client_buffer` events behind and was
    /// cut off, `behind` events unread (at least).
    Lagged {
        /// How many events waited for it.
        behind: usize,
    },
    /// The hub shut down.
    Shutdown,
    /// The hub drained ([`Hub::drain`](super::Hub::drain)): the stream's
    /// last frame told its client when to reconnect.
    Drained,
    /// Its time was up: its authorization expired, or it reached
    /// [`HubConfig::max_stream_lifetime`](super::HubConfig::max_stream_lifetime).
    Expired,
}

impl EventStream {
    /// Why the stream ended, once it has.
    ///
    /// ```
    /// use futures::StreamExt;
    /// use sse_hub::{Hub, HubConfig, hub::{Body, StreamEnd}};
    ///
    /// # futures::executor::block_on(async {
    /// let hub = Hub::open(HubConfig::default())?;
    /// let Body::Stream(mut stream) = hub.subscribe_events_only(["news"], None).await.body else {
    ///     unreachable!()
    /// };
    /// hub.shutdown();
    /// while stream.next().await.is_some() {}
    /// assert_eq!(stream.end_reason(), Some(StreamEnd::Shutdown));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn end_reason(&self) -> Option<StreamEnd> {
        if self.deadline_reached() {
            return Some(StreamEnd::Expired);
        }
        self.get_ref().ended().map(|ended| match ended {
            Ended::Lagged { behind } => StreamEnd::Lagged { behind },
            Ended::Shutdown => StreamEnd::Shutdown,
            Ended::Drained => StreamEnd::Drained,
        })
    }
}

/// The headers of an event-stream response: `Content-Type:
/// text/event-stream`, `Cache-Control: no-cache`, `X-Accel-Buffering: no`
/// (nginx then passes each event on at once) and `Connection: keep-alive`.
pub fn stream_headers() -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "text/event-stream".into()),
        ("cache-control", "no-cache".into()),
        ("x-accel-buffering", "no".into()),
        ("connection", "keep-alive".into()),
    ]
}

/// A response body: complete, or an endless event stream.
#[derive(Debug)]
pub enum Body {
    /// The whole body.
    Full(Bytes),
    /// An event stream, to be sent chunk by chunk as it yields, unbuffered.
    Stream(EventStream),
}

/// An event with no id, so it never moves the client's last event id.
pub(super) fn control_event(name: &str, data: &serde_json::Value) -> Bytes {
    Event::builder()
        .event(name)
        .json_data(data)
        .build()
        .map(|event| event.encode())
        .unwrap_or_default()
}

pub(super) fn json_response(status: u16, body: &serde_json::Value) -> Response {
    Response {
        status,
        headers: vec![("content-type", "application/json".into())],
        body: Body::Full(body.to_string().into()),
    }
}

pub(super) fn error(status: u16, message: &str) -> Response {
    json_response(status, &json!({ "error": message }))
}

/// The `401` of a request an authorizer refused.
pub(super) fn unauthorized(err: &AuthError) -> Response {
    let mut response = error(401, &err.to_string());
    response.headers.push(("www-authenticate", "Bearer".into()));
    response
}

/// An engine's error, as [`refusal`] answers it.
pub(super) trait EngineError: std::fmt::Display {
    fn broker_error(&self) -> Option<&BrokerError>;
}

impl EngineError for PublishError {
    fn broker_error(&self) -> Option<&BrokerError> {
        PublishError::broker_error(self)
    }
}

impl EngineError for ReadError {
    fn broker_error(&self) -> Option<&BrokerError> {
        ReadError::broker_error(self)
    }
}

/// The answer to an engine's refusal: `400` for the caller's mistake (no
/// topic), `503` with `Retry-After` for what a retry may get past (shut
/// down, too many streams, Redis unreachable).
pub(super) fn refusal(err: &dyn EngineError) -> Response {
    match err.broker_error() {
        Some(BrokerError::NoTopics) => error(400, &err.to_string()),
        _ => unavailable(&err.to_string()),
    }
}

/// The `503` of a new stream on a draining instance: `Retry-After` is the
/// streams' `retry` in whole seconds (at least one), so that a client
/// retries no sooner than one whose stream ended.
pub(super) fn draining(retry: std::time::Duration) -> Response {
    let mut response = error(
        503,
        "this instance is draining and takes no new streams: connect to another",
    );
    let seconds = retry.as_secs_f64().ceil().max(1.0);
    response
        .headers
        .push(("retry-after", format!("{seconds:.0}")));
    response
}

pub(super) fn unavailable(err: &dyn std::fmt::Display) -> Response {
    let mut response = error(503, &err.to_string());
    response.headers.push(("retry-after", "1".into()));
    response
}
