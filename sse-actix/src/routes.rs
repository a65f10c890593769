//! The contract's routes as an actix-web service configuration, and each
//! of its handlers on its own.

use actix_web::{HttpRequest, web};
use sse_core::contract::{EventsRequest, Hub, NotifyRequest};

use crate::SseResponse;

/// `/events`, `/notify`, `/metrics`, `/healthz` and `/` (the demo page)
/// over `hub`, for `App::configure`, or for a scope with a prefix
/// (`web::scope("/sse").configure(configure(hub))`: the page finds the
/// other routes relative to itself).
///
/// **Anyone who can reach `/notify` can publish** unless the hub's config
/// sets a `publish_token`. To publish only from your own code, route the
/// handlers you want from [`handlers`](crate::handlers) instead, with the
/// hub as `web::Data<Hub>`.
pub fn configure(hub: Hub) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(web::Data::new(hub))
            .route("/events", web::get().to(events))
            .route("/notify", web::post().to(notify))
            .route("/metrics", web::get().to(metrics))
            .route("/healthz", web::get().to(healthz))
            .route("/", web::get().to(index));
    }
}

fn query(request: &HttpRequest) -> Option<&str> {
    Some(request.query_string()).filter(|q| !q.is_empty())
}

/// `GET /events`: the topics and last event id from the query and the
/// `Last-Event-ID` header; subscribe, replay, then stream.
pub async fn events(hub: web::Data<Hub>, request: HttpRequest) -> SseResponse {
    SseResponse(
        hub.events(EventsRequest {
            query: query(&request),
            last_event_id: request.headers().get("last-event-id").map(|v| v.as_bytes()),
        })
        .await,
    )
}

/// `POST /notify`: publish the JSON body (see
/// [`Hub::notify_from`](sse_core::contract::Hub::notify_from)).
pub async fn notify(hub: web::Data<Hub>, request: HttpRequest, body: web::Payload) -> SseResponse {
    let header = |name| request.headers().get(name).map(|v| v.as_bytes());
    let head = NotifyRequest {
        query: query(&request),
        content_type: header("content-type"),
        authorization: header("authorization"),
        content_length: header("content-length"),
    };
    SseResponse(hub.notify_from(head, body).await)
}

/// `GET /metrics`: the Prometheus text.
pub async fn metrics(hub: web::Data<Hub>) -> SseResponse {
    SseResponse(hub.metrics())
}

/// `GET /healthz`: `200 ok`.
pub async fn healthz(hub: web::Data<Hub>) -> SseResponse {
    SseResponse(hub.healthz())
}

/// `GET /`: the demo page.
pub async fn index(hub: web::Data<Hub>) -> SseResponse {
    SseResponse(hub.index())
}
