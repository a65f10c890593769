//! The hub's routes, to mount with the [`Hub`] in managed state, and
//! each of them on its own.

use std::convert::Infallible;

use rocket::data::{Data, ToByteUnit};
use rocket::http::HeaderMap;
use rocket::request::{FromRequest, Outcome};
use rocket::{Request, Route, State, get, post};
use sse_hub::hub::{Hub, RequestParts};
use sse_hub::request::Headers;

use crate::HubResponse;

/// `/events`, `/notify`, `/notify/batch`, `/history`, `/presence`,
/// `/metrics`, `/healthz`, `/readyz` and `/` (the demo page), to mount on a Rocket that manages a [`Hub`], at `/` or under a prefix
/// (`.mount("/sse", routes())`: the page finds the other routes relative
/// to itself).
///
/// **Anyone who can reach `/notify` can publish** unless the hub's config
/// sets a `publish_token`. To publish only from your own code, mount the
/// routes you want from [`handlers`](crate::handlers) instead, for
/// instance `rocket::routes![sse_rocket::handlers::events]`.
pub fn routes() -> Vec<Route> {
    rocket::routes![
        events,
        notify,
        notify_batch,
        history,
        presence,
        metrics,
        healthz,
        readyz,
        index
    ]
}

/// The request parts the hub reads: the query and the headers; a
/// request guard that never fails. Not exported: handlers take it, users
/// mount the handlers.
#[derive(Debug, Clone, Copy)]
pub struct Parts<'r> {
    query: Option<&'r str>,
    headers: RocketHeaders<'r>,
}

impl Parts<'_> {
    /// The parts, as every hub route reads them.
    fn request(&self) -> RequestParts<'_> {
        RequestParts {
            query: self.query,
            headers: &self.headers,
        }
    }
}

/// Rocket's headers as the hub reads them.
#[derive(Debug, Clone, Copy)]
struct RocketHeaders<'r>(&'r HeaderMap<'r>);

impl Headers for RocketHeaders<'_> {
    fn value(&self, name: &str) -> Option<&[u8]> {
        self.0.get_one(name).map(str::as_bytes)
    }

    fn each_value<'h>(&'h self, name: &str, each: &mut dyn FnMut(&'h [u8])) {
        self.0.get(name).for_each(|value| each(value.as_bytes()));
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Parts<'r> {
    type Error = Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Infallible> {
        Outcome::Success(Parts {
            query: request.uri().query().map(|q| q.as_str()),
            headers: RocketHeaders(request.headers()),
        })
    }
}

/// `GET /events`: the topics and last event id from the query and the
/// `Last-Event-ID` header; subscribe, replay, then stream.
#[get("/events")]
pub async fn events(hub: &State<Hub>, parts: Parts<'_>) -> HubResponse {
    HubResponse(hub.routes().events(parts.request()).await)
}

/// `POST /notify`: publish the JSON body (see
/// [`Routes::notify_refusal`](sse_hub::hub::Routes::notify_refusal) and
/// [`Routes::notify`](sse_hub::hub::Routes::notify)).
#[post("/notify", data = "<body>")]
pub async fn notify(hub: &State<Hub>, parts: Parts<'_>, body: Data<'_>) -> HubResponse {
    let head = parts.request();
    if let Some(refused) = hub.routes().notify_refusal(&head) {
        return HubResponse(refused);
    }
    match read_body(hub, body).await {
        Ok(body) => HubResponse(hub.routes().notify(head, &body).await),
        Err(refused) => HubResponse(refused),
    }
}

/// `POST /notify/batch`: publish a JSON array of events, all checked
/// first (see [`Routes::notify_batch`](sse_hub::hub::Routes::notify_batch)).
#[post("/notify/batch", data = "<body>")]
pub async fn notify_batch(hub: &State<Hub>, parts: Parts<'_>, body: Data<'_>) -> HubResponse {
    let head = parts.request();
    if let Some(refused) = hub.routes().notify_batch_refusal(&head) {
        return HubResponse(refused);
    }
    match read_body(hub, body).await {
        Ok(body) => HubResponse(hub.routes().notify_batch(head, &body).await),
        Err(refused) => HubResponse(refused),
    }
}

/// A publish body, read within the hub's limits.
async fn read_body(hub: &Hub, body: Data<'_>) -> Result<Vec<u8>, sse_hub::hub::Response> {
    // One byte past the limit is enough to refuse the body as too large.
    // Rocket's body is a reader, not a stream of chunks.
    let limit = (hub.routes().max_body() as u64).saturating_add(1).bytes();
    let reading =
        async { Ok::<_, std::io::Error>(body.open(limit).into_bytes().await?.into_inner()) };
    hub.routes().read_body_with(reading).await
}

/// `GET /history`: the topics' retained events as JSON (see
/// [`Routes::history`](sse_hub::hub::Routes::history)).
#[get("/history")]
pub async fn history(hub: &State<Hub>, parts: Parts<'_>) -> HubResponse {
    HubResponse(hub.routes().history(parts.request()).await)
}

/// `GET /presence`: how many streams follow each topic (see
/// [`Routes::presence`](sse_hub::hub::Routes::presence)).
#[get("/presence")]
pub async fn presence(hub: &State<Hub>, parts: Parts<'_>) -> HubResponse {
    HubResponse(hub.routes().presence(parts.request()).await)
}

/// `GET /metrics`: the Prometheus text.
#[get("/metrics")]
pub fn metrics(hub: &State<Hub>) -> HubResponse {
    HubResponse(hub.routes().metrics())
}

/// `GET /healthz`: `200 ok`.
#[get("/healthz")]
pub fn healthz(hub: &State<Hub>) -> HubResponse {
    HubResponse(hub.routes().healthz())
}

/// `GET /readyz`: `200 ok` while the instance takes new streams, `503`
/// while it drains or, on Redis, while Redis cannot be reached.
#[get("/readyz")]
pub fn readyz(hub: &State<Hub>) -> HubResponse {
    HubResponse(hub.routes().readyz())
}

/// `GET /`: the demo page.
#[get("/")]
pub fn index(hub: &State<Hub>) -> HubResponse {
    HubResponse(hub.routes().index())
}
