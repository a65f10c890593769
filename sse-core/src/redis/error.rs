//! Why a [`RedisBroker`](super::RedisBroker) could not start, publish or
//! subscribe.

/// Why a [`RedisBroker`](super::RedisBroker) could not start, publish or
/// subscribe.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisError {
    /// The URL is not one the `redis` crate accepts.
    #[error("invalid Redis URL: {0}")]
    Url(#[source] redis::RedisError),
    /// No URL was given.
    #[error("no Redis URL: give one server's URL, or the URLs of a cluster's nodes")]
    NoUrl,
    /// The broker needs a Tokio runtime to tail Redis in.
    #[error("the Redis broker must be started inside a Tokio runtime")]
    NoRuntime,
    /// Redis cannot be reached now; the tail keeps reconnecting.
    #[error("Redis is unreachable: {0}")]
    Unavailable(String),
    /// The local broker shut down.
    #[error("the broker is shutting down")]
    Closed,
    /// The local mirror refused a subscription (too many clients, no
    /// topics, shut down).
    #[error(transparent)]
    Broker(#[from] crate::broker::BrokerError),
}

impl RedisError {
    /// The same error for another publisher of a batch.
    pub(super) fn duplicate(&self) -> Self {
        match self {
            Self::Unavailable(reason) => Self::Unavailable(reason.clone()),
            Self::Closed => Self::Closed,
            Self::NoRuntime => Self::NoRuntime,
            Self::NoUrl => Self::NoUrl,
            Self::Url(err) => Self::Unavailable(err.to_string()),
            Self::Broker(err) => Self::Broker(err.clone()),
        }
    }
}
