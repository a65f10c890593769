//! Your own stream and per-user topics in an axum app.
//!
//! ```sh
//! cargo run -p sse-axum --example feed
//! curl -N localhost:3000/ticks                                   # your own stream
//! curl -N -H 'x-user-id: 42' localhost:3000/notifications        # user 42's topic
//! curl -X POST 'localhost:3000/sse/notify?topic=user-42' \
//!      -H 'content-type: application/json' -d '"hello 42"'       # publish to them
//! ```

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use futures::stream::{self, Stream};
use sse_axum::HubConfig;
use sse_axum::{Event, Hub, HubResponse, LastEventId, Sse};

/// The app: a ticker of its own at `/ticks`, each user's notifications at
/// `/notifications`, and the SSE contract under `/sse`.
fn app(hub: Hub, tick: Duration) -> Router {
    Router::new()
        .route("/ticks", get(move || ticks(tick)))
        .route("/notifications", get(notifications))
        .with_state(hub.clone())
        .merge(sse_axum::routes_under("/sse", hub))
}

/// A stream that is not the broker's: a numbered tick every `period`.
async fn ticks(period: Duration) -> Sse<impl Stream<Item = Event>> {
    let ticks = stream::unfold(0_u64, move |n| async move {
        tokio::time::sleep(period).await;
        let event = Event::builder()
            .event("tick")
            .id(n.to_string())
            .data(n.to_string())
            .build()
            .ok()?;
        Some((event, n + 1))
    });
    Sse::new(ticks)
}

/// Your authentication, whatever it is: here a header your proxy sets.
fn user_id(headers: &HeaderMap) -> Option<u64> {
    headers.get("x-user-id")?.to_str().ok()?.parse().ok()
}

async fn notifications(
    State(hub): State<Hub>,
    LastEventId(last): LastEventId,
    headers: HeaderMap,
) -> Result<HubResponse, StatusCode> {
    let user = user_id(&headers).ok_or(StatusCode::UNAUTHORIZED)?;
    Ok(hub
        .subscribe([format!("user-{user}")], last.as_deref())
        .await
        .into())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("SSE_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app(
            Hub::open(HubConfig::default()).expect("a hub"),
            Duration::from_secs(1),
        ),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use sse_conformance::adapter_tests::{Backend, Engine};

    #[tokio::test]
    async fn ticks_and_per_user_notifications_in_memory() {
        ticks_and_per_user_notifications(Engine::Memory).await;
    }

    /// The README's step 2 (this example's `/notifications`), with the hub
    /// on Redis and nothing else changed.
    #[tokio::test]
    async fn ticks_and_per_user_notifications_on_redis() {
        ticks_and_per_user_notifications(Engine::Redis).await;
    }

    async fn ticks_and_per_user_notifications(engine: Engine) {
        let Some((_redis, hub)) = Backend::open_hub(engine, "feed example").await else {
            return;
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(
            axum::serve(listener, app(hub.clone(), Duration::from_millis(50))).into_future(),
        );
        sse_conformance::examples::check_feed_example(&base, &hub)
            .await
            .unwrap();
    }
}
