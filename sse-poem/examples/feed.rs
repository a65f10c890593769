//! Your own stream and per-user topics in a poem app.
//!
//! ```sh
//! cargo run -p sse-poem --example feed
//! curl -N localhost:3000/ticks                                   # your own stream
//! curl -N -H 'x-user-id: 42' localhost:3000/notifications        # user 42's topic
//! curl -X POST 'localhost:3000/sse/notify?topic=user-42' \
//!      -H 'content-type: application/json' -d '"hello 42"'       # publish to them
//! ```

use std::time::Duration;

use futures::stream::{self, Stream};
use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{Endpoint, EndpointExt, Request, Route, Server, get, handler};
use sse_poem::HubConfig;
use sse_poem::{Event, Hub, HubResponse, LastEventId, Sse};

/// The app: a ticker of its own at `/ticks`, each user's notifications at
/// `/notifications`, and the SSE contract under `/sse`.
fn app(hub: Hub, tick: Duration) -> impl Endpoint {
    Route::new()
        .at(
            "/ticks",
            get(poem::endpoint::make_sync(move |_| ticks(tick))),
        )
        .at("/notifications", get(notifications))
        .nest("/sse", sse_poem::routes(hub.clone()))
        .data(hub)
}

/// A stream that is not the broker's: a numbered tick every `period`.
fn ticks(period: Duration) -> Sse<impl Stream<Item = Event> + Send + 'static> {
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
fn user_id(request: &Request) -> Option<u64> {
    request.header("x-user-id")?.parse().ok()
}

#[handler]
async fn notifications(
    hub: Data<&Hub>,
    LastEventId(last): LastEventId,
    request: &Request,
) -> poem::Result<HubResponse> {
    let user =
        user_id(request).ok_or_else(|| poem::Error::from_status(StatusCode::UNAUTHORIZED))?;
    Ok(hub
        .subscribe([format!("user-{user}")], last.as_deref())
        .await
        .into())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("SSE_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    // Bound first, so that the line names the real port when 0 was asked.
    let acceptor = TcpListener::bind(addr).into_acceptor().await?;
    for local in acceptor.local_addr() {
        if let Some(addr) = local.as_socket_addr() {
            println!("listening on http://{addr}");
        }
    }
    let app = app(
        Hub::open(HubConfig::default()).expect("a hub"),
        Duration::from_secs(1),
    );
    Server::new_with_acceptor(acceptor).run(app).await
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
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
        let app = app(hub.clone(), Duration::from_millis(50));
        tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
        let base = format!("http://{addr}");
        sse_conformance::examples::check_feed_example(&base, &hub)
            .await
            .unwrap();
    }
}
