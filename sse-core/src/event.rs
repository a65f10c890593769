//! The event model: what a server sends, validated when it is built.
//!
//! An [`Event`] can only be obtained through [`Event::new`] or
//! [`Event::builder`], and both guarantee that encoding it yields exactly one
//! well-formed event on the wire, whatever the input: names and ids that
//! would break out of their field are rejected, and line breaks in data or
//! comments become separate `data:` (or `:`) lines.

use std::time::Duration;

use smol_str::SmolStr;

/// Why an [`Event`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The event name holds a CR or LF, which would end the `event:` field
    /// early and let the rest be read as another field.
    #[error(
        "event name {0:?} contains a line break (CR or LF); an event name must fit on one line"
    )]
    InvalidEventName(String),
    /// The id holds a CR or LF (which would end the `id:` field early) or a
    /// NUL (which makes browsers ignore the id).
    #[error("event id {0:?} contains CR, LF or NUL; an id must be one line without NUL")]
    InvalidId(String),
    /// The value given to [`EventBuilder::json_data`] could not be serialised.
    #[cfg(feature = "json")]
    #[error("the event data could not be serialised as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// One server-sent event: data, and optionally a name, an id, a reconnection
/// time and comments.
///
/// Every `Event` dispatches on the client, even with empty data. Its data and
/// comments are stored with their line breaks normalised to LF, which is how
/// a client will see them.
///
/// ```
/// use sse_hub::Event;
///
/// let event = Event::builder()
///     .event("price")
///     .id("42")
///     .data("line one\r\nline two")
///     .build()?;
/// assert_eq!(event.data(), "line one\nline two");
/// assert_eq!(
///     &event.encode()[..],
///     b"id: 42\nevent: price\ndata: line one\ndata: line two\n\n"
/// );
/// # Ok::<(), sse_hub::EventError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    // Names and ids are short: kept inline, they cost no allocation.
    pub(crate) id: Option<SmolStr>,
    pub(crate) event: Option<SmolStr>,
    pub(crate) retry: Option<Duration>,
    pub(crate) comments: Vec<String>,
    pub(crate) data: String,
}

impl Event {
    /// An unnamed event (`message` on the client) carrying `data`.
    ///
    /// Data may hold anything: each of its lines becomes one `data:` line.
    ///
    /// ```
    /// let event = sse_hub::Event::new("hello");
    /// assert_eq!(&event.encode()[..], b"data: hello\n\n");
    /// ```
    pub fn new(data: impl Into<String>) -> Self {
        Self {
            data: normalize_newlines(data.into()),
            ..Self::default()
        }
    }

    /// Starts building an event with a name, id, retry or comments.
    pub fn builder() -> EventBuilder {
        EventBuilder::default()
    }

    /// The data, line breaks normalised to LF.
    pub fn data(&self) -> &str {
        &self.data
    }

    /// The event name, if one was set (clients default to `message`).
    pub fn event(&self) -> Option<&str> {
        self.event.as_deref()
    }

    /// The event id, if one was set.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The reconnection time sent with the event, in whole milliseconds.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// The comments sent with the event, line breaks normalised to LF.
    pub fn comments(&self) -> impl ExactSizeIterator<Item = &str> {
        self.comments.iter().map(String::as_str)
    }
}

/// Builds an [`Event`]; the first invalid input is reported by
/// [`build`](Self::build).
///
/// ```
/// use sse_hub::{Event, EventError};
///
/// let err = Event::builder().event("a\nid: 1").data("x").build().unwrap_err();
/// assert!(matches!(err, EventError::InvalidEventName(_)));
/// ```
#[derive(Debug, Default)]
#[must_use = "an EventBuilder does nothing until `build` is called"]
pub struct EventBuilder {
    event: Event,
    // Boxed: the builder moves through every call, so keep it small.
    error: Option<Box<EventError>>,
}

impl EventBuilder {
    /// Sets the data; each of its lines becomes one `data:` line.
    pub fn data(mut self, data: impl Into<String>) -> Self {
        self.event.data = normalize_newlines(data.into());
        self
    }

