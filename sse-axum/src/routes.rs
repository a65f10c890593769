//! The hub's routes as an axum `Router`, and each of its handlers on
//! its own.

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use sse_hub::hub::{Hub, RequestParts};

use crate::HubResponse;

/// `/events`, `/notify`, `/notify/batch`, `/history`, `/presence`,
/// `/metrics`, `/healthz`, `/readyz` and `/` (the demo page) over `hub`, ready to
/// merge into an application's router. To put them
/// under a prefix, use [`routes_under`], which also serves the page at
/// the prefix with a trailing slash.
///
/// **Anyone who can reach `/notify` can publish** unless the hub's config
/// sets a `publish_token`. To publish only from your own code, mount the
/// handlers you want from [`handlers`](crate::handlers) instead.
pub fn routes<S: Clone + Send + Sync + 'static>(hub: Hub) -> Router<S> {
    Router::new()
        .route("/events", get(events))
        .route("/notify", post(notify))
        .route("/notify/batch", post(notify_batch))
        .route("/history", get(history))
        .route("/presence", get(presence))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/", get(index))
        .with_state(hub)
}

/// `GET /events`: the topics and last event id from the query and the
/// `Last-Event-ID` header; subscribe, replay, then stream.
pub async fn events(
    State(hub): State<Hub>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> HubResponse {
    HubResponse(
        hub.routes()
            .events(RequestParts {
                query: query.as_deref(),
                headers: &headers,
            })
            .await,
    )
}

/// `POST /notify`: publish the JSON body (see
/// [`Routes::notify_from`](sse_hub::hub::Routes::notify_from)).
pub async fn notify(
    State(hub): State<Hub>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> HubResponse {
    let request = RequestParts {
        query: query.as_deref(),
        headers: &headers,
    };
    HubResponse(
        hub.routes()
            .notify_from(request, body.into_data_stream())
            .await,
    )
}

/// `POST /notify/batch`: publish a JSON array of events, all checked
/// first (see [`Routes::notify_batch_from`](sse_hub::hub::Routes::notify_batch_from)).
pub async fn notify_batch(
    State(hub): State<Hub>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> HubResponse {
    let request = RequestParts {
        query: query.as_deref(),
        headers: &headers,
    };
    HubResponse(
        hub.routes()
            .notify_batch_from(request, body.into_data_stream())
            .await,
    )
}

/// `GET /history`: the topics' retained events as JSON (see
/// [`Routes::history`](sse_hub::hub::Routes::history)).
pub async fn history(
    State(hub): State<Hub>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> HubResponse {
    let request = RequestParts {
        query: query.as_deref(),
        headers: &headers,
    };
    HubResponse(hub.routes().history(request).await)
}

/// `GET /presence`: how many streams follow each topic (see
/// [`Routes::presence`](sse_hub::hub::Routes::presence)).
pub async fn presence(
    State(hub): State<Hub>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> HubResponse {
    let request = RequestParts {
        query: query.as_deref(),
        headers: &headers,
    };
    HubResponse(hub.routes().presence(request).await)
}

/// `GET /metrics`: the Prometheus text.
pub async fn metrics(State(hub): State<Hub>) -> HubResponse {
    HubResponse(hub.routes().metrics())
}

/// `GET /healthz`: `200 ok`.
pub async fn healthz(State(hub): State<Hub>) -> HubResponse {
    HubResponse(hub.routes().healthz())
}

/// `GET /readyz`: `200 ok` while the instance takes new streams, `503`
/// while it drains or, on Redis, while Redis cannot be reached.
pub async fn readyz(State(hub): State<Hub>) -> HubResponse {
    HubResponse(hub.routes().readyz())
}

/// `GET /`: the demo page.
pub async fn index(State(hub): State<Hub>) -> HubResponse {
    HubResponse(hub.routes().index())
}

/// [`routes`] under `prefix` (for instance `"/sse"`), to merge into an
/// application's router. The demo page answers at both `/sse` and `/sse/`:
/// `Router::nest` alone routes only the first, and a user types either.
/// The page finds the other routes relative to itself.
///
/// ```
/// use axum::Router;
/// use sse_axum::{Hub, HubConfig};
///
/// let hub = Hub::open(HubConfig::default()).expect("a hub");
/// let app: Router = Router::new().merge(sse_axum::routes_under("/sse", hub));
/// ```
///
/// # Panics
///
/// As `Router::nest` does, when `prefix` is empty, `/`, or does not start
/// with `/`: a programming error, not input.
pub fn routes_under<S: Clone + Send + Sync + 'static>(prefix: &str, hub: Hub) -> Router<S> {
    let prefix = prefix.trim_end_matches('/');
    Router::new()
        .route(&format!("{prefix}/"), get(index).with_state(hub.clone()))
        .nest(prefix, routes(hub))
}
