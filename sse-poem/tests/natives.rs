//! The same hostile events through poem's own `SSE` and through ours,
//! read by a spec-conformant decoder (see `sse_conformance::hostile`).

use std::time::Duration;

use poem::IntoResponse;
use sse_conformance::hostile::{CASES, Case, Outcome, catching, compare, judge, our_event, read};

async fn body(response: poem::Response) -> Vec<u8> {
    match response.into_body().into_bytes().await {
        Ok(bytes) => bytes.to_vec(),
        Err(err) => panic!("a finite body: {err}"),
    }
}

fn native_event(case: &Case) -> poem::web::sse::Event {
    let mut event = poem::web::sse::Event::message(case.data);
    if let Some(name) = case.event {
        event = event.event_type(name);
    }
    if let Some(id) = case.id {
        event = event.id(id);
    }
    event
}

async fn native(case: &Case) -> Outcome {
    let Ok(event) = std::panic::catch_unwind(|| native_event(case)) else {
        return Outcome::Panicked;
    };
    let events = futures::stream::iter([event]);
    let bytes = body(poem::web::sse::SSE::new(events).into_response()).await;
    catching(|| judge(case, &bytes))
}

async fn ours(case: &Case) -> Outcome {
    let Some(event) = our_event(case) else {
        return Outcome::Refused;
    };
    let no_keep_alive = sse_poem::KeepAlive::new().interval(Duration::ZERO);
    let events = futures::stream::iter([event]);
    let bytes = body(
        sse_poem::Sse::new(events)
            .keep_alive(no_keep_alive)
            .into_response(),
    )
    .await;
    judge(case, &bytes)
}

#[tokio::test]
async fn hostile_events_through_poems_sse_and_ours() {
    std::panic::set_hook(Box::new(|_| {}));
    let mut natives = Vec::new();
    let mut mine = Vec::new();
    for case in &CASES {
        natives.push(native(case).await);
        mine.push(ours(case).await);
    }
    // What poem 3.1 does, as the README's table says.
    let expected: [Outcome; 7] = [
        Outcome::Exact,
        // A lone CR ends the data line early; the rest is lost.
        Outcome::Wrong(vec![read("message", "a", "")]),
        Outcome::Exact,
        // Empty data writes no data line, so no event is dispatched.
        Outcome::Wrong(vec![]),
        Outcome::Exact,
        // Line breaks in a name or an id are written as they are: the
        // text after them becomes a field of its own.
        Outcome::Wrong(vec![read("a", "injected\nx", "")]),
        Outcome::Wrong(vec![read("message", "injected\nx", "1")]),
    ];
    compare("poem", &natives, &mine, &expected);
}