    /// Sets the data to `value` serialised as compact, single-line JSON.
    ///
    /// ```
    /// let event = sse_hub::Event::builder()
    ///     .json_data(&serde_json::json!({"user": 7, "text": "a\nb"}))
    ///     .build()?;
    /// assert_eq!(event.data(), r#"{"user":7,"text":"a\nb"}"#);
    /// # Ok::<(), sse_hub::EventError>(())
    /// ```
    #[cfg(feature = "json")]
    pub fn json_data<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        // serde_json's compact writer escapes every control character inside
        // strings and emits no whitespace, so the result is always one line.
        match serde_json::to_string(value) {
            Ok(json) => self.event.data = json,
            Err(err) => self.fail(EventError::Json(err)),
        }
        self
    }

    /// Sets the event name; an empty name means the default, `message`.
    ///
    /// A name holding CR or LF makes [`build`](Self::build) fail.
    pub fn event(mut self, name: impl AsRef<str>) -> Self {
        let name = name.as_ref();
        if memchr::memchr2(b'\r', b'\n', name.as_bytes()).is_some() {
            self.fail(EventError::InvalidEventName(name.to_owned()));
        } else {
            self.event.event = (!name.is_empty()).then(|| small_str(name));
        }
        self
    }

    /// Sets the event id, which the client sends back as `Last-Event-ID`
    /// when it reconnects.
    ///
    /// An id holding CR, LF or NUL makes [`build`](Self::build) fail.
    pub fn id(mut self, id: impl AsRef<str>) -> Self {
        let id = id.as_ref();
        if memchr::memchr3(b'\r', b'\n', b'\0', id.as_bytes()).is_some() {
            self.fail(EventError::InvalidId(id.to_owned()));
        } else {
            self.event.id = Some(small_str(id));
        }
        self
    }

    /// Sets the reconnection time sent as `retry:`, truncated to whole
    /// milliseconds.
    pub fn retry(mut self, retry: Duration) -> Self {
        self.event.retry = Some(whole_millis(retry));
        self
    }

    /// Adds a comment line (several for a multi-line comment); clients
    /// ignore comments.
    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.event.comments.push(normalize_newlines(text.into()));
        self
    }

    /// The event, or the first error met while building it.
    pub fn build(self) -> Result<Event, EventError> {
        match self.error {
            Some(err) => Err(*err),
            None => Ok(self.event),
        }
    }

    fn fail(&mut self, err: EventError) {
        self.error.get_or_insert_with(|| Box::new(err));
    }
}

/// A `SmolStr` without `SmolStr::new`'s search for whitespace runs it could
/// represent specially, which costs more than the copy on names and ids.
pub(crate) fn small_str(text: &str) -> SmolStr {
    if text.len() <= 23 {
        SmolStr::new_inline(text)
    } else {
        SmolStr::new(text)
    }
}

/// `retry:` carries whole milliseconds; clamps what a `u64` cannot hold.
pub(crate) fn whole_millis(duration: Duration) -> Duration {
    Duration::from_millis(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

/// CRLF and lone CR become LF, the one line break the encoder splits on.
pub(crate) fn normalize_newlines(text: String) -> String {
    if memchr::memchr(b'\r', text.as_bytes()).is_none() {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            chars.next_if_eq(&'\n');
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_every_line_break_to_lf() {
        assert_eq!(normalize_newlines("a\r\nb\rc\nd\r".into()), "a\nb\nc\nd\n");
        assert_eq!(normalize_newlines("\r\r\n\n".into()), "\n\n\n");
        assert_eq!(normalize_newlines("plain".into()), "plain");
    }

    #[test]
    fn rejects_line_breaks_in_event_names() {
        for name in ["a\nb", "a\rb", "\r\n", "x\n"] {
            let err = Event::builder().event(name).build().unwrap_err();
            assert!(matches!(err, EventError::InvalidEventName(ref n) if n == name));
        }
    }

    #[test]
    fn rejects_line_breaks_and_nul_in_ids() {
        for id in ["1\n", "1\r2", "a\0b"] {
            let err = Event::builder().id(id).build().unwrap_err();
            assert!(matches!(err, EventError::InvalidId(ref i) if i == id));
        }
    }

    #[test]
    fn reports_the_first_error() {
        let err = Event::builder().id("\0").event("\n").build().unwrap_err();
        assert!(matches!(err, EventError::InvalidId(_)));
    }

    #[test]
    fn empty_event_name_means_default() {
        let event = Event::builder().event("").build().unwrap();
        assert_eq!(event.event(), None);
    }

    #[test]
    fn retry_is_kept_in_whole_milliseconds() {
        let event = Event::builder()
            .retry(Duration::from_micros(2_500_900))
            .build()
            .unwrap();
        assert_eq!(event.retry(), Some(Duration::from_millis(2_500)));
        let huge = Event::builder().retry(Duration::MAX).build().unwrap();
        assert_eq!(huge.retry(), Some(Duration::from_millis(u64::MAX)));
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_data_is_one_compact_line() {
        let value = serde_json::json!({"text": "multi\nline\r\n", "n": [1, 2]});
        let event = Event::builder().json_data(&value).build().unwrap();
        assert!(!event.data().contains('\n'));
        assert!(!event.data().contains(' '));
        let back: serde_json::Value = serde_json::from_str(event.data()).unwrap();
        assert_eq!(back, value);
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_errors_surface_at_build() {
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 1); // JSON object keys must be strings
        let err = Event::builder().json_data(&map).build().unwrap_err();
        assert!(matches!(err, EventError::Json(_)));
    }
}
