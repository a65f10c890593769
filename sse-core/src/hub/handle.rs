//! The [`Hub`] handle: what application code calls.

use bytes::Bytes;
use serde_json::json;

use super::config::HubConfig;
use super::errors::OpenError;
use super::response::{Response, control_event, draining, refusal};
use crate::Event;
use crate::auth::{AuthError, AuthRequest, Authorizer, Grants, redact_query};
use crate::broker::{Publish, Published, Start};
use crate::encode;
use crate::engine::{Engine, PublishError};
use crate::stream::{KeepAlive, SseStream};

/// The hub's authorizer, shared by its clones.
#[derive(Clone)]
pub(super) struct SharedAuthorizer(std::sync::Arc<dyn Authorizer>);

impl std::fmt::Debug for SharedAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authorizer")
    }
}

/// The authorizer `config.jwt` describes, if any.
fn jwt_authorizer(config: &HubConfig) -> Result<Option<SharedAuthorizer>, OpenError> {
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

/// What an application embeds: publish, subscribe, history, presence,
/// shutdown, metrics and the connection limit, in memory or on Redis
/// with the same calls (see [`Hub::open`]); also the ready-made routes
/// the adapters mount. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Hub {
    pub(super) engine: Engine,
    pub(super) config: std::sync::Arc<HubConfig>,
    /// The `retry:` frame every stream starts with, encoded once from
    /// `config.retry`.
    pub(super) retry_frame: Bytes,
    /// `config.heartbeat` as every stream shares it (a pointer each).
    pub(super) keep_alive: KeepAlive,
    pub(super) authorizer: Option<SharedAuthorizer>,
}

impl Hub {
    /// The hub `config` describes, every field of it honoured: in memory,
    /// or on Redis when `config.redis` is set (then inside a Tokio
    /// runtime, which the Redis tail runs in). Either way the calls are
    /// the same.
    ///
    /// ```
    /// use futures::FutureExt;
    /// use sse_hub::hub::{Hub, HubConfig, RedisConfig};
    ///
    /// let in_memory = Hub::open(HubConfig::default())?;
    /// assert_eq!(in_memory.subscribe(["news"], None).now_or_never().map(|r| r.status), Some(200));
    /// // Outside a Tokio runtime, Redis mode says what is missing.
    /// let on_redis = HubConfig {
    ///     redis: Some(RedisConfig::new("redis://127.0.0.1:6379/")),
    ///     ..HubConfig::default()
    /// };
    /// let refused = Hub::open(on_redis).unwrap_err();
    /// # #[cfg(feature = "redis")]
    /// assert!(refused.to_string().contains("Tokio runtime"), "{refused}");
    /// # Ok::<(), sse_hub::hub::OpenError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A malformed Redis URL, no runtime, or a build without the `redis`
    /// feature; an unreachable Redis is not an error, the hub reconnects
    /// (see [`Hub::ready_within`]). A JWT key that cannot verify tokens,
    /// or `config.jwt` in a build without the `jwt` feature.
    pub fn open(config: HubConfig) -> Result<Self, OpenError> {
        let authorizer = jwt_authorizer(&config)?;
        let engine = Engine::open(config.redis.as_ref(), config.broker.clone())?;
        Ok(Self::on(engine, config, authorizer))
    }

    /// [`Hub::open`], then, on Redis, a wait of at most `within` for the
    /// first connection, so that a server announces itself with its
    /// topics reachable. Redis still unreachable after `within` is not an
    /// error: the hub serves, answers publishes `503` and keeps trying
    /// (see [`Hub::is_ready`]). A refusal is: a wrong password, an ACL or
    /// a certificate that Redis or this instance does not accept, a
    /// Sentinel master name that no sentinel knows; no wait would cure it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sse_hub::hub::{Hub, HubConfig};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// let hub = Hub::connect(HubConfig::default(), Duration::from_secs(5)).await?;
    /// assert!(hub.is_ready());
    /// # Ok::<(), sse_hub::hub::OpenError>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Those of [`Hub::open`], and Redis's refusal.
    pub async fn connect(
        config: HubConfig,
        within: std::time::Duration,
    ) -> Result<Self, OpenError> {
        let hub = Self::open(config)?;
        hub.engine.connected_within(within).await?;
        Ok(hub)
    }

    /// The hub of `config` on `engine`, which `config` describes.
    pub(super) fn on(
        engine: Engine,
        config: HubConfig,
        authorizer: Option<SharedAuthorizer>,
    ) -> Self {
        Self {
            engine,
            retry_frame: encode::retry(config.retry),
            keep_alive: KeepAlive::new().interval(config.heartbeat),
            authorizer,
            config: std::sync::Arc::new(config),
        }
    }

    /// Publishes `event` to `topic` for every subscriber, kept in the
    /// topic's history, under the topic's next id.
    ///
    /// ```
    /// use sse_hub::{Event, hub::{HubConfig, Hub}};
    ///
    /// # futures::executor::block_on(async {
    /// let hub = Hub::open(HubConfig::default())?;
    /// let published = hub.publish("news", &Event::new("hello")).await?;
    /// assert_eq!(published.sent, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// The hub shut down, or Redis could not store the event.
    pub async fn publish(&self, topic: &str, event: &Event) -> Result<Published, PublishError> {
        self.engine.publish(Publish::new(topic, event)).await
    }

    /// This hub with `authorizer` deciding who may subscribe and publish
    /// through [`Routes::events`](super::Routes::events) and
    /// [`Routes::notify`](super::Routes::notify) (in place of any
    /// `config.jwt`); see [`auth`](crate::auth).
    #[must_use]
    pub fn with_authorizer(mut self, authorizer: impl Authorizer) -> Self {
        self.authorizer = Some(SharedAuthorizer(std::sync::Arc::new(authorizer)));
        self
    }

