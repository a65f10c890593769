//! What a request may do: the topics it may subscribe and publish to, and
//! until when.

use std::time::{Duration, SystemTime};

use super::pattern::TopicPattern;

/// What a request may do: the topics it may subscribe to, those it may
/// publish on, and until when. The default grants nothing, forever.
///
/// ```
/// use sse_hub::auth::Grants;
///
/// let grants = Grants::new().subscribe("user-42").subscribe("chat/*").publish("chat/*");
/// assert!(grants.may_subscribe("chat/rust") && grants.may_subscribe("user-42"));
/// assert!(!grants.may_subscribe("user-43"));
/// assert!(grants.may_publish("chat/rust") && !grants.may_publish("user-42"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub(super) subscribe: Vec<TopicPattern>,
    pub(super) publish: Vec<TopicPattern>,
    pub(super) expires_at: Option<SystemTime>,
}

impl Grants {
    /// Grants nothing; add patterns with [`subscribe`](Grants::subscribe)
    /// and [`publish`](Grants::publish).
    pub fn new() -> Self {
        Self::default()
    }

    /// Grants every topic, both ways.
    pub fn all() -> Self {
        Self::new()
            .subscribe(TopicPattern::any())
            .publish(TopicPattern::any())
    }

    /// Also grants subscribing to the topics `pattern` covers.
    #[must_use]
    pub fn subscribe(mut self, pattern: impl Into<TopicPattern>) -> Self {
        self.subscribe.push(pattern.into());
        self
    }

    /// Also grants publishing on the topics `pattern` covers.
    #[must_use]
    pub fn publish(mut self, pattern: impl Into<TopicPattern>) -> Self {
        self.publish.push(pattern.into());
        self
    }

    /// The grants end at `at`: a stream opened with them ends then.
    #[must_use]
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Whether subscribing to `topic` is granted.
    pub fn may_subscribe(&self, topic: &str) -> bool {
        self.subscribe.iter().any(|pattern| pattern.matches(topic))
    }

    /// Whether publishing on `topic` is granted.
    pub fn may_publish(&self, topic: &str) -> bool {
        self.publish.iter().any(|pattern| pattern.matches(topic))
    }

    /// When the grants end, if they do.
    pub fn expiry(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// How long from now until the grants end (zero once they have);
    /// `None` when they do not.
    pub fn remaining(&self) -> Option<Duration> {
        let at = self.expires_at?;
        Some(at.duration_since(SystemTime::now()).unwrap_or_default())
    }
}
