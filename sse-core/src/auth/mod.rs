//! Who may subscribe to and publish on which topics.
//!
//! An [`Authorizer`] reads a request's parts ([`AuthRequest`]: its query
//! and headers) and answers with the request's [`Grants`] (topic
//! patterns to subscribe to and to publish on, and when they expire) or
//! an [`AuthError`]. A [`Hub`](crate::hub::Hub) given one answers
//! `401` to a refused request, `403` to a request for a topic its grants
//! do not cover, and ends a stream when its grants expire. With the
//! `jwt` feature, [`JwtAuthorizer`] reads JSON Web Tokens as Mercure
//! does; any closure from request parts to grants is an authorizer too:
//!
//! ```
//! use sse_hub::auth::{AuthError, AuthRequest, Grants};
//! use sse_hub::{Hub, HubConfig};
//!
//! // Sessions your application already knows, by cookie.
//! let hub = Hub::new(HubConfig::default()).with_authorizer(|request: &AuthRequest<'_>| {
//!     match request.cookie("session") {
//!         Some("s3cret-session-of-user-42") => Ok(Grants::new().subscribe("user-42")),
//!         Some(_) => Err(AuthError::Refused("unknown session".into())),
//!         None => Err(AuthError::Missing),
//!     }
//! });
//! # drop(hub);
//! ```
//!
//! The hub then answers for the authorizer:
//!
//! ```
//! use sse_hub::auth::{AuthError, AuthRequest, Grants};
//! use sse_hub::{Hub, HubConfig, hub::EventsRequest};
//!
//! let hub = Hub::new(HubConfig::default()).with_authorizer(|request: &AuthRequest<'_>| {
//!     // Your own check; here any bearer token grants `news` only.
//!     request.bearer().map(|_| Grants::new().subscribe("news")).ok_or(AuthError::Missing)
//! });
//! # futures::executor::block_on(async {
//! let headers = [("authorization", "Bearer t")];
//! let open = hub.events(EventsRequest { query: Some("topic=news"), headers: &headers }).await;
//! let closed = hub.events(EventsRequest { query: Some("topic=admin"), headers: &headers }).await;
//! let anonymous = hub.events(EventsRequest { query: Some("topic=news"), headers: &[("x", "y")] }).await;
//! assert_eq!((open.status, closed.status, anonymous.status), (200, 403, 401));
//! # });
//! ```
//!
//! **Tokens in the query string** (`?token=`, for `EventSource`, which
//! cannot set headers) end up in proxies' access logs and browser
//! history. Prefer the cookie: serve the page from the same site and set
//! the token as an `HttpOnly`, `Secure`, `SameSite` cookie. This crate
//! never logs a token, and [`redact_query`] hides one in a query you log
//! yourself.

mod bearer;
#[cfg(feature = "jwt")]
mod jwt;
mod pattern;

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

pub(crate) use bearer::bearer_matches;
#[cfg(feature = "jwt")]
pub use jwt::{JwtAuthorizer, JwtKeyError};
pub use pattern::TopicPattern;

use crate::request::Headers;

/// The cookie a token is read from by default.
pub const DEFAULT_COOKIE: &str = "sse_token";

/// The query parameter a token is read from, for `EventSource`, which
/// cannot set headers.
pub const QUERY_PARAMETER: &str = "token";

/// What a request may do: the topics it may subscribe to, those it may
/// publish on, and until when. The default grants nothing, forever.
///
/// ```
/// use sse_hub::auth::Grants;
///
/// let grants = Grants::new().subscribe("user-42").subscribe("chat/*").publish("chat/*");
/// assert!(grants.may_subscribe("chat/rust") && grants.may_subscribe("user-42"));
/// assert!(!grants.may_subscribe("user-43"));
/// assert!(grants.may_publish("chat/rust") && !grants.may_publish("user-42"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    subscribe: Vec<TopicPattern>,
    publish: Vec<TopicPattern>,
    expires_at: Option<SystemTime>,
}

impl Grants {
    /// Grants nothing; add patterns with [`subscribe`](Grants::subscribe)
    /// and [`publish`](Grants::publish).
    pub fn new() -> Self {
        Self::default()
    }

    /// Grants every topic, both ways.
    pub fn all() -> Self {
        Self::new()
            .subscribe(TopicPattern::any())
            .publish(TopicPattern::any())
    }

    /// Also grants subscribing to the topics `pattern` covers.
    #[must_use]
    pub fn subscribe(mut self, pattern: impl Into<TopicPattern>) -> Self {
        self.subscribe.push(pattern.into());
        self
    }

