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
//! let hub = Hub::open(HubConfig::default()).expect("a hub").with_authorizer(|request: &AuthRequest<'_>| {
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
//! use sse_hub::{Hub, HubConfig, hub::RequestParts};
//!
//! let hub = Hub::open(HubConfig::default()).expect("a hub").with_authorizer(|request: &AuthRequest<'_>| {
//!     // Your own check; here any bearer token grants `news` only.
//!     request.bearer().map(|_| Grants::new().subscribe("news")).ok_or(AuthError::Missing)
//! });
//! # futures::executor::block_on(async {
//! let headers = [("authorization", "Bearer t")];
//! let open = hub.routes().events(RequestParts { query: Some("topic=news"), headers: &headers }).await;
//! let closed = hub.routes().events(RequestParts { query: Some("topic=admin"), headers: &headers }).await;
//! let anonymous = hub.routes().events(RequestParts { query: Some("topic=news"), headers: &[("x", "y")] }).await;
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
mod authorizer;
mod bearer;
mod config;
mod grants;
#[cfg(feature = "jwt")]
mod jwt;
mod pattern;

pub use authorizer::{AuthError, AuthRequest, Authorizer, QUERY_PARAMETER, redact_query};
pub(crate) use bearer::bearer_matches;
pub use config::{DEFAULT_COOKIE, JwtConfig, JwtKey};
pub use grants::Grants;
#[cfg(feature = "jwt")]
pub use jwt::{JwtAuthorizer, JwtKeyError};
pub use pattern::TopicPattern;

#[cfg(test)]
mod tests;
