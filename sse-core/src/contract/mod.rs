//! The example servers' HTTP contract (`CONTRACT.md`) without a framework.
//!
//! A [`Hub`] holds the broker and the configuration, and answers each route
//! from plain request parts with a plain [`Response`]. An adapter only
//! translates its framework's request into those parts and the `Response`
//! into its framework's response, so every framework behaves identically.
//!
//! ```
//! use sse_core::contract::{Body, Config, Hub, NotifyRequest};
//!
//! let hub = Hub::new(Config::default());
//! let request = NotifyRequest {
//!     query: Some("topic=news"),
//!     headers: &[("content-type", "application/json")],
//! };
//! # futures::executor::block_on(async {
//! let response = hub.notify(request, br#"{"title": "hello"}"#).await;
//! assert_eq!(response.status, 200);
//! let Body::Full(body) = response.body else { unreachable!() };
//! assert!(body.starts_with(br#"{"sent":0,"id":""#));
//! # });
//! ```
//!
//! With `config.redis` set and the `redis` feature, [`Hub::open`] builds
//! the hub on a [`RedisBroker`](crate::redis::RedisBroker) instead: the
//! same routes, shared by every instance on that Redis.

mod config;
pub mod cors;
mod headers;
mod query;

use bytes::Bytes;
use serde_json::json;

pub use config::{Config, DurationError, TlsFiles, parse_duration};
pub use headers::{Headers, NoHeaders};
pub(crate) use query::pairs as query_pairs;
pub use query::{MAX_NAME_LEN, MAX_TOPICS, QueryError};

use crate::Event;
use crate::auth::{AuthError, AuthRequest, Authorizer, Grants, redact_query};
use crate::broker::{Broker, BrokerError, ClientStream, Published};
use crate::connections::ConnectionLimit;
use crate::encode;
use crate::stream::{KeepAlive, SseStream};

/// The demo page served at `GET /`: one HTML file with its style and
/// script inline, no external assets. It subscribes with `EventSource`,
/// shows the connection state, `clientId`, reconnect attempts, last event
/// id and a live list of events, lets the visitor pick topics and publish
/// through `/notify`, and reaches those routes relative to its own address,
/// so it works under any mount prefix.
///
/// ```
/// use sse_core::contract::INDEX_HTML;
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
    /// A `200` event stream with the contract's headers.
    pub fn stream(stream: EventStream) -> Self {
        Response {
            status: 200,
            headers: stream_headers(),
            body: Body::Stream(stream),
        }
    }
}

/// The body of the contract's event streams: a broker subscription with
/// its keep-alives and preamble.
pub type EventStream = SseStream<ClientStream>;

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

/// The parts of `POST /notify` the contract reads: the query, and the
/// headers `Content-Type`, `Content-Length` (a body it says is too large
/// is refused before a byte of it is read), `Authorization` and those an
/// [`Authorizer`] reads.
#[derive(Clone, Copy)]
pub struct NotifyRequest<'a> {
    /// The query string, without `?`.
    pub query: Option<&'a str>,
    /// The request's headers.
    pub headers: &'a dyn Headers,
}

/// The parts of `GET /events` the contract reads: the query, and the
/// headers `Last-Event-ID` and those an [`Authorizer`] reads.
#[derive(Clone, Copy)]
pub struct EventsRequest<'a> {
    /// The query string, without `?`.
    pub query: Option<&'a str>,
    /// The request's headers.
    pub headers: &'a dyn Headers,
}

macro_rules! request_without_secrets {
    ($request:ident) => {
        impl Default for $request<'_> {
            /// No query, no headers.
            fn default() -> Self {
                Self {
                    query: None,
                    headers: &NoHeaders,
                }
            }
        }

        /// The query with any token redacted, and no header values.
        impl std::fmt::Debug for $request<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($request))
                    .field("query", &self.query.map(redact_query))
                    .finish_non_exhaustive()
            }
        }

        impl<'a> $request<'a> {
            /// The request as an [`Authorizer`] reads it.
            pub fn auth(&self) -> AuthRequest<'a> {
                AuthRequest::new(self.query, self.headers)
            }
        }
    };
}

