//! Query strings and the values the hub reads from them.

use std::borrow::Cow;

use percent_encoding::percent_decode;

/// The most topics one stream may take.
pub const MAX_TOPICS: usize = 32;
/// The longest topic and event name, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// The most events `rewind` replays.
pub const MAX_REWIND: usize = 1000;

/// A request's query was refused; the message says why, for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// A parameter (named here; its value is never quoted) was not UTF-8
    /// once percent-decoded.
    #[error("the value of query parameter {0:?} is not valid UTF-8 once percent-decoded")]
    NotUtf8(String),
    /// A parameter's name was not UTF-8 once percent-decoded.
    #[error("a query parameter's name is not valid UTF-8 once percent-decoded")]
    NameNotUtf8,
    /// More `topic` parameters than a stream may take.
    #[error("too many topic parameters: a stream takes at most {MAX_TOPICS}")]
    TooManyTopics,
    /// A `topic` parameter given where only one is allowed.
    #[error("give one topic to publish to, not several")]
    SeveralTopics,
    /// A topic that is empty, too long, or holds a control character.
    #[error("invalid topic {0:?}: a topic is 1 to {MAX_NAME_LEN} bytes with no control characters")]
    Topic(String),
    /// An event name that is empty, too long, or holds a control character.
    #[error(
        "invalid event name {0:?}: an event name is 1 to {MAX_NAME_LEN} bytes with no control characters"
    )]
    EventName(String),
    /// A `rewind` that is not a whole number from 1 to [`MAX_REWIND`].
    #[error("invalid rewind: give the number of newest events to replay, 1 to {MAX_REWIND}")]
    Rewind,
    /// A `history` that is neither `true` nor `false`.
    #[error("invalid history: give true (the default) or false (live subscribers only)")]
    History,
    /// A `limit` that is not a whole number from 1 to [`MAX_HISTORY_LIMIT`].
    #[error("invalid limit: give the number of events to return, 1 to {MAX_HISTORY_LIMIT}")]
    Limit,
}

/// The most events one `GET /history` returns.
pub const MAX_HISTORY_LIMIT: usize = 1000;
/// The events `GET /history` returns without a `limit`.
pub const DEFAULT_HISTORY_LIMIT: usize = 100;

/// The decoded `key=value` pairs of a query string, in order.
pub(crate) fn pairs(
    query: &str,
) -> impl Iterator<Item = Result<(String, String), QueryError>> + '_ {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            // Errors name the parameter, never its value: it may be a token.
            let key = decode(key).ok_or(QueryError::NameNotUtf8)?;
            let value = decode(value).ok_or_else(|| QueryError::NotUtf8(key.clone()))?;
            Ok((key, value))
        })
}

fn decode(part: &str) -> Option<String> {
    let spaced: Cow<'_, str> = if part.contains('+') {
        part.replace('+', " ").into()
    } else {
        part.into()
    };
    percent_decode(spaced.as_bytes())
        .decode_utf8()
        .map(Cow::into_owned)
        .ok()
}

/// A name (topic or event) is 1 to 64 bytes with no control characters.
fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len()) && !name.chars().any(char::is_control)
}

pub(crate) fn check_topic(topic: String) -> Result<String, QueryError> {
    if valid_name(&topic) {
        Ok(topic)
    } else {
        Err(QueryError::Topic(topic))
    }
}

pub(crate) fn check_event_name(name: String) -> Result<String, QueryError> {
    if valid_name(&name) {
        Ok(name)
    } else {
        Err(QueryError::EventName(name))
    }
}

/// What `GET /events` reads from its query.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct EventsQuery {
    pub(crate) topics: Vec<String>,
    pub(crate) last_event_id: Option<String>,
    /// The newest events to replay when no last event id is given.
    pub(crate) rewind: Option<usize>,
}

pub(crate) fn events_query(query: &str) -> Result<EventsQuery, QueryError> {
    let mut parsed = EventsQuery::default();
    let mut topics = TopicsQuery::default();
    for pair in pairs(query) {
        let (key, value) = pair?;
        match key.as_str() {
            "topic" => topics.push(value)?,
            "lastEventId" => parsed.last_event_id = Some(value),
            "rewind" => parsed.rewind = Some(check_rewind(&value)?),
            _ => {}
        }
    }
    parsed.topics = topics.finish();
    Ok(parsed)
}

