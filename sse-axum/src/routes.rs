//! The contract's routes as an axum `Router`.

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use sse_core::contract::{EventsRequest, Hub, NotifyRequest};

use crate::SseResponse;

/// `/events`, `/notify`, `/metrics`, `/healthz` and `/` over `hub`, ready
/// to merge into an application's router.
pub fn routes<S: Clone + Send + Sync + 'static>(hub: Hub) -> Router<S> {
    Router::new()
        .route("/events", get(events))
        .route("/notify", post(notify))
        .route(
            "/metrics",
            get(|State(hub): State<Hub>| async move { SseResponse(hub.metrics()) }),
        )
        .route(
            "/healthz",
            get(|State(hub): State<Hub>| async move { SseResponse(hub.healthz()) }),
        )
        .route(
            "/",
            get(|State(hub): State<Hub>| async move { SseResponse(hub.index()) }),
        )
        .with_state(hub)
}

async fn events(
    State(hub): State<Hub>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> SseResponse {
    SseResponse(hub.events(EventsRequest {
        query: query.as_deref(),
        last_event_id: headers.get("last-event-id").map(|v| v.as_bytes()),
    }))
}

async fn notify(
    State(hub): State<Hub>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> SseResponse {
    let header = |name| headers.get(name).map(|v| v.as_bytes());
    let request = NotifyRequest {
        query: query.as_deref(),
        content_type: header("content-type"),
        authorization: header("authorization"),
        content_length: header("content-length"),
    };
    SseResponse(hub.notify_from(request, body.into_data_stream()).await)
}
