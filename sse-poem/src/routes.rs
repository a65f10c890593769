//! The hub's routes as a poem `Route`, and each of its endpoints on
//! its own.

use std::future::Future;

use poem::endpoint::make;
use poem::{Endpoint, Request, Route, get, post};
use sse_hub::hub::{Hub, RequestParts};

use crate::HubResponse;

/// `/events`, `/notify`, `/notify/batch`, `/history`, `/presence`,
/// `/metrics`, `/healthz`, `/readyz` and `/` (the demo page) over `hub`, as a `Route` the application adds its own routes to, or
/// nests under a prefix (`Route::new().nest("/sse", routes(hub))`: the
/// page finds the other routes relative to itself).
///
/// **Anyone who can reach `/notify` can publish** unless the hub's config
/// sets a `publish_token`. To publish only from your own code, route the
/// endpoints you want from [`handlers`](crate::handlers) instead.
pub fn routes(hub: Hub) -> Route {
    Route::new()
        .at("/events", get(events(hub.clone())))
        .at("/notify", post(notify(hub.clone())))
        .at("/notify/batch", post(notify_batch(hub.clone())))
        .at("/history", get(history(hub.clone())))
        .at("/presence", get(presence(hub.clone())))
        .at("/metrics", get(metrics(hub.clone())))
        .at("/healthz", get(healthz(hub.clone())))
        .at("/readyz", get(readyz(hub.clone())))
        .at("/", get(index(hub)))
}

/// An endpoint calling `route` with its own handle on the hub.
fn with<F, Fut>(hub: Hub, route: F) -> impl Endpoint<Output = HubResponse>
where
    F: Fn(Hub, Request) -> Fut + Send + Sync,
    Fut: Future<Output = HubResponse> + Send,
{
    make(move |request| route(hub.clone(), request))
}

/// `GET /events`: the topics and last event id from the query and the
/// `Last-Event-ID` header; subscribe, replay, then stream.
pub fn events(hub: Hub) -> impl Endpoint<Output = HubResponse> {
    with(hub, |hub, request| async move {
        HubResponse(
            hub.routes()
                .events(RequestParts {
                    query: request.uri().query(),
                    headers: request.headers(),
                })
                .await,
        )
    })
}

/// `POST /notify`: publish the JSON body (see
/// [`Routes::notify_from`](sse_hub::hub::Routes::notify_from)).
pub fn notify(hub: Hub) -> impl Endpoint<Output = HubResponse> {
    with(hub, |hub, mut request| async move {
        let chunks = request.take_body().into_bytes_stream();
        let head = RequestParts {
            query: request.uri().query(),
            headers: request.headers(),
        };
        HubResponse(hub.routes().notify_from(head, chunks).await)
    })
}

/// `POST /notify/batch`: publish a JSON array of events, all checked
/// first (see [`Routes::notify_batch_from`](sse_hub::hub::Routes::notify_batch_from)).
pub fn notify_batch(hub: Hub) -> impl Endpoint<Output = HubResponse> {
    with(hub, |hub, mut request| async move {
        let chunks = request.take_body().into_bytes_stream();
        let head = RequestParts {
            query: request.uri().query(),
            headers: request.headers(),
        };
        HubResponse(hub.routes().notify_batch_from(head, chunks).await)
    })
}

/// `GET /history`: the topics' retained events as JSON (see
/// [`Routes::history`](sse_hub::hub::Routes::history)).
pub fn history(hub: Hub) -> impl Endpoint<Output = HubResponse> {
    with(hub, |hub, request| async move {
        HubResponse(
            hub.routes()
                .history(RequestParts {
                    query: request.uri().query(),
                    headers: request.headers(),
                })
                .await,
        )
    })
}

/// `GET /presence`: how many streams follow each topic (see
/// [`Routes::presence`](sse_hub::hub::Routes::presence)).
pub fn presence(hub: Hub) -> impl Endpoint<Output = HubResponse> {
    with(hub, |hub, request| async move {
        HubResponse(
            hub.routes()
                .presence(RequestParts {
                    query: request.uri().query(),
                    headers: request.headers(),
                })
                .await,
        )
    })
}

/// `GET /metrics`: the Prometheus text.
pub fn metrics(hub: Hub) -> impl Endpoint<Output = HubResponse> {
    with(
        hub,
        |hub, _| async move { HubResponse(hub.routes().metrics()) },
    )
}

/// `GET /healthz`: `200 ok`.
pub fn healthz(hub: Hub) -> impl Endpoint<Output = HubResponse> {
    with(
        hub,
        |hub, _| async move { HubResponse(hub.routes().healthz()) },
    )
}

/// `GET /readyz`: `200 ok` while the instance takes new streams, `503`
/// while it drains or, on Redis, while Redis cannot be reached.
pub fn readyz(hub: Hub) -> impl Endpoint<Output = HubResponse> {
    with(
        hub,
        |hub, _| async move { HubResponse(hub.routes().readyz()) },
    )
}

/// `GET /`: the demo page.
pub fn index(hub: Hub) -> impl Endpoint<Output = HubResponse> {
    with(
        hub,
        |hub, _| async move { HubResponse(hub.routes().index()) },
    )
}
