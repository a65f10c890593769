//! Hostile events, sent through a framework's own SSE type and through
//! the adapter's, and judged by what a spec-conformant client reads: each
//! adapter's `tests/natives.rs` records how both fare, and the crate's
//! README carries the table.

use std::fmt;

use sse_hub::decode::{Decoded, Decoder};

/// One event a server might be asked to send.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// What the case is, for the table.
    pub what: &'static str,
    /// The event's name, if any.
    pub event: Option<&'static str>,
    /// The event's id, if any.
    pub id: Option<&'static str>,
    /// The event's data.
    pub data: &'static str,
}

/// The cases, in table order.
pub const CASES: [Case; 7] = [
    Case {
        what: "data with LF",
        event: None,
        id: None,
        data: "a\nb",
    },
    Case {
        what: "data with CR",
        event: None,
        id: None,
        data: "a\rb",
    },
    Case {
        what: "data with CRLF",
        event: None,
        id: None,
        data: "a\r\nb",
    },
    Case {
        what: "empty data",
        event: None,
        id: None,
        data: "",
    },
    Case {
        what: "multi-byte text",
        event: None,
        id: None,
        data: "héllo ☕ 𝄞",
    },
    Case {
        what: "a name with a line break",
        event: Some("a\ndata: injected"),
        id: None,
        data: "x",
    },
    Case {
        what: "an id with a line break",
        event: None,
        id: Some("1\ndata: injected"),
        data: "x",
    },
];

/// What happened to one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The client read exactly the event (line breaks in data as LF).
    Exact,
    /// The event was refused with an error the caller can handle; nothing
    /// was sent.
    Refused,
    /// Building or sending the event panicked.
    Panicked,
    /// The response body failed with an error after the headers went
    /// out: the client sees the stream break.
    BodyFailed,
    /// The client read something else: these events, as
    /// (name, data, id).
    Wrong(Vec<(String, String, String)>),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact => f.write_str("exact"),
            Self::Refused => f.write_str("refused with an error"),
            Self::Panicked => f.write_str("panics"),
            Self::BodyFailed => f.write_str("the stream breaks"),
            Self::Wrong(events) => write!(f, "client reads {events:?}"),
        }
    }
}

/// Judges the body `bytes` sent for `case` alone (keep-alives and
/// comments aside).
pub fn judge(case: &Case, bytes: &[u8]) -> Outcome {
    let mut decoder = Decoder::new();
    decoder.feed(bytes);
    decoder.finish();
    let events: Vec<(String, String, String)> = std::iter::from_fn(|| decoder.next_item())
        .filter_map(|item| match item {
            Ok(Decoded::Event(event)) => Some((
                event.event().to_owned(),
                event.data().to_owned(),
                event.last_event_id().to_owned(),
            )),
            _ => None,
        })
        .collect();
    let data = case.data.replace("\r\n", "\n").replace('\r', "\n");
    let expected = (
        case.event.unwrap_or("message").to_owned(),
        data,
        case.id.unwrap_or_default().to_owned(),
    );
    if events == [expected] {
        Outcome::Exact
    } else {
        Outcome::Wrong(events)
    }
}

/// Our event for `case`: `None` when the builder refuses it.
pub fn our_event(case: &Case) -> Option<sse_hub::Event> {
    let mut builder = sse_hub::Event::builder().data(case.data);
    if let Some(name) = case.event {
        builder = builder.event(name);
    }
    if let Some(id) = case.id {
        builder = builder.id(id);
    }
    builder.build().ok()
}

/// Runs `send` for `case`, a panic counting as [`Outcome::Panicked`].
pub fn catching(send: impl FnOnce() -> Outcome + std::panic::UnwindSafe) -> Outcome {
    std::panic::catch_unwind(send).unwrap_or(Outcome::Panicked)
}

