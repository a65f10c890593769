//! The shared adapter checks against actix-web, with and without its
//! `Compress` middleware.

use actix_web::middleware::{Compress, Condition};
use actix_web::{App, HttpServer, web};
use sse_actix::{LastEventId, Sse};
use sse_conformance::adapter::{OWN_COALESCE, OwnFeed, Server};
use sse_hub::hub::{Hub, HubConfig};

/// Starts the server on its own actix system thread, as actix wants.
async fn serve_with(config: HubConfig, compress: bool) -> Server {
    let hub = Hub::open(config).expect("a hub");
    let own = OwnFeed::default();
    let feed = own.clone();
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
                    .route("/own", {
                        let feed = feed.clone();
                        web::get().to(move || {
                            let events = feed.events();
                            async move { Sse::new(events).coalesce(OWN_COALESCE) }
                        })
                    })
                    .service(web::scope("/sse").configure(sse_actix::configure(app_hub.clone())))
                    .configure(sse_actix::configure(app_hub.clone()))
            })
            .workers(1)
            .h1_allow_half_closed(false)
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
        own,
    }
}

sse_conformance::adapter_tests! {
    serve: serve_with,
    with_compression: streams_through_compression,
}
