//! An incremental decoder following the WHATWG HTML "Server-sent events"
//! parsing rules (§9.2.6, "Interpreting an event stream").
//!
//! Feed it bytes as they arrive, split anywhere, and take out what they
//! complete: events, comments and `retry:` values. Lines are found with
//! `memchr`, so long runs of data cost a few vector instructions per line,
//! not a branch per byte.
//!
//! ```
//! use sse_core::decode::{Decoded, Decoder};
//!
//! let mut decoder = Decoder::new();
//! decoder.feed(b"id: 1\nevent: greet\ndata: hel");
//! assert!(decoder.next_item().is_none()); // the event is not complete yet
//! decoder.feed(b"lo\n\n");
//! let Some(Ok(Decoded::Event(event))) = decoder.next_item() else { panic!() };
//! assert_eq!((event.event(), event.data(), event.last_event_id()), ("greet", "hello", "1"));
//! ```

mod stream;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

pub use stream::{DecodeStream, StreamError};

/// The default bound on one line: 1 MiB.
pub const DEFAULT_MAX_LINE_LEN: usize = 1 << 20;
/// The default bound on one event's data: 4 MiB.
pub const DEFAULT_MAX_EVENT_LEN: usize = 4 << 20;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// What the stream said that a client can observe.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decoded {
    /// A dispatched event.
    Event(MessageEvent),
    /// A comment line's text (one leading space removed). Browsers ignore
    /// comments; servers send them as heartbeats.
    Comment(String),
    /// A valid `retry:` field: the client's new reconnection time.
    Retry(Duration),
}

impl Decoded {
    /// The event, if this is one.
    pub fn into_event(self) -> Option<MessageEvent> {
        match self {
            Decoded::Event(event) => Some(event),
            _ => None,
        }
    }
}

/// A dispatched event, as an `EventSource` would hand it to a listener.
#[derive(Debug, Clone, Eq)]
pub struct MessageEvent {
    event: Option<Arc<str>>,
    data: String,
    last_event_id: Arc<str>,
}

impl MessageEvent {
    /// The event type: the `event:` field, or `message` when there was none.
    pub fn event(&self) -> &str {
        self.event.as_deref().unwrap_or("message")
    }

    /// The data lines joined with LF.
    pub fn data(&self) -> &str {
        &self.data
    }

    /// The last event id seen on the stream up to this event (the spec's
    /// `lastEventId`): it carries over events that set no `id:`.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The data, without copying it.
    pub fn into_data(self) -> String {
        self.data
    }
}

impl PartialEq for MessageEvent {
    fn eq(&self, other: &Self) -> bool {
        self.event() == other.event()
            && self.data == other.data
            && self.last_event_id == other.last_event_id
    }
}

/// A bound was exceeded; what exceeded it was discarded and decoding goes on
/// after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A line was longer than the bound; it and the event it belongs to were
    /// discarded.
    #[error(
        "a line of the event stream is longer than {limit} bytes; it and its event were \
         discarded (raise Decoder::max_line_len if such lines are expected)"
    )]
    LineTooLong {
        /// The bound in force, in bytes.
        limit: usize,
    },
    /// An event's data grew past the bound; the event was discarded.
    #[error(
        "an event's data is larger than {limit} bytes; the event was discarded \
         (raise Decoder::max_event_len if such events are expected)"
    )]
    EventTooLarge {
        /// The bound in force, in bytes.
        limit: usize,
    },
}

/// The incremental event-stream decoder (push API): [`feed`](Self::feed)
/// bytes, then [`next_item`](Self::next_item) until it returns `None`.
///
/// Memory is bounded by [`max_line_len`](Self::max_line_len) for the line
/// being assembled and [`max_event_len`](Self::max_event_len) for the event
/// being assembled, plus whatever decoded items have not been taken yet.
#[derive(Debug)]
pub struct Decoder {
    max_line_len: usize,
    max_event_len: usize,

