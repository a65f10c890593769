//! What the hub and the authorizers read from a request, whatever
//! framework parsed it: its [`Headers`], its query string, and the last
//! event id a client sent.
//!
//! This module sits below both [`hub`](crate::hub) and
//! [`auth`](crate::auth), so that neither reaches into the other for it.

mod headers;
mod query;

pub use headers::{Headers, NoHeaders};
pub use query::{
    DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT, MAX_NAME_LEN, MAX_REWIND, MAX_TOPICS, QueryError,
};
pub(crate) use query::{
    check_event_name, check_topic, events_query, history_query, notify_query, pairs, presence_query,
};

/// The last event id a client sent: the `Last-Event-ID` header, else the
/// `lastEventId` query parameter (`EventSource` cannot set headers on its
/// first connect). An empty value counts as absent; a header that is not
/// UTF-8 is decoded lossily, so it resets rather than being ignored.
///
/// ```
/// use sse_hub::request::last_event_id;
///
/// assert_eq!(last_event_id(Some(b"7"), Some("lastEventId=5")).as_deref(), Some("7"));
/// assert_eq!(last_event_id(Some(b""), Some("lastEventId=5")).as_deref(), Some("5"));
/// assert_eq!(last_event_id(None, Some("topic=a")), None);
/// ```
pub fn last_event_id(header: Option<&[u8]>, query: Option<&str>) -> Option<String> {
    header_id(header).or_else(|| {
        pairs(query?)
            .filter_map(Result::ok)
            .filter(|(key, _)| key == "lastEventId")
            .map(|(_, value)| value)
            .last()
            .filter(|id| !id.is_empty())
    })
}

/// The `Last-Event-ID` header's id, when it holds one.
pub(crate) fn header_id(header: Option<&[u8]>) -> Option<String> {
    header
        .filter(|id| !id.is_empty())
        .map(|id| String::from_utf8_lossy(id).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_event_id_prefers_the_header() {
        assert_eq!(
            last_event_id(Some(b"1"), Some("lastEventId=2")).as_deref(),
            Some("1")
        );
        assert_eq!(
            last_event_id(None, Some("lastEventId=2&lastEventId=3")).as_deref(),
            Some("3")
        );
        assert_eq!(last_event_id(Some(b""), Some("lastEventId=")), None);
        assert_eq!(
            last_event_id(Some(b"\xFF"), None).as_deref(),
            Some("\u{FFFD}")
        );
        assert_eq!(last_event_id(None, Some("lastEventId=%FF")), None);
    }
}
