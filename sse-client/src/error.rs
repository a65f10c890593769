//! The errors an [`EventSource`](crate::EventSource) yields.

use reqwest::StatusCode;
use sse_hub::decode::DecodeError;

use crate::event::Reason;

/// What a header factory may fail with.
pub type HeaderError = Box<dyn std::error::Error + Send + Sync>;

/// Why a stream failed, or an event was lost.
///
/// Every error but [`Error::Decode`] is fatal: it is the stream's last
/// item.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server refused the request with a status that retrying will not
    /// change (a `4xx` other than `408` and `429`, or a `2xx` other than
    /// `200` and `204`).
    #[error("the server answered {status}: {body}")]
    Status {
        /// The status.
        status: StatusCode,
        /// The start of the answer's body (at most 1 KiB, lossy UTF-8), which
        /// usually says what was wrong.
        body: String,
    },
    /// The answer is not an event stream.
    #[error(
        "the server answered with content type {found:?}, not text/event-stream: \
         check the URL, it does not point at an event stream"
    )]
    ContentType {
        /// The `Content-Type` it had, if any.
        found: Option<String>,
    },
    /// The stream is not UTF-8, as event streams must be. Turn on
    /// [`lossy_utf8`](crate::EventSourceBuilder::lossy_utf8) to decode it
    /// as browsers do, with U+FFFD for each invalid byte.
    #[error(
        "the event stream is not valid UTF-8 (byte {offset} of the connection's body); \
         EventSourceBuilder::lossy_utf8 decodes it as browsers do"
    )]
    InvalidUtf8 {
        /// Where the first invalid byte is, counted from the start of the
        /// connection's body.
        offset: u64,
    },
    /// A line or an event was larger than the decoder's bound; it was
    /// discarded, and the stream goes on. Not fatal.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The connection of a request that is not retried (a `POST`, unless
    /// [`retry_unsafe`](crate::EventSourceBuilder::retry_unsafe)) broke.
    #[error(
        "the stream broke ({reason}) and a {method} is not sent again: \
         EventSourceBuilder::retry_unsafe allows it where that is safe"
    )]
    NotRetried {
        /// The request's method.
        method: reqwest::Method,
        /// What broke it.
        reason: Reason,
    },
    /// The connects after a failure failed
    /// [`max_retries`](crate::EventSourceBuilder::max_retries) times in a
    /// row.
    #[error("gave up after {retries} retries in a row; the last failure: {reason}")]
    RetriesExhausted {
        /// How many reconnects were tried.
        retries: u32,
        /// Why the last one failed.
        reason: Reason,
    },
    /// The header factory failed, so no request was sent.
    #[error("the header factory failed: {0}")]
    Headers(#[source] HeaderError),
    /// The builder was given an invalid URL or header.
    #[error("{0}")]
    Invalid(String),
    /// The request could not be built, or the default HTTP client could
    /// not be made.
    #[error("the request could not be built: {0}")]
    Request(#[source] reqwest::Error),
}

impl Error {
    /// Whether the stream ends with this error. Only [`Error::Decode`] is
    /// not fatal.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, Error::Decode(_))
    }

    /// The status the server answered, for [`Error::Status`].
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}
