//! The push decoder: bytes in, events, comments and `retry:` values out.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use smol_str::SmolStr;

use crate::event::small_str;

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
    /// Shared with the other events of the same name.
    event: Option<Arc<str>>,
    data: String,
    /// Ids change with every event but are short: SmolStr keeps them
    /// inline, saving an allocation per event.
    last_event_id: SmolStr,
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
/// Bytes are parsed when items are taken, so an item is built straight into
/// the caller's hands rather than through an intermediate queue; that halves
/// the moves per event, which dominated decoding time.
///
/// Memory is bounded by [`max_line_len`](Self::max_line_len) for the line
/// being assembled and [`max_event_len`](Self::max_event_len) for the event
/// being assembled, plus whatever was fed and not yet taken.
#[derive(Debug)]
pub struct Decoder {
    max_line_len: usize,
    /// Bytes of the stream start that match the BOM so far; `None` once
    /// the start has been dealt with.
    bom_seen: Option<usize>,
    /// Bytes fed and not yet parsed start at `input[parsed..]`.
    input: Vec<u8>,
    parsed: usize,
    /// The previous line ended with CR: an LF right after it is part of
    /// that line end, even when it arrives in the next chunk.
    skip_lf: bool,
    /// The line being read exceeded the bound: drop bytes until its end.
    discarding_line: bool,
    fields: Fields,
    /// Items of a stream that [`finish`](Self::finish) ended before they
    /// were taken.
    finished: VecDeque<Result<Decoded, DecodeError>>,
}

