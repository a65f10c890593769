//! The last event id as an axum extractor.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The id a reconnecting client last saw: the `Last-Event-ID` header, else
/// the `lastEventId` query parameter; `None` when neither is given.
///
/// ```
/// use sse_axum::LastEventId;
///
/// async fn handler(LastEventId(id): LastEventId) -> String {
///     format!("resuming after {id:?}")
/// }
/// # let _: axum::routing::MethodRouter = axum::routing::get(handler);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastEventId(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for LastEventId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get("last-event-id").map(|v| v.as_bytes());
        Ok(Self(sse_hub::request::last_event_id(
            header,
            parts.uri.query(),
        )))
    }
}
