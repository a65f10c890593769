//! The contract served by actix-web: `cargo run -p sse-examples --bin actix`.

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{Extensions, ServiceRequest, ServiceResponse};
use actix_web::http::{KeepAlive, Method, StatusCode, header};
use actix_web::middleware::{Condition, Next, from_fn};
use actix_web::{App, HttpServer};
use sse_hub::connections::ConnectionLimit;
use sse_hub::hub::cors;

use crate::{Ready, SHUTDOWN_GRACE, ServerConfig, Shutdown, Stop};

/// Serves the contract with actix-web; see [`Serve`](crate::Serve).
///
/// `--request-timeout` is actix-web's own `client_request_timeout` (a
/// request head that has not arrived in time is answered `408`) and its
/// `keep_alive` (idle connections between requests); actix-server's
/// accept loop already waits after accept errors. The connection cap is
/// taken in `on_connect` (see `take_place`).
pub fn serve(config: ServerConfig, stop: Stop, ready: Ready) -> std::io::Result<()> {
    actix_web::rt::System::new().block_on(async {
        let hub = crate::open_hub(config.hub.clone()).await?;
        let app_hub = hub.clone();
        let connections = hub.connection_limit(config.connection_cap());
        let timeout = config.request_timeout;
        let origins = config.cors_origins.clone();
        let server = HttpServer::new(move || {
            App::new()
                .configure(sse_actix::configure(app_hub.clone()))
                .wrap(Condition::new(!origins.is_empty(), cors(&origins)))
                .wrap(Condition::new(
                    !origins.is_empty(),
                    from_fn(preflight_no_content),
                ))
        })
        .disable_signals() // the stop ends the streams first
        // Notice at once when an idle client goes away (see sse-actix).
        .h1_allow_half_closed(false)
        .client_request_timeout(timeout)
        .keep_alive(KeepAlive::Timeout(timeout))
        .on_connect(move |connection, extensions| {
            take_place(&connections, connection, extensions);
        })
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        // As the hyper loop's (see `sse_hub::serve::bind`); actix-web
        // keeps 2048.
        .backlog(sse_hub::serve::LISTEN_BACKLOG.unsigned_abs());
        let addr = config.addr.as_str();
        // actix-web's own TLS (rustls 0.23), which offers h2 and
        // http/1.1 by ALPN itself; and its own h2c.
        let server = match &config.tls {
            Some(files) => {
                server.bind_rustls_0_23(addr, sse_hub::serve::server_config(files, false)?)?
            }
            None if config.h2c => server.bind_auto_h2c(addr)?,
            None => server.bind(addr)?,
        };
        let addr = server
            .addrs()
            .first()
            .copied()
            .ok_or_else(|| std::io::Error::other("actix-web bound no address"))?;
        ready(addr);
        let server = server.run();
        let handle = server.handle();
        let shutdown = Shutdown::on(stop, hub.clone(), config.drain_timeout);
        let stopping = shutdown.clone();
        actix_web::rt::spawn(async move {
            // Once the drain is over every stream has ended, but a
            // connection may still be writing its last chunk: a graceful
            // stop lets it, and closes idle keep-alive connections after
            // `shutdown_timeout` (SHUTDOWN_GRACE). Stopping at once cut
            // those last chunks off.
            stopping.started().await;
            handle.stop(true).await;
        });
        shutdown.run(server).await;
        Ok(())
    })
}

/// Gives a new connection its place under `--max-connections`, kept in
/// the connection's extensions so that it is freed with the connection;
/// without a place the socket is shut down at once. actix-web's own
/// `max_connections` would instead stop accepting, leaving new clients
/// hanging in the listen backlog, and it counts per worker.
fn take_place(
    limit: &ConnectionLimit,
    connection: &dyn std::any::Any,
    extensions: &mut Extensions,
) {
    match limit.try_acquire() {
        Some(permit) => {
            extensions.insert(std::sync::Arc::new(permit));
        }
        None => {
            if let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
                // The dispatcher then reads end-of-file and drops the
                // connection before serving anything.
                let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// actix-cors for `--cors-origin`: the listed origins, with credentials,
/// and the contract's methods and headers. A request from another origin
/// is served without `Access-Control-Allow-Origin`, not refused with the
/// `400` of actix-cors's default.
fn cors(origins: &[String]) -> Cors {
    origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allowed_methods(cors::ALLOWED_METHODS)
        .allowed_headers(cors::ALLOWED_HEADERS)
        .max_age(usize::try_from(cors::MAX_AGE.as_secs()).ok())
        .supports_credentials()
        .block_on_origin_mismatch(false)
}

/// Where actix-cors and the contract differ: it answers preflights `200`
/// (the contract says `204`), and sends `Access-Control-Allow-Credentials`
/// to origins it does not allow (the contract sends them no CORS header).
async fn preflight_no_content(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let preflight = request.method() == Method::OPTIONS;
    let mut response = next.call(request).await?;
    if preflight && response.status() == StatusCode::OK {
        *response.response_mut().status_mut() = StatusCode::NO_CONTENT;
    }
    let headers = response.headers_mut();
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        headers.remove(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
    }
    Ok(response)
}
