//! The shared adapter checks against poem, with and without poem's
//! compression middleware.

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::middleware::Compression;
use poem::{EndpointExt, Server, get, handler};
use sse_conformance::adapter::{self, Server as Served};
use sse_core::contract::{Config, Hub};
use sse_poem::LastEventId;

#[handler]
fn last_id(LastEventId(id): LastEventId) -> String {
    format!("{id:?}")
}

async fn serve(compress: bool) -> Served {
    serve_with(Config::default(), compress).await
}

async fn serve_with(config: Config, compress: bool) -> Served {
    let hub = Hub::new(config);
    let routes = sse_poem::routes(hub.clone()).at("/id", get(last_id));
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .expect("an ephemeral port");
    let addr = acceptor.local_addr()[0]
        .as_socket_addr()
        .copied()
        .expect("a TCP address");
    let server = Server::new_with_acceptor(acceptor);
    if compress {
        tokio::spawn(server.run(routes.with(Compression::new())));
    } else {
        tokio::spawn(server.run(routes));
    }
    Served {
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
#[ignore = "poem 3.1 keeps an idle stream of a gone client open: under investigation (issue 5)"]
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
