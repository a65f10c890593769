//! Topic patterns: which topics a grant covers.

/// A topic name, or a prefix followed by `*` that covers every topic
/// starting with it; `*` alone covers all topics.
///
/// Only a trailing `*` is a wildcard: `a*b` is the literal topic `a*b`.
/// Matching is byte for byte, on the topic's name as the client's query
/// decoded it: case, spaces and look-alike characters all count, and
/// `/` or `..` mean nothing special (`chat/*` covers `chat/../admin`,
/// which is just another topic under `chat/`, never `admin`).
///
/// ```
/// use sse_hub::auth::TopicPattern;
///
/// let chat = TopicPattern::new("chat/*");
/// assert!(chat.matches("chat/rust"));
/// assert!(!chat.matches("chat"));
/// assert!(!chat.matches("chatroom/rust"));
/// assert!(TopicPattern::new("user-42").matches("user-42"));
/// assert!(!TopicPattern::new("user-42").matches("user-420"));
/// assert!(TopicPattern::new("*").matches("anything"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopicPattern {
    /// The name, or the prefix without its `*`.
    text: String,
    prefix: bool,
}

impl TopicPattern {
    /// Parses a pattern; an empty one covers no topic.
    pub fn new(pattern: &str) -> Self {
        match pattern.strip_suffix('*') {
            Some(prefix) => Self {
                text: prefix.to_owned(),
                prefix: true,
            },
            None => Self {
                text: pattern.to_owned(),
                prefix: false,
            },
        }
    }

    /// The pattern covering every topic.
    pub fn any() -> Self {
        Self::new("*")
    }

    /// Whether `topic` is covered.
    pub fn matches(&self, topic: &str) -> bool {
        if self.prefix {
            topic.starts_with(&self.text)
        } else {
            !self.text.is_empty() && topic == self.text
        }
    }
}

impl From<&str> for TopicPattern {
    fn from(pattern: &str) -> Self {
        Self::new(pattern)
    }
}

impl From<String> for TopicPattern {
    fn from(pattern: String) -> Self {
        Self::new(&pattern)
    }
}

impl std::fmt::Display for TopicPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)?;
        if self.prefix {
            f.write_str("*")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn exact_names_match_only_themselves() {
        let user = TopicPattern::new("user-42");
        for other in [
            "user-4",
            "user-420",
            "user-42 ",
            " user-42",
            "USER-42",
            "user-42\u{200b}", // a zero-width space
            "user\u{2010}42",  // a Unicode hyphen
            "user-42/x",
            "user-42*",
            "",
        ] {
            assert!(!user.matches(other), "{other:?}");
        }
        assert!(user.matches("user-42"));
    }

    #[test]
    fn a_trailing_star_is_a_prefix_and_nothing_else_is_special() {
        let chat = TopicPattern::new("chat/*");
        for covered in ["chat/", "chat/rust", "chat/../admin", "chat/*", "chat/a/b"] {
            assert!(chat.matches(covered), "{covered:?}");
        }
        for other in [
            "chat",
            "cha",
            "chat*",
            "chatroom/x",
            "Chat/x",
            "xchat/x",
            "/chat/x",
        ] {
            assert!(!chat.matches(other), "{other:?}");
        }
        let literal = TopicPattern::new("a*b");
        assert!(literal.matches("a*b"));
        assert!(!literal.matches("axb"));
        assert!(!TopicPattern::new("").matches(""));
        assert!(!TopicPattern::new("").matches("a"));
    }

    #[test]
    fn patterns_print_as_written() {
        for text in ["*", "chat/*", "user-42", "a*b"] {
            assert_eq!(TopicPattern::new(text).to_string(), text);
        }
    }

    proptest! {
        #[test]
        fn star_covers_everything_and_a_name_itself(topic in "\\PC{1,64}") {
            prop_assert!(TopicPattern::any().matches(&topic));
            prop_assert!(TopicPattern::new(&topic).matches(&topic) || topic.ends_with('*'));
        }

        #[test]
        fn a_prefix_covers_exactly_the_topics_starting_with_it(
            prefix in "[a-c/]{0,3}",
            topic in "[a-c/*]{0,6}",
        ) {
            let pattern = TopicPattern::new(&format!("{prefix}*"));
            prop_assert_eq!(pattern.matches(&topic), topic.starts_with(&prefix));
        }
    }
}
