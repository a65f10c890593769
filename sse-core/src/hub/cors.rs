//! Cross-origin pages: what the hub's routes allow them, for each
//! framework's own CORS middleware, and the same rules without a
//! framework for those that have none ([`CorsPolicy`]).
//!
//! A request whose `Origin` is listed gets `Access-Control-Allow-Origin`
//! with that origin and `Access-Control-Allow-Credentials: true` (so
//! cookies flow); a preflight of `/notify` gets `204` with
//! [`ALLOWED_METHODS`] and [`ALLOWED_HEADERS`]. Other origins get no CORS
//! headers.

use std::time::Duration;

use super::{Body, Response};

/// The methods a cross-origin page may use: `GET /events`, `POST /notify`.
pub const ALLOWED_METHODS: [&str; 2] = ["GET", "POST"];

/// The request headers a cross-origin page may send: its token, a
/// publish's body type, a resume's id, and a publish's
/// [`Idempotency-Key`](super::idempotency), so that a page can retry a
/// publish safely.
pub const ALLOWED_HEADERS: [&str; 4] = [
    "authorization",
    "content-type",
    "idempotency-key",
    "last-event-id",
];

/// How long a browser may cache a preflight's answer.
pub const MAX_AGE: Duration = Duration::from_secs(600);

/// An allowed origin that no browser would send as `Origin`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not an origin: write scheme://host or scheme://host:port, with no path or \
     trailing slash (for example https://app.example)"
)]
pub struct OriginError(String);

/// Checks that `origin` has the form browsers send in `Origin`
/// (`http` or `https`, a host, an optional port, nothing after), so that
/// a typo does not silently match nothing.
///
/// ```
/// use sse_hub::hub::cors::check_origin;
///
/// assert!(check_origin("https://app.example").is_ok());
/// assert!(check_origin("http://localhost:5173").is_ok());
/// assert!(check_origin("https://app.example/").is_err());
/// assert!(check_origin("app.example").is_err());
/// ```
///
/// # Errors
///
/// Anything else, with the form to use.
pub fn check_origin(origin: &str) -> Result<String, OriginError> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let valid = rest.is_some_and(|authority| {
        let (host, port) = authority.rsplit_once(':').unwrap_or((authority, "1"));
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b))
            && port.parse::<u16>().is_ok()
    });
    if valid {
        Ok(origin.to_owned())
    } else {
        Err(OriginError(origin.to_owned()))
    }
}

/// The listed origins, deciding each request's CORS headers.
///
/// ```
/// use sse_hub::hub::cors::CorsPolicy;
///
/// let cors = CorsPolicy::new(["https://app.example"]);
/// let headers = cors.headers(Some(b"https://app.example"));
/// assert!(headers.contains(&("access-control-allow-origin", "https://app.example".into())));
/// let refused = cors.headers(Some(b"https://evil.example"));
/// assert!(refused.iter().all(|(name, _)| !name.starts_with("access-control-")));
/// assert_eq!(cors.preflight(Some(b"https://app.example")).status, 204);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsPolicy {
    origins: Vec<String>,
}

impl CorsPolicy {
    /// Allows pages on `origins` (`scheme://host[:port]`, as browsers
    /// send `Origin`).
    pub fn new<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            origins: origins.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether any origin is allowed: without, nothing changes.
    pub fn is_enabled(&self) -> bool {
        !self.origins.is_empty()
    }

    /// The allowed origin `origin` names, compared byte for byte.
    pub fn allowed<'o>(&self, origin: Option<&'o [u8]>) -> Option<&'o str> {
        let origin = std::str::from_utf8(origin?).ok()?;
        self.origins
            .iter()
            .any(|allowed| allowed == origin)
            .then_some(origin)
    }

    /// The CORS headers of a response to a request from `origin`: none
    /// for an origin that is not listed. `Vary: Origin` is always sent,
    /// for caches, once any origin is allowed.
    pub fn headers(&self, origin: Option<&[u8]>) -> Vec<(&'static str, String)> {
        match self.allowed(origin) {
            Some(origin) => vec![
                ("access-control-allow-origin", origin.to_owned()),
                ("access-control-allow-credentials", "true".into()),
                ("vary", "origin".into()),
            ],
            None if self.is_enabled() => vec![("vary", "origin".into())],
            None => Vec::new(),
        }
    }

    /// The answer to an `OPTIONS` preflight from `origin`: `204`, with the
    /// allowed methods, headers and cache time when it is listed.
    pub fn preflight(&self, origin: Option<&[u8]>) -> Response {
        let mut headers = self.headers(origin);
        if self.allowed(origin).is_some() {
            headers.extend([
                ("access-control-allow-methods", ALLOWED_METHODS.join(", ")),
                ("access-control-allow-headers", ALLOWED_HEADERS.join(", ")),
                ("access-control-max-age", MAX_AGE.as_secs().to_string()),
            ]);
        }
        Response {
            status: 204,
            headers,
            body: Body::Full(bytes::Bytes::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_origins_get_cors_headers() {
        let cors = CorsPolicy::new(["https://app.example", "http://localhost:5173"]);
        for origin in ["https://app.example", "http://localhost:5173"] {
            let headers = cors.headers(Some(origin.as_bytes()));
            assert!(headers.contains(&("access-control-allow-origin", origin.into())));
            assert!(headers.contains(&("access-control-allow-credentials", "true".into())));
        }
        for origin in [
            &b"https://app.example.evil"[..],
            b"https://evil.example",
            b"null",
            b"HTTPS://APP.EXAMPLE",
            b"https://app.example/",
            b"\xff",
        ] {
            let headers = cors.headers(Some(origin));
            assert_eq!(headers, [("vary", "origin".into())], "{origin:?}");
        }
        assert_eq!(cors.headers(None), [("vary", "origin".into())]);
        assert!(
            CorsPolicy::default()
                .headers(Some(b"https://app.example"))
                .is_empty()
        );
    }

    #[test]
    fn origins_are_checked_for_the_form_browsers_send() {
        for good in [
            "https://app.example",
            "http://127.0.0.1:8080",
            "http://[::1]:3000",
            "https://a-b.c",
        ] {
            assert_eq!(check_origin(good).as_deref(), Ok(good));
        }
        for bad in [
            "",
            "*",
            "null",
            "app.example",
            "https://",
            "https://app.example/",
            "https://app.example/path",
            "https://app.example:99999",
            "https://app.example:",
            "ftp://app.example",
            "https://user@app.example",
            "https://app.example?x",
        ] {
            assert!(check_origin(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn preflights_name_the_methods_and_headers_for_listed_origins_only() {
        let cors = CorsPolicy::new(["https://app.example"]);
        let allowed = cors.preflight(Some(b"https://app.example"));
        assert_eq!(allowed.status, 204);
        assert!(
            allowed
                .headers
                .contains(&("access-control-allow-methods", "GET, POST".into()))
        );
        assert!(allowed.headers.contains(&(
            "access-control-allow-headers",
            "authorization, content-type, idempotency-key, last-event-id".into()
        )));
        let refused = cors.preflight(Some(b"https://evil.example"));
        assert!(
            refused
                .headers
                .iter()
                .all(|(name, _)| !name.starts_with("access-control"))
        );
    }
}
