//! The same hostile events through axum's own `Sse` and through ours,
//! read by a spec-conformant decoder (see `sse_conformance::hostile`).

use std::convert::Infallible;
use std::time::Duration;

use axum::response::IntoResponse;
use sse_conformance::hostile::{CASES, Case, Outcome, catching, compare, judge, our_event, read};

async fn body(response: axum::response::Response) -> Vec<u8> {
    axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a finite body")
        .to_vec()
}

fn native_event(case: &Case) -> axum::response::sse::Event {
    let mut event = axum::response::sse::Event::default().data(case.data);
    if let Some(name) = case.event {
        event = event.event(name);
    }
    if let Some(id) = case.id {
        event = event.id(id);
    }
    event
}

async fn native(case: &Case) -> Outcome {
    let built = std::panic::catch_unwind(|| native_event(case));
    let Ok(event) = built else {
        return Outcome::Panicked;
    };
    let events = futures::stream::iter([Ok::<_, Infallible>(event)]);
    let bytes = body(axum::response::sse::Sse::new(events).into_response()).await;
    catching(|| judge(case, &bytes))
}

async fn ours(case: &Case) -> Outcome {
    let Some(event) = our_event(case) else {
        return Outcome::Refused;
    };
    let no_keep_alive = sse_axum::KeepAlive::new().interval(Duration::ZERO);
    let events = futures::stream::iter([event]);
    let bytes = body(
        sse_axum::Sse::new(events)
            .keep_alive(no_keep_alive)
            .into_response(),
    )
    .await;
    judge(case, &bytes)
}

#[tokio::test]
async fn hostile_events_through_axums_sse_and_ours() {
    // axum panics on some of them, as documented: keep the log quiet.
    std::panic::set_hook(Box::new(|_| {}));
    let mut natives = Vec::new();
    let mut mine = Vec::new();
    for case in &CASES {
        natives.push(native(case).await);
        mine.push(ours(case).await);
    }
    // What axum 0.8 does, as the README's table says.
    let expected = [
        Outcome::Exact,
        Outcome::Exact,
        // CRLF becomes two line breaks.
        Outcome::Wrong(vec![read("message", "a\n\nb", "")]),
        // `data("")` writes no data line, so no event is dispatched.
        Outcome::Wrong(vec![]),
        Outcome::Exact,
        Outcome::Panicked,
        Outcome::Panicked,
    ];
    compare("axum", &natives, &mine, &expected);
}