    /// Also grants publishing on the topics `pattern` covers.
    #[must_use]
    pub fn publish(mut self, pattern: impl Into<TopicPattern>) -> Self {
        self.publish.push(pattern.into());
        self
    }

    /// The grants end at `at`: a stream opened with them ends then.
    #[must_use]
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Whether subscribing to `topic` is granted.
    pub fn may_subscribe(&self, topic: &str) -> bool {
        self.subscribe.iter().any(|pattern| pattern.matches(topic))
    }

    /// Whether publishing on `topic` is granted.
    pub fn may_publish(&self, topic: &str) -> bool {
        self.publish.iter().any(|pattern| pattern.matches(topic))
    }

    /// When the grants end, if they do.
    pub fn expiry(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// How long from now until the grants end (zero once they have);
    /// `None` when they do not.
    pub fn remaining(&self) -> Option<Duration> {
        let at = self.expires_at?;
        Some(at.duration_since(SystemTime::now()).unwrap_or_default())
    }
}

/// Why a request was refused: each answers `401` with this message.
/// Messages never hold the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The request carried no token.
    #[error(
        "this server needs a token: send it as Authorization: Bearer <token>, in a cookie, \
         or as the query parameter `token`"
    )]
    Missing,
    /// The token is not a well-formed JWT, or its claims have the wrong
    /// shape.
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    /// The token's signature does not verify with the server's key, or it
    /// is signed with another algorithm.
    #[error("the token's signature does not verify with this server's key")]
    BadSignature,
    /// The token's `exp` has passed.
    #[error("the token has expired: fetch a fresh one")]
    Expired,
    /// The token's `nbf` has not come yet.
    #[error("the token is not valid yet (its nbf is in the future)")]
    NotYetValid,
    /// Refused by an application's own authorizer, with its reason.
    #[error("{0}")]
    Refused(String),
}

/// A request's parts an [`Authorizer`] reads: its query string and
/// headers. It never prints a token: its `Debug` shows the query
/// through [`redact_query`] and no header values.
///
/// ```
/// use sse_hub::auth::AuthRequest;
///
/// let headers = [("cookie", "theme=dark; sse_token=from-cookie")];
/// let request = AuthRequest::new(Some("topic=a&token=from-query"), &headers);
/// assert_eq!(request.cookie("sse_token"), Some("from-cookie"));
/// assert_eq!(request.token("sse_token").as_deref(), Some("from-cookie"));
/// assert_eq!(format!("{request:?}"), r#"AuthRequest { query: Some("topic=a&token=[redacted]") }"#);
/// ```
#[derive(Clone, Copy)]
pub struct AuthRequest<'a> {
    query: Option<&'a str>,
    headers: &'a dyn Headers,
}

impl std::fmt::Debug for AuthRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRequest")
            .field("query", &self.query.map(redact_query))
            .finish()
    }
}

impl<'a> AuthRequest<'a> {
    /// A request's query string (without `?`) and headers.
    pub fn new(query: Option<&'a str>, headers: &'a dyn Headers) -> Self {
        Self { query, headers }
    }

    /// The query string, without `?`.
    pub fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// The first value of the header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers.value(name)
    }

    /// The token of an `Authorization: Bearer <token>` header (the scheme
    /// in any case).
    pub fn bearer(&self) -> Option<&'a str> {
        let value = self.header("authorization")?;
        let (scheme, token) = value.split_at_checked(7)?;
        if !scheme.eq_ignore_ascii_case(b"Bearer ") {
            return None;
        }
        std::str::from_utf8(token)
            .ok()
            .map(str::trim)
            .filter(|token| !token.is_empty())
    }

    /// The value of the cookie `name`, from every `Cookie` header (HTTP/2
    /// may split them), quotes removed; the first one wins.
    pub fn cookie(&self, name: &str) -> Option<&'a str> {
        let mut found = None;
        self.headers.each_value("cookie", &mut |header| {
            if found.is_none() {
                found = std::str::from_utf8(header)
                    .ok()
                    .and_then(|header| cookie_value(header, name));
            }
        });
        found
    }

    /// The last value of the query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        crate::request::pairs(self.query?)
            .filter_map(Result::ok)
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value)
            .last()
    }

    /// The request's token: `Authorization: Bearer`, else the cookie
    /// `cookie`, else the query parameter [`token`](QUERY_PARAMETER).
    pub fn token(&self, cookie: &str) -> Option<Cow<'a, str>> {
        self.bearer()
            .or_else(|| self.cookie(cookie))
            .map(Cow::Borrowed)
            .or_else(|| {
                self.query_param(QUERY_PARAMETER)
                    .filter(|token| !token.is_empty())
                    .map(Cow::Owned)
            })
    }
}

