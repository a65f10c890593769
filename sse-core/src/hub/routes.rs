//! The hub's routes, answered from plain request parts.

use bytes::Bytes;
use serde_json::json;

use super::body::{is_json, parse_length, read_body};
use super::handle::Hub;
use super::idempotency;
use super::response::{Body, INDEX_HTML, Response, error, json_response, refusal, unauthorized};
use crate::Event;
use crate::auth::{AuthRequest, bearer_matches, redact_query};
use crate::broker::Start;
use crate::request::{Headers, NoHeaders, events_query, header_id, notify_query};

/// The parts of a request the hub's routes read: the query, and the
/// headers (for `GET /events`, `Last-Event-ID`; for publishes,
/// `Content-Type`, `Content-Length` (a body it says is too large is
/// refused before a byte of it is read) and `Authorization`; for every
/// route, those an [`Authorizer`](crate::auth::Authorizer) reads). Its
/// `Debug` output redacts any token in the query, and shows no header
/// value.
#[derive(Clone, Copy)]
pub struct RequestParts<'a> {
    /// The query string, without `?`.
    pub query: Option<&'a str>,
    /// The request's headers.
    pub headers: &'a dyn Headers,
}

impl Default for RequestParts<'_> {
    /// No query, no headers.
    fn default() -> Self {
        Self {
            query: None,
            headers: &NoHeaders,
        }
    }
}

impl std::fmt::Debug for RequestParts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestParts")
            .field("query", &self.query.map(redact_query))
            .finish_non_exhaustive()
    }
}

impl<'a> RequestParts<'a> {
    /// The request as an [`Authorizer`](crate::auth::Authorizer) reads it.
    pub fn auth(&self) -> AuthRequest<'a> {
        AuthRequest::new(self.query, self.headers)
    }
}

/// The hub's ready-made routes, for adapters and for handlers that serve
/// one of them in their own way ([`Hub::routes`]): each method answers
/// one route (`events` is `GET /events`, `notify_batch` is `POST
/// /notify/batch`) from plain [`RequestParts`] with a plain [`Response`];
/// the rest is what adapters need to read a publish's body.
#[derive(Debug, Clone, Copy)]
pub struct Routes<'a> {
    pub(super) hub: &'a Hub,
}

impl std::ops::Deref for Routes<'_> {
    type Target = Hub;

    fn deref(&self) -> &Hub {
        self.hub
    }
}

impl Hub {
    /// The hub's routes (see [`Routes`]).
    ///
    /// ```
    /// use sse_hub::{Hub, HubConfig, hub::RequestParts};
    ///
    /// let hub = Hub::open(HubConfig::default())?;
    /// assert_eq!(hub.routes().healthz().status, 200);
    /// # futures::executor::block_on(async {
    /// let request = RequestParts { query: Some("topic=news"), ..RequestParts::default() };
    /// assert_eq!(hub.routes().events(request).await.status, 200);
    /// # });
    /// # Ok::<(), sse_hub::OpenError>(())
    /// ```
    pub fn routes(&self) -> Routes<'_> {
        Routes { hub: self }
    }
}

