//! The shared adapter checks against warp, with and without warp's gzip
//! filter.

use sse_conformance::adapter::{self, Server};
use sse_core::contract::{Config, Hub};
use warp::Filter;

async fn serve(compress: bool) -> Server {
    let hub = Hub::new(Config::default());
    let id = warp::path("id")
        .and(sse_warp::last_event_id())
        .map(|sse_warp::LastEventId(id)| format!("{id:?}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("an ephemeral port");
    let addr = listener.local_addr().expect("a bound address");
    let routes = sse_warp::routes(hub.clone()).map(|r| Box::new(r) as Box<dyn warp::Reply>);
    let app = id
        .map(|r| Box::new(r) as Box<dyn warp::Reply>)
        .or(routes)
        .unify();
    if compress {
        tokio::spawn(
            warp::serve(app.with(warp::compression::gzip()))
                .incoming(listener)
                .run(),
        );
    } else {
        tokio::spawn(warp::serve(app).incoming(listener).run());
    }
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
