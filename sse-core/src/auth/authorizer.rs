//! The [`Authorizer`] trait, the request it reads, and why it refuses.

use std::borrow::Cow;

use super::grants::Grants;
use crate::request::Headers;

/// The query parameter a token is read from, for `EventSource`, which
/// cannot set headers.
pub const QUERY_PARAMETER: &str = "token";

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

/// Decides what a request may do; see the [module docs](crate::auth).
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