impl Routes<'_> {
    /// `GET /events`: subscribe, replay, then stream live events. With an
    /// authorizer, a request it refuses answers `401`, one for a topic its
    /// grants do not cover `403`, and the stream ends when they expire.
    pub async fn events(&self, request: RequestParts<'_>) -> Response {
        let grants = match self.authorize("/events", &request.auth()) {
            Ok(grants) => grants,
            Err(err) => return unauthorized(&err),
        };
        let query = match events_query(request.query.unwrap_or("")) {
            Ok(query) => query,
            Err(err) => return error(400, &err.to_string()),
        };
        if let Some(topic) = query.topics.iter().find(|t| !grants.may_subscribe(t)) {
            tracing::debug!(topic, "403: subscribing not granted");
            return error(
                403,
                &format!("subscribing to topic {topic:?} is not granted"),
            );
        }
        let last_event_id = header_id(request.headers.value("last-event-id"))
            .or_else(|| query.last_event_id.filter(|id| !id.is_empty()));
        // `rewind` applies only when the client has no last event id.
        let start = match (last_event_id.as_deref(), query.rewind) {
            (Some(id), _) => Start::After(id),
            (None, Some(count)) => Start::Rewind(count),
            (None, None) => Start::Live,
        };
        let response = self.subscribe_from(&query.topics, start).await;
        match (response, grants.remaining()) {
            (
                Response {
                    status,
                    headers,
                    body: Body::Stream(stream),
                },
                Some(remaining),
            ) => Response {
                status,
                headers,
                body: Body::Stream(stream.end_at(tokio::time::Instant::now() + remaining)),
            },
            (response, _) => response,
        }
    }

    /// `POST /notify` from its head and its body's chunks: the head is
    /// checked first ([`Routes::notify_refusal`]), so a refused publish reads
    /// none of its body; then the body is read within the request timeout
    /// ([`Routes::read_notify_body`]) and published ([`Routes::notify`]).
    pub async fn notify_from<S, B, E>(&self, request: RequestParts<'_>, chunks: S) -> Response
    where
        S: futures_core::Stream<Item = Result<B, E>>,
        B: bytes::Buf,
        E: std::fmt::Display,
    {
        if let Some(refused) = self.notify_refusal(&request) {
            return refused;
        }
        match self.read_notify_body(chunks).await {
            Ok(body) => self.notify_unchecked(request, &body).await,
            Err(refused) => refused,
        }
    }

    /// The refusal the head of a publish decides on its own, if any, in
    /// the hub's order: `401` without the publish token or refused by
    /// the authorizer, `403` for a topic it does not grant, `415` for a
    /// body that is not JSON, `413` when `Content-Length` exceeds
    /// [`HubConfig::max_body`](super::HubConfig::max_body).
    ///
    /// ```
    /// use sse_hub::hub::{HubConfig, Hub, RequestParts};
    ///
    /// let hub = Hub::open(HubConfig::default()).expect("a hub");
    /// let head = RequestParts {
    ///     query: Some("topic=news"),
    ///     headers: &[("content-type", "application/json"), ("content-length", "99999999999")],
    /// };
    /// assert_eq!(hub.routes().notify_refusal(&head).map(|refusal| refusal.status), Some(413));
    /// ```
    pub fn notify_refusal(&self, request: &RequestParts<'_>) -> Option<Response> {
        // A bad topic is answered 400 after the body's checks, as the
        // contract orders them.
        let topic = notify_query(request.query.unwrap_or(""))
            .ok()
            .map(|query| query.topic);
        self.publish_refusal(request, "/notify", topic.as_deref())
    }

    /// The refusal of a publish's head: [`Routes::notify_refusal`]'s checks,
    /// the publish grant checked for `topic` when the head names one.
    pub(super) fn publish_refusal(
        &self,
        request: &RequestParts<'_>,
        route: &str,
        topic: Option<&str>,
    ) -> Option<Response> {
        let headers = request.headers;
        if let Some(token) = &self.config.publish_token
            && !bearer_matches(headers.value("authorization"), token)
        {
            let mut response = error(401, "publishing needs Authorization: Bearer <token>");
            response.headers.push(("www-authenticate", "Bearer".into()));
            return Some(response);
        }
        let grants = match self.authorize(route, &request.auth()) {
            Ok(grants) => grants,
            Err(err) => return Some(unauthorized(&err)),
        };
        if let Some(topic) = topic
            && !grants.may_publish(topic)
        {
            tracing::debug!(topic, "403: publishing not granted");
            return Some(error(
                403,
                &format!("publishing on topic {topic:?} is not granted"),
            ));
        }
        if !is_json(headers.value("content-type")) {
            return Some(error(
                415,
                "the body must be JSON, sent as Content-Type: application/json",
            ));
        }
        if let Some(length) = headers.value("content-length").and_then(parse_length)
            && length > self.config.max_body as u64
        {
            return Some(self.too_large());
        }
        None
    }

    /// Reads a publish body from its chunks, at most [`Routes::max_body`]` + 1`
    /// bytes (see [`read_body`]), within [`HubConfig::body_timeout`]: a
    /// body that has not arrived whole by then is answered `408`, one that
    /// broke off `400`.
    ///
    /// [`HubConfig::body_timeout`]: super::HubConfig::body_timeout
    pub async fn read_notify_body<S, B, E>(&self, chunks: S) -> Result<Vec<u8>, Response>
    where
        S: futures_core::Stream<Item = Result<B, E>>,
        B: bytes::Buf,
        E: std::fmt::Display,
    {
        self.read_body_with(read_body(chunks, self.max_body()))
            .await
    }

    /// Reads a publish body with the framework's own reader (which must
    /// stop one byte past [`Routes::max_body`]), within
    /// [`HubConfig::body_timeout`], answering as [`Routes::read_notify_body`]
    /// does. For frameworks whose body is a reader rather than a stream of
    /// chunks.
    ///
    /// ```
    /// use sse_hub::{Hub, HubConfig};
    ///
    /// let hub = Hub::open(HubConfig::default()).expect("a hub");
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
    /// let broken = async { Err::<Vec<u8>, _>("connection reset") };
    /// assert_eq!(hub.routes().read_body_with(broken).await.unwrap_err().status, 400);
    /// let whole = async { Ok::<_, std::io::Error>(b"{}".to_vec()) };
    /// assert_eq!(hub.routes().read_body_with(whole).await.ok(), Some(b"{}".to_vec()));
    /// # });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// [`HubConfig::body_timeout`]: super::HubConfig::body_timeout
    pub async fn read_body_with<F, E>(&self, reading: F) -> Result<Vec<u8>, Response>
    where
        F: Future<Output = Result<Vec<u8>, E>>,
        E: std::fmt::Display,
    {
        let within = self.config.body_timeout;
        match tokio::time::timeout(within, reading).await {
            Ok(Ok(body)) => Ok(body),
            Ok(Err(err)) => Err(self.unreadable_body(&err)),
            Err(_) => Err(error(
                408,
                &format!("the body did not arrive within {within:?}"),
            )),
        }
    }

    pub(super) fn too_large(&self) -> Response {
        let limit = self.config.max_body;
        error(413, &format!("the body is larger than {limit} bytes"))
    }

    /// `POST /notify` with its body read: publish the JSON body as one
    /// event. Every check of [`Routes::notify_refusal`] is made again, on the
    /// body's real length.
    pub async fn notify(&self, request: RequestParts<'_>, body: &[u8]) -> Response {
        if let Some(refused) = self.notify_refusal(&request) {
            return refused;
        }
        self.notify_unchecked(request, body).await
    }

    /// `POST /notify` once [`Routes::notify_refusal`] let its head through.
    async fn notify_unchecked(&self, request: RequestParts<'_>, body: &[u8]) -> Response {
        if body.len() > self.config.max_body {
            return self.too_large();
        }
        let query = match notify_query(request.query.unwrap_or("")) {
            Ok(query) => query,
            Err(err) => return error(400, &err.to_string()),
        };
        let value: serde_json::Value = match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(err) => return error(400, &format!("the body is not valid JSON: {err}")),
        };
        let event = match Event::builder()
            .event(&query.event)
            .json_data(&value)
            .build()
        {
            Ok(event) => event,
            // The query checks make this unreachable; answer it all the same.
            Err(err) => return error(400, &err.to_string()),
        };
        let key = match idempotency::key_of(request.headers) {
            Ok(key) => key,
            Err(refused) => return refused,
        };
        let fingerprint = || {
            let history: &[u8] = if query.history { b"1" } else { b"0" };
            idempotency::fingerprint(&[
                b"/notify",
                query.topic.as_bytes(),
                query.event.as_bytes(),
                history,
                body,
            ])
        };
        let publish = async {
            let published = if query.history {
                self.publish(&query.topic, &event).await
            } else {
                self.publish_ephemeral(&query.topic, &event).await
            };
            match published {
                Ok(published) => {
                    json_response(200, &json!({ "sent": published.sent, "id": published.id }))
                }
                Err(err) => refusal(&err),
            }
        };
        self.key_store().idempotent(key, fingerprint, publish).await
    }

    /// The largest publish body accepted; adapters stop reading one byte
    /// after it.
    pub fn max_body(&self) -> usize {
        self.config.max_body
    }

    /// The answer when a publish body could not be read (the client went
    /// away or sent a broken body).
    pub fn unreadable_body(&self, err: &dyn std::fmt::Display) -> Response {
        error(400, &format!("the body could not be read: {err}"))
    }

    /// `GET /metrics`: the Prometheus text exposition.
    pub fn metrics(&self) -> Response {
        Response {
            status: 200,
            headers: vec![("content-type", crate::metrics::CONTENT_TYPE.into())],
            body: Body::Full(self.render_metrics().into()),
        }
    }

    /// `GET /healthz`: `200 ok`.
    pub fn healthz(&self) -> Response {
        Response {
            status: 200,
            headers: vec![("content-type", "text/plain; charset=utf-8".into())],
            body: Body::Full(Bytes::from_static(b"ok")),
        }
    }

    /// `GET /readyz`: `200 ok` while this instance takes new streams;
    /// `503` with a JSON error saying why not: it is draining or shut
    /// down, or Redis cannot be reached. Point a load balancer's health
    /// check or a readiness probe here, and a liveness probe at
    /// [`healthz`](Self::healthz).
    ///
    /// ```
    /// use sse_hub::{Hub, HubConfig};
    ///
    /// let hub = Hub::open(HubConfig::default())?;
    /// assert_eq!(hub.routes().readyz().status, 200);
    /// hub.shutdown();
    /// assert_eq!(hub.routes().readyz().status, 503);
    /// # Ok::<(), sse_hub::hub::OpenError>(())
    /// ```
    pub fn readyz(&self) -> Response {
        let why = if self.is_closed() {
            "this instance has shut down"
        } else if self.is_draining() {
            "this instance is draining"
        } else if !self.is_ready() {
            "Redis cannot be reached"
        } else {
            return self.healthz();
        };
        error(503, why)
    }

    /// `GET /`: the demo page.
    pub fn index(&self) -> Response {
        Response {
            status: 200,
            headers: vec![("content-type", "text/html; charset=utf-8".into())],
            body: Body::Full(Bytes::from_static(INDEX_HTML.as_bytes())),
        }
    }
}
