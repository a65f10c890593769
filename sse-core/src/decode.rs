//! An incremental decoder following the WHATWG HTML "Server-sent events"
//! parsing rules (§9.2.6, "Interpreting an event stream").
//!
//! Feed it bytes as they arrive, split anywhere, and take out what they
//! complete: events, comments and `retry:` values. Lines are found with
//! `memchr`, so long runs of data cost a few vector instructions per line,
//! not a branch per byte.
//!
//! ```
//! use sse_hub::decode::{Decoded, Decoder};
//!
//! let mut decoder = Decoder::new();
//! decoder.feed(b"id: 1\nevent: greet\ndata: hel");
//! assert!(decoder.next_item().is_none()); // the event is not complete yet
//! decoder.feed(b"lo\n\n");
//! let Some(Ok(Decoded::Event(event))) = decoder.next_item() else { panic!() };
//! assert_eq!((event.event(), event.data(), event.last_event_id()), ("greet", "hello", "1"));
//! ```

mod decoder;
mod stream;

pub use decoder::{
    DEFAULT_MAX_EVENT_LEN, DEFAULT_MAX_LINE_LEN, DecodeError, Decoded, Decoder, MessageEvent,
};
pub use stream::{DecodeStream, StreamError};