/// The comparison as a Markdown table.
pub fn table(framework: &str, natives: &[Outcome], ours: &[Outcome]) -> String {
    let mut out = format!("| event | {framework}'s own type | ours |\n|---|---|---|\n");
    for ((case, native), mine) in CASES.iter().zip(natives).zip(ours) {
        out.push_str(&format!("| {} | {native} | {mine} |\n", case.what));
    }
    out
}

/// What the adapter must do with every case: deliver it exactly, or
/// refuse a name or id with a line break.
pub fn ours_are_right(ours: &[Outcome]) -> Result<(), String> {
    for (case, outcome) in CASES.iter().zip(ours) {
        let line_break_in_field = case.event.is_some() || case.id.is_some();
        let right = match outcome {
            Outcome::Exact => true,
            Outcome::Refused => line_break_in_field,
            _ => false,
        };
        if !right {
            return Err(format!("{}: {outcome}", case.what));
        }
    }
    Ok(())
}

/// An event as a client read it, for [`Outcome::Wrong`].
pub fn read(name: &str, data: &str, id: &str) -> (String, String, String) {
    (name.to_owned(), data.to_owned(), id.to_owned())
}

/// Prints the table, then checks that ours are right and that the
/// framework's own type did what `expected` records (so the README's table
/// cannot go stale).
///
/// # Panics
///
/// When either column is not as expected.
pub fn compare(framework: &str, natives: &[Outcome], ours: &[Outcome], expected: &[Outcome]) {
    let table = table(framework, natives, ours);
    println!("{table}");
    if let Err(wrong) = ours_are_right(ours) {
        panic!("ours: {wrong}\n{table}");
    }
    assert_eq!(
        natives, expected,
        "{framework}'s own type changed:\n{table}"
    );
}

/// One framework's own SSE type beside the adapter's, as
/// [`compare_natives`] drives them: each adapter's `tests/natives.rs`
/// says only how its framework builds an event and writes a body.
pub trait Natives {
    /// The framework's own event type.
    type Event;

    /// The framework's own event for `case`. It may panic: some do, on a
    /// line break in a name or an id.
    fn native_event(&self, case: &Case) -> Self::Event;

    /// The body the framework's own SSE response writes for `event`, the
    /// `index`th of [`CASES`]; `None` when the body fails.
    fn native_body(
        &self,
        index: usize,
        event: Self::Event,
    ) -> impl std::future::Future<Output = Option<Vec<u8>>>;

    /// The body the adapter's `Sse` writes for `event`, keep-alives off;
    /// `None` when the body fails.
    fn our_body(
        &self,
        index: usize,
        event: sse_hub::Event,
    ) -> impl std::future::Future<Output = Option<Vec<u8>>>;
}

/// Sends every case through the framework's own type and through ours,
/// then [`compare`]s: ours must be right, and the framework's own must do
/// what `expected` records (the adapter README's table).
///
/// # Panics
///
/// When either column is not as expected.
pub async fn compare_natives<N: Natives>(framework: &str, natives: &N, expected: &[Outcome]) {
    // Some frameworks panic on a hostile event, as documented: keep the
    // test log quiet.
    std::panic::set_hook(Box::new(|_| {}));
    let mut theirs = Vec::new();
    let mut ours = Vec::new();
    for (index, case) in CASES.iter().enumerate() {
        let native =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| natives.native_event(case)));
        theirs.push(match native {
            Err(_) => Outcome::Panicked,
            Ok(event) => match natives.native_body(index, event).await {
                Some(bytes) => catching(|| judge(case, &bytes)),
                None => Outcome::BodyFailed,
            },
        });
        ours.push(match our_event(case) {
            None => Outcome::Refused,
            Some(event) => match natives.our_body(index, event).await {
                Some(bytes) => judge(case, &bytes),
                None => Outcome::BodyFailed,
            },
        });
    }
    let _ = std::panic::take_hook();
    compare(framework, &theirs, &ours, expected);
}
