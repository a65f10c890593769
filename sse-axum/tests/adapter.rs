//! The shared adapter checks against axum, with and without tower-http's
//! compression.

use axum::Router;
use axum::routing::get;
use sse_axum::LastEventId;
use sse_conformance::adapter::{self, Server};
use sse_core::contract::{Config, Hub};
use tower_http::compression::CompressionLayer;

async fn serve(compress: bool) -> Server {
    let hub = Hub::new(Config::default());
    let mut app = Router::new()
        .route(
            "/id",
            get(|LastEventId(id): LastEventId| async move { format!("{id:?}") }),
        )
        .merge(sse_axum::routes(hub.clone()));
    if compress {
        app = app.layer(CompressionLayer::new());
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("an ephemeral port");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move { axum::serve(listener, app).await });
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
