//! The shared adapter checks against Rocket (which has no compression of
//! its own to check against).

use rocket::fairing::AdHoc;
use rocket::get;
use sse_conformance::adapter::{OWN_COALESCE, OwnFeed, Server};
use sse_hub::hub::{Hub, HubConfig};
use sse_rocket::{LastEventId, ProbeIdle, Sse};

#[get("/id")]
fn last_id(id: LastEventId) -> String {
    format!("{:?}", id.0)
}

#[get("/own")]
fn own_feed(
    feed: &rocket::State<OwnFeed>,
) -> Sse<impl futures::Stream<Item = sse_hub::Event> + Send + 'static> {
    Sse::new(feed.events()).coalesce(OWN_COALESCE)
}

async fn serve_with(config: HubConfig, _compress: bool) -> Server {
    let hub = Hub::open(config).expect("a hub");
    let own = OwnFeed::default();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let sender = std::sync::Mutex::new(Some(sender));
    let config = rocket::Config {
        address: std::net::Ipv4Addr::LOCALHOST.into(),
        port: 0,
        log_level: rocket::config::LogLevel::Off,
        shutdown: rocket::config::Shutdown {
            ctrlc: false,
            ..Default::default()
        },
        ..rocket::Config::debug_default()
    };
    let rocket = rocket::custom(config)
        .manage(hub.clone())
        .manage(own.clone())
        // The checks bound noticing a disconnect to a second; at the
        // default interval (two seconds) Rocket takes up to four, which the
        // example servers' conformance checks bound instead.
        .manage(ProbeIdle::every(std::time::Duration::from_millis(300)))
        .mount("/", rocket::routes![last_id, own_feed])
        .mount("/", sse_rocket::routes())
        .mount("/sse", sse_rocket::routes())
        .attach(AdHoc::on_liftoff("port", move |rocket| {
            let port = rocket.config().port;
            Box::pin(async move {
                if let Some(sender) = sender.lock().ok().and_then(|mut s| s.take()) {
                    let _ = sender.send(port);
                }
            })
        }));
    tokio::spawn(rocket.launch());
    let port = receiver.await.expect("rocket lifted off");
    Server {
        base: format!("http://127.0.0.1:{port}"),
        hub,
        own,
    }
}

sse_conformance::adapter_tests! {
    serve: serve_with,
}
