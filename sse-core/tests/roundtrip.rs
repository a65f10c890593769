//! Property: any event built through the API encodes and decodes back to the
//! same event, whatever chunking its bytes arrive in.

use std::time::Duration;

use proptest::prelude::*;
use sse_hub::Event;
use sse_hub::decode::{Decoded, Decoder};

/// Text rich in the characters that matter to the wire format.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![
                Just('\r'),
                Just('\n'),
                Just(':'),
                Just(' '),
                Just('\u{FEFF}'),
                Just('é'),
                any::<char>()
            ],
            0..24
        )
        .prop_map(|chars| chars.into_iter().collect()),
    ]
}

fn one_line(forbidden: &'static [char]) -> impl Strategy<Value = String> {
    text().prop_map(move |s| s.chars().filter(|c| !forbidden.contains(c)).collect())
}

fn event() -> impl Strategy<Value = Event> {
    (
        text(),
        proptest::option::of(one_line(&['\r', '\n'])),
        proptest::option::of(one_line(&['\r', '\n', '\0'])),
        proptest::option::of(any::<u64>()),
        proptest::collection::vec(text(), 0..3),
    )
        .prop_map(|(data, name, id, retry, comments)| {
            let mut builder = Event::builder().data(data);
            if let Some(name) = name {
                builder = builder.event(name);
            }
            if let Some(id) = id {
                builder = builder.id(id);
            }
            if let Some(millis) = retry {
                builder = builder.retry(Duration::from_millis(millis));
            }
            for comment in comments {
                builder = builder.comment(comment);
            }
            builder
                .build()
                .expect("inputs avoid the forbidden characters")
        })
}

/// What a decoder must report for `events` sent in order on one stream.
fn expected(events: &[Event]) -> Vec<Decoded> {
    let mut last_id = String::new();
    let mut out = Vec::new();
    for event in events {
        for comment in event.comments() {
            out.extend(comment.split('\n').map(|l| Decoded::Comment(l.into())));
        }
        if let Some(retry) = event.retry() {
            out.push(Decoded::Retry(retry));
        }
        if let Some(id) = event.id() {
            last_id = id.to_owned();
        }
        out.push(Decoded::Event(message(event, &last_id)));
    }
    out
}

/// Builds the decoded form through the decoder itself, from a canonical
/// stream written by hand rather than by the encoder under test.
fn message(event: &Event, last_id: &str) -> sse_hub::decode::MessageEvent {
    let mut wire = format!("id: {last_id}\n");
    if let Some(name) = event.event() {
        wire.push_str(&format!("event: {name}\n"));
    }
    for line in event.data().split('\n') {
        wire.push_str(&format!("data: {line}\n"));
    }
    wire.push('\n');
    let mut decoder = Decoder::new();
    decoder.feed(wire.as_bytes());
    let decoded = decoder.next_item().expect("one event").expect("no error");
    let message = decoded.into_event().expect("an event");
    assert_eq!(message.event(), event.event().unwrap_or("message"));
    assert_eq!(message.data(), event.data());
    assert_eq!(message.last_event_id(), last_id);
    message
}

fn decode_in_chunks(bytes: &[u8], cuts: &[usize]) -> Vec<Decoded> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut decoder = Decoder::new();
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        decoder.feed(&bytes[start..cut]);
        start = cut;
        while let Some(item) = decoder.next_item() {
            out.push(item.expect("the encoder's output is within the default bounds"));
        }
    }
    decoder.finish();
    assert!(decoder.next_item().is_none(), "nothing left unterminated");
    out
}

/// How many stream bytes `text` came from: each invalid byte became a
/// 3-byte U+FFFD, and a real U+FFFD was 3 bytes already.
fn stream_len(text: &str) -> usize {
    text.len() - 2 * text.matches('\u{FFFD}').count()
}

proptest! {
    // A fixed seed keeps CI deterministic; `cargo xtask fuzz` explores.
    #![proptest_config(ProptestConfig {
        cases: 512,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x55E_C0DE),
        ..ProptestConfig::default()
    })]

    #[test]
    fn one_event_round_trips_under_any_chunking(
        event in event(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let bytes = event.encode();
        prop_assert_eq!(decode_in_chunks(&bytes, &cuts), expected(std::slice::from_ref(&event)));
    }

    #[test]
    fn a_stream_of_events_round_trips_under_any_chunking(
        events in proptest::collection::vec(event(), 1..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let bytes: Vec<u8> = events.iter().flat_map(|e| e.encode()).collect();
        prop_assert_eq!(decode_in_chunks(&bytes, &cuts), expected(&events));
    }

    #[test]
    fn decoder_never_panics_and_stays_bounded(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut decoder = Decoder::new().max_line_len(64).max_event_len(128);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut start = 0;
        for cut in cuts.into_iter().chain([bytes.len()]) {
            decoder.feed(&bytes[start..cut]);
            start = cut;
            while let Some(item) = decoder.next_item() {
                if let Ok(Decoded::Event(event)) = item {
                    prop_assert!(stream_len(event.data()) < 128);
                }
            }
        }
    }
}
