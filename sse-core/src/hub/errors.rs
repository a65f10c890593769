//! Why a hub could not be built, or could not publish.

use crate::broker::BrokerError;

/// Why [`Hub::open`](super::Hub::open) could not build a hub.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The Redis broker could not start.
    #[cfg(feature = "redis")]
    #[error(transparent)]
    Redis(#[from] crate::redis::RedisError),
    /// `config.redis` is set but this build has no Redis support.
    #[error("multi-instance mode (--redis) needs sse-hub's `redis` feature")]
    RedisNotBuilt,
    /// `config.jwt`'s key cannot verify tokens.
    #[cfg(feature = "jwt")]
    #[error(transparent)]
    Jwt(#[from] crate::auth::JwtKeyError),
    /// `config.jwt` is set but this build cannot verify JWTs.
    #[error("JWT authorization (--jwt-secret, --jwt-public-key) needs sse-hub's `jwt` feature")]
    JwtNotBuilt,
}

/// Why [`Hub::publish`](super::Hub::publish) did not publish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The in-memory broker refused.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// Redis could not store the event.
    #[cfg(feature = "redis")]
    #[error(transparent)]
    Redis(#[from] crate::redis::RedisError),
}

/// Why [`Hub::history`](super::Hub::history) or
/// [`Hub::presence`](super::Hub::presence) could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The in-memory broker refused (no topics, shut down).
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// Redis could not be read.
    #[cfg(feature = "redis")]
    #[error(transparent)]
    Redis(#[from] crate::redis::RedisError),
}
