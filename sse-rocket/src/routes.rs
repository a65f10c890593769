//! The contract's routes, to mount with the [`Hub`] in managed state, and
//! each of them on its own.

use std::convert::Infallible;

use rocket::data::{Data, ToByteUnit};
use rocket::request::{FromRequest, Outcome};
use rocket::{Request, Route, State, get, post};
use sse_core::contract::{EventsRequest, Hub, NotifyRequest};

use crate::SseResponse;

/// `/events`, `/notify`, `/metrics`, `/healthz` and `/` (the demo page),
/// to mount on a Rocket that manages a [`Hub`], at `/` or under a prefix
/// (`.mount("/sse", routes())`: the page finds the other routes relative
/// to itself).
///
/// **Anyone who can reach `/notify` can publish** unless the hub's config
/// sets a `publish_token`. To publish only from your own code, mount the
/// routes you want from [`handlers`](crate::handlers) instead, for
/// instance `rocket::routes![sse_rocket::handlers::events]`.
pub fn routes() -> Vec<Route> {
    rocket::routes![events, notify, metrics, healthz, index]
}

/// The request parts the contract reads, as they came: a request guard
/// that never fails.
#[derive(Debug)]
pub struct Parts {
    query: Option<String>,
    last_event_id: Option<String>,
    content_type: Option<String>,
    authorization: Option<String>,
    content_length: Option<String>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Parts {
    type Error = Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Infallible> {
        let header = |name| request.headers().get_one(name).map(str::to_owned);
        Outcome::Success(Parts {
            query: request.uri().query().map(|q| q.as_str().to_owned()),
            last_event_id: header("Last-Event-ID"),
            content_type: header("Content-Type"),
            authorization: header("Authorization"),
            content_length: header("Content-Length"),
        })
    }
}

/// `GET /events`: the topics and last event id from the query and the
/// `Last-Event-ID` header; subscribe, replay, then stream.
#[get("/events")]
pub async fn events(hub: &State<Hub>, parts: Parts) -> SseResponse {
    SseResponse(
        hub.events(EventsRequest {
            query: parts.query.as_deref(),
            last_event_id: parts.last_event_id.as_deref().map(str::as_bytes),
        })
        .await,
    )
}

/// `POST /notify`: publish the JSON body (see
/// [`Hub::notify_refusal`](sse_core::contract::Hub::notify_refusal) and
/// [`Hub::notify`](sse_core::contract::Hub::notify)).
#[post("/notify", data = "<body>")]
pub async fn notify(hub: &State<Hub>, parts: Parts, body: Data<'_>) -> SseResponse {
    let head = NotifyRequest {
        query: parts.query.as_deref(),
        content_type: parts.content_type.as_deref().map(str::as_bytes),
        authorization: parts.authorization.as_deref().map(str::as_bytes),
        content_length: parts.content_length.as_deref().map(str::as_bytes),
    };
    if let Some(refused) = hub.notify_refusal(&head) {
        return SseResponse(refused);
    }
    // One byte past the limit is enough to refuse the body as too large.
    // Rocket's body is a reader, not a stream of chunks, so the request
    // timeout is applied here rather than by `Hub::read_notify_body`.
    let limit = (hub.max_body() as u64).saturating_add(1).bytes();
    let reading = body.open(limit).into_bytes();
    let body = match rocket::tokio::time::timeout(hub.request_timeout(), reading).await {
        Ok(Ok(body)) => body.into_inner(),
        Ok(Err(err)) => return SseResponse(hub.unreadable_body(&err)),
        Err(_) => return SseResponse(hub.request_timed_out()),
    };
    SseResponse(hub.notify(head, &body).await)
}

/// `GET /metrics`: the Prometheus text.
#[get("/metrics")]
pub fn metrics(hub: &State<Hub>) -> SseResponse {
    SseResponse(hub.metrics())
}

/// `GET /healthz`: `200 ok`.
#[get("/healthz")]
pub fn healthz(hub: &State<Hub>) -> SseResponse {
    SseResponse(hub.healthz())
}

/// `GET /`: the demo page.
#[get("/")]
pub fn index(hub: &State<Hub>) -> SseResponse {
    SseResponse(hub.index())
}
