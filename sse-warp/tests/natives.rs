//! The same hostile events through warp's own `warp::sse` and through
//! ours, read by a spec-conformant decoder (see `sse_conformance::hostile`).

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::BodyExt;
use sse_conformance::hostile::{CASES, Case, Outcome, catching, compare, judge, our_event, read};
use warp::Reply;

async fn body(response: warp::reply::Response) -> Vec<u8> {
    match response.into_body().collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(err) => panic!("a finite body: {err}"),
    }
}

fn native_event(case: &Case) -> warp::sse::Event {
    let mut event = warp::sse::Event::default().data(case.data);
    if let Some(name) = case.event {
        event = event.event(name);
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
    let events = futures::stream::iter([Ok::<_, Infallible>(event)]);
    let bytes = body(warp::sse::reply(events).into_response()).await;
    catching(|| judge(case, &bytes))
}

async fn ours(case: &Case) -> Outcome {
    let Some(event) = our_event(case) else {
        return Outcome::Refused;
    };
    let no_keep_alive = sse_warp::KeepAlive::new().interval(Duration::ZERO);
    let events = futures::stream::iter([event]);
    let bytes = body(
        sse_warp::Sse::new(events)
            .keep_alive(no_keep_alive)
            .into_response(),
    )
    .await;
    judge(case, &bytes)
}

#[tokio::test]
async fn hostile_events_through_warps_sse_and_ours() {
    std::panic::set_hook(Box::new(|_| {}));
    let mut natives = Vec::new();
    let mut mine = Vec::new();
    for case in &CASES {
        natives.push(native(case).await);
        mine.push(ours(case).await);
    }
    // What warp 0.4 does, as the README's table says.
    let expected: [Outcome; 7] = [
        Outcome::Exact,
        // A lone CR ends the data line early; the rest is lost.
        Outcome::Wrong(vec![read("message", "a", "")]),
        Outcome::Exact,
        Outcome::Exact,
        Outcome::Exact,
        // Line breaks in a name or an id are written as they are: the
        // text after them becomes a field of its own.
        Outcome::Wrong(vec![read("a", "injected\nx", "")]),
        Outcome::Wrong(vec![read("message", "x\ninjected", "1")]),
    ];
    compare("warp", &natives, &mine, &expected);
}
