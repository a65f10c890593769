//! The contract served by warp: `cargo run -p sse-examples --bin warp`.

use hyper_util::service::TowerToHyperService;
use sse_core::contract::Config;

use crate::{Ready, Shutdown, Stop};

/// Serves the contract with warp; see [`Serve`](crate::Serve). The filter
/// runs as a service (`warp::service`) on the examples' own hyper loop
/// rather than `warp::serve`, which has no request timeout and no
/// connection cap (see [`hyper_serve`](super::hyper_serve)).
pub fn serve(config: Config, stop: Stop, ready: Ready) -> std::io::Result<()> {
    super::tokio_runtime()?.block_on(async {
        let hub = crate::open_hub(config).await?;
        let listener = super::hyper_serve::bind(&hub.config().addr)?;
        ready(listener.local_addr()?);
        let shutdown = Shutdown::on(stop, hub.broker().clone());
        let filter = warp::service(sse_warp::routes(hub.clone()));
        let service = move |_peer| TowerToHyperService::new(filter.clone());
        let server = super::hyper_serve::serve(listener, &hub, service, shutdown.clone());
        shutdown.run(server).await;
        Ok(())
    })
}
