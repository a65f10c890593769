//! The contract's routes as a poem `Route`.

use std::future::Future;

use poem::endpoint::make;
use poem::{Endpoint, Request, Route, get, post};
use sse_core::contract::{EventsRequest, Hub, NotifyRequest};

use crate::SseResponse;

/// `/events`, `/notify`, `/metrics`, `/healthz` and `/` over `hub`, as a
/// `Route` the application adds its own routes to.
pub fn routes(hub: Hub) -> Route {
    Route::new()
        .at("/events", get(with(hub.clone(), events)))
        .at("/notify", post(with(hub.clone(), notify)))
        .at(
            "/metrics",
            get(with(
                hub.clone(),
                |hub, _| async move { hub.metrics().into() },
            )),
        )
        .at(
            "/healthz",
            get(with(
                hub.clone(),
                |hub, _| async move { hub.healthz().into() },
            )),
        )
        .at(
            "/",
            get(with(
                hub.clone(),
                |hub, _| async move { hub.index().into() },
            )),
        )
}

/// An endpoint calling `route` with its own handle on the hub.
fn with<F, Fut>(hub: Hub, route: F) -> impl Endpoint<Output = SseResponse>
where
    F: Fn(Hub, Request) -> Fut + Send + Sync,
    Fut: Future<Output = SseResponse> + Send,
{
    make(move |request| route(hub.clone(), request))
}

async fn events(hub: Hub, request: Request) -> SseResponse {
    SseResponse(hub.events(EventsRequest {
        query: request.uri().query(),
        last_event_id: request.headers().get("last-event-id").map(|v| v.as_bytes()),
    }))
}

async fn notify(hub: Hub, mut request: Request) -> SseResponse {
    let chunks = request.take_body().into_bytes_stream();
    let header = |name| request.headers().get(name).map(|v| v.as_bytes());
    let head = NotifyRequest {
        query: request.uri().query(),
        content_type: header("content-type"),
        authorization: header("authorization"),
        content_length: header("content-length"),
    };
    SseResponse(hub.notify_from(head, chunks).await)
}
