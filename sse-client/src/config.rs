//! What a stream is configured with, as the builder leaves it to the
//! driver.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::HeaderMap;

use crate::backoff::Backoff;
use crate::error::HeaderError;

type HeaderFuture = Pin<Box<dyn Future<Output = Result<HeaderMap, HeaderError>> + Send>>;
/// Made by `EventSourceBuilder::headers_with`.
pub(crate) type HeaderFactory = Arc<dyn Fn() -> HeaderFuture + Send + Sync>;

pub(crate) struct Config {
    pub(crate) method: Method,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
    pub(crate) header_factory: Option<HeaderFactory>,
    pub(crate) last_event_id: String,
    pub(crate) backoff: Backoff,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_retries: Option<u32>,
    pub(crate) retry_unsafe: bool,
    pub(crate) lossy_utf8: bool,
    pub(crate) max_line_len: usize,
    pub(crate) max_event_len: usize,
}
