//! Which master of a Redis Cluster serves which slots, as this instance
//! last heard (`CLUSTER SLOTS`): a batch's topics are grouped by master,
//! so that one script call carries all of one master's events.

use redis::Value;

/// The slots of a cluster, each with the master that serves it.
#[derive(Debug)]
pub(super) struct SlotMap {
    /// (first slot, last slot, master), by first slot.
    ranges: Vec<(u16, u16, usize)>,
}

impl SlotMap {
    /// The map a `CLUSTER SLOTS` answer describes; masters are numbered
    /// by their address.
    pub(super) fn parse(answer: &Value) -> Option<Self> {
        let Value::Array(entries) = answer else {
            return None;
        };
        let mut masters: Vec<String> = Vec::new();
        let mut ranges = Vec::with_capacity(entries.len());
        for entry in entries {
            let Value::Array(fields) = entry else {
                return None;
            };
            let (Some(first), Some(last), Some(Value::Array(master))) =
                (fields.first(), fields.get(1), fields.get(2))
            else {
                return None;
            };
            let address = format!("{}:{}", text(master.first()?)?, number(master.get(1)?)?);
            let index = match masters.iter().position(|known| *known == address) {
                Some(index) => index,
                None => {
                    masters.push(address);
                    masters.len() - 1
                }
            };
            let slot = |value: &Value| u16::try_from(number(value)?).ok();
            ranges.push((slot(first)?, slot(last)?, index));
        }
        ranges.sort_unstable();
        Some(Self { ranges })
    }

    /// The master that serves `slot`, if the map covers it.
    pub(super) fn master_of(&self, slot: u16) -> Option<usize> {
        let after = self.ranges.partition_point(|&(first, _, _)| first <= slot);
        let &(_, last, master) = self.ranges.get(after.checked_sub(1)?)?;
        (slot <= last).then_some(master)
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    }
}

fn number(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        _ => None,
    }
}

/// The cluster slot of `key`: CRC16 of its hash tag (or of the whole key
/// without one), modulo 16384, as Redis computes it.
pub(super) fn slot_of(key: &[u8]) -> u16 {
    let tag = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(key);
    crc16::State::<crc16::XMODEM>::calculate(tag) % 16384
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_those_redis_computes() {
        // `CLUSTER KEYSLOT` of each, from Redis 7.0.
        assert_eq!(slot_of(b"sse:{a}"), 15495);
        assert_eq!(slot_of(b"sse:{b}"), 3300);
        assert_eq!(slot_of(b"sse:{w}"), 3696);
        assert_eq!(slot_of(b"{}x"), slot_of(b"{}x"));
        assert_eq!(slot_of(b"sse:{b}:more"), slot_of(b"other{b}"));
    }

    #[test]
    fn the_map_finds_each_slot_s_master() {
        let master = |host: &str, port: i64| {
            Value::Array(vec![
                Value::BulkString(host.as_bytes().to_vec()),
                Value::Int(port),
                Value::BulkString(b"id".to_vec()),
            ])
        };
        let range = |first: i64, last: i64, node: Value| {
            Value::Array(vec![Value::Int(first), Value::Int(last), node])
        };
        let answer = Value::Array(vec![
            range(5461, 10922, master("127.0.0.1", 7002)),
            range(0, 5460, master("127.0.0.1", 7001)),
            range(10923, 16383, master("127.0.0.1", 7001)),
        ]);
        let map = SlotMap::parse(&answer).expect("a valid answer");
        assert_eq!(map.master_of(0), map.master_of(16383));
        assert_ne!(map.master_of(0), map.master_of(5461));
        assert_eq!(map.master_of(10922), map.master_of(5461));
        assert!(SlotMap::parse(&Value::Int(1)).is_none());
        let empty = SlotMap::parse(&Value::Array(Vec::new())).expect("no slots");
        assert_eq!(empty.master_of(7), None);
    }
}