fn check_rewind(value: &str) -> Result<usize, QueryError> {
    count_within(value, MAX_REWIND).ok_or(QueryError::Rewind)
}

/// `value` as a whole number from 1 to `max`, plain digits only.
fn count_within(value: &str, max: usize) -> Option<usize> {
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    match value.parse::<usize>() {
        Ok(n) if digits && (1..=max).contains(&n) => Some(n),
        _ => None,
    }
}

/// What `GET /history` reads from its query.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct HistoryQuery {
    pub(crate) topics: Vec<String>,
    pub(crate) after: Option<String>,
    pub(crate) limit: usize,
}

pub(crate) fn history_query(query: &str) -> Result<HistoryQuery, QueryError> {
    let mut topics = TopicsQuery::default();
    let mut after = None;
    let mut limit = DEFAULT_HISTORY_LIMIT;
    for pair in pairs(query) {
        let (key, value) = pair?;
        match key.as_str() {
            "topic" => topics.push(value)?,
            "after" => after = Some(value).filter(|id| !id.is_empty()),
            "limit" => limit = count_within(&value, MAX_HISTORY_LIMIT).ok_or(QueryError::Limit)?,
            _ => {}
        }
    }
    Ok(HistoryQuery {
        topics: topics.finish(),
        after,
        limit,
    })
}

/// The topics of `GET /presence`.
pub(crate) fn presence_query(query: &str) -> Result<Vec<String>, QueryError> {
    let mut topics = TopicsQuery::default();
    for pair in pairs(query) {
        let (key, value) = pair?;
        if key == "topic" {
            topics.push(value)?;
        }
    }
    Ok(topics.finish())
}

/// Repeated `topic` parameters, as `/events` takes them.
#[derive(Default)]
struct TopicsQuery(Vec<String>);

impl TopicsQuery {
    fn push(&mut self, topic: String) -> Result<(), QueryError> {
        if self.0.len() == MAX_TOPICS {
            return Err(QueryError::TooManyTopics);
        }
        self.0.push(check_topic(topic)?);
        Ok(())
    }

    fn finish(mut self) -> Vec<String> {
        if self.0.is_empty() {
            self.0.push("default".into());
        }
        self.0
    }
}

/// What `POST /notify` reads from its query.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NotifyQuery {
    pub(crate) topic: String,
    pub(crate) event: String,
    /// `false`: for live subscribers only.
    pub(crate) history: bool,
}

