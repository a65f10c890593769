//! The same hostile events through axum's own `Sse` and through ours,
//! read by a spec-conformant decoder (see `sse_conformance::hostile`).

use std::convert::Infallible;
use std::time::Duration;

use axum::response::IntoResponse;
use axum::response::sse as native;
use sse_conformance::hostile::{Case, Natives, Outcome, compare_natives, read};

struct Axum;

async fn body(response: axum::response::Response) -> Option<Vec<u8>> {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await;
    bytes.ok().map(|bytes| bytes.to_vec())
}

impl Natives for Axum {
    type Event = native::Event;

    fn native_event(&self, case: &Case) -> native::Event {
        let mut event = native::Event::default().data(case.data);
        if let Some(name) = case.event {
            event = event.event(name);
        }
        if let Some(id) = case.id {
            event = event.id(id);
        }
        event
    }

    async fn native_body(&self, _: usize, event: native::Event) -> Option<Vec<u8>> {
        let events = futures::stream::iter([Ok::<_, Infallible>(event)]);
        body(native::Sse::new(events).into_response()).await
    }

    async fn our_body(&self, _: usize, event: sse_axum::Event) -> Option<Vec<u8>> {
        let no_keep_alive = sse_axum::KeepAlive::new().interval(Duration::ZERO);
        let ours = sse_axum::Sse::new(futures::stream::iter([event])).keep_alive(no_keep_alive);
        body(ours.into_response()).await
    }
}

#[tokio::test]
async fn hostile_events_through_axums_sse_and_ours() {
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
    compare_natives("axum", &Axum, &expected).await;
}