    /// Bytes of the stream start that match the BOM so far; `None` once
    /// the start has been dealt with.
    bom_seen: Option<usize>,
    /// A line that started in an earlier chunk.
    partial_line: Vec<u8>,
    /// The previous line ended with CR: an LF right after it is part of
    /// that line end, even when it arrives in the next chunk.
    skip_lf: bool,
    /// The line being read exceeded the bound: drop bytes until its end.
    discarding_line: bool,
    /// The event being read exceeded a bound: drop fields until the blank
    /// line that ends it.
    discarding_event: bool,

    data: Vec<u8>,
    event_type: Vec<u8>,
    /// The last event type dispatched, reused while the name repeats.
    last_type: Option<Arc<str>>,
    /// The spec's "last event ID buffer", set by `id:` fields.
    id_buffer: Arc<str>,
    /// The spec's "last event ID string", set from the buffer at dispatch.
    last_event_id: Arc<str>,
    retry: Option<Duration>,

    ready: VecDeque<Result<Decoded, DecodeError>>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder at the start of a stream, with the default bounds.
    pub fn new() -> Self {
        Self {
            max_line_len: DEFAULT_MAX_LINE_LEN,
            max_event_len: DEFAULT_MAX_EVENT_LEN,
            bom_seen: Some(0),
            partial_line: Vec::new(),
            skip_lf: false,
            discarding_line: false,
            discarding_event: false,
            data: Vec::new(),
            event_type: Vec::new(),
            last_type: None,
            id_buffer: Arc::from(""),
            last_event_id: Arc::from(""),
            retry: None,
            ready: VecDeque::new(),
        }
    }

    /// Sets the longest line accepted, in bytes (without its line end).
    #[must_use]
    pub fn max_line_len(mut self, bytes: usize) -> Self {
        self.max_line_len = bytes;
        self
    }

    /// Sets the largest event data accepted, in bytes.
    #[must_use]
    pub fn max_event_len(mut self, bytes: usize) -> Self {
        self.max_event_len = bytes;
        self
    }

    /// The id a reconnecting client sends as `Last-Event-ID` (empty: none).
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The reconnection time the stream asked for with `retry:`, if any.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// The next decoded item, or `None` until more bytes are fed.
    pub fn next_item(&mut self) -> Option<Result<Decoded, DecodeError>> {
        self.ready.pop_front()
    }

    /// Ends the stream: a partial line and an event without its closing
    /// blank line are discarded, as the spec requires. The last event id and
    /// retry are kept, so the decoder can go on with the stream of the next
    /// connection (which may start with a BOM again).
    pub fn finish(&mut self) {
        self.bom_seen = Some(0);
        self.partial_line.clear();
        self.skip_lf = false;
        self.discarding_line = false;
        self.discarding_event = false;
        self.data.clear();
        self.event_type.clear();
    }

    /// Decodes `chunk`, a piece of the stream cut anywhere.
    pub fn feed(&mut self, chunk: &[u8]) {
        let Some(seen) = self.bom_seen else {
            return self.feed_lines(chunk);
        };
        // The BOM may itself be split across chunks.
        let matched = BOM[seen..]
            .iter()
            .zip(chunk)
            .take_while(|(a, b)| a == b)
            .count();
        if seen + matched == BOM.len() {
            self.bom_seen = None;
            self.feed_lines(&chunk[matched..]);
        } else if matched == chunk.len() {
            self.bom_seen = Some(seen + matched);
        } else {
            // Not a BOM after all: what looked like its start is stream text.
            self.bom_seen = None;
            self.feed_lines(&BOM[..seen]);
            self.feed_lines(chunk);
        }
    }

