//! The shared adapter checks against actix-web, with and without its
//! `Compress` middleware.

use actix_web::middleware::{Compress, Condition};
use actix_web::{App, HttpServer, web};
use sse_actix::LastEventId;
use sse_conformance::adapter::{self, Server};
use sse_core::contract::{Config, Hub};

/// Starts the server on its own actix system thread, as actix wants.
async fn serve(compress: bool) -> Server {
    serve_with(Config::default(), compress).await
}

async fn serve_with(config: Config, compress: bool) -> Server {
    let hub = Hub::new(config);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let app_hub = hub.clone();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new()
                    .wrap(Condition::new(compress, Compress::default()))
                    .route(
                        "/id",
                        web::get()
                            .to(|LastEventId(id): LastEventId| async move { format!("{id:?}") }),
                    )
                    .configure(sse_actix::configure(app_hub.clone()))
            })
            .workers(1)
            .bind(("127.0.0.1", 0))
            .expect("an ephemeral port");
            let addr = server.addrs()[0];
            let running = server.run();
            let _ = sender.send(addr);
            running.await
        })
    });
    let addr = receiver.await.expect("the server started");
    Server {
        base: format!("http://{addr}"),
        hub,
    }
}

#[tokio::test]
async fn response_headers_and_preamble() {
    adapter::response_headers_and_preamble(&serve(false).await)
        .await
        .unwrap();
}

#[tokio::test]
async fn last_event_id_from_header_then_query() {
    let server = serve(false).await;
    adapter::last_event_id_header_then_query(&server)
        .await
        .unwrap();
    adapter::last_event_id_extractor(&server, "/id")
        .await
        .unwrap();
}

#[tokio::test]
async fn notify_and_other_routes() {
    let server = serve(false).await;
    adapter::notify_reads_the_body(&server).await.unwrap();
    adapter::other_routes(&server).await.unwrap();
}

#[tokio::test]
async fn flushes_each_event_at_once() {
    adapter::flushes_each_event_at_once(&serve(false).await)
        .await
        .unwrap();
}

#[tokio::test]
#[ignore = "actix-web 4 keeps an idle stream of a gone client open (actix/actix-web#1313): open in issue 5"]
async fn notices_disconnect() {
    adapter::notices_disconnect(&serve(false).await)
        .await
        .unwrap();
}

#[tokio::test]
async fn streams_through_compression() {
    let server = serve(true).await;
    adapter::compresses_other_responses(&server).await.unwrap();
    adapter::response_headers_and_preamble(&server)
        .await
        .unwrap();
    adapter::flushes_each_event_at_once(&server).await.unwrap();
}

#[tokio::test]
async fn notices_disconnect_by_heartbeat() {
    adapter::notices_disconnect_by_heartbeat(
        &serve_with(
            Config {
                heartbeat: std::time::Duration::from_millis(250),
                ..Config::default()
            },
            false,
        )
        .await,
    )
    .await
    .unwrap();
}
