//! The same hostile events through warp's own `warp::sse` and through
//! ours, read by a spec-conformant decoder (see `sse_conformance::hostile`).

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::BodyExt;
use sse_conformance::hostile::{Case, Natives, Outcome, compare_natives, read};
use warp::Reply;

struct Warp;

async fn body(response: warp::reply::Response) -> Option<Vec<u8>> {
    let collected = response.into_body().collect().await;
    collected
        .ok()
        .map(|collected| collected.to_bytes().to_vec())
}

impl Natives for Warp {
    type Event = warp::sse::Event;

    fn native_event(&self, case: &Case) -> warp::sse::Event {
        let mut event = warp::sse::Event::default().data(case.data);
        if let Some(name) = case.event {
            event = event.event(name);
        }
        if let Some(id) = case.id {
            event = event.id(id);
        }
        event
    }

    async fn native_body(&self, _: usize, event: warp::sse::Event) -> Option<Vec<u8>> {
        let events = futures::stream::iter([Ok::<_, Infallible>(event)]);
        body(warp::sse::reply(events).into_response()).await
    }

    async fn our_body(&self, _: usize, event: sse_warp::Event) -> Option<Vec<u8>> {
        let no_keep_alive = sse_warp::KeepAlive::new().interval(Duration::ZERO);
        let ours = sse_warp::Sse::new(futures::stream::iter([event])).keep_alive(no_keep_alive);
        body(ours.into_response()).await
    }
}

#[tokio::test]
async fn hostile_events_through_warps_sse_and_ours() {
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
    compare_natives("warp", &Warp, &expected).await;
}
