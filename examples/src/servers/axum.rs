//! The contract served by axum: `cargo run -p sse-examples --bin axum`.

use hyper_util::service::TowerToHyperService;
use sse_core::contract::Config;

use crate::{Ready, Shutdown, Stop};

/// Serves the contract with axum; see [`Serve`](crate::Serve). The router
/// runs on the examples' own hyper loop rather than `axum::serve`, which
/// has no request timeout and no connection cap (see
/// [`hyper_serve`](super::hyper_serve)).
pub fn serve(config: Config, stop: Stop, ready: Ready) -> std::io::Result<()> {
    super::tokio_runtime()?.block_on(async {
        let hub = crate::open_hub(config).await?;
        let listener = super::hyper_serve::bind(&hub.config().addr)?;
        ready(listener.local_addr()?);
        let shutdown = Shutdown::on(stop, hub.broker().clone());
        let router: axum::Router = sse_axum::routes(hub.clone());
        let service = move |_peer| TowerToHyperService::new(router.clone());
        let server = super::hyper_serve::serve(listener, &hub, service, shutdown.clone());
        shutdown.run(server).await;
        Ok(())
    })
}
