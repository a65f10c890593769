//! Feeds arbitrary bytes to the decoder, cut into chunks whose sizes come
//! from the input too, and checks that it never panics and stays within its
//! bounds. Run with `cargo xtask fuzz --seconds N`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sse_hub::decode::{Decoded, Decoder};

const MAX_LINE: usize = 256;
const MAX_EVENT: usize = 1024;

/// How many stream bytes `text` came from: each invalid byte became a
/// 3-byte U+FFFD, and a real U+FFFD was 3 bytes already.
fn stream_len(text: &str) -> usize {
    text.len() - 2 * text.matches('\u{FFFD}').count()
}

fuzz_target!(|input: &[u8]| {
    let Some((&chunk_size, stream)) = input.split_first() else {
        return;
    };
    let chunk_size = usize::from(chunk_size).max(1);
    let mut decoder = Decoder::new()
        .max_line_len(MAX_LINE)
        .max_event_len(MAX_EVENT);
    for chunk in stream.chunks(chunk_size) {
        decoder.feed(chunk);
        while let Some(item) = decoder.next_item() {
            match item {
                Ok(Decoded::Event(event)) => assert!(stream_len(event.data()) < MAX_EVENT),
                Ok(Decoded::Comment(text)) => assert!(stream_len(&text) < MAX_LINE),
                _ => {}
            }
        }
    }
    decoder.finish();
    while decoder.next_item().is_some() {}
});
