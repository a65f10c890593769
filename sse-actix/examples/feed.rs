//! Your own stream and per-user topics in an actix-web app.
//!
//! ```sh
//! cargo run -p sse-actix --example feed
//! curl -N localhost:3000/ticks                                   # your own stream
//! curl -N -H 'x-user-id: 42' localhost:3000/notifications        # user 42's topic
//! curl -X POST 'localhost:3000/sse/notify?topic=user-42' \
//!      -H 'content-type: application/json' -d '"hello 42"'       # publish to them
//! ```

use std::time::Duration;

use actix_web::{App, HttpRequest, HttpServer, web};
use futures::stream::{self, Stream};
use sse_actix::HubConfig;
use sse_actix::{Event, Hub, HubResponse, LastEventId, Sse};

/// The app: a ticker of its own at `/ticks`, each user's notifications at
/// `/notifications`, and the SSE contract under `/sse`.
fn app(hub: Hub, tick: Duration) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(web::Data::new(hub.clone()))
            .route("/ticks", web::get().to(move || ticks(tick)))
            .route("/notifications", web::get().to(notifications))
            .service(web::scope("/sse").configure(sse_actix::configure(hub)));
    }
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
fn user_id(request: &HttpRequest) -> Option<u64> {
    request
        .headers()
        .get("x-user-id")?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

async fn notifications(
    hub: web::Data<Hub>,
    LastEventId(last): LastEventId,
    request: HttpRequest,
) -> actix_web::Result<HubResponse> {
    let user =
        user_id(&request).ok_or_else(|| actix_web::error::ErrorUnauthorized("who are you?"))?;
    Ok(hub
        .subscribe([format!("user-{user}")], last.as_deref())
        .await
        .into())
}

fn server(
    hub: Hub,
    tick: Duration,
    listener: std::net::TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    let server = HttpServer::new(move || App::new().configure(app(hub.clone(), tick)))
        // Notice at once when an idle client goes away.
        .h1_allow_half_closed(false)
        .listen(listener)?;
    for addr in server.addrs() {
        println!("listening on http://{addr}");
    }
    Ok(server.run())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("SSE_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = std::net::TcpListener::bind(addr)?;
    server(
        Hub::open(HubConfig::default()).expect("a hub"),
        Duration::from_secs(1),
        listener,
    )?
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use sse_conformance::adapter_tests::{Backend, Engine};

    #[test]
    fn ticks_and_per_user_notifications_in_memory() {
        ticks_and_per_user_notifications(Engine::Memory);
    }

    /// The README's step 2 (this example's `/notifications`), with the hub
    /// on Redis and nothing else changed.
    #[test]
    fn ticks_and_per_user_notifications_on_redis() {
        ticks_and_per_user_notifications(Engine::Redis);
    }

    fn ticks_and_per_user_notifications(engine: Engine) {
        // On Redis the hub's tail runs in the runtime that opens it.
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let Some((_redis, hub)) = runtime.block_on(Backend::open_hub(engine, "feed example"))
        else {
            return;
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server_hub = hub.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                server(server_hub, Duration::from_millis(50), listener)
                    .unwrap()
                    .await
            })
        });
        runtime.block_on(async {
            sse_conformance::examples::check_feed_example(&base, &hub)
                .await
                .unwrap();
        });
    }
}
