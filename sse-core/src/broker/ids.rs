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

/// Digits of the composite ids: lowercase base 36, the shortest that
/// stays case-insensitive.
const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

fn push_base36(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 13];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = DIGITS[(value % 36) as usize];
        value /= 36;
        if value == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.extend(digits[start..].iter().map(|&b| char::from(b)));
}

fn parse_base36(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 13 {
        return None;
    }
    text.bytes().try_fold(0u64, |value, b| {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'z' => b - b'a' + 10,
            _ => return None,
        };
        value.checked_mul(36)?.checked_add(u64::from(digit))
    })
}

/// A cursor per topic of a multi-topic stream on Redis, as one id: where
/// the topics' ids come from different sequences (a stream per topic,
/// each on its master), no single id says how far a client got in each.
///
/// The form is `<base>` then `.<entry>` per topic, in the stream's topic
/// order (sorted names), all numbers in base 36: `base` is the newest
/// cursor's milliseconds, and an entry is how many milliseconds older its
/// cursor is, with `:<sequence>` when that is not 0, or nothing for a
/// cursor of 0 (nothing known). Cursors of live topics are close to each
/// other, so an entry takes 1–7 characters, 11 at most: 32 topics that
/// all had events in the last five minutes take about 200 bytes, and no
/// 32 topics take more than 8 + 32 × 12 = 392.
pub(crate) fn format_composite(cursors: &[u64]) -> String {
    let base = cursors.iter().map(|&c| split(c).0).max().unwrap_or(0);
    let mut out = String::with_capacity(9 + cursors.len() * 6);
    push_base36(&mut out, base);
    for &cursor in cursors {
        out.push('.');
        if cursor == 0 {
            continue;
        }
        let (ms, seq) = split(cursor);
        push_base36(&mut out, base - ms);
        if seq != 0 {
            out.push(':');
            push_base36(&mut out, seq);
        }
    }
    out
}

/// The cursors of a [`format_composite`] id, if it has `count` of them.
pub(crate) fn parse_composite(text: &str, count: usize) -> Option<Vec<u64>> {
    let mut parts = text.split('.');
    let base = parse_base36(parts.next()?)?;
    let cursors = parts
        .map(|entry| {
            if entry.is_empty() {
                return Some(0);
            }
            let (age, seq) = match entry.split_once(':') {
                Some((age, seq)) => (age, parse_base36(seq)?),
                None => (entry, 0),
            };
            join(base.checked_sub(parse_base36(age)?)?, seq)
        })
        .collect::<Option<Vec<u64>>>()?;
    (cursors.len() == count).then_some(cursors)
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

    #[test]
    fn composite_ids_round_trip_and_stay_short() {
        let now = 1_764_150_000_000;
        let cursors = [
            join(now, 0).unwrap(),
            join(now - 1234, 7).unwrap(),
            0,
            join(now - 300_000, 1_048_575).unwrap(),
        ];
        let text = format_composite(&cursors);
        assert_eq!(
            parse_composite(&text, 4).as_deref(),
            Some(&cursors[..]),
            "{text}"
        );
        assert_eq!(parse_composite(&text, 3), None, "another number of topics");
        assert!(!text.contains('-'), "never read as one Redis id: {text}");
        // 32 topics within five minutes of each other, sequences mostly 0.
        let many: Vec<u64> = (0..32)
            .map(|i| join(now - i * 9_000, i % 3).unwrap())
            .collect();
        let text = format_composite(&many);
        assert!(text.len() <= 8 + 32 * 7, "{} bytes: {text}", text.len());
        assert_eq!(parse_composite(&text, 32), Some(many));
    }

    #[test]
    fn malformed_composite_ids_are_refused() {
        for bad in [
            "",
            ".",
            "zz.1.",
            "1.2",
            "1.a:",
            "1.:1",
            "1.A",
            "1.1:1:1",
            "1764150000000-0",
        ] {
            assert_eq!(parse_composite(bad, 1), None, "{bad:?}");
        }
        // An entry older than the base's epoch.
        assert_eq!(parse_composite("1.2", 1), None);
        assert_eq!(parse_composite("2.1", 1), Some(vec![join(1, 0).unwrap()]));
    }
}
