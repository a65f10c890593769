//! The hub's routes as an actix-web service configuration, and each
//! of its handlers on its own.

use actix_web::http::header::{HeaderMap, HeaderValue};
use actix_web::{HttpRequest, web};
use sse_hub::hub::{Hub, RequestParts};
use sse_hub::request::Headers;

use crate::HubResponse;

/// `/events`, `/notify`, `/notify/batch`, `/history`, `/presence`,
/// `/metrics`, `/healthz`, `/readyz` and `/` (the demo page) over `hub`, for
/// `App::configure`, or for a scope with a prefix
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
            .route("/notify/batch", web::post().to(notify_batch))
            .route("/history", web::get().to(history))
            .route("/presence", web::get().to(presence))
            .route("/metrics", web::get().to(metrics))
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/", web::get().to(index))
            // Under a scope, "/" is `/sse/` only; "" is `/sse`. Both serve
            // the page, which finds the other routes either way.
            .route("", web::get().to(index));
    }
}

fn query(request: &HttpRequest) -> Option<&str> {
    Some(request.query_string()).filter(|q| !q.is_empty())
}

/// actix-web's headers as the hub reads them.
struct ActixHeaders<'a>(&'a HeaderMap);

impl Headers for ActixHeaders<'_> {
    fn value(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name).map(HeaderValue::as_bytes)
    }

    fn each_value<'h>(&'h self, name: &str, each: &mut dyn FnMut(&'h [u8])) {
        self.0
            .get_all(name)
            .for_each(|value| each(value.as_bytes()));
    }
}

/// `GET /events`: the topics and last event id from the query and the
/// `Last-Event-ID` header; subscribe, replay, then stream.
pub async fn events(hub: web::Data<Hub>, request: HttpRequest) -> HubResponse {
    HubResponse(
        hub.routes()
            .events(RequestParts {
                query: query(&request),
                headers: &ActixHeaders(request.headers()),
            })
            .await,
    )
}

/// `POST /notify`: publish the JSON body (see
/// [`Routes::notify_from`](sse_hub::hub::Routes::notify_from)).
pub async fn notify(hub: web::Data<Hub>, request: HttpRequest, body: web::Payload) -> HubResponse {
    let headers = ActixHeaders(request.headers());
    let head = RequestParts {
        query: query(&request),
        headers: &headers,
    };
    HubResponse(hub.routes().notify_from(head, body).await)
}

/// `POST /notify/batch`: publish a JSON array of events, all checked
/// first (see [`Routes::notify_batch_from`](sse_hub::hub::Routes::notify_batch_from)).
pub async fn notify_batch(
    hub: web::Data<Hub>,
    request: HttpRequest,
    body: web::Payload,
) -> HubResponse {
    let headers = ActixHeaders(request.headers());
    let head = RequestParts {
        query: query(&request),
        headers: &headers,
    };
    HubResponse(hub.routes().notify_batch_from(head, body).await)
}

/// `GET /history`: the topics' retained events as JSON (see
/// [`Routes::history`](sse_hub::hub::Routes::history)).
pub async fn history(hub: web::Data<Hub>, request: HttpRequest) -> HubResponse {
    HubResponse(
        hub.routes()
            .history(RequestParts {
                query: query(&request),
                headers: &ActixHeaders(request.headers()),
            })
            .await,
    )
}

/// `GET /presence`: how many streams follow each topic (see
/// [`Routes::presence`](sse_hub::hub::Routes::presence)).
pub async fn presence(hub: web::Data<Hub>, request: HttpRequest) -> HubResponse {
    HubResponse(
        hub.routes()
            .presence(RequestParts {
                query: query(&request),
                headers: &ActixHeaders(request.headers()),
            })
            .await,
    )
}

/// `GET /metrics`: the Prometheus text.
pub async fn metrics(hub: web::Data<Hub>) -> HubResponse {
    HubResponse(hub.routes().metrics())
}

/// `GET /healthz`: `200 ok`.
pub async fn healthz(hub: web::Data<Hub>) -> HubResponse {
    HubResponse(hub.routes().healthz())
}

/// `GET /readyz`: `200 ok` while the instance takes new streams, `503`
/// while it drains or, on Redis, while Redis cannot be reached.
pub async fn readyz(hub: web::Data<Hub>) -> HubResponse {
    HubResponse(hub.routes().readyz())
}

/// `GET /`: the demo page.
pub async fn index(hub: web::Data<Hub>) -> HubResponse {
    HubResponse(hub.routes().index())
}