/// The spec's buffers: what the lines of the current event have set.
#[derive(Debug)]
struct Fields {
    max_event_len: usize,
    /// The event exceeded a bound: drop its fields until the blank line
    /// that ends it.
    discarding_event: bool,
    data: Vec<u8>,
    event_type: Vec<u8>,
    /// The last event type dispatched, reused while the name repeats, as
    /// it does on most streams.
    last_type: Option<Arc<str>>,
    /// The spec's "last event ID buffer", set by `id:` fields.
    id_buffer: SmolStr,
    /// The spec's "last event ID string", set from the buffer at dispatch.
    last_event_id: SmolStr,
    retry: Option<Duration>,
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
            bom_seen: Some(0),
            input: Vec::new(),
            parsed: 0,
            skip_lf: false,
            discarding_line: false,
            fields: Fields {
                max_event_len: DEFAULT_MAX_EVENT_LEN,
                discarding_event: false,
                data: Vec::new(),
                event_type: Vec::new(),
                last_type: None,
                id_buffer: SmolStr::default(),
                last_event_id: SmolStr::default(),
                retry: None,
            },
            finished: VecDeque::new(),
        }
    }

    /// Sets the longest line accepted, in bytes (without its line end).
    #[must_use]
    pub fn max_line_len(mut self, bytes: usize) -> Self {
        self.max_line_len = bytes;
        self
    }

    /// Sets the largest event data accepted, in bytes of the stream. (Data
    /// may grow when decoded: each invalid UTF-8 byte becomes a 3-byte
    /// U+FFFD.)
    #[must_use]
    pub fn max_event_len(mut self, bytes: usize) -> Self {
        self.fields.max_event_len = bytes;
        self
    }

    /// Starts with `id` as the last event id, as a client that resumes a
    /// stream with `Last-Event-ID: id` does: events without an `id:` field
    /// carry it until the stream sets another.
    ///
    /// ```
    /// use sse_hub::decode::{Decoded, Decoder};
    ///
    /// let mut decoder = Decoder::new().with_last_event_id("41");
    /// decoder.feed(b"data: no id of its own\n\n");
    /// let Some(Ok(Decoded::Event(event))) = decoder.next_item() else { panic!() };
    /// assert_eq!(event.last_event_id(), "41");
    /// ```
    #[must_use]
    pub fn with_last_event_id(mut self, id: &str) -> Self {
        self.fields.last_event_id = SmolStr::new(id);
        self.fields.id_buffer = self.fields.last_event_id.clone();
        self
    }

    /// The id a reconnecting client sends as `Last-Event-ID` (empty: none),
    /// as of the items taken so far.
    pub fn last_event_id(&self) -> &str {
        &self.fields.last_event_id
    }

    /// The reconnection time the stream asked for with `retry:`, if any,
    /// as of the items taken so far.
    pub fn retry(&self) -> Option<Duration> {
        self.fields.retry
    }

    /// Decodes `chunk`, a piece of the stream cut anywhere; take what it
    /// completes with [`next_item`](Self::next_item).
    pub fn feed(&mut self, chunk: &[u8]) {
        let Some(seen) = self.bom_seen else {
            return self.buffer(chunk);
        };
        // The BOM may itself be split across chunks.
        let matched = BOM[seen..]
            .iter()
            .zip(chunk)
            .take_while(|(a, b)| a == b)
            .count();
        if seen + matched == BOM.len() {
            self.bom_seen = None;
            self.buffer(&chunk[matched..]);
        } else if matched == chunk.len() {
            self.bom_seen = Some(seen + matched);
        } else {
            // Not a BOM after all: what looked like its start is stream text.
            self.bom_seen = None;
            self.buffer(&BOM[..seen]);
            self.buffer(chunk);
        }
    }

    /// The next decoded item, or `None` until more bytes are fed.
    pub fn next_item(&mut self) -> Option<Result<Decoded, DecodeError>> {
        if let Some(item) = self.finished.pop_front() {
            return Some(item);
        }
        self.parse_next()
    }

    /// Ends the stream: a partial line and an event without its closing
    /// blank line are discarded, as the spec requires; complete items not
    /// taken yet can still be taken. The last event id and retry are kept,
    /// so the decoder can go on with the stream of the next connection
    /// (which may start with a BOM again).
    pub fn finish(&mut self) {
        while let Some(item) = self.parse_next() {
            self.finished.push_back(item);
        }
        self.bom_seen = Some(0);
        self.input.clear();
        self.parsed = 0;
        self.skip_lf = false;
        self.discarding_line = false;
        self.fields.discard_event();
        self.fields.discarding_event = false;
    }

    fn buffer(&mut self, bytes: &[u8]) {
        if self.parsed == self.input.len() {
            self.input.clear();
            self.parsed = 0;
        } else if self.parsed > self.input.len() / 2 {
            self.input.drain(..self.parsed);
            self.parsed = 0;
        }
        self.input.extend_from_slice(bytes);
    }

    fn parse_next(&mut self) -> Option<Result<Decoded, DecodeError>> {
        loop {
            let rest = &self.input[self.parsed..];
            if rest.is_empty() {
                return None;
            }
            if std::mem::take(&mut self.skip_lf) && rest[0] == b'\n' {
                self.parsed += 1;
                continue;
            }
            let Some(end) = memchr::memchr2(b'\n', b'\r', rest) else {
                // Only the start of a line has arrived.
                if self.discarding_line {
                    self.parsed = self.input.len();
                } else if rest.len() > self.max_line_len {
                    self.parsed = self.input.len();
                    self.discarding_line = true;
                    return Some(Err(self.line_too_long()));
                }
                return None;
            };
            let line = self.parsed..self.parsed + end;
            self.parsed += end + 1;
            if rest[end] == b'\r' {
                match rest.get(end + 1) {
                    Some(b'\n') => self.parsed += 1,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            if std::mem::take(&mut self.discarding_line) {
                continue;
            }
            if line.len() > self.max_line_len {
                return Some(Err(self.line_too_long()));
            }
            if let Some(item) = self.fields.process_line(&self.input[line]) {
                return Some(item);
            }
        }
    }

    fn line_too_long(&mut self) -> DecodeError {
        self.fields.discard_event();
        DecodeError::LineTooLong {
            limit: self.max_line_len,
        }
    }
}

impl Fields {
    /// Interprets one line; returns what it completes, if anything.
    fn process_line(&mut self, line: &[u8]) -> Option<Result<Decoded, DecodeError>> {
        if line.is_empty() {
            return self.dispatch().map(Ok);
        }
        if self.discarding_event {
            return None;
        }
        if let Some(comment) = line.strip_prefix(b":") {
            let text = str_lossy(strip_one_space(comment));
            return Some(Ok(Decoded::Comment(text.into_owned())));
        }
        let (name, value) = split_field(line);
        match name {
            b"data" => {
                if self.data.len() + value.len() + 1 > self.max_event_len {
                    self.discard_event();
                    return Some(Err(DecodeError::EventTooLarge {
                        limit: self.max_event_len,
                    }));
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
                self.id_buffer = small_str(&str_lossy(value));
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // Digits only, so the one failure is overflow: saturate.
                let millis = std::str::from_utf8(value)
                    .ok()
                    .and_then(|digits| digits.parse().ok())
                    .unwrap_or(u64::MAX);
                let retry = Duration::from_millis(millis);
                self.retry = Some(retry);
                return Some(Ok(Decoded::Retry(retry)));
            }
            _ => {}
        }
        None
    }

    /// The spec's "dispatch the event" at a blank line.
    fn dispatch(&mut self) -> Option<Decoded> {
        if std::mem::take(&mut self.discarding_event) {
            return None;
        }
        self.last_event_id = self.id_buffer.clone();
        if self.data.is_empty() {
            self.event_type.clear();
            return None;
        }
        self.data.pop(); // the LF after the last data line
        let data = utf8_lossy(std::mem::take(&mut self.data));
        let event = self.take_event_type();
        Some(Decoded::Event(MessageEvent {
            event,
            data,
            last_event_id: self.last_event_id.clone(),
        }))
    }

    fn take_event_type(&mut self) -> Option<Arc<str>> {
        if self.event_type.is_empty() {
            return None;
        }
        let event_type = match &self.last_type {
            Some(last) if last.as_bytes() == self.event_type => last.clone(),
            _ => {
                let fresh: Arc<str> = Arc::from(str_lossy(&self.event_type));
                self.last_type = Some(fresh.clone());
                fresh
            }
        };
        self.event_type.clear();
        Some(event_type)
    }

    /// Drops what the current event has gathered, and its remaining fields.
    fn discard_event(&mut self) {
        self.discarding_event = true;
        self.data = Vec::new();
        self.event_type.clear();
    }
}

/// Splits a field line at its first colon; a line without one is a name
/// with an empty value.
fn split_field(line: &[u8]) -> (&[u8], &[u8]) {
    // The fields a server writes on every event are recognised without a
    // search, which is measurable at one search per line.
    for name in [&b"data"[..], b"id", b"event"] {
        if line.len() > name.len() && line.starts_with(name) && line[name.len()] == b':' {
            return (name, strip_one_space(&line[name.len() + 1..]));
        }
    }
    match memchr::memchr(b':', line) {
        Some(colon) => (&line[..colon], strip_one_space(&line[colon + 1..])),
        None => (line, &[]),
    }
}

/// The spec's "collect the characters after the colon" step: exactly one
/// leading U+0020 is removed.
fn strip_one_space(value: &[u8]) -> &[u8] {
    value.strip_prefix(b" ").unwrap_or(value)
}

/// [`utf8_lossy`] for borrowed bytes; valid UTF-8, the common case, is
/// checked by the faster validator and not copied.
fn str_lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.into(),
        Err(_) => String::from_utf8_lossy(bytes),
    }
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
#[path = "tests.rs"]
mod tests;
