//! Publishes a few events, prints their exact wire encoding, then what a
//! browser's `EventSource` makes of those bytes.
//!
//! `cargo run -p sse-examples --bin demo`

use std::time::Duration;

use sse_core::decode::{Decoded, Decoder};
use sse_core::{Event, EventError, encode};

fn main() -> Result<(), EventError> {
    let events = [
        Event::builder()
            .event("notification")
            .id("1")
            .json_data(&serde_json::json!({"user": "ada", "text": "deploy finished"}))
            .build()?,
        Event::builder()
            .event("log")
            .id("2")
            .data("line one\r\nline two\nevent: not-a-field")
            .build()?,
        Event::new("an unnamed message"),
    ];

    let mut stream = Vec::new();
    stream.extend_from_slice(&encode::retry(Duration::from_secs(3)));
    for event in &events {
        stream.extend_from_slice(&event.encode());
    }
    stream.extend_from_slice(&encode::keep_alive());

    println!("== on the wire ({} bytes) ==", stream.len());
    print!("{}", String::from_utf8_lossy(&stream));

    println!("== what an EventSource sees ==");
    let mut decoder = Decoder::new();
    decoder.feed(&stream);
    while let Some(item) = decoder.next_item() {
        match item {
            Ok(Decoded::Event(event)) => println!(
                "event {:?} id {:?} data {:?}",
                event.event(),
                event.last_event_id(),
                event.data()
            ),
            Ok(Decoded::Retry(retry)) => println!("reconnect after {retry:?}"),
            Ok(Decoded::Comment(text)) => println!("comment {text:?} (ignored by browsers)"),
            Ok(other) => println!("{other:?}"),
            Err(err) => println!("error: {err}"),
        }
    }
    Ok(())
}
