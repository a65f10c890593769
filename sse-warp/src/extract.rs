//! The last event id as a warp filter.

use std::convert::Infallible;

use warp::Filter;
use warp::http::HeaderMap;

/// The id a reconnecting client last saw: the `Last-Event-ID` header, else
/// the `lastEventId` query parameter; `None` when neither is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastEventId(pub Option<String>);

/// Extracts the [`LastEventId`]; never rejects.
///
/// ```
/// use warp::Filter;
///
/// let resume = warp::path("resume")
///     .and(sse_warp::last_event_id())
///     .map(|sse_warp::LastEventId(id)| format!("resuming after {id:?}"));
/// ```
pub fn last_event_id() -> impl Filter<Extract = (LastEventId,), Error = Infallible> + Clone {
    warp::header::headers_cloned().and(raw_query()).map(
        |headers: HeaderMap, query: Option<String>| {
            let header = headers.get("last-event-id").map(|v| v.as_bytes());
            LastEventId(sse_hub::request::last_event_id(header, query.as_deref()))
        },
    )
}

/// The query string, `None` when there is none (warp's own filter rejects).
pub(crate) fn raw_query() -> impl Filter<Extract = (Option<String>,), Error = Infallible> + Clone {
    warp::query::raw()
        .map(Some)
        .or(warp::any().map(|| None))
        .unify()
}
