//! Your own stream and per-user topics in a Rocket app.
//!
//! ```sh
//! cargo run -p sse-rocket --example feed
//! curl -N localhost:8000/ticks                                   # your own stream
//! curl -N -H 'x-user-id: 42' localhost:8000/notifications        # user 42's topic
//! curl -X POST 'localhost:8000/sse/notify?topic=user-42' \
//!      -H 'content-type: application/json' -d '"hello 42"'       # publish to them
//! ```

use std::time::Duration;

use futures::stream::{self, Stream};
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{Build, Rocket, State, get, routes};
use sse_rocket::HubConfig;
use sse_rocket::{Event, Hub, HubResponse, LastEventId, Sse};

/// How often `/ticks` ticks.
struct Tick(Duration);

/// The app: a ticker of its own at `/ticks`, each user's notifications at
/// `/notifications`, and the SSE contract under `/sse`.
fn app(rocket: Rocket<Build>, hub: Hub, tick: Duration) -> Rocket<Build> {
    rocket
        .manage(hub)
        .manage(Tick(tick))
        .mount("/", routes![ticks, notifications])
        .mount("/sse", sse_rocket::routes())
}

/// A stream that is not the broker's: a numbered tick every period.
#[get("/ticks")]
fn ticks(tick: &State<Tick>) -> Sse<impl Stream<Item = Event> + Send + 'static> {
    let period = tick.0;
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
struct User(u64);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for User {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ()> {
        match request
            .headers()
            .get_one("x-user-id")
            .and_then(|id| id.parse().ok())
        {
            Some(id) => Outcome::Success(User(id)),
            None => Outcome::Error((Status::Unauthorized, ())),
        }
    }
}

#[get("/notifications")]
async fn notifications(hub: &State<Hub>, user: User, last: LastEventId) -> HubResponse {
    hub.subscribe([format!("user-{}", user.0)], last.0.as_deref())
        .await
        .into()
}

#[rocket::launch]
fn rocket() -> _ {
    app(
        rocket::build(),
        Hub::open(HubConfig::default()).expect("a hub"),
        Duration::from_secs(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::fairing::AdHoc;
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
        let config = rocket::Config {
            address: std::net::Ipv4Addr::LOCALHOST.into(),
            port: 0,
            log_level: rocket::config::LogLevel::Off,
            ..rocket::Config::debug_default()
        };
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let sender = std::sync::Mutex::new(Some(sender));
        let rocket = app(
            rocket::custom(config),
            hub.clone(),
            Duration::from_millis(50),
        )
        .attach(AdHoc::on_liftoff("port", move |rocket| {
            let port = rocket.config().port;
            Box::pin(async move {
                if let Some(sender) = sender.lock().ok().and_then(|mut s| s.take()) {
                    let _ = sender.send(port);
                }
            })
        }));
        tokio::spawn(rocket.launch());
        let port = receiver.await.unwrap();
        let base = format!("http://127.0.0.1:{port}");
        sse_conformance::examples::check_feed_example(&base, &hub)
            .await
            .unwrap();
    }
}
