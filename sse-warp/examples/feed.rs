//! Your own stream and per-user topics in a warp app.
//!
//! ```sh
//! cargo run -p sse-warp --example feed
//! curl -N localhost:3000/ticks                                   # your own stream
//! curl -N -H 'x-user-id: 42' localhost:3000/notifications        # user 42's topic
//! curl -X POST 'localhost:3000/sse/notify?topic=user-42' \
//!      -H 'content-type: application/json' -d '"hello 42"'       # publish to them
//! ```

use std::time::Duration;

use futures::stream::{self, Stream};
use sse_warp::HubConfig;
use sse_warp::{Event, Hub, HubResponse, LastEventId, Sse, last_event_id};
use warp::Filter;
use warp::http::StatusCode;

/// The app: a ticker of its own at `/ticks`, each user's notifications at
/// `/notifications`, and the SSE contract under `/sse`.
fn app(
    hub: Hub,
    tick: Duration,
) -> impl Filter<Extract = (Box<dyn warp::Reply>,), Error = warp::Rejection> + Clone {
    let ticks = warp::path("ticks")
        .and(warp::path::end())
        .map(move || Box::new(ticks(tick)) as Box<dyn warp::Reply>);
    let subscriber = hub.clone();
    // Your authentication, whatever it is: here a header your proxy sets.
    let notifications = warp::path("notifications")
        .and(warp::path::end())
        .and(warp::header::optional::<u64>("x-user-id"))
        .and(last_event_id())
        .then(move |user: Option<u64>, LastEventId(last): LastEventId| {
            let hub = subscriber.clone();
            async move {
                let reply: Box<dyn warp::Reply> = match user {
                    Some(user) => Box::new(HubResponse(
                        hub.subscribe([format!("user-{user}")], last.as_deref())
                            .await,
                    )),
                    None => Box::new(StatusCode::UNAUTHORIZED),
                };
                reply
            }
        });
    let contract = warp::path("sse")
        .and(sse_warp::routes(hub))
        .map(|reply| Box::new(reply) as Box<dyn warp::Reply>);
    ticks.or(notifications).unify().or(contract).unify()
}

/// A stream that is not the broker's: a numbered tick every `period`.
fn ticks(period: Duration) -> Sse<impl Stream<Item = Event>> {
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

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("SSE_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let app = app(
        Hub::open(HubConfig::default()).expect("a hub"),
        Duration::from_secs(1),
    );
    warp::serve(app).incoming(listener).run().await;
    Ok(())
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
        let app = app(hub.clone(), Duration::from_millis(50));
        tokio::spawn(warp::serve(app).incoming(listener).run());
        sse_conformance::examples::check_feed_example(&base, &hub)
            .await
            .unwrap();
    }
}
