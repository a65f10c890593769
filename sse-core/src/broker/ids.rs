//! Event ids: how a broker writes them on the wire and reads them back
//! from `Last-Event-ID`. Inside the broker an id is a `u64` whose order is
//! the publish order, whatever its text.

/// Bits of a Redis id's sequence number in its `u64` form: a million
/// events in one millisecond, far more than one Redis server takes, and
/// 44 bits of milliseconds, enough until the year 2527.
const SEQ_BITS: u32 = 20;
const MAX_SEQ: u64 = (1 << SEQ_BITS) - 1;
const MAX_MS: u64 = u64::MAX >> SEQ_BITS;

/// The text form of a broker's ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum IdFormat {
    /// Decimal digits: an in-memory broker's ids.
    Decimal,
    /// `<milliseconds>-<sequence>`: Redis stream ids, as a broker that
    /// mirrors Redis gets them.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Redis,
}

impl IdFormat {
    pub(crate) fn format(self, id: u64) -> String {
        EventId::new(id, self).to_string()
    }

    /// The id `text` stands for, if it is one this format writes.
    pub(crate) fn parse(self, text: &str) -> Option<u64> {
        match self {
            Self::Decimal => parse_decimal(text),
            Self::Redis => parse_redis(text),
        }
    }
}

/// The id a broker gave an event. It orders as the publish order, and it
/// prints ([`Display`](std::fmt::Display)) as the text clients see in
/// `id:` and send back in `Last-Event-ID`: decimal digits in memory,
/// `<milliseconds>-<sequence>` in multi-instance mode. With the `json`
/// feature it serializes as that text, a JSON string, since a number near
/// 2^63 would lose precision in every JavaScript client.
///
/// ```
/// use sse_hub::{Broker, BrokerConfig, Event};
///
/// let broker = Broker::with_first_id(BrokerConfig::default(), 7);
/// let published = broker.publish("news", &Event::new("hi"))?;
/// assert_eq!(published.id.to_string(), "7");
/// # #[cfg(feature = "json")]
/// assert_eq!(serde_json::json!({ "id": published.id }).to_string(), r#"{"id":"7"}"#);
/// # Ok::<(), sse_hub::broker::BrokerError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId {
    value: u64,
    format: IdFormat,
}

impl EventId {
    pub(crate) fn new(value: u64, format: IdFormat) -> Self {
        Self { value, format }
    }

    /// The id as a number, in publish order; for storage that wants one.
    pub fn as_u64(self) -> u64 {
        self.value
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.format {
            IdFormat::Decimal => write!(f, "{}", self.value),
            IdFormat::Redis => {
                let (ms, seq) = split(self.value);
                write!(f, "{ms}-{seq}")
            }
        }
    }
}

#[cfg(feature = "json")]
impl serde::Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Ids are decimal digits only; `u64::from_str` would also take a sign.
fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `<ms>-<seq>`, both decimal, in the ranges [`join`] takes.
pub(crate) fn parse_redis(text: &str) -> Option<u64> {
    let (ms, seq) = text.split_once('-')?;
    join(parse_decimal(ms)?, parse_decimal(seq)?)
}

/// A Redis id's `u64` form: ordered as Redis orders ids.
pub(crate) fn join(ms: u64, seq: u64) -> Option<u64> {
    (ms <= MAX_MS && seq <= MAX_SEQ).then_some((ms << SEQ_BITS) | seq)
}

/// (milliseconds, sequence) of a Redis id's `u64` form.
pub(crate) fn split(id: u64) -> (u64, u64) {
    (id >> SEQ_BITS, id & MAX_SEQ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_ids_are_digits_only() {
        let decimal = IdFormat::Decimal;
        for bad in [
            "",
            "abc",
            "+1",
            "-1",
            "1.5",
            " 1",
            "18446744073709551616",
            "1-0",
        ] {
            assert_eq!(decimal.parse(bad), None, "{bad:?}");
        }
        assert_eq!(decimal.parse("0"), Some(0));
        assert_eq!(decimal.parse("18446744073709551615"), Some(u64::MAX));
        assert_eq!(decimal.format(42), "42");
    }

    #[test]
    fn redis_ids_round_trip_and_keep_redis_order() {
        let redis = IdFormat::Redis;
        let ids = [
            "0-0",
            "0-1",
            "1764150000000-0",
            "1764150000000-7",
            "1764150000001-0",
        ];
        let parsed: Vec<u64> = ids.iter().filter_map(|id| redis.parse(id)).collect();
        assert_eq!(parsed.len(), ids.len());
        assert!(
            parsed.windows(2).all(|pair| pair[0] < pair[1]),
            "{parsed:?}"
        );
        for (text, id) in ids.iter().zip(&parsed) {
            assert_eq!(redis.format(*id), *text);
        }
    }

    #[test]
    fn malformed_redis_ids_are_refused() {
        let too_many_ms = format!("{}-0", MAX_MS + 1);
        let too_big_seq = format!("1-{}", MAX_SEQ + 1);
        for bad in [
            "",
            "1",
            "1-",
            "-1",
            "a-1",
            "1-b",
            "1-2-3",
            "+1-2",
            "1764150000000",
        ] {
            assert_eq!(IdFormat::Redis.parse(bad), None, "{bad:?}");
        }
        assert_eq!(IdFormat::Redis.parse(&too_many_ms), None);
        assert_eq!(IdFormat::Redis.parse(&too_big_seq), None);
    }
}
