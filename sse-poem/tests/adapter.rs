//! The shared adapter checks against poem, with and without poem's
//! compression middleware.

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::middleware::Compression;
use poem::{EndpointExt, Server, get, handler};
use sse_conformance::adapter::{OWN_COALESCE, OwnFeed, Server as Served};
use sse_hub::hub::{Hub, HubConfig};
use sse_poem::{LastEventId, Sse};

#[handler]
fn last_id(LastEventId(id): LastEventId) -> String {
    format!("{id:?}")
}

async fn serve_with(config: HubConfig, compress: bool) -> Served {
    let hub = Hub::open(config).expect("a hub");
    let own = OwnFeed::default();
    let feed = own.clone();
    let routes = sse_poem::routes(hub.clone())
        .nest("/sse", sse_poem::routes(hub.clone()))
        .at("/id", get(last_id))
        .at(
            "/own",
            get(poem::endpoint::make_sync(move |_| {
                Sse::new(feed.events()).coalesce(OWN_COALESCE)
            })),
        );
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
        own,
    }
}

sse_conformance::adapter_tests! {
    serve: serve_with,
    with_compression: streams_through_compression,
}
