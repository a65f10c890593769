//! Event streams and the hub's responses as actix-web responses.

use actix_web::body::BoxBody;
use actix_web::http::header::ContentEncoding;
use actix_web::http::{StatusCode, Version};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, Responder};
use futures_core::Stream;
use sse_hub::hub;
use sse_hub::stream::{IntoFrame, PROBE_INTERVAL, SseStream};

type BoxError = Box<dyn std::error::Error>;

sse_hub::sse_response_type! {
    /// Any stream of events as an actix-web SSE response: items of `Event`,
    /// `Result<Event, E>` or encoded frames (`Bytes`), each written to the
    /// client as soon as the stream yields it, with the hub's headers
    /// and a keep-alive comment after 30 s of silence by default.
    ///
    /// ```
    /// use actix_web::{App, get, web};
    /// use futures::stream::{self, Stream};
    /// use sse_actix::{Event, Sse};
    /// use tokio::sync::broadcast;
    ///
    /// // Your own feed: here a broadcast channel of texts.
    /// #[get("/feed")]
    /// async fn feed(texts: web::Data<broadcast::Sender<String>>) -> Sse<impl Stream<Item = Event>> {
    ///     let events = stream::unfold(texts.subscribe(), |mut feed| async move {
    ///         let text = feed.recv().await.ok()?;
    ///         Some((Event::new(text), feed))
    ///     });
    ///     Sse::new(events)
    /// }
    ///
    /// let (texts, _) = broadcast::channel::<String>(16);
    /// let app = App::new().app_data(web::Data::new(texts)).service(feed);
    /// ```
    ///
    /// A failed item ends the response (actix-web closes the connection).
    pub struct Sse;
}

impl<S> Responder for Sse<S>
where
    S: Stream + 'static,
    S::Item: IntoFrame,
    <S::Item as IntoFrame>::Error: Into<BoxError> + 'static,
{
    type Body = BoxBody;

    fn respond_to(self, request: &HttpRequest) -> HttpResponse {
        let stream = probe_over_http2(request, self.0);
        streaming(HttpResponse::Ok(), hub::stream_headers(), stream)
    }
}

/// Over HTTP/2, `stream` with [`SseStream::probe_idle`]: actix-http's
/// HTTP/2 dispatcher waits for the body's next chunk without watching for
/// the client's `RST_STREAM`, so a stream the client reset (a closed tab)
/// is only dropped when a write to it fails. Over HTTP/1.1 a gone client
/// is noticed without (see the crate docs on `h1_allow_half_closed`).
fn probe_over_http2<S>(request: &HttpRequest, stream: SseStream<S>) -> SseStream<S> {
    if request.version() == Version::HTTP_2 {
        stream.probe_idle(PROBE_INTERVAL)
    } else {
        stream
    }
}

/// A streaming response that compression middleware leaves alone.
fn streaming<S, E>(
    mut response: HttpResponseBuilder,
    headers: Vec<(&'static str, String)>,
    stream: S,
) -> HttpResponse
where
    S: Stream<Item = Result<bytes::Bytes, E>> + 'static,
    E: Into<BoxError> + 'static,
{
    for header in headers {
        response.insert_header(header);
    }
    response
        // actix-web's `Compress` skips responses that already name an
        // encoding; compressing would hold events back.
        .insert_header(ContentEncoding::Identity)
        .streaming(stream)
}

sse_hub::hub_response_type! {
    /// A [`hub::Response`] as an actix-web response; an event stream is
    /// sent as [`Sse`] sends it.
    pub struct HubResponse;
}

impl Responder for HubResponse {
    type Body = BoxBody;

    fn respond_to(self, request: &HttpRequest) -> HttpResponse {
        let hub::Response {
            status,
            headers,
            body,
        } = self.0;
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match body {
            hub::Body::Stream(stream) => {
                let stream = probe_over_http2(request, stream);
                streaming(HttpResponse::build(status), headers, stream)
            }
            hub::Body::Full(bytes) => {
                let mut response = HttpResponse::build(status);
                for header in headers {
                    response.insert_header(header);
                }
                response.body(bytes)
            }
        }
    }
}
