//! A topic channel's messages: what `publish.lua` announces and the tail
//! reads. A message holds one or more events of the channel's topic, in
//! id order, each `<id> <event length>\n<event>` (`<id> <event length>
//! e\n<event>` for an ephemeral event), the event encoded without its id
//! line. `<id> 0 l\n`, from `load.lua`, says that a failover dropped the
//! topic's events up to `<id>`.

use crate::broker::ids;

/// One event read from Redis, before it is applied.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Received {
    pub(super) id: u64,
    pub(super) body: Vec<u8>,
    /// For live subscribers only.
    pub(super) ephemeral: bool,
    /// Not an event: every event up to `id` is gone.
    pub(super) lost: bool,
}

/// The events of a message, or `None` if any record is malformed (the
/// whole message is then skipped).
pub(super) fn parse_payload(payload: &[u8]) -> Option<Vec<Received>> {
    let mut events = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let newline = memchr::memchr(b'\n', rest)?;
        let head = std::str::from_utf8(&rest[..newline]).ok()?;
        let (id, len) = head.split_once(' ')?;
        let (len, ephemeral, lost) = match len.split_once(' ') {
            Some((len, "e")) => (len, true, false),
            Some(("0", "l")) => ("0", false, true),
            Some(_) => return None,
            None => (len, false, false),
        };
        let id = ids::parse_redis(id)?;
        let len: usize = len.parse().ok()?;
        let record = &rest[newline + 1..];
        let body = record.get(..len)?;
        // One topic's ids only grow.
        if events.last().is_some_and(|last: &Received| last.id >= id) {
            return None;
        }
        events.push(Received {
            id,
            body: body.to_vec(),
            ephemeral,
            lost,
        });
        rest = &record[len..];
    }
    (!events.is_empty()).then_some(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::ids::IdFormat;

    #[test]
    fn a_message_carries_its_events_in_order() {
        let payload = b"1764150000000-3 18\nevent: x\ndata: 1\n\n1764150000001-0 0 e\n";
        let parsed = parse_payload(payload).expect("a valid payload");
        let seen: Vec<(String, &[u8], bool)> = parsed
            .iter()
            .map(|event| {
                let id = IdFormat::Redis.format(event.id);
                (id, event.body.as_slice(), event.ephemeral)
            })
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "1764150000000-3".to_owned(),
                    &b"event: x\ndata: 1\n\n"[..],
                    false
                ),
                ("1764150000001-0".to_owned(), &b""[..], true),
            ]
        );
    }

    #[test]
    fn a_loss_is_announced_with_no_event() {
        let parsed = parse_payload(b"1764150000002-1 0 l\n").expect("a valid payload");
        assert_eq!(
            parsed,
            [Received {
                id: ids::parse_redis("1764150000002-1").expect("an id"),
                body: Vec::new(),
                ephemeral: false,
                lost: true,
            }]
        );
    }

    #[test]
    fn malformed_payloads_are_refused() {
        for bad in [
            &b""[..],
            b"1-0",
            b"1-0 4",
            b"1-0 4\ndat",
            b"x-0 4\ndata",
            b"1-0 x\ndata",
            b"1-0 -1\n",
            b"1-0 4 4\ndata",
            b"1-0 4 x\ndata",
            b"1-0 4 e e\ndata",
            b"1-0 4 l\ndata",
            b"1-0 4\ndata1-1",
            b"1-0 4\ndata1-0 0\n",
            b"2-0 0\n1-0 0\n",
            b"1-0 18446744073709551615\ndata",
            b"1-0 99999999999999999999999\ndata",
        ] {
            assert!(parse_payload(bad).is_none(), "{bad:?}");
        }
    }
}
