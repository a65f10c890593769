//! The same hostile events through poem's own `SSE` and through ours,
//! read by a spec-conformant decoder (see `sse_conformance::hostile`).

use std::time::Duration;

use poem::IntoResponse;
use poem::web::sse as native;
use sse_conformance::hostile::{Case, Natives, Outcome, compare_natives, read};

struct Poem;

async fn body(response: poem::Response) -> Option<Vec<u8>> {
    let bytes = response.into_body().into_bytes().await;
    bytes.ok().map(|bytes| bytes.to_vec())
}

impl Natives for Poem {
    type Event = native::Event;

    fn native_event(&self, case: &Case) -> native::Event {
        let mut event = native::Event::message(case.data);
        if let Some(name) = case.event {
            event = event.event_type(name);
        }
        if let Some(id) = case.id {
            event = event.id(id);
        }
        event
    }

    async fn native_body(&self, _: usize, event: native::Event) -> Option<Vec<u8>> {
        let events = futures::stream::iter([event]);
        body(native::SSE::new(events).into_response()).await
    }

    async fn our_body(&self, _: usize, event: sse_poem::Event) -> Option<Vec<u8>> {
        let no_keep_alive = sse_poem::KeepAlive::new().interval(Duration::ZERO);
        let ours = sse_poem::Sse::new(futures::stream::iter([event])).keep_alive(no_keep_alive);
        body(ours.into_response()).await
    }
}

#[tokio::test]
async fn hostile_events_through_poems_sse_and_ours() {
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
    compare_natives("poem", &Poem, &expected).await;
}