request_without_secrets!(NotifyRequest);
request_without_secrets!(EventsRequest);

/// How long a resume waits for this instance's mirror to catch up with
/// an id another instance already sent (multi-instance mode).
#[cfg(feature = "redis")]
const RESUME_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Why [`Hub::open`] could not build a hub.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The Redis broker could not start.
    #[cfg(feature = "redis")]
    #[error(transparent)]
    Redis(#[from] crate::redis::RedisError),
    /// `config.redis` is set but this build has no Redis support.
    #[error("multi-instance mode (--redis) needs sse-core's `redis` feature")]
    RedisNotBuilt,
    /// `config.jwt`'s key cannot verify tokens.
    #[cfg(feature = "jwt")]
    #[error(transparent)]
    Jwt(#[from] crate::auth::JwtKeyError),
    /// `config.jwt` is set but this build cannot verify JWTs.
    #[error("JWT authorization (--jwt-secret, --jwt-public-key) needs sse-core's `jwt` feature")]
    JwtNotBuilt,
}

/// The hub's authorizer, shared by its clones.
#[derive(Clone)]
struct SharedAuthorizer(std::sync::Arc<dyn Authorizer>);

impl std::fmt::Debug for SharedAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authorizer")
    }
}

/// The authorizer `config.jwt` describes, if any.
fn jwt_authorizer(config: &Config) -> Result<Option<SharedAuthorizer>, OpenError> {
    let Some(jwt) = &config.jwt else {
        return Ok(None);
    };
    #[cfg(feature = "jwt")]
    {
        let authorizer = crate::auth::JwtAuthorizer::new(jwt)?;
        Ok(Some(SharedAuthorizer(std::sync::Arc::new(authorizer))))
    }
    #[cfg(not(feature = "jwt"))]
    {
        let _ = jwt;
        Err(OpenError::JwtNotBuilt)
    }
}

/// Why [`Hub::publish`] did not publish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The in-memory broker refused.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// Redis could not store the event.
    #[cfg(feature = "redis")]
    #[error(transparent)]
    Redis(#[from] crate::redis::RedisError),
}

/// The contract's routes over one broker; cheap to clone.
#[derive(Debug, Clone)]
pub struct Hub {
    broker: Broker,
    /// Multi-instance mode: publishes go through Redis, and `broker` is
    /// this instance's mirror.
    #[cfg(feature = "redis")]
    redis: Option<crate::redis::RedisBroker>,
    connections: ConnectionLimit,
    config: std::sync::Arc<Config>,
    /// The `retry:` frame every stream starts with, encoded once.
    retry_frame: Bytes,
    /// Shared by every stream.
    keep_alive: KeepAlive,
    coalesce: std::time::Duration,
    authorizer: Option<SharedAuthorizer>,
}

impl Hub {
    /// A hub with an in-memory broker built from `config.broker`;
    /// `config.redis` is not read (see [`Hub::open`]).
    pub fn new(config: Config) -> Self {
        let broker = Broker::new(config.broker.clone());
        Self::with_broker(config, broker)
    }

    /// The hub `config` describes: on Redis when `config.redis` is set
    /// (inside a Tokio runtime, which the Redis tail runs in), else in
    /// memory as [`Hub::new`].
    ///
    /// ```
    /// use futures::FutureExt;
    /// use sse_core::contract::{Config, Hub};
    ///
    /// let in_memory = Hub::open(Config::default())?;
    /// assert_eq!(in_memory.subscribe(["news"], None).now_or_never().map(|r| r.status), Some(200));
    /// // Outside a Tokio runtime, Redis mode says what is missing.
    /// let on_redis = Config { redis: Some("redis://127.0.0.1:6379/".into()), ..Config::default() };
    /// let refused = Hub::open(on_redis).unwrap_err();
    /// # #[cfg(feature = "redis")]
    /// assert!(refused.to_string().contains("Tokio runtime"), "{refused}");
    /// # Ok::<(), sse_core::contract::OpenError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A malformed Redis URL, no runtime, or a build without the `redis`
    /// feature; an unreachable Redis is not an error, the hub reconnects.
    /// A JWT key that cannot verify tokens, or `config.jwt` in a build
    /// without the `jwt` feature.
    pub fn open(config: Config) -> Result<Self, OpenError> {
        jwt_authorizer(&config)?;
        let Some(url) = config.redis.clone() else {
            return Ok(Self::new(config));
        };
        #[cfg(feature = "redis")]
        {
            let redis = crate::redis::RedisBroker::connect(&url, config.broker.clone())?;
            Ok(Self::with_redis(config, redis))
        }
        #[cfg(not(feature = "redis"))]
        {
            let _ = url;
            Err(OpenError::RedisNotBuilt)
        }
    }

