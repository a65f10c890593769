//! Configuring an [`EventSource`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use sse_hub::decode::{DEFAULT_MAX_EVENT_LEN, DEFAULT_MAX_LINE_LEN};

use crate::backoff::Backoff;
use crate::config::Config;
use crate::driver::Driver;
use crate::error::{Error, HeaderError};
use crate::source::EventSource;

/// The default idle-read timeout: two missed heartbeats of `sse-hub`'s
/// default (one every 30 s), four of a server that sends one every 15 s.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

impl EventSource {
    /// A builder for `GET url`, the usual event stream.
    ///
    /// ```
    /// let events = sse_hub_client::EventSource::get("http://localhost:3000/events").build();
    /// assert!(events.is_ok());
    /// ```
    pub fn get(url: impl AsRef<str>) -> EventSourceBuilder {
        Self::builder(Method::GET, url)
    }

    /// A builder for `POST url`, for APIs that stream their answer to a
    /// request body. It is not retried unless
    /// [`retry_unsafe`](EventSourceBuilder::retry_unsafe) says so.
    pub fn post(url: impl AsRef<str>) -> EventSourceBuilder {
        Self::builder(Method::POST, url)
    }

    /// A builder for any method.
    pub fn builder(method: Method, url: impl AsRef<str>) -> EventSourceBuilder {
        EventSourceBuilder::new(method, url.as_ref())
    }
}

/// Builds an [`EventSource`]: the request, how it reconnects, and its
/// bounds. Made by [`EventSource::get`], [`EventSource::post`] or
/// [`EventSource::builder`].
///
/// ```
/// use std::time::Duration;
/// use sse_hub_client::EventSource;
///
/// let events = EventSource::get("http://localhost:3000/events?topic=orders")
///     .header("x-tenant", "acme")
///     .last_event_id("1764700000000-0")
///     .idle_timeout(Some(Duration::from_secs(45)))
///     .max_retries(Some(20))
///     .build();
/// # assert!(events.is_ok());
/// ```
#[must_use = "a builder does nothing until `build`"]
pub struct EventSourceBuilder {
    config: Config,
    url: String,
    /// A header that could not be parsed, reported by `build`.
    invalid: Option<String>,
    client: Option<reqwest::Client>,
}

impl EventSourceBuilder {
    fn new(method: Method, url: &str) -> Self {
        Self {
            config: Config {
                method,
                headers: HeaderMap::new(),
                body: None,
                header_factory: None,
                last_event_id: String::new(),
                backoff: Backoff::default(),
                idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
                max_retries: None,
                retry_unsafe: false,
                lossy_utf8: false,
                max_line_len: DEFAULT_MAX_LINE_LEN,
                max_event_len: DEFAULT_MAX_EVENT_LEN,
            },
            url: url.to_owned(),
            invalid: None,
            client: None,
        }
    }

