//! The hub's routes as one warp filter, and each of them on its own.

use sse_hub::hub::{Hub, RequestParts};
use warp::http::HeaderMap;
use warp::{Buf, Filter, Rejection, Stream};

use crate::HubResponse;
use crate::extract::raw_query;

/// `/events`, `/notify`, `/notify/batch`, `/history`, `/presence`,
/// `/metrics`, `/healthz`, `/readyz` and `/` (the demo page) over `hub`, as one filter to combine with the application's own, or to
/// put under a prefix (`warp::path("sse").and(routes(hub))`: the page
/// finds the other routes relative to itself).
///
/// **Anyone who can reach `/notify` can publish** unless the hub's config
/// sets a `publish_token`. To publish only from your own code, combine the
/// filters you want from [`handlers`](crate::handlers) instead.
pub fn routes(hub: Hub) -> impl Filter<Extract = (HubResponse,), Error = Rejection> + Clone {
    events(hub.clone())
        .or(notify(hub.clone()))
        .unify()
        .or(notify_batch(hub.clone()))
        .unify()
        .or(history(hub.clone()))
        .unify()
        .or(presence(hub.clone()))
        .unify()
        .or(metrics(hub.clone()))
        .unify()
        .or(healthz(hub.clone()))
        .unify()
        .or(readyz(hub.clone()))
        .unify()
        .or(index(hub))
        .unify()
}

fn with_hub(hub: Hub) -> impl Filter<Extract = (Hub,), Error = std::convert::Infallible> + Clone {
    warp::any().map(move || hub.clone())
}

fn at(path: &'static str) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::path(path).and(warp::path::end())
}

/// `GET /events`: the topics and last event id from the query and the
/// `Last-Event-ID` header; subscribe, replay, then stream.
pub fn events(hub: Hub) -> impl Filter<Extract = (HubResponse,), Error = Rejection> + Clone {
    at("events")
        .and(warp::get())
        .and(with_hub(hub))
        .and(raw_query())
        .and(warp::header::headers_cloned())
        .then(
            |hub: Hub, query: Option<String>, headers: HeaderMap| async move {
                HubResponse(
                    hub.routes()
                        .events(RequestParts {
                            query: query.as_deref(),
                            headers: &headers,
                        })
                        .await,
                )
            },
        )
}

/// `POST /notify`: publish the JSON body (see
/// [`Routes::notify_from`](sse_hub::hub::Routes::notify_from)).
pub fn notify(hub: Hub) -> impl Filter<Extract = (HubResponse,), Error = Rejection> + Clone {
    at("notify")
        .and(warp::post())
        .and(with_hub(hub))
        .and(raw_query())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(publish)
}

async fn publish<S, B>(hub: Hub, query: Option<String>, headers: HeaderMap, body: S) -> HubResponse
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let head = RequestParts {
        query: query.as_deref(),
        headers: &headers,
    };
    HubResponse(hub.routes().notify_from(head, body).await)
}

/// `POST /notify/batch`: publish a JSON array of events, all checked
/// first (see [`Routes::notify_batch_from`](sse_hub::hub::Routes::notify_batch_from)).
pub fn notify_batch(hub: Hub) -> impl Filter<Extract = (HubResponse,), Error = Rejection> + Clone {
    warp::path("notify")
        .and(at("batch"))
        .and(warp::post())
        .and(with_hub(hub))
        .and(raw_query())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(
            |hub: Hub, query: Option<String>, headers: HeaderMap, body| async move {
                let head = RequestParts {
                    query: query.as_deref(),
                    headers: &headers,
                };
                HubResponse(hub.routes().notify_batch_from(head, body).await)
            },
        )
}

/// `GET /history`: the topics' retained events as JSON (see
/// [`Routes::history`](sse_hub::hub::Routes::history)).
pub fn history(hub: Hub) -> impl Filter<Extract = (HubResponse,), Error = Rejection> + Clone {
    at("history")
        .and(warp::get())
        .and(with_hub(hub))
        .and(raw_query())
        .and(warp::header::headers_cloned())
        .then(
            |hub: Hub, query: Option<String>, headers: HeaderMap| async move {
                let request = RequestParts {
                    query: query.as_deref(),
                    headers: &headers,
                };
                HubResponse(hub.routes().history(request).await)
            },
        )
}

/// `GET /presence`: how many streams follow each topic (see
/// [`Routes::presence`](sse_hub::hub::Routes::presence)).
pub fn presence(hub: Hub) -> impl Filter<Extract = (HubResponse,), Error = Rejection> + Clone {
    at("presence")
        .and(warp::get())
        .and(with_hub(hub))
        .and(raw_query())
        .and(warp::header::headers_cloned())
        .then(
            |hub: Hub, query: Option<String>, headers: HeaderMap| async move {
                let request = RequestParts {
                    query: query.as_deref(),
                    headers: &headers,
                };
                HubResponse(hub.routes().presence(request).await)
            },
        )
}

/// `GET /metrics`: the Prometheus text.
pub fn metrics(hub: Hub) -> impl Filter<Extract = (HubResponse,), Error = Rejection> + Clone {
    at("metrics")
        .and(warp::get())
        .and(with_hub(hub))
        .map(|hub: Hub| HubResponse(hub.routes().metrics()))
}

/// `GET /healthz`: `200 ok`.
pub fn healthz(hub: Hub) -> impl Filter<Extract = (HubResponse,), Error = Rejection> + Clone {
    at("healthz")
        .and(warp::get())
        .and(with_hub(hub))
        .map(|hub: Hub| HubResponse(hub.routes().healthz()))
}

/// `GET /readyz`: `200 ok` while the instance takes new streams, `503`
/// while it drains or, on Redis, while Redis cannot be reached.
pub fn readyz(hub: Hub) -> impl Filter<Extract = (HubResponse,), Error = Rejection> + Clone {
    at("readyz")
        .and(warp::get())
        .and(with_hub(hub))
        .map(|hub: Hub| HubResponse(hub.routes().readyz()))
}

/// `GET /`: the demo page.
pub fn index(hub: Hub) -> impl Filter<Extract = (HubResponse,), Error = Rejection> + Clone {
    warp::path::end()
        .and(warp::get())
        .and(with_hub(hub))
        .map(|hub: Hub| HubResponse(hub.routes().index()))
}
