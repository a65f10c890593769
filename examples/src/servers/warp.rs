//! The contract served by warp: `cargo run -p sse-examples --bin warp`.

use sse_hub::hub::cors;
use warp::http::{Method, StatusCode};
use warp::reply::{Reply, Response};
use warp::{Filter, cors::Cors};

use crate::{Ready, ServerConfig, Shutdown, Stop};

/// Serves the contract with warp; see [`Serve`](crate::Serve). The filter
/// runs on [`sse_warp::serve`] rather than `warp::serve`, which has no
/// request timeout and no connection cap.
pub fn serve(config: ServerConfig, stop: Stop, ready: Ready) -> std::io::Result<()> {
    super::tokio_runtime()?.block_on(async {
        let hub = crate::open_hub(config.hub.clone()).await?;
        let options = config.serve_options(&hub)?;
        let listener = sse_warp::serve::bind(&config.addr)?;
        ready(listener.local_addr()?);
        let shutdown = Shutdown::on(stop, hub.clone(), config.drain_timeout);
        let routes = sse_warp::routes(hub.clone()).map(Reply::into_response);
        let filter = match cors(&config.cors_origins) {
            Some(cors) => unlisted_origin(&config.cors_origins)
                .and(routes.clone())
                .or(warp::method()
                    .and(routes.with(cors))
                    .map(preflight_no_content))
                .unify()
                .boxed(),
            None => routes.boxed(),
        };
        let server = sse_warp::serve::serve(listener, filter, options, shutdown.clone().started());
        shutdown.run(server).await;
        Ok(())
    })
}

/// warp's own CORS filter for `--cors-origin`: the listed origins, with
/// credentials, and the contract's methods and headers (other origins
/// never reach it, see [`unlisted_origin`]).
fn cors(origins: &[String]) -> Option<Cors> {
    if origins.is_empty() {
        return None;
    }
    Some(
        warp::cors()
            .allow_origins(origins.iter().map(String::as_str))
            .allow_credentials(true)
            .allow_methods(cors::ALLOWED_METHODS)
            .allow_headers(cors::ALLOWED_HEADERS)
            .max_age(cors::MAX_AGE)
            .build(),
    )
}

/// Passes requests without `Origin` or from an origin not in `listed`.
/// warp's CORS filter refuses the latter with `403`, even the server's own
/// demo page (a browser sends `Origin` with every `POST`); they are served
/// without it, with no CORS headers: a browser then keeps another origin's
/// page from reading the answer (and from sending a JSON publish at all,
/// as its preflight gets no CORS headers), as with the other frameworks.
fn unlisted_origin(
    listed: &[String],
) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone + use<> {
    let listed: std::sync::Arc<[String]> = listed.to_vec().into();
    warp::header::optional::<String>("origin")
        .and_then(move |origin: Option<String>| {
            let is_listed = origin.is_some_and(|origin| listed.contains(&origin));
            async move {
                if is_listed {
                    Err(warp::reject())
                } else {
                    Ok(())
                }
            }
        })
        .untuple_one()
}

/// warp answers preflights `200`; the contract says `204`.
fn preflight_no_content(method: Method, reply: impl Reply) -> Response {
    let mut response = reply.into_response();
    if method == Method::OPTIONS && response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
}
