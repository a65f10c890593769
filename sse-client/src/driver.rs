//! The state machine behind an [`EventSource`](crate::EventSource):
//! connect, read, decide whether and when to connect again.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http_body_util::BodyExt;
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use sse_hub::decode::{Decoded, Decoder};
use tokio::time::Instant;

use crate::backoff::{Backoff, parse_retry_after};
use crate::config::{Config, HeaderFactory};
use crate::error::Error;
use crate::event::{Event, Message, Opened, Reason, Reconnecting};
use crate::utf8::Utf8Check;

/// How much of a refusal's body an [`Error::Status`] keeps.
const BODY_START: usize = 1024;
/// How long reading that start may take.
const BODY_START_TIMEOUT: Duration = Duration::from_secs(2);

const LAST_EVENT_ID: &str = "last-event-id";

type Item = Option<Result<Event, Error>>;

pub(crate) struct Driver {
    client: reqwest::Client,
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<Bytes>,
    header_factory: Option<HeaderFactory>,
    backoff: Backoff,
    idle_timeout: Option<Duration>,
    max_retries: Option<u32>,
    retry_unsafe: bool,
    lossy_utf8: bool,
    decoder: Decoder,
    utf8: Utf8Check,
    state: State,
    /// Connects that failed in a row; 0 while a healthy stream is open.
    failures: u32,
    connections: u64,
}

enum State {
    Connect {
        delay: Duration,
    },
    /// What was decoded before `error` is still to be taken; then the
    /// stream ends with it.
    Failing {
        error: Error,
    },
    /// Only the body is kept: a `Response` holds its head too (headers,
    /// URL, extensions), some kilobytes per idle stream.
    Open {
        body: reqwest::Body,
        since: Instant,
    },
    Done,
}

impl Driver {
    pub(crate) fn new(config: Config, url: Url, client: reqwest::Client) -> Self {
        let mut headers = config.headers;
        if !headers.contains_key(ACCEPT) {
            headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        }
        if !headers.contains_key(CACHE_CONTROL) {
            // As browsers send it: no cache on the way may answer a stream.
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        }
        let decoder = Decoder::new()
            .max_line_len(config.max_line_len)
            .max_event_len(config.max_event_len)
            .with_last_event_id(&config.last_event_id);
        Self {
            client,
            method: config.method,
            url,
            headers,
            body: config.body,
            header_factory: config.header_factory,
            backoff: config.backoff,
            idle_timeout: config.idle_timeout,
            max_retries: config.max_retries,
            retry_unsafe: config.retry_unsafe,
            lossy_utf8: config.lossy_utf8,
            decoder,
            utf8: Utf8Check::default(),
            state: State::Connect {
                delay: Duration::ZERO,
            },
            failures: 0,
            connections: 0,
        }
    }

