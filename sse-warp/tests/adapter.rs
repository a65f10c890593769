//! The shared adapter checks against warp, with and without warp's gzip
//! filter.

use sse_conformance::adapter::{OwnFeed, Server};
use sse_hub::hub::{Hub, HubConfig};
use warp::Filter;

async fn serve_with(config: HubConfig, compress: bool) -> Server {
    let hub = Hub::open(config).expect("a hub");
    let own = OwnFeed::default();
    let feed = own.clone();
    let own_route = warp::path("own")
        .map(move || {
            sse_warp::Sse::new(feed.events()).coalesce(sse_conformance::adapter::OWN_COALESCE)
        })
        .map(|r| Box::new(r) as Box<dyn warp::Reply>);
    let id = warp::path("id")
        .and(sse_warp::last_event_id())
        .map(|sse_warp::LastEventId(id)| format!("{id:?}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("an ephemeral port");
    let addr = listener.local_addr().expect("a bound address");
    let routes = warp::path("sse")
        .and(sse_warp::routes(hub.clone()))
        .or(sse_warp::routes(hub.clone()))
        .unify()
        .map(|r| Box::new(r) as Box<dyn warp::Reply>);
    let app = id
        .map(|r| Box::new(r) as Box<dyn warp::Reply>)
        .or(own_route)
        .unify()
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
        own,
    }
}

sse_conformance::adapter_tests! {
    serve: serve_with,
    with_compression: streams_through_compression,
}
