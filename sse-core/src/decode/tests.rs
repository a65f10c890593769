use super::*;

/// Everything `input` decodes to, fed in one piece, then checked to decode
/// identically when split at every single byte position and fed byte by byte.
fn decode(input: &[u8]) -> Vec<Result<Decoded, DecodeError>> {
    let whole = decode_chunks(Decoder::new(), &[input]);
    for split in 0..=input.len() {
        let (a, b) = input.split_at(split);
        assert_eq!(
            decode_chunks(Decoder::new(), &[a, b]),
            whole,
            "split at {split}"
        );
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(decode_chunks(Decoder::new(), &bytes), whole, "byte by byte");
    whole
}

fn decode_chunks(mut decoder: Decoder, chunks: &[&[u8]]) -> Vec<Result<Decoded, DecodeError>> {
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk);
        out.extend(std::iter::from_fn(|| decoder.next_item()));
    }
    decoder.finish();
    out.extend(std::iter::from_fn(|| decoder.next_item()));
    out
}

/// (event type, data, last event id) of every dispatched event.
fn events(input: &[u8]) -> Vec<(String, String, String)> {
    decode(input)
        .into_iter()
        .filter_map(|item| item.ok()?.into_event())
        .map(|e| (e.event().into(), e.data().into(), e.last_event_id().into()))
        .collect()
}

fn ev(event: &str, data: &str, id: &str) -> (String, String, String) {
    (event.into(), data.into(), id.into())
}

// The examples of the WHATWG HTML standard, §9.2.6.

#[test]
fn spec_example_multi_line_data() {
    assert_eq!(
        events(b"data: YHOO\ndata: +2\ndata: 10\n\n"),
        [ev("message", "YHOO\n+2\n10", "")]
    );
}

#[test]
fn spec_example_four_blocks() {
    let stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n";
    assert_eq!(
        events(stream),
        [
            ev("message", "first event", "1"),
            ev("message", "second event", ""),
            ev("message", " third event", ""),
        ]
    );
}

#[test]
fn spec_example_empty_data() {
    assert_eq!(
        events(b"data\n\ndata\ndata\n\ndata:"),
        [ev("message", "", ""), ev("message", "\n", "")]
    );
}

#[test]
fn spec_example_space_after_colon_is_optional() {
    assert_eq!(
        events(b"data:test\n\ndata: test\n\n"),
        [ev("message", "test", ""), ev("message", "test", "")]
    );
}

// One test per parsing rule.

#[test]
fn every_line_end_is_accepted() {
    for stream in [
        &b"data: a\n\ndata: b\n\n"[..],
        b"data: a\r\rdata: b\r\r",
        b"data: a\r\n\r\ndata: b\r\n\r\n",
        b"data: a\r\n\rdata: b\n\r\n",
    ] {
        assert_eq!(
            events(stream),
            [ev("message", "a", ""), ev("message", "b", "")],
            "{stream:?}"
        );
    }
}

