//! Why an engine did not publish or read.

use crate::broker::BrokerError;

/// Why [`Hub::publish`](crate::Hub::publish) (or a batch, or an ephemeral
/// event) did not publish.
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

/// Why [`Hub::history`](crate::Hub::history),
/// [`Hub::presence`](crate::Hub::presence) or a subscription could not
/// answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The in-memory broker refused (no topics, too many streams, shut
    /// down).
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// Redis could not be read.
    #[cfg(feature = "redis")]
    #[error(transparent)]
    Redis(#[from] crate::redis::RedisError),
}

impl PublishError {
    /// The broker's own refusal behind this error, whichever engine
    /// passed it on.
    pub fn broker_error(&self) -> Option<&BrokerError> {
        match self {
            Self::Broker(err) => Some(err),
            #[cfg(feature = "redis")]
            Self::Redis(crate::redis::RedisError::Broker(err)) => Some(err),
            #[cfg(feature = "redis")]
            Self::Redis(_) => None,
        }
    }
}

impl ReadError {
    /// The broker's own refusal behind this error, whichever engine
    /// passed it on: [`BrokerError::NoTopics`] is the caller's mistake,
    /// the others say the server cannot serve now.
    ///
    /// ```
    /// use sse_hub::{Hub, HubConfig, broker::BrokerError};
    ///
    /// # futures::executor::block_on(async {
    /// let hub = Hub::open(HubConfig::default())?;
    /// let err = hub.history(Vec::<String>::new(), None, 10).await.unwrap_err();
    /// assert_eq!(err.broker_error(), Some(&BrokerError::NoTopics));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn broker_error(&self) -> Option<&BrokerError> {
        match self {
            Self::Broker(err) => Some(err),
            #[cfg(feature = "redis")]
            Self::Redis(crate::redis::RedisError::Broker(err)) => Some(err),
            #[cfg(feature = "redis")]
            Self::Redis(_) => None,
        }
    }
}
