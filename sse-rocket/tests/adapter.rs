//! The shared adapter checks against Rocket (which has no compression of
//! its own to check against).

use rocket::fairing::AdHoc;
use rocket::get;
use sse_conformance::adapter::{self, Server};
use sse_core::contract::{Config, Hub};
use sse_rocket::LastEventId;

#[get("/id")]
fn last_id(id: LastEventId) -> String {
    format!("{:?}", id.0)
}

async fn serve() -> Server {
    serve_with(Config::default()).await
}

async fn serve_with(config: Config) -> Server {
    let hub = Hub::new(config);
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
        .mount("/", rocket::routes![last_id])
        .mount("/", sse_rocket::routes())
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
    }
}

#[tokio::test]
async fn response_headers_and_preamble() {
    adapter::response_headers_and_preamble(&serve().await)
        .await
        .unwrap();
}

#[tokio::test]
async fn last_event_id_from_header_then_query() {
    let server = serve().await;
    adapter::last_event_id_header_then_query(&server)
        .await
        .unwrap();
    adapter::last_event_id_extractor(&server, "/id")
        .await
        .unwrap();
}

#[tokio::test]
async fn notify_and_other_routes() {
    let server = serve().await;
    adapter::notify_reads_the_body(&server).await.unwrap();
    adapter::other_routes(&server).await.unwrap();
}

#[tokio::test]
async fn flushes_each_event_at_once() {
    adapter::flushes_each_event_at_once(&serve().await)
        .await
        .unwrap();
}

#[tokio::test]
#[ignore = "Rocket 0.5 keeps an idle stream of a gone client open until a write fails: open in issue 5"]
async fn notices_disconnect() {
    adapter::notices_disconnect(&serve().await).await.unwrap();
}

#[tokio::test]
async fn notices_disconnect_by_heartbeat() {
    adapter::notices_disconnect_by_heartbeat(
        &serve_with(Config {
            heartbeat: std::time::Duration::from_millis(250),
            ..Config::default()
        })
        .await,
    )
    .await
    .unwrap();
}