    /// Adds a header sent with every connect. An invalid name or value is
    /// reported by [`build`](Self::build).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(name), Ok(value)) => {
                self.config.headers.append(name, value);
            }
            _ => {
                self.invalid.get_or_insert_with(|| name.to_owned());
            }
        }
        self
    }

    /// Adds headers sent with every connect.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.config.headers.extend(headers);
        self
    }

    /// Calls `factory` before every connect, and sends the headers it
    /// gives besides the static ones (replacing any of the same name): a
    /// fresh token for each reconnect. If it fails, the stream ends with
    /// [`Error::Headers`].
    ///
    /// ```
    /// use reqwest::header::{AUTHORIZATION, HeaderMap};
    /// use sse_hub_client::{EventSource, HeaderError};
    ///
    /// async fn fresh_token() -> Result<String, HeaderError> {
    ///     Ok("eyJ…".to_owned()) // ask the identity provider
    /// }
    ///
    /// let events = EventSource::get("http://localhost:3000/events?topic=me")
    ///     .headers_with(|| async {
    ///         let mut headers = HeaderMap::new();
    ///         headers.insert(AUTHORIZATION, format!("Bearer {}", fresh_token().await?).parse()?);
    ///         Ok::<_, HeaderError>(headers)
    ///     })
    ///     .build();
    /// # assert!(events.is_ok());
    /// ```
    pub fn headers_with<F, Fut, E>(mut self, factory: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<HeaderMap, E>> + Send + 'static,
        E: Into<HeaderError>,
    {
        self.config.header_factory = Some(Arc::new(move || {
            let headers = factory();
            Box::pin(async move { headers.await.map_err(Into::into) })
        }));
        self
    }

    /// Sends `body` with every connect.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.config.body = Some(body.into());
        self
    }

    /// Sends `value` as a JSON body (`Content-Type: application/json`),
    /// for APIs that stream their answer to a request.
    ///
    /// ```
    /// use sse_hub_client::EventSource;
    ///
    /// let events = EventSource::post("http://localhost:8080/v1/chat")
    ///     .json(&serde_json::json!({"prompt": "Hello", "stream": true}))?
    ///     .build();
    /// # assert!(events.is_ok());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    pub fn json<T: serde::Serialize + ?Sized>(
        mut self,
        value: &T,
    ) -> Result<Self, serde_json::Error> {
        self.config.body = Some(Bytes::from(serde_json::to_vec(value)?));
        self.config.headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Ok(self)
    }

    /// Starts as if an event with this id had been received: the first
    /// connect sends it as `Last-Event-ID`.
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        self.config.last_event_id = id.into();
        self
    }

    /// The reconnect policy (see [`Backoff`]).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.config.backoff = backoff;
        self
    }

    /// How long a connection may stay silent, heartbeats included, before
    /// it is taken for dead and replaced: 60 s by default. It also bounds
    /// the wait for an answer's head. `None` waits forever.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// Ends the stream with [`Error::RetriesExhausted`] after this many
    /// failed connects in a row; `None` (the default) retries forever.
    pub fn max_retries(mut self, retries: Option<u32>) -> Self {
        self.config.max_retries = retries;
        self
    }

    /// Retries a request whose method is not idempotent (`POST`, `PATCH`)
    /// as a `GET` is retried. Without it, such a stream ends when its
    /// connection does: cleanly if the server ended it, with
    /// [`Error::NotRetried`] otherwise. Say yes only where sending the
    /// request twice does no harm.
    pub fn retry_unsafe(mut self, retry: bool) -> Self {
        self.config.retry_unsafe = retry;
        self
    }

    /// Decodes a stream that is not UTF-8 as browsers do, with U+FFFD for
    /// each invalid byte, instead of failing with [`Error::InvalidUtf8`].
    pub fn lossy_utf8(mut self, lossy: bool) -> Self {
        self.config.lossy_utf8 = lossy;
        self
    }

    /// The longest line accepted, in bytes: 1 MiB by default. A longer line
    /// and its event are discarded with an [`Error::Decode`] item.
    pub fn max_line_len(mut self, bytes: usize) -> Self {
        self.config.max_line_len = bytes;
        self
    }

    /// The largest event data accepted, in bytes: 4 MiB by default. A
    /// larger event is discarded with an [`Error::Decode`] item.
    pub fn max_event_len(mut self, bytes: usize) -> Self {
        self.config.max_event_len = bytes;
        self
    }

    /// Connects with this client: its TLS roots, proxies, HTTP/2 settings
    /// and connection pool. Its timeouts, if any, apply to the whole
    /// stream, so leave `timeout` unset on it.
    ///
    /// Without one, each `EventSource` makes its own with reqwest's
    /// defaults: proxies from the environment, the platform's root
    /// certificates, HTTP/2 by ALPN. Build yours from [`client_builder`],
    /// which installs ring as rustls's crypto provider when the process
    /// has none: a client built before any is installed panics.
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Checks the URL and headers, and makes the stream. Nothing is sent
    /// until it is first polled.
    pub fn build(self) -> Result<EventSource, Error> {
        let url = Url::parse(&self.url).map_err(|error| {
            Error::Invalid(format!("the URL {:?} is not valid: {error}", self.url))
        })?;
        if let Some(name) = &self.invalid {
            return Err(Error::Invalid(format!(
                "the header {name:?} has an invalid name or value"
            )));
        }
        let client = match &self.client {
            Some(client) => client.clone(),
            None => default_client()?,
        };
        Ok(EventSource::new(
            Driver::new(self.config, url, client).into_stream(),
        ))
    }
}

/// reqwest's client builder, ready for TLS: start a client of your own
/// here, for [`EventSourceBuilder::client`].
///
/// This crate builds reqwest with rustls and no crypto provider of its
/// own, as the rest of the toolkit uses ring: a `reqwest::Client` built
/// before any provider is installed in the process panics. This installs
/// ring's if there is none yet.
///
/// ```
/// use std::time::Duration;
///
/// let client = sse_hub_client::client_builder()
///     .connect_timeout(Duration::from_secs(5))
///     .build()
///     .expect("a client");
/// let events = sse_hub_client::EventSource::get("https://localhost:3000/events")
///     .client(client)
///     .build();
/// # assert!(events.is_ok());
/// ```
pub fn client_builder() -> reqwest::ClientBuilder {
    // An error says only that the process has a provider already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// reqwest's default client, on ring.
fn default_client() -> Result<reqwest::Client, Error> {
    client_builder().build().map_err(Error::Request)
}

impl std::fmt::Debug for EventSourceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Headers may hold credentials: their names only.
        f.debug_struct("EventSourceBuilder")
            .field("method", &self.config.method)
            // The query may carry a token.
            .field("url", &self.url.split('?').next().unwrap_or_default())
            .field("headers", &self.config.headers.keys().collect::<Vec<_>>())
            .field("last_event_id", &self.config.last_event_id)
            .field("backoff", &self.config.backoff)
            .field("idle_timeout", &self.config.idle_timeout)
            .field("max_retries", &self.config.max_retries)
            .field("retry_unsafe", &self.config.retry_unsafe)
            .finish_non_exhaustive()
    }
}