    /// A hub whose topics live in Redis, shared with every instance on it.
    #[cfg(feature = "redis")]
    pub fn with_redis(config: Config, redis: crate::redis::RedisBroker) -> Self {
        let mut hub = Self::with_broker(config, redis.broker().clone());
        hub.redis = Some(redis);
        hub
    }

    /// The Redis broker, in multi-instance mode.
    #[cfg(feature = "redis")]
    pub fn redis(&self) -> Option<&crate::redis::RedisBroker> {
        self.redis.as_ref()
    }

    /// Publishes `event` to `topic` from application code, in memory or
    /// through Redis, whichever the hub runs on.
    ///
    /// ```
    /// use sse_core::{Event, contract::{Config, Hub}};
    ///
    /// # futures::executor::block_on(async {
    /// let hub = Hub::new(Config::default());
    /// let published = hub.publish("news", &Event::new("hello")).await?;
    /// assert_eq!(published.sent, 0);
    /// # Ok::<(), sse_core::contract::PublishError>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// The broker shut down, or Redis could not store the event.
    pub async fn publish(&self, topic: &str, event: &Event) -> Result<Published, PublishError> {
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            return Ok(redis.publish(topic, event).await?);
        }
        Ok(self.broker.publish(topic, event)?)
    }

    /// A hub over an existing broker, for instance one the application
    /// also publishes to. The broker keeps its settings, and the hub's
    /// `config.broker` becomes a copy of them, so the two cannot disagree.
    ///
    /// A `config.jwt` whose key cannot verify tokens (which [`Hub::open`]
    /// reports) makes this hub refuse every `/events` and `/notify`
    /// request with `401`: it fails closed.
    pub fn with_broker(mut config: Config, broker: Broker) -> Self {
        config.broker = broker.config().clone();
        let authorizer = jwt_authorizer(&config).unwrap_or_else(|err| {
            let reason = format!("this server cannot verify tokens: {err}");
            tracing::error!(%reason, "every /events and /notify request will be refused");
            let refuse = move |_: &AuthRequest<'_>| Err(AuthError::Refused(reason.clone()));
            Some(SharedAuthorizer(std::sync::Arc::new(refuse)))
        });
        Self {
            authorizer,
            connections: broker.connection_limit(config.connection_cap()),
            broker,
            #[cfg(feature = "redis")]
            redis: None,
            retry_frame: encode::retry(config.retry),
            keep_alive: KeepAlive::new().interval(config.heartbeat),
            coalesce: config.coalesce,
            config: std::sync::Arc::new(config),
        }
    }

    /// This hub with `authorizer` deciding who may subscribe and publish
    /// through [`Hub::events`] and [`Hub::notify`] (in place of any
    /// `config.jwt`); see [`auth`](crate::auth).
    #[must_use]
    pub fn with_authorizer(mut self, authorizer: impl Authorizer) -> Self {
        self.authorizer = Some(SharedAuthorizer(std::sync::Arc::new(authorizer)));
        self
    }

    /// The grants of `request`: all, when no authorizer is set; else the
    /// authorizer's, or why it refused (answered `401`, see
    /// [`unauthorized`]).
    fn authorize(&self, route: &str, request: &AuthRequest<'_>) -> Result<Grants, AuthError> {
        let Some(SharedAuthorizer(authorizer)) = &self.authorizer else {
            return Ok(Grants::all());
        };
        authorizer.authorize(request).inspect_err(|err| {
            tracing::debug!(
                route,
                query = ?request.query().map(redact_query),
                reason = %err,
                "401: not authenticated"
            );
        })
    }

    /// The broker, to publish from application code or to shut down.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// The cap on open connections (`--max-connections`), counted in the
    /// broker's metrics: a server takes a permit for every connection it
    /// accepts and closes the connection at once when none is left.
    pub fn connections(&self) -> &ConnectionLimit {
        &self.connections
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The largest publish body accepted; adapters stop reading one byte
    /// after it.
    pub fn max_body(&self) -> usize {
        self.config.max_body
    }

    /// `GET /events`: subscribe, replay, then stream live events. With an
    /// authorizer, a request it refuses answers `401`, one for a topic its
    /// grants do not cover `403`, and the stream ends when they expire.
    pub async fn events(&self, request: EventsRequest<'_>) -> Response {
        let grants = match self.authorize("/events", &request.auth()) {
            Ok(grants) => grants,
            Err(err) => return unauthorized(&err),
        };
        let query = match query::events_query(request.query.unwrap_or("")) {
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
        let response = self
            .subscribe(&query.topics, last_event_id.as_deref())
            .await;
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

    /// The event stream of `topics`, resumed after `last_event_id`, as the
    /// contract's response: `retry:`, the `connected` event (and `reset`
    /// when the id cannot be honoured), the replay, then live events with
    /// keep-alives; or `503` above `max_clients`. This is `GET /events`
    /// for a handler that picks the topics itself, for instance from the
    /// user its own authentication found:
    ///
    /// ```
    /// use sse_core::contract::{Config, Hub};
    ///
    /// let hub = Hub::new(Config::default());
    /// # let user_id = 42;
    /// # futures::executor::block_on(async {
    /// let response = hub.subscribe([format!("user-{user_id}")], None).await;
    /// assert_eq!(response.status, 200);
    /// # });
    /// ```
    ///
    /// Topic names are not checked against the query rules here: they
    /// come from the application, not the client.
    ///
    /// In multi-instance mode, a client may resume with an id another
    /// instance sent it a moment before this one mirrored it: the
    /// subscription then waits for the mirror, up to a second.
    pub async fn subscribe<I, S>(&self, topics: I, last_event_id: Option<&str>) -> Response
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let last_event_id = last_event_id.filter(|id| !id.is_empty());
        #[cfg(feature = "redis")]
        if let (Some(redis), Some(id)) = (&self.redis, last_event_id) {
            redis.caught_up(id, RESUME_WAIT).await;
        }
        let subscription = match self.broker.subscribe(topics, last_event_id) {
            Ok(subscription) => subscription,
            Err(err) => return unavailable(&err),
        };
        let mut preamble = self.retry_frame.to_vec();
        preamble.extend_from_slice(&control_event(
            "connected",
            &json!({ "clientId": subscription.client_id() }),
        ));
        if subscription.is_reset() {
            preamble.extend_from_slice(&control_event(
                "reset",
                &json!({ "lastEventId": last_event_id.unwrap_or_default() }),
            ));
        }
        Response::stream(
            SseStream::new(subscription)
                .keep_alive(self.keep_alive.clone())
                .coalesce(self.coalesce)
                .preamble(preamble.into()),
        )
    }

    /// `POST /notify` from its head and its body's chunks: the head is
    /// checked first ([`Hub::notify_refusal`]), so a refused publish reads
    /// none of its body; then the body is read within the request timeout
    /// ([`Hub::read_notify_body`]) and published ([`Hub::notify`]).
    pub async fn notify_from<S, B, E>(&self, request: NotifyRequest<'_>, chunks: S) -> Response
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
    /// the contract's order: `401` without the publish token or refused by
    /// the authorizer, `403` for a topic it does not grant, `415` for a
    /// body that is not JSON, `413` when `Content-Length` exceeds
    /// `--max-body`.
    ///
    /// ```
    /// use sse_core::contract::{Config, Hub, NotifyRequest};
    ///
    /// let hub = Hub::new(Config::default());
    /// let head = NotifyRequest {
    ///     query: Some("topic=news"),
    ///     headers: &[("content-type", "application/json"), ("content-length", "99999999999")],
    /// };
    /// assert_eq!(hub.notify_refusal(&head).map(|refusal| refusal.status), Some(413));
    /// ```
    pub fn notify_refusal(&self, request: &NotifyRequest<'_>) -> Option<Response> {
        let headers = request.headers;
        if let Some(token) = &self.config.publish_token
            && !bearer_matches(headers.value("authorization"), token)
        {
            let mut response = error(401, "publishing needs Authorization: Bearer <token>");
            response.headers.push(("www-authenticate", "Bearer".into()));
            return Some(response);
        }
        let grants = match self.authorize("/notify", &request.auth()) {
            Ok(grants) => grants,
            Err(err) => return Some(unauthorized(&err)),
        };
        // A bad topic is answered 400 after the body's checks, as the
        // contract orders them.
        if let Ok(query) = query::notify_query(request.query.unwrap_or(""))
            && !grants.may_publish(&query.topic)
        {
            let topic = query.topic;
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

    /// Reads a publish body from its chunks, at most [`Hub::max_body`]` + 1`
    /// bytes (see [`read_body`]), within `--request-timeout`: a body that
    /// has not arrived whole by then is answered `408`, one that broke
    /// off `400`.
    pub async fn read_notify_body<S, B, E>(&self, chunks: S) -> Result<Vec<u8>, Response>
    where
        S: futures_core::Stream<Item = Result<B, E>>,
        B: bytes::Buf,
        E: std::fmt::Display,
    {
        let within = self.config.request_timeout;
        match tokio::time::timeout(within, read_body(chunks, self.max_body())).await {
            Ok(Ok(body)) => Ok(body),
            Ok(Err(err)) => Err(self.unreadable_body(&err)),
            Err(_) => Err(self.request_timed_out()),
        }
    }

    /// How long a request's head and body may take to arrive
    /// (`--request-timeout`); event streams are not bound by it.
    pub fn request_timeout(&self) -> std::time::Duration {
        self.config.request_timeout
    }

    /// The answer to a request whose body did not arrive whole within
    /// [`Hub::request_timeout`]: `408`.
    pub fn request_timed_out(&self) -> Response {
        let within = humantime::format_duration(self.config.request_timeout);
        error(408, &format!("the body did not arrive within {within}"))
    }

    fn too_large(&self) -> Response {
        let limit = self.config.max_body;
        error(413, &format!("the body is larger than {limit} bytes"))
    }

    /// `POST /notify` with its body read: publish the JSON body as one
    /// event. Every check of [`Hub::notify_refusal`] is made again, on the
    /// body's real length.
    pub async fn notify(&self, request: NotifyRequest<'_>, body: &[u8]) -> Response {
        if let Some(refused) = self.notify_refusal(&request) {
            return refused;
        }
        self.notify_unchecked(request, body).await
    }

    /// `POST /notify` once [`Hub::notify_refusal`] let its head through.
    async fn notify_unchecked(&self, request: NotifyRequest<'_>, body: &[u8]) -> Response {
        if body.len() > self.config.max_body {
            return self.too_large();
        }
        let query = match query::notify_query(request.query.unwrap_or("")) {
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
        match self.publish(&query.topic, &event).await {
            Ok(published) => json_response(
                200,
                &json!({ "sent": published.sent, "id": self.broker.format_id(published.id) }),
            ),
            Err(err) => unavailable(&err),
        }
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
            body: Body::Full(self.broker.render_metrics().into()),
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

    /// `GET /`: the demo page.
    pub fn index(&self) -> Response {
        Response {
            status: 200,
            headers: vec![("content-type", "text/html; charset=utf-8".into())],
            body: Body::Full(Bytes::from_static(INDEX_HTML.as_bytes())),
        }
    }
}

/// The last event id a client sent: the `Last-Event-ID` header, else the
/// `lastEventId` query parameter (`EventSource` cannot set headers on its
/// first connect). An empty value counts as absent; a header that is not
/// UTF-8 is decoded lossily, so it resets rather than being ignored.
///
/// ```
/// use sse_core::contract::last_event_id;
///
/// assert_eq!(last_event_id(Some(b"7"), Some("lastEventId=5")).as_deref(), Some("7"));
/// assert_eq!(last_event_id(Some(b""), Some("lastEventId=5")).as_deref(), Some("5"));
/// assert_eq!(last_event_id(None, Some("topic=a")), None);
/// ```
pub fn last_event_id(header: Option<&[u8]>, query: Option<&str>) -> Option<String> {
    header_id(header).or_else(|| {
        query::pairs(query?)
            .filter_map(Result::ok)
            .filter(|(key, _)| key == "lastEventId")
            .map(|(_, value)| value)
            .last()
            .filter(|id| !id.is_empty())
    })
}

fn header_id(header: Option<&[u8]>) -> Option<String> {
    header
        .filter(|id| !id.is_empty())
        .map(|id| String::from_utf8_lossy(id).into_owned())
}

/// Reads a request body from its chunks, stopping one byte past
/// `max_body`: enough for [`Hub::notify`] to refuse it as too large without
/// ever holding more.
///
/// ```
/// use futures::{executor::block_on, stream};
/// use sse_core::contract::read_body;
///
/// let chunks = stream::iter([Ok::<_, std::io::Error>(&b"0123"[..]), Ok(b"4567")]);
/// assert_eq!(block_on(read_body(chunks, 5))?, b"012345");
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn read_body<S, B, E>(chunks: S, max_body: usize) -> Result<Vec<u8>, E>
where
    S: futures_core::Stream<Item = Result<B, E>>,
    B: bytes::Buf,
{
    let mut chunks = std::pin::pin!(chunks);
    let mut body = Vec::new();
    // What to read at most; saturating, as the limit comes from outside.
    let cap = max_body.saturating_add(1);
    while body.len() < cap {
        let next = std::future::poll_fn(|cx| chunks.as_mut().poll_next(cx)).await;
        let Some(chunk) = next else {
            break;
        };
        let mut chunk = chunk?;
        while chunk.has_remaining() && body.len() < cap {
            let piece = chunk.chunk();
            let take = piece.len().min(cap - body.len());
            body.extend_from_slice(&piece[..take]);
            chunk.advance(take);
        }
    }
    Ok(body)
}

/// A `Content-Length` value, when it is one.
fn parse_length(value: &[u8]) -> Option<u64> {
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

/// An event with no id, so it never moves the client's last event id.
fn control_event(name: &str, data: &serde_json::Value) -> Bytes {
    Event::builder()
        .event(name)
        .json_data(data)
        .build()
        .map(|event| event.encode())
        .unwrap_or_default()
}

fn json_response(status: u16, body: &serde_json::Value) -> Response {
    Response {
        status,
        headers: vec![("content-type", "application/json".into())],
        body: Body::Full(body.to_string().into()),
    }
}

fn error(status: u16, message: &str) -> Response {
    json_response(status, &json!({ "error": message }))
}

/// The `401` of a request an authorizer refused.
fn unauthorized(err: &AuthError) -> Response {
    let mut response = error(401, &err.to_string());
    response.headers.push(("www-authenticate", "Bearer".into()));
    response
}

fn unavailable(err: &dyn std::fmt::Display) -> Response {
    let mut response = error(503, &err.to_string());
    response.headers.push(("retry-after", "1".into()));
    response
}

/// `application/json`, in any case, with or without parameters.
fn is_json(content_type: Option<&[u8]>) -> bool {
    let Some(value) = content_type else {
        return false;
    };
    let media_type = value.split(|&b| b == b';').next().unwrap_or_default();
    media_type
        .trim_ascii()
        .eq_ignore_ascii_case(b"application/json")
}

/// `Bearer <token>` (the scheme in any case), compared in constant time so
/// that response timing does not reveal how much of a guess was right.
fn bearer_matches(authorization: Option<&[u8]>, token: &str) -> bool {
    let Some(value) = authorization else {
        return false;
    };
    let Some((scheme, given)) = value.split_at_checked(7) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case(b"Bearer ") {
        return false;
    }
    let given = given.trim_ascii();
    let expected = token.as_bytes();
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests;