#[test]
fn cr_at_chunk_end_and_lf_at_next_start_are_one_line_end() {
    let out = decode_chunks(
        Decoder::new(),
        &[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"],
    );
    let data: Vec<_> = out
        .into_iter()
        .filter_map(|i| i.ok()?.into_event())
        .map(|e| e.into_data())
        .collect();
    assert_eq!(data, ["a\nb"]);
}

#[test]
fn cr_then_empty_chunk_then_lf_is_one_line_end() {
    let out = decode_chunks(Decoder::new(), &[b"data: a\r", b"", b"\n", b"\n"]);
    assert_eq!(out.len(), 1);
}

#[test]
fn one_leading_bom_is_stripped() {
    assert_eq!(events(b"\xEF\xBB\xBFdata: a\n\n"), [ev("message", "a", "")]);
    // Only one: a second BOM makes the first field name "\u{FEFF}data".
    assert!(events(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n").is_empty());
    // A BOM later in the stream is ordinary text.
    assert_eq!(
        events(b"data: \xEF\xBB\xBFa\n\n"),
        [ev("message", "\u{FEFF}a", "")]
    );
}

#[test]
fn bytes_that_only_start_like_a_bom_are_kept() {
    assert_eq!(events(b"\xEF\xBBdata: a\n\n"), []);
    let out = decode(b"\xEFx: 1\n:c\n\n");
    assert_eq!(out, [Ok(Decoded::Comment("c".into()))]);
    assert_eq!(
        events(b"data: x\n\n"),
        [ev("message", "x", "")],
        "no BOM at all"
    );
}

#[test]
fn invalid_utf8_becomes_replacement_characters() {
    assert_eq!(
        events(b"data: a\xFFb\xE2\x82\n\n"),
        [ev("message", "a\u{FFFD}b\u{FFFD}", "")]
    );
}

#[test]
fn comments_are_reported_and_do_not_dispatch() {
    assert_eq!(
        decode(b": heartbeat\n:\n:  two spaces\n\n"),
        [
            Ok(Decoded::Comment("heartbeat".into())),
            Ok(Decoded::Comment(String::new())),
            Ok(Decoded::Comment(" two spaces".into())),
        ]
    );
}

#[test]
fn field_without_colon_has_an_empty_value() {
    assert_eq!(events(b"id: 5\ndata\nid\n\n"), [ev("message", "", "")]);
    assert_eq!(events(b"event\ndata: x\n\n"), [ev("message", "x", "")]);
}

#[test]
fn exactly_one_space_after_the_colon_is_removed() {
    assert_eq!(
        events(b"event:  a\ndata:   b\nid:  c\n\n"),
        [ev(" a", "  b", " c")]
    );
    assert_eq!(events(b"data:\tb\n\n"), [ev("message", "\tb", "")]);
}

#[test]
fn only_the_first_colon_separates() {
    assert_eq!(events(b"data: a: b:c\n\n"), [ev("message", "a: b:c", "")]);
}

#[test]
fn field_names_are_case_sensitive_and_unknown_ones_ignored() {
    assert_eq!(
        events(b"Data: no\nDATA: no\nfoo: bar\ndata: yes\n\n"),
        [ev("message", "yes", "")]
    );
}

#[test]
fn retry_needs_ascii_digits_only() {
    let retries = |input: &[u8]| -> Vec<Duration> {
        decode(input)
            .into_iter()
            .filter_map(|i| match i {
                Ok(Decoded::Retry(r)) => Some(r),
                _ => None,
            })
            .collect()
    };
    assert_eq!(retries(b"retry: 1500\n"), [Duration::from_millis(1500)]);
    assert_eq!(retries(b"retry:0\n"), [Duration::ZERO]);
    for bad in [
        &b"retry: 1.5\n"[..],
        b"retry: -1\n",
        b"retry: 1e3\n",
        b"retry:\n",
        b"retry\n",
        b"retry:  15\n",
        b"retry: 15 \n",
        b"retry: \xD9\xA1\n", // ARABIC-INDIC DIGIT ONE is not ASCII
    ] {
        assert_eq!(retries(bad), Vec::<Duration>::new(), "{bad:?}");
    }
    assert_eq!(
        retries(b"retry: 99999999999999999999999\n"),
        [Duration::from_millis(u64::MAX)],
        "overflow saturates"
    );
    let mut decoder = Decoder::new();
    decoder.feed(b"retry: 250\nretry: x\n");
    while decoder.next_item().is_some() {}
    assert_eq!(decoder.retry(), Some(Duration::from_millis(250)));
}

#[test]
fn retry_alone_dispatches_nothing() {
    assert_eq!(events(b"retry: 10\n\n"), []);
}

#[test]
fn id_holding_nul_is_ignored() {
    assert_eq!(
        events(b"id: 1\n\nid: 2\0\ndata: x\n\n"),
        [ev("message", "x", "1")]
    );
}

#[test]
fn last_event_id_carries_across_events() {
    assert_eq!(
        events(b"id: 7\ndata: a\n\ndata: b\n\nid: 8\ndata: c\n\n"),
        [
            ev("message", "a", "7"),
            ev("message", "b", "7"),
            ev("message", "c", "8")
        ]
    );
}

#[test]
fn id_of_an_undispatched_block_still_moves_the_last_event_id() {
    let mut decoder = Decoder::new();
    decoder.feed(b"id: 3\n\n");
    assert_eq!(decoder.next_item(), None);
    assert_eq!(decoder.last_event_id(), "3");
    decoder.feed(b"data: x\n\n");
    let event = decoder.next_item().unwrap().unwrap().into_event().unwrap();
    assert_eq!(event.last_event_id(), "3");
}

#[test]
fn id_is_only_committed_at_dispatch() {
    let mut decoder = Decoder::new();
    decoder.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b\n");
    assert_eq!(decoder.last_event_id(), "", "nothing taken yet");
    assert!(decoder.next_item().is_some());
    assert_eq!(decoder.next_item(), None);
    assert_eq!(decoder.last_event_id(), "1");
    decoder.finish();
    assert_eq!(
        decoder.last_event_id(),
        "1",
        "the unfinished event's id is lost"
    );
}

#[test]
fn event_type_defaults_to_message_and_does_not_carry_over() {
    assert_eq!(
        events(b"event: a\ndata: 1\n\ndata: 2\n\nevent: b\n\ndata: 3\n\n"),
        [
            ev("a", "1", ""),
            ev("message", "2", ""),
            ev("message", "3", "")
        ]
    );
    assert_eq!(events(b"event:\ndata: x\n\n"), [ev("message", "x", "")]);
    assert_eq!(
        events(b"event: x\nevent: y\ndata: z\n\n"),
        [ev("y", "z", "")]
    );
}

#[test]
fn repeated_event_types_compare_by_value() {
    assert_eq!(
        events(b"event: a\ndata: 1\n\nevent: a\ndata: 2\n\nevent: b\ndata: 3\n\n"),
        [ev("a", "1", ""), ev("a", "2", ""), ev("b", "3", "")]
    );
}

#[test]
fn block_without_data_is_not_dispatched() {
    assert_eq!(events(b"event: x\nid: 1\n\n: c\n\n\n\n"), []);
}

#[test]
fn unterminated_event_at_end_of_stream_is_discarded() {
    assert_eq!(events(b"data: a\n\ndata: b\n"), [ev("message", "a", "")]);
    assert_eq!(events(b"data: a\n\ndata: b"), [ev("message", "a", "")]);
}

#[test]
fn finish_prepares_for_the_next_connection() {
    let mut decoder = Decoder::new();
    decoder.feed(b"id: 4\ndata: a\n\ndata: lost");
    decoder.finish();
    decoder.feed(b"\xEF\xBB\xBFdata: b\n\n");
    let items: Vec<_> = std::iter::from_fn(|| decoder.next_item()).collect();
    let data: Vec<_> = items
        .into_iter()
        .filter_map(|i| i.ok()?.into_event())
        .map(|e| (e.data().to_owned(), e.last_event_id().to_owned()))
        .collect();
    assert_eq!(data, [("a".into(), "4".into()), ("b".into(), "4".into())]);
}

#[test]
fn overlong_line_is_an_error_and_its_event_is_discarded() {
    let decoder = || Decoder::new().max_line_len(10);
    // "data: kept" is within the bound but belongs to the discarded event.
    let input: &[u8] = b"data: 0123456789\ndata: kept\n\ndata: ok\n\n";
    let limit = DecodeError::LineTooLong { limit: 10 };
    for chunks in [
        vec![input],
        input.chunks(1).collect(),
        input.chunks(7).collect(),
    ] {
        let out = decode_chunks(decoder(), &chunks);
        assert_eq!(
            out,
            [
                Err(limit.clone()),
                Ok(Decoded::Event(MessageEvent {
                    event: None,
                    data: "ok".into(),
                    last_event_id: SmolStr::default(),
                }))
            ]
        );
    }
}

#[test]
fn a_line_exactly_at_the_bound_is_accepted() {
    let out = decode_chunks(Decoder::new().max_line_len(7), &[b"data: 1", b"\n\n"]);
    assert_eq!(out.len(), 1);
    assert!(matches!(out[0], Ok(Decoded::Event(_))));
}

#[test]
fn overlong_event_is_an_error_and_discarded() {
    let mut decoder = Decoder::new().max_event_len(8);
    decoder.feed(b"data: 1234\ndata: 5678\ndata: 9\n\ndata: 1234567\n\n");
    let out: Vec<_> = std::iter::from_fn(|| decoder.next_item()).collect();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0], Err(DecodeError::EventTooLarge { limit: 8 }));
    assert_eq!(
        out[1].clone().unwrap().into_event().unwrap().data(),
        "1234567"
    );
}

#[test]
fn memory_stays_bounded_on_an_endless_line() {
    let mut decoder = Decoder::new().max_line_len(1024);
    let chunk = [b'a'; 4096];
    let mut errors = 0;
    for _ in 0..1000 {
        decoder.feed(&chunk);
        errors += std::iter::from_fn(|| decoder.next_item()).count();
        assert!(
            decoder.input.capacity() <= 8192,
            "only the last chunks are held"
        );
    }
    assert_eq!(errors, 1, "one error per overlong line");
    // The line ends, then the blank line ends the event it belonged to.
    decoder.feed(b"\ndata: lost\n\ndata: after\n\n");
    let item = decoder.next_item().unwrap().unwrap();
    assert_eq!(item.into_event().unwrap().data(), "after");
}

#[test]
fn arbitrary_bytes_stay_within_bounds() {
    // Deterministic pseudo-random garbage, heavy in the bytes that matter.
    let alphabet = b"\r\n:\0 \xEF\xBB\xBF\xFFdataeventidretry0123456789";
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for round in 0..200 {
        let input: Vec<u8> = (0..512)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                alphabet[(state % alphabet.len() as u64) as usize]
            })
            .collect();
        let mut decoder = Decoder::new().max_line_len(16).max_event_len(32);
        for chunk in input.chunks(round % 17 + 1) {
            decoder.feed(chunk);
            while let Some(item) = decoder.next_item() {
                if let Ok(Decoded::Event(event)) = item {
                    // Each invalid byte became a 3-byte U+FFFD.
                    let replaced = event.data().matches('\u{FFFD}').count();
                    assert!(event.data().len() - 2 * replaced < 32);
                }
            }
            assert!(decoder.input.len() - decoder.parsed <= 16);
            assert!(decoder.fields.data.len() <= 32);
        }
    }
}