    /// The grants of `request`: all, when no authorizer is set; else the
    /// authorizer's, or why it refused (answered `401`, see
    /// [`unauthorized`]).
    pub(super) fn authorize(
        &self,
        route: &str,
        request: &AuthRequest<'_>,
    ) -> Result<Grants, AuthError> {
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

    /// Where this hub's idempotency keys live.
    pub(super) fn key_store(&self) -> super::idempotency::KeyStore<'_> {
        super::idempotency::KeyStore {
            engine: &self.engine,
            ttl: self.config.idempotency_ttl,
            wait: self.config.body_timeout,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// The event stream of `topics`, resumed after `last_event_id`, as the
    /// contract's response: `retry:`, the `connected` event (and `reset`
    /// when the id cannot be honoured), the replay, then live events with
    /// keep-alives; or `503` above `max_clients`. This is `GET /events`
    /// for a handler that picks the topics itself, for instance from the
    /// user its own authentication found:
    ///
    /// ```
    /// use sse_hub::hub::{HubConfig, Hub};
    ///
    /// let hub = Hub::open(HubConfig::default()).expect("a hub in memory");
    /// # let user_id = 42;
    /// # futures::executor::block_on(async {
    /// let response = hub.subscribe([format!("user-{user_id}")], None).await;
    /// assert_eq!(response.status, 200);
    /// # });
    /// ```
    ///
    /// Topic names are not checked against the query rules here: they
    /// come from the application, not the client. No topic at all is the
    /// caller's mistake, answered `400`.
    ///
    /// In multi-instance mode, a client may resume with an id another
    /// instance sent it a moment before this one mirrored it: the
    /// subscription then waits for the mirror, up to a second.
    pub async fn subscribe<I, S>(&self, topics: I, last_event_id: Option<&str>) -> Response
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.stream(topics, Start::after(last_event_id), true).await
    }

    /// As [`Hub::subscribe`], starting where `start` says: live, after a
    /// last event id, or with the newest retained events
    /// ([`Start::Rewind`], what `GET /events?rewind=N` does when no last
    /// event id is given):
    ///
    /// ```
    /// use sse_hub::{Event, Hub, HubConfig, broker::Start};
    ///
    /// let hub = Hub::open(HubConfig::default()).expect("a hub in memory");
    /// # futures::executor::block_on(async {
    /// hub.publish("news", &Event::new("earlier")).await?;
    /// // A page's first screen: the newest 20 events, then live.
    /// let response = hub.subscribe_from(["news"], Start::Rewind(20)).await;
    /// assert_eq!(response.status, 200);
    /// # Ok::<(), sse_hub::hub::PublishError>(())
    /// # }).unwrap();
    /// ```
    pub async fn subscribe_from<I, S>(&self, topics: I, start: Start<'_>) -> Response
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.stream(topics, start, true).await
    }

    /// As [`Hub::subscribe`], but the stream carries the topics' events
    /// (and keep-alive comments) only: no `retry:`, no `connected` and no
    /// `reset`, for an endpoint whose clients expect nothing else. A
    /// client resuming after an id the history no longer holds is then not
    /// told; it gets everything retained, as with `reset`.
    ///
    /// ```
    /// use futures::StreamExt;
    /// use sse_hub::{Event, Hub, HubConfig, hub::Body};
    ///
    /// let hub = Hub::open(HubConfig::default()).expect("a hub in memory");
    /// # futures::executor::block_on(async {
    /// let response = hub.subscribe_events_only(["news"], None).await;
    /// hub.publish("news", &Event::new("hello")).await?;
    /// let Body::Stream(mut stream) = response.body else { unreachable!() };
    /// let first = stream.next().await.expect("an event")?;
    /// // No `retry:`, no `connected`: the event comes first.
    /// assert!(first.starts_with(b"id: ") && first.ends_with(b"\ndata: hello\n\n"), "{first:?}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn subscribe_events_only<I, S>(
        &self,
        topics: I,
        last_event_id: Option<&str>,
    ) -> Response
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.stream(topics, Start::after(last_event_id), false)
            .await
    }

    async fn stream<I, S>(&self, topics: I, start: Start<'_>, preamble: bool) -> Response
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if self.is_draining() {
            return draining(self.config.retry);
        }
        // An empty last event id is none.
        let start = match start {
            Start::After("") => Start::Live,
            start => start,
        };
        let last_event_id = start.last_event_id();
        let topics: Vec<String> = topics.into_iter().map(|t| t.as_ref().to_owned()).collect();
        let subscription = match self.engine.subscribe(&topics, start).await {
            Ok(subscription) => subscription,
            Err(err) => return refusal(&err),
        };
        let mut stream = SseStream::new(subscription);
        if preamble {
            let subscription = stream.get_ref();
            let mut frames = self.retry_frame.to_vec();
            frames.extend_from_slice(&control_event(
                "connected",
                &json!({ "clientId": subscription.client_id() }),
            ));
            if subscription.is_reset() {
                frames.extend_from_slice(&control_event(
                    "reset",
                    &json!({ "lastEventId": last_event_id.unwrap_or_default() }),
                ));
            }
            stream = stream.preamble(frames.into());
        }
        if let Some(lifetime) = self.config.max_stream_lifetime {
            stream = stream.end_at(tokio::time::Instant::now() + jittered(lifetime));
        }
        Response::stream(
            stream
                .keep_alive(self.keep_alive.clone())
                .coalesce(self.config.coalesce),
        )
    }
}

/// `lifetime`, moved by a random amount within ±10%, so that streams
/// opened together do not all end together.
fn jittered(lifetime: std::time::Duration) -> std::time::Duration {
    lifetime.mul_f64(0.9 + 0.2 * fastrand::f64())
}
