//! The shared adapter checks against axum, with and without tower-http's
//! compression.

use axum::Router;
use axum::routing::get;
use sse_axum::{LastEventId, Sse};
use sse_conformance::adapter::{OWN_COALESCE, OwnFeed, Server};
use sse_hub::hub::{Hub, HubConfig};
use tower_http::compression::CompressionLayer;

async fn serve_with(config: HubConfig, compress: bool) -> Server {
    let hub = Hub::open(config).expect("a hub");
    let own = OwnFeed::default();
    let feed = own.clone();
    let mut app = Router::new()
        .route(
            "/id",
            get(|LastEventId(id): LastEventId| async move { format!("{id:?}") }),
        )
        .route(
            "/own",
            get(move || async move { Sse::new(feed.events()).coalesce(OWN_COALESCE) }),
        )
        .merge(sse_axum::routes(hub.clone()))
        .merge(sse_axum::routes_under("/sse", hub.clone()));
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
        own,
    }
}

sse_conformance::adapter_tests! {
    serve: serve_with,
    with_compression: streams_through_compression,
}
