//! Why a hub could not be built.

/// Why [`Hub::open`](super::Hub::open) could not build a hub.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The Redis broker could not start.
    #[cfg(feature = "redis")]
    #[error(transparent)]
    Redis(#[from] crate::redis::RedisError),
    /// `config.redis` is set but this build has no Redis support.
    #[error(
        "the hub is configured for Redis, but was built without Redis support: turn on the `redis` feature of sse-hub or of the adapter crate"
    )]
    RedisNotBuilt,
    /// `config.jwt`'s key cannot verify tokens.
    #[cfg(feature = "jwt")]
    #[error(transparent)]
    Jwt(#[from] crate::auth::JwtKeyError),
    /// `config.jwt` is set but this build cannot verify JWTs.
    #[error(
        "the hub is configured for JWT authorization, but was built without it: turn on the `jwt` feature of sse-hub or of the adapter crate"
    )]
    JwtNotBuilt,
}

impl From<crate::engine::NotOpened> for OpenError {
    fn from(err: crate::engine::NotOpened) -> Self {
        match err {
            #[cfg(feature = "redis")]
            crate::engine::NotOpened::Redis(err) => Self::Redis(err),
            #[cfg(not(feature = "redis"))]
            crate::engine::NotOpened::RedisNotBuilt => Self::RedisNotBuilt,
        }
    }
}