    pub(crate) fn into_stream(self) -> impl Stream<Item = Result<Event, Error>> + Send + 'static {
        // Fused: polling after the end goes on answering `None`.
        futures_util::StreamExt::fuse(futures_util::stream::unfold(
            self,
            |mut driver| async move {
                let item = driver.next().await?;
                Some((item, driver))
            },
        ))
    }

    async fn next(&mut self) -> Item {
        loop {
            if let State::Open { .. } | State::Failing { .. } = self.state
                && let Some(item) = self.decoded()
            {
                return Some(item);
            }
            match std::mem::replace(&mut self.state, State::Done) {
                State::Done => return None,
                State::Failing { error } => return Some(Err(error)),
                State::Connect { delay } => {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    // Boxed: a connect's futures (the request, the
                    // answer, the start of a refused body) are large, and
                    // an idle stream should not reserve room for them.
                    return Box::pin(self.connect()).await;
                }
                State::Open { mut body, since } => {
                    let read = match self.idle_timeout {
                        Some(limit) => tokio::time::timeout(limit, next_chunk(&mut body))
                            .await
                            .map_err(|_| limit),
                        None => Ok(next_chunk(&mut body).await),
                    };
                    match read {
                        Ok(Ok(Some(chunk))) => {
                            if !self.lossy_utf8
                                && let Err(invalid) = self.utf8.check(&chunk)
                            {
                                // The events before the bad byte are still delivered.
                                self.decoder.feed(&chunk[..invalid.valid]);
                                let offset = invalid.offset;
                                self.state = State::Failing {
                                    error: Error::InvalidUtf8 { offset },
                                };
                                continue;
                            }
                            self.decoder.feed(&chunk);
                            self.state = State::Open { body, since };
                        }
                        Ok(Ok(None)) => return self.broken(Reason::Ended, Some(since)),
                        Ok(Err(error)) => {
                            return self.broken(Reason::Network(Arc::new(error)), Some(since));
                        }
                        Err(limit) => return self.broken(Reason::IdleTimeout(limit), Some(since)),
                    }
                }
            }
        }
    }

    /// The next event or decoding error of what was fed.
    fn decoded(&mut self) -> Option<Result<Event, Error>> {
        while let Some(item) = self.decoder.next_item() {
            match item {
                Ok(Decoded::Event(event)) => return Some(Ok(Event::Message(Message::new(event)))),
                // `retry:` is read back from the decoder when it is needed.
                Ok(_) => {}
                Err(error) => return Some(Err(Error::Decode(error))),
            }
        }
        None
    }

    async fn connect(&mut self) -> Item {
        let mut headers = self.headers.clone();
        if let Some(factory) = &self.header_factory {
            match factory().await {
                // Extending by a map replaces the static values of its names.
                Ok(fresh) => headers.extend(fresh),
                Err(error) => return Some(Err(Error::Headers(error))),
            }
        }
        let id = self.decoder.last_event_id();
        if !id.is_empty() {
            match HeaderValue::try_from(id) {
                Ok(value) => {
                    headers.insert(LAST_EVENT_ID, value);
                }
                // The decoder's ids have no NUL, CR or LF; other control
                // characters cannot go in a header, so the server is asked
                // for the stream from its start.
                Err(_) => tracing::warn!("the last event id cannot be sent as a header"),
            }
        }
        let mut request = self
            .client
            .request(self.method.clone(), self.url.clone())
            .headers(headers);
        if let Some(body) = &self.body {
            request = request.body(body.clone());
        }
        let sent = match self.idle_timeout {
            Some(limit) => tokio::time::timeout(limit, request.send())
                .await
                .map_err(|_| limit),
            None => Ok(request.send().await),
        };
        match sent {
            Ok(Ok(response)) => self.answered(response).await,
            Ok(Err(error)) if error.is_builder() => Some(Err(Error::Request(error))),
            Ok(Err(error)) => self.broken(Reason::Network(Arc::new(error)), None),
            Err(limit) => self.broken(Reason::IdleTimeout(limit), None),
        }
    }

    async fn answered(&mut self, mut response: reqwest::Response) -> Item {
        let status = response.status();
        if status == StatusCode::OK {
            let content_type = response.headers().get(CONTENT_TYPE);
            let is_stream = content_type
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.split(';').next())
                .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("text/event-stream"));
            if !is_stream {
                let found = content_type
                    .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
                return Some(Err(Error::ContentType { found }));
            }
            self.connections += 1;
            let opened = Opened {
                status,
                version: response.version(),
                connection: self.connections,
            };
            self.state = State::Open {
                body: reqwest::Body::from(response),
                since: Instant::now(),
            };
            return Some(Ok(Event::Opened(opened)));
        }
        if status == StatusCode::NO_CONTENT {
            // The server asks the client to stop, for good.
            return None;
        }
        if status.is_server_error()
            || status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::TOO_MANY_REQUESTS
        {
            let retry_after = match status {
                StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(parse_retry_after),
                _ => None,
            };
            return self.broken(
                Reason::Status {
                    status,
                    retry_after,
                },
                None,
            );
        }
        let body = body_start(&mut response).await;
        Some(Err(Error::Status { status, body }))
    }

    /// The connection is gone or was refused: connect again later, or end.
    fn broken(&mut self, reason: Reason, opened: Option<Instant>) -> Item {
        self.decoder.finish();
        self.utf8.reset();
        if opened.is_some_and(|since| since.elapsed() >= self.backoff.resets_after()) {
            self.failures = 0;
        }
        if !(self.retry_unsafe || self.method.is_idempotent()) {
            return match reason {
                // A streamed answer that ended: done.
                Reason::Ended => None,
                reason => Some(Err(Error::NotRetried {
                    method: self.method.clone(),
                    reason,
                })),
            };
        }
        self.failures = self.failures.saturating_add(1);
        if let Some(max) = self.max_retries
            && self.failures > max
        {
            return Some(Err(Error::RetriesExhausted {
                retries: max,
                reason,
            }));
        }
        let retry = self.decoder.retry();
        let delay = match &reason {
            Reason::Status {
                retry_after: Some(after),
                ..
            } => self.backoff.delay_after(*after, self.failures, retry),
            _ => self.backoff.delay(self.failures, retry),
        };
        tracing::debug!(attempt = self.failures, ?delay, %reason, "reconnecting");
        self.state = State::Connect { delay };
        Some(Ok(Event::Reconnecting(Reconnecting {
            attempt: self.failures,
            delay,
            reason,
        })))
    }
}

/// The next chunk of data of `body`; `None` at its end.
async fn next_chunk(body: &mut reqwest::Body) -> Result<Option<Bytes>, reqwest::Error> {
    while let Some(frame) = body.frame().await {
        // Trailers, the only other kind of frame, say nothing to a stream.
        if let Ok(data) = frame?.into_data() {
            return Ok(Some(data));
        }
    }
    Ok(None)
}

/// The start of a refusal's body, for the error: at most [`BODY_START`]
/// bytes, read for at most [`BODY_START_TIMEOUT`].
async fn body_start(response: &mut reqwest::Response) -> String {
    let mut start = Vec::new();
    let read = async {
        while start.len() < BODY_START {
            match response.chunk().await {
                Ok(Some(chunk)) => start.extend_from_slice(&chunk),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(BODY_START_TIMEOUT, read).await;
    start.truncate(BODY_START);
    String::from_utf8_lossy(&start).into_owned()
}
