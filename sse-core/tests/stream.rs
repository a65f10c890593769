//! The `futures::Stream` adapter over byte chunks.

use futures::executor::block_on;
use futures::{StreamExt, stream};
use sse_hub::decode::{DecodeStream, Decoded, Decoder, StreamError};

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("connection reset")]
struct Reset;

fn data_of(items: Vec<Result<Decoded, StreamError<Reset>>>) -> Vec<Result<String, String>> {
    items
        .into_iter()
        .filter_map(|item| match item {
            Ok(Decoded::Event(event)) => Some(Ok(event.into_data())),
            Ok(_) => None,
            Err(err) => Some(Err(err.to_string())),
        })
        .collect()
}

#[test]
fn decodes_events_split_across_chunks_and_discards_the_unterminated_tail() {
    let chunks = stream::iter(
        [
            &b"data: a\r"[..],
            b"\n\r\ndata: b\n",
            b"\n: ping\n",
            b"data: never dispatched",
        ]
        .map(Ok::<_, Reset>),
    );
    let items = block_on(DecodeStream::new(chunks).collect::<Vec<_>>());
    assert_eq!(data_of(items), [Ok("a".into()), Ok("b".into())]);
}

#[test]
fn transport_errors_are_passed_through() {
    let chunks = stream::iter([Ok(&b"data: a\n\n"[..]), Err(Reset), Ok(b"data: b\n\n")]);
    let items = block_on(DecodeStream::new(chunks).collect::<Vec<_>>());
    assert_eq!(
        data_of(items),
        [
            Ok("a".into()),
            Err("the byte stream failed: connection reset".into()),
            Ok("b".into())
        ]
    );
}

#[test]
fn decode_errors_are_reported_and_decoding_goes_on() {
    let chunks = stream::iter([Ok::<_, Reset>(&b"data: far too long\n\ndata: ok\n\n"[..])]);
    let decoder = Decoder::new().max_line_len(8);
    let stream = DecodeStream::with_decoder(chunks, decoder);
    let items = block_on(stream.collect::<Vec<_>>());
    let out = data_of(items);
    assert_eq!(out.len(), 2);
    assert!(
        out[0]
            .as_ref()
            .is_err_and(|e| e.contains("longer than 8 bytes"))
    );
    assert_eq!(out[1], Ok("ok".into()));
}

#[test]
fn the_decoder_keeps_the_last_event_id_for_a_reconnect() {
    let chunks = stream::iter([Ok::<_, Reset>(&b"id: 41\ndata: x\n\nid: 42\n\n"[..])]);
    let mut stream = DecodeStream::new(chunks);
    block_on(async { while stream.next().await.is_some() {} });
    assert_eq!(stream.decoder().last_event_id(), "42");
}