/// The value of the cookie `name` in one `Cookie` header.
fn cookie_value<'h>(header: &'h str, name: &str) -> Option<&'h str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        if key.trim() != name {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        (!value.is_empty()).then_some(value)
    })
}

/// Decides what a request may do; see the [module docs](self).
///
/// A closure `Fn(&AuthRequest<'_>) -> Result<Grants, AuthError>` is one.
/// It is called once per `/events` and `/notify` request, on the
/// request's task, so it should not block: to look a session up in a
/// database, authorize in your own handler and open the stream with
/// [`Hub::subscribe`](crate::hub::Hub::subscribe).
pub trait Authorizer: Send + Sync + 'static {
    /// The request's grants, or why it is refused.
    ///
    /// # Errors
    ///
    /// The request is not authenticated; it is answered `401`.
    fn authorize(&self, request: &AuthRequest<'_>) -> Result<Grants, AuthError>;
}

impl<F> Authorizer for F
where
    F: Fn(&AuthRequest<'_>) -> Result<Grants, AuthError> + Send + Sync + 'static,
{
    fn authorize(&self, request: &AuthRequest<'_>) -> Result<Grants, AuthError> {
        self(request)
    }
}

/// The JWT settings of the example servers (`--jwt-secret` or
/// `--jwt-public-key`, `--jwt-cookie`, `--jwt-leeway`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// The key tokens are verified with.
    pub key: JwtKey,
    /// The cookie a token is read from when no `Authorization` is sent.
    pub cookie: String,
    /// Clock skew tolerated on `exp` and `nbf`, in whole seconds.
    pub leeway: Duration,
}

impl JwtConfig {
    /// HS256 tokens signed with `secret`, read from the default cookie,
    /// with a leeway of 5 s.
    pub fn secret(secret: impl Into<String>) -> Self {
        Self::with_key(JwtKey::Secret(secret.into()))
    }

    /// RS256 or ES256 tokens, verified with the public key `pem`, read
    /// from the default cookie, with a leeway of 5 s.
    pub fn public_key_pem(pem: impl Into<String>) -> Self {
        Self::with_key(JwtKey::PublicKeyPem(pem.into()))
    }

    fn with_key(key: JwtKey) -> Self {
        Self {
            key,
            cookie: DEFAULT_COOKIE.into(),
            leeway: Duration::from_secs(5),
        }
    }
}

/// The key JWTs are verified with.
#[derive(Clone, PartialEq, Eq)]
pub enum JwtKey {
    /// A shared secret: HS256.
    Secret(String),
    /// A PEM public key: RS256 for an RSA key, ES256 for a P-256 key.
    PublicKeyPem(String),
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("Secret([redacted])"),
            Self::PublicKeyPem(pem) => write!(f, "PublicKeyPem({} bytes)", pem.len()),
        }
    }
}

/// `query` with the value of every `token` parameter replaced by
/// `[redacted]`, for logs.
///
/// ```
/// use sse_hub::auth::redact_query;
///
/// assert_eq!(redact_query("topic=a&token=eyJ.x.y"), "topic=a&token=[redacted]");
/// assert_eq!(redact_query("topic=a"), "topic=a");
/// ```
pub fn redact_query(query: &str) -> Cow<'_, str> {
    let is_token = |pair: &str| {
        let key = pair.split_once('=').map_or(pair, |(key, _)| key);
        // A key may be percent-encoded (`%74oken`) too.
        crate::request::pairs(key)
            .next()
            .and_then(Result::ok)
            .is_some_and(|(key, _)| key == QUERY_PARAMETER)
    };
    if !query.split('&').any(is_token) {
        return Cow::Borrowed(query);
    }
    let pairs: Vec<Cow<'_, str>> = query
        .split('&')
        .map(|pair| {
            if is_token(pair) {
                let key = pair.split_once('=').map_or(pair, |(key, _)| key);
                Cow::Owned(format!("{key}=[redacted]"))
            } else {
                Cow::Borrowed(pair)
            }
        })
        .collect();
    Cow::Owned(pairs.join("&"))
}

#[cfg(test)]
mod tests;
