//! One [`Serve`](crate::Serve) function per framework, each wiring its
//! adapter crate in that framework's idiom: the part of an example worth
//! reading.

pub mod actix;
pub mod axum;
pub mod poem;
pub mod rocket;
pub mod warp;

/// A multi-threaded Tokio runtime for the frameworks that run on a plain
/// one.
fn tokio_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}
