//! What an [`EventSource`](crate::EventSource) yields.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{StatusCode, Version};
use sse_hub::decode::MessageEvent;

/// What happened on the stream.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A connection was answered `200` with an event stream.
    Opened(Opened),
    /// An event arrived.
    Message(Message),
    /// The connection is gone or was refused for now; the next connect is
    /// after [`Reconnecting::delay`].
    Reconnecting(Reconnecting),
}

/// A connection that opened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Opened {
    /// The answer's status: `200`.
    pub status: StatusCode,
    /// The HTTP version the connection speaks.
    pub version: Version,
    /// The connection's number on this stream, from 1.
    pub connection: u64,
}

/// A dispatched event: its type, data and id, as a browser's
/// `EventSource` hands them to a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message(MessageEvent);

impl Message {
    pub(crate) fn new(event: MessageEvent) -> Self {
        Self(event)
    }

    /// The event type: the `event:` field, or `message` when it had none.
    pub fn event(&self) -> &str {
        self.0.event()
    }

    /// The data lines, joined with LF.
    pub fn data(&self) -> &str {
        self.0.data()
    }

    /// The last event id of the stream as of this event (the spec's
    /// `lastEventId`): an event without an `id:` carries the previous one.
    /// This is what a reconnect sends as `Last-Event-ID`.
    pub fn id(&self) -> &str {
        self.0.last_event_id()
    }

    /// The data, without copying it.
    pub fn into_data(self) -> String {
        self.0.into_data()
    }

    /// The data parsed as JSON.
    ///
    /// ```
    /// # use sse_hub_client::Message;
    /// #[derive(serde::Deserialize)]
    /// struct Price { symbol: String, cents: u64 }
    ///
    /// # fn show(message: Message) -> Result<(), serde_json::Error> {
    /// let price: Price = message.json()?;
    /// println!("{} {}", price.symbol, price.cents);
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.data())
    }
}

/// A reconnect to come.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Reconnecting {
    /// How many connects in a row have failed, this one included: 1 after
    /// a healthy stream ended.
    pub attempt: u32,
    /// How long the client waits before it connects again.
    pub delay: Duration,
    /// Why the connection is gone or was refused.
    pub reason: Reason,
}

/// Why a stream needs a new connection.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Reason {
    /// The server ended the stream cleanly.
    Ended,
    /// No byte arrived for this long, heartbeats included: the connection
    /// is taken for dead.
    IdleTimeout(Duration),
    /// The server answered with a status that asks to try again later
    /// (`5xx`, `408` or `429`).
    Status {
        /// The status.
        status: StatusCode,
        /// Its `Retry-After`, on `503` and `429`, when it had one.
        retry_after: Option<Duration>,
    },
    /// Connecting or reading failed.
    Network(Arc<reqwest::Error>),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Ended => f.write_str("the server ended the stream"),
            Reason::IdleTimeout(after) => {
                write!(
                    f,
                    "nothing arrived for {after:?}, so the connection is taken for dead"
                )
            }
            Reason::Status {
                status,
                retry_after: Some(after),
            } => write!(f, "the server answered {status}, retry after {after:?}"),
            Reason::Status { status, .. } => write!(f, "the server answered {status}"),
            Reason::Network(error) => {
                // reqwest's own message is terse; its causes say what failed.
                write!(f, "network error: {error}")?;
                let mut source = std::error::Error::source(error.as_ref());
                while let Some(cause) = source {
                    write!(f, ": {cause}")?;
                    source = cause.source();
                }
                Ok(())
            }
        }
    }
}