pub(crate) fn notify_query(query: &str) -> Result<NotifyQuery, QueryError> {
    let mut topic = None;
    let mut event = None;
    let mut history = true;
    for pair in pairs(query) {
        let (key, value) = pair?;
        match key.as_str() {
            "topic" if topic.is_some() => return Err(QueryError::SeveralTopics),
            "topic" => topic = Some(check_topic(value)?),
            "event" => event = Some(check_event_name(value)?),
            "history" => {
                history = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(QueryError::History),
                }
            }
            _ => {}
        }
    }
    Ok(NotifyQuery {
        topic: topic.unwrap_or_else(|| "default".into()),
        event: event.unwrap_or_else(|| "notification".into()),
        history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_defaults_to_the_default_topic() {
        assert_eq!(
            events_query("").unwrap(),
            EventsQuery {
                topics: vec!["default".into()],
                last_event_id: None,
                rewind: None,
            }
        );
    }

    #[test]
    fn events_reads_repeated_topics_and_the_last_event_id() {
        let parsed = events_query("topic=a&x=1&topic=b%20c&topic=d+e&lastEventId=42").unwrap();
        assert_eq!(parsed.topics, ["a", "b c", "d e"]);
        assert_eq!(parsed.last_event_id.as_deref(), Some("42"));
    }

    #[test]
    fn topics_are_checked() {
        let long = "x".repeat(65);
        for bad in [
            "topic=",
            "topic",
            "topic=a%0Ab",
            "topic=%7F",
            &format!("topic={long}"),
        ] {
            assert!(
                matches!(events_query(bad), Err(QueryError::Topic(_))),
                "{bad}"
            );
        }
        assert!(events_query(&format!("topic={}", "x".repeat(64))).is_ok());
        assert!(
            events_query("topic=%C3%A9t%C3%A9").is_ok(),
            "non-ASCII is fine"
        );
    }

    #[test]
    fn topics_are_capped() {
        let many = |n: usize| vec!["topic=a"; n].join("&");
        assert!(events_query(&many(MAX_TOPICS)).is_ok());
        assert_eq!(
            events_query(&many(MAX_TOPICS + 1)),
            Err(QueryError::TooManyTopics)
        );
        assert_eq!(events_query(&many(5000)), Err(QueryError::TooManyTopics));
    }

    #[test]
    fn non_utf8_and_odd_encodings_are_handled() {
        assert!(matches!(
            events_query("topic=%FF"),
            Err(QueryError::NotUtf8(_))
        ));
        assert!(matches!(
            events_query("lastEventId=%C3"),
            Err(QueryError::NotUtf8(_))
        ));
        // Broken escapes stay literal, as browsers and the url crate do.
        assert_eq!(events_query("topic=%zz").unwrap().topics, ["%zz"]);
        assert_eq!(events_query("&&topic=a&&").unwrap().topics, ["a"]);
        assert_eq!(events_query("topic=a=b").unwrap().topics, ["a=b"]);
    }

    #[test]
    fn history_reads_topics_after_and_a_bounded_limit() {
        let parsed = history_query("topic=a&topic=b&after=7&limit=1000").unwrap();
        assert_eq!(parsed.topics, ["a", "b"]);
        assert_eq!(parsed.after.as_deref(), Some("7"));
        assert_eq!(parsed.limit, 1000);
        let defaults = history_query("").unwrap();
        assert_eq!(defaults.topics, ["default"]);
        assert_eq!(
            (defaults.after, defaults.limit),
            (None, DEFAULT_HISTORY_LIMIT)
        );
        for bad in [
            "limit=0",
            "limit=1001",
            "limit=",
            "limit=+5",
            "limit=x",
            "limit=-1",
        ] {
            assert_eq!(history_query(bad), Err(QueryError::Limit), "{bad}");
        }
        let many = vec!["topic=a"; MAX_TOPICS + 1].join("&");
        assert_eq!(history_query(&many), Err(QueryError::TooManyTopics));
        assert_eq!(presence_query(&many), Err(QueryError::TooManyTopics));
        assert_eq!(presence_query("topic=x&topic=y").unwrap(), ["x", "y"]);
        assert!(matches!(
            presence_query("topic="),
            Err(QueryError::Topic(_))
        ));
    }

    #[test]
    fn notify_defaults_and_checks() {
        assert_eq!(
            notify_query("").unwrap(),
            NotifyQuery {
                topic: "default".into(),
                event: "notification".into(),
                history: true,
            }
        );
        assert_eq!(
            notify_query("topic=t&event=e&history=false").unwrap(),
            NotifyQuery {
                topic: "t".into(),
                event: "e".into(),
                history: false,
            }
        );
        for bad in ["history=", "history=0", "history=FALSE", "history=no"] {
            assert_eq!(notify_query(bad), Err(QueryError::History), "{bad}");
        }
        assert_eq!(
            notify_query("topic=a&topic=b"),
            Err(QueryError::SeveralTopics)
        );
        for bad in ["event=", "event=a%0Db", "event=a%0Ab", "event=%00"] {
            assert!(
                matches!(notify_query(bad), Err(QueryError::EventName(_))),
                "{bad}"
            );
        }
        let long = format!("event={}", "e".repeat(65));
        assert!(matches!(notify_query(&long), Err(QueryError::EventName(_))));
    }

    #[test]
    fn rewind_is_a_count_from_1_to_1000() {
        assert_eq!(events_query("rewind=1").unwrap().rewind, Some(1));
        assert_eq!(
            events_query("topic=a&rewind=1000").unwrap().rewind,
            Some(1000)
        );
        for bad in [
            "0",
            "1001",
            "-1",
            "+5",
            "x",
            "",
            "1.5",
            "99999999999999999999999",
        ] {
            assert_eq!(
                events_query(&format!("rewind={bad}")),
                Err(QueryError::Rewind),
                "{bad:?}"
            );
        }
    }
}
