//! The same hostile events through actix-web-lab's `Sse` (actix-web's own
//! SSE type) and through ours, read by a spec-conformant decoder (see
//! `sse_conformance::hostile`).

use std::time::Duration;

use actix_web::Responder;
use actix_web::test::TestRequest;
use actix_web_lab::sse as native;
use sse_conformance::hostile::{Case, Natives, Outcome, compare_natives};

struct Actix;

async fn body(response: actix_web::HttpResponse) -> Option<Vec<u8>> {
    let bytes = actix_web::body::to_bytes(response.into_body()).await;
    bytes.ok().map(|bytes| bytes.to_vec())
}

impl Natives for Actix {
    type Event = native::Event;

    fn native_event(&self, case: &Case) -> native::Event {
        let mut data = native::Data::new(case.data);
        if let Some(name) = case.event {
            data = data.event(name);
        }
        if let Some(id) = case.id {
            data = data.id(id);
        }
        native::Event::Data(data)
    }

    async fn native_body(&self, _: usize, event: native::Event) -> Option<Vec<u8>> {
        let request = TestRequest::default().to_http_request();
        let events = futures::stream::iter([event]);
        let response = native::Sse::from_infallible_stream(events).respond_to(&request);
        body(response.map_into_boxed_body()).await
    }

    async fn our_body(&self, _: usize, event: sse_actix::Event) -> Option<Vec<u8>> {
        let request = TestRequest::default().to_http_request();
        let no_keep_alive = sse_actix::KeepAlive::new().interval(Duration::ZERO);
        let ours = sse_actix::Sse::new(futures::stream::iter([event])).keep_alive(no_keep_alive);
        body(ours.respond_to(&request)).await
    }
}

#[actix_web::test]
async fn hostile_events_through_actix_web_labs_sse_and_ours() {
    // What actix-web-lab 0.29 does, as the README's table says: an
    // invalid name or id fails the body once the headers are out.
    let expected: [Outcome; 7] = [
        Outcome::Exact,
        Outcome::Exact,
        Outcome::Exact,
        Outcome::Exact,
        Outcome::Exact,
        Outcome::BodyFailed,
        Outcome::BodyFailed,
    ];
    compare_natives("actix-web-lab", &Actix, &expected).await;
}
