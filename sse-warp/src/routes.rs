//! The contract's routes as one warp filter.

use sse_core::contract::{EventsRequest, Hub, NotifyRequest};
use warp::http::HeaderMap;
use warp::{Buf, Filter, Rejection, Stream};

use crate::SseResponse;
use crate::extract::raw_query;

/// `/events`, `/notify`, `/metrics`, `/healthz` and `/` over `hub`, as one
/// filter to combine with the application's own.
pub fn routes(hub: Hub) -> impl Filter<Extract = (SseResponse,), Error = Rejection> + Clone {
    let hub = warp::any().map(move || hub.clone());
    let at = |path: &'static str| warp::path(path).and(warp::path::end());

    let events = at("events")
        .and(warp::get())
        .and(hub.clone())
        .and(raw_query())
        .and(warp::header::headers_cloned())
        .map(|hub: Hub, query: Option<String>, headers: HeaderMap| {
            SseResponse(hub.events(EventsRequest {
                query: query.as_deref(),
                last_event_id: headers.get("last-event-id").map(|v| v.as_bytes()),
            }))
        });
    let notify = at("notify")
        .and(warp::post())
        .and(hub.clone())
        .and(raw_query())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(notify);
    let metrics = at("metrics")
        .and(warp::get())
        .and(hub.clone())
        .map(|hub: Hub| SseResponse(hub.metrics()));
    let healthz = at("healthz")
        .and(warp::get())
        .and(hub.clone())
        .map(|hub: Hub| SseResponse(hub.healthz()));
    let index = warp::path::end()
        .and(warp::get())
        .and(hub)
        .map(|hub: Hub| SseResponse(hub.index()));
    events
        .or(notify)
        .unify()
        .or(metrics)
        .unify()
        .or(healthz)
        .unify()
        .or(index)
        .unify()
}

async fn notify<S, B>(hub: Hub, query: Option<String>, headers: HeaderMap, body: S) -> SseResponse
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let header = |name| headers.get(name).map(|v| v.as_bytes());
    let head = NotifyRequest {
        query: query.as_deref(),
        content_type: header("content-type"),
        authorization: header("authorization"),
        content_length: header("content-length"),
    };
    SseResponse(hub.notify_from(head, body).await)
}
