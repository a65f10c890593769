//! The events channel's messages: what a publish script announces and the
//! tail reads. A message is the first event's id and the number of events,
//! `<id> <count>\n`, then one record per event, in id order, each
//! `<topic length> <event length>\n<topic><event>`. The ids follow the
//! first one apart, as a batch's do.

use crate::broker::ids;

/// One event read from Redis, before it is applied.
#[derive(Debug)]
pub(super) struct Received {
    pub(super) topic: String,
    pub(super) id: u64,
    pub(super) body: Vec<u8>,
    pub(super) gap: bool,
}

/// Appends one record of a message to `out`.
pub(super) fn write_record(out: &mut Vec<u8>, topic: &str, body: &[u8]) {
    use std::io::Write as _;
    // Writing to a Vec cannot fail.
    let _ = writeln!(out, "{} {}", topic.len(), body.len());
    out.extend_from_slice(topic.as_bytes());
    out.extend_from_slice(body);
}

/// The two numbers of a line `<a> <b>\n` at the start of `payload`, and
/// what follows it.
fn header(payload: &[u8]) -> Option<(&str, &str, &[u8])> {
    let newline = memchr::memchr(b'\n', payload)?;
    let head = std::str::from_utf8(&payload[..newline]).ok()?;
    let (a, b) = head.split_once(' ')?;
    Some((a, b, &payload[newline + 1..]))
}

pub(super) fn parse_payload(payload: &[u8]) -> Option<Vec<Received>> {
    let (first, count, mut rest) = header(payload)?;
    let first = ids::parse_redis(first)?;
    let count: u64 = count.parse().ok()?;
    // Each record takes at least four bytes: no count beyond that is honest.
    if count == 0 || count > rest.len() as u64 / 4 {
        return None;
    }
    let mut events = Vec::with_capacity(usize::try_from(count).ok()?);
    for offset in 0..count {
        let (topic_len, body_len, record) = header(rest)?;
        let topic_len: usize = topic_len.parse().ok()?;
        let body_len: usize = body_len.parse().ok()?;
        let topic = std::str::from_utf8(record.get(..topic_len)?).ok()?;
        let end = topic_len.checked_add(body_len)?;
        let body = record.get(topic_len..end)?;
        events.push(Received {
            topic: topic.to_owned(),
            id: first.checked_add(offset)?,
            body: body.to_vec(),
            gap: false,
        });
        rest = &record[end..];
    }
    rest.is_empty().then_some(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::ids::IdFormat;

    #[test]
    fn payloads_carry_id_topic_and_event() {
        let parsed = parse_payload(b"1764150000000-3 1\n9 18\nnews feedevent: x\ndata: 1\n\n");
        let parsed = parsed.expect("a valid payload");
        assert_eq!(parsed.len(), 1);
        assert_eq!(IdFormat::Redis.format(parsed[0].id), "1764150000000-3");
        assert_eq!(parsed[0].topic, "news feed");
        assert_eq!(parsed[0].body, b"event: x\ndata: 1\n\n");
    }

    #[test]
    fn a_batch_payload_carries_its_events_in_order() {
        let mut payload = b"5-1048574 3\n".to_vec();
        write_record(&mut payload, "a", b"data: 1\n\n");
        write_record(&mut payload, "bc", b"");
        write_record(&mut payload, "a", b"data: 3\n\n");
        let parsed = parse_payload(&payload).expect("a valid payload");
        let seen: Vec<(String, &str, &[u8])> = parsed
            .iter()
            .map(|event| {
                (
                    IdFormat::Redis.format(event.id),
                    event.topic.as_str(),
                    event.body.as_slice(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("5-1048574".to_owned(), "a", &b"data: 1\n\n"[..]),
                ("5-1048575".to_owned(), "bc", &b""[..]),
                // Past the largest sequence, the next millisecond.
                ("6-0".to_owned(), "a", &b"data: 3\n\n"[..]),
            ]
        );
    }

    #[test]
    fn malformed_payloads_are_refused() {
        for bad in [
            &b""[..],
            b"1-0",
            b"1-0 1",
            b"1-0 1\n4 4",
            b"1-0 1\n4\nnewsdata",
            b"x-0 1\n4 4\nnewsdata",
            b"1-0 x\n4 4\nnewsdata",
            b"1-0 0\n",
            b"1-0 2\n4 4\nnewsdata",
            b"1-0 99999999999\n4 4\nnewsdata",
            b"1-0 1\n40 0\nnews",
            b"1-0 1\n4 40\nnewsdata",
            b"1-0 1\n-1 0\nnews",
            b"1-0 1\n4 4 4\nnewsdata",
            b"1-0 1\n2 4\n\xff\xfedata",
            b"1-0 1\n4 4\nnewsdata1-1",
            b"1-0 1\n4 18446744073709551615\nnewsdata",
        ] {
            assert!(parse_payload(bad).is_none(), "{bad:?}");
        }
    }
}