    fn feed_lines(&mut self, mut rest: &[u8]) {
        if self.skip_lf && !rest.is_empty() {
            self.skip_lf = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', rest) {
            let mut next = end + 1;
            if rest[end] == b'\r' {
                match rest.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            self.end_line(&rest[..end]);
            rest = &rest[next..];
        }
        self.extend_partial_line(rest);
    }

    /// Adds the bytes of a line whose end has not arrived yet.
    fn extend_partial_line(&mut self, bytes: &[u8]) {
        if self.discarding_line || bytes.is_empty() {
            return;
        }
        if self.partial_line.len() + bytes.len() > self.max_line_len {
            self.partial_line = Vec::new();
            self.discarding_line = true;
            self.reject_event(DecodeError::LineTooLong {
                limit: self.max_line_len,
            });
        } else {
            self.partial_line.extend_from_slice(bytes);
        }
    }

    /// A line end arrived; `tail` is the part of the line in this chunk.
    fn end_line(&mut self, tail: &[u8]) {
        if self.discarding_line {
            self.discarding_line = false;
        } else if self.partial_line.is_empty() {
            if tail.len() > self.max_line_len {
                self.reject_event(DecodeError::LineTooLong {
                    limit: self.max_line_len,
                });
            } else {
                self.process_line(tail);
            }
        } else if self.partial_line.len() + tail.len() > self.max_line_len {
            self.partial_line.clear();
            self.reject_event(DecodeError::LineTooLong {
                limit: self.max_line_len,
            });
        } else {
            let mut line = std::mem::take(&mut self.partial_line);
            line.extend_from_slice(tail);
            self.process_line(&line);
            line.clear();
            self.partial_line = line;
        }
    }

    fn reject_event(&mut self, err: DecodeError) {
        self.ready.push_back(Err(err));
        self.discarding_event = true;
        self.data = Vec::new();
        self.event_type.clear();
    }

    fn process_line(&mut self, line: &[u8]) {
        if line.is_empty() {
            return self.dispatch();
        }
        if self.discarding_event {
            return;
        }
        let (name, value) = match memchr::memchr(b':', line) {
            Some(0) => {
                let text = utf8_lossy(strip_one_space(&line[1..]).to_vec());
                self.ready.push_back(Ok(Decoded::Comment(text)));
                return;
            }
            Some(colon) => (&line[..colon], strip_one_space(&line[colon + 1..])),
            None => (line, &[][..]),
        };
        match name {
            b"data" => {
                if self.data.len() + value.len() + 1 > self.max_event_len {
                    return self.reject_event(DecodeError::EventTooLarge {
                        limit: self.max_event_len,
                    });
                }
                self.data.reserve(value.len() + 1);
                self.data.extend_from_slice(value);
                self.data.push(b'\n');
            }
            b"event" => {
                self.event_type.clear();
                self.event_type.extend_from_slice(value);
            }
            b"id" if memchr::memchr(0, value).is_none() => {
                self.id_buffer = Arc::from(utf8_lossy(value.to_vec()));
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // Digits only, so the one failure is overflow: saturate.
                let millis = std::str::from_utf8(value)
                    .ok()
                    .and_then(|digits| digits.parse().ok())
                    .unwrap_or(u64::MAX);
                let retry = Duration::from_millis(millis);
                self.retry = Some(retry);
                self.ready.push_back(Ok(Decoded::Retry(retry)));
            }
            _ => {}
        }
    }

    fn dispatch(&mut self) {
        if std::mem::take(&mut self.discarding_event) {
            return;
        }
        self.last_event_id = self.id_buffer.clone();
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        self.data.pop(); // the LF after the last data line
        let data = utf8_lossy(std::mem::take(&mut self.data));
        let event = self.take_event_type();
        self.ready.push_back(Ok(Decoded::Event(MessageEvent {
            event,
            data,
            last_event_id: self.last_event_id.clone(),
        })));
    }

    fn take_event_type(&mut self) -> Option<Arc<str>> {
        if self.event_type.is_empty() {
            return None;
        }
        let reusable = self
            .last_type
            .as_ref()
            .filter(|last| last.as_bytes() == self.event_type.as_slice());
        let event_type = match reusable {
            Some(last) => last.clone(),
            None => {
                let fresh: Arc<str> = Arc::from(utf8_lossy(self.event_type.clone()));
                self.last_type = Some(fresh.clone());
                fresh
            }
        };
        self.event_type.clear();
        Some(event_type)
    }
}

/// The spec's "collect the characters after the colon" step: exactly one
/// leading U+0020 is removed.
fn strip_one_space(value: &[u8]) -> &[u8] {
    value.strip_prefix(b" ").unwrap_or(value)
}

/// Decodes like the spec's UTF-8 decode: invalid sequences become U+FFFD.
/// Lines split only at ASCII bytes, so decoding line by line gives what
/// decoding the whole stream would.
fn utf8_lossy(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    }
}

#[cfg(test)]
mod tests;
