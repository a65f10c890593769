//! The contract's routes as an actix-web service configuration.

use actix_web::{HttpRequest, web};
use sse_core::contract::{EventsRequest, Hub, NotifyRequest};

use crate::SseResponse;

/// `/events`, `/notify`, `/metrics`, `/healthz` and `/` over `hub`, for
/// `App::configure`.
pub fn configure(hub: Hub) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(web::Data::new(hub))
            .route("/events", web::get().to(events))
            .route("/notify", web::post().to(notify))
            .route(
                "/metrics",
                web::get().to(|hub: web::Data<Hub>| async move { SseResponse(hub.metrics()) }),
            )
            .route(
                "/healthz",
                web::get().to(|hub: web::Data<Hub>| async move { SseResponse(hub.healthz()) }),
            )
            .route(
                "/",
                web::get().to(|hub: web::Data<Hub>| async move { SseResponse(hub.index()) }),
            );
    }
}

fn query(request: &HttpRequest) -> Option<&str> {
    Some(request.query_string()).filter(|q| !q.is_empty())
}

async fn events(hub: web::Data<Hub>, request: HttpRequest) -> SseResponse {
    SseResponse(hub.events(EventsRequest {
        query: query(&request),
        last_event_id: request.headers().get("last-event-id").map(|v| v.as_bytes()),
    }))
}

async fn notify(hub: web::Data<Hub>, request: HttpRequest, body: web::Payload) -> SseResponse {
    let header = |name| request.headers().get(name).map(|v| v.as_bytes());
    let head = NotifyRequest {
        query: query(&request),
        content_type: header("content-type"),
        authorization: header("authorization"),
        content_length: header("content-length"),
    };
    SseResponse(hub.notify_from(head, body).await)
}
