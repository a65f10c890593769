//! The same hostile events through actix-web-lab's `Sse` (actix-web's own
//! SSE type) and through ours, read by a spec-conformant decoder (see
//! `sse_conformance::hostile`).

use std::time::Duration;

use actix_web::Responder;
use actix_web::test::TestRequest;
use actix_web_lab::sse;
use sse_conformance::hostile::{CASES, Case, Outcome, catching, compare, judge, our_event};

/// The whole body, or `None` when it fails.
async fn body(response: actix_web::HttpResponse) -> Option<Vec<u8>> {
    actix_web::body::to_bytes(response.into_body())
        .await
        .ok()
        .map(|bytes| bytes.to_vec())
}

fn native_event(case: &Case) -> sse::Event {
    let mut data = sse::Data::new(case.data);
    if let Some(name) = case.event {
        data = data.event(name);
    }
    if let Some(id) = case.id {
        data = data.id(id);
    }
    sse::Event::Data(data)
}

async fn native(case: &Case) -> Outcome {
    let Ok(event) = std::panic::catch_unwind(|| native_event(case)) else {
        return Outcome::Panicked;
    };
    let request = TestRequest::default().to_http_request();
    let events = futures::stream::iter([event]);
    let response = sse::Sse::from_infallible_stream(events).respond_to(&request);
    match body(response.map_into_boxed_body()).await {
        Some(bytes) => catching(|| judge(case, &bytes)),
        None => Outcome::BodyFailed,
    }
}

async fn ours(case: &Case) -> Outcome {
    let Some(event) = our_event(case) else {
        return Outcome::Refused;
    };
    let request = TestRequest::default().to_http_request();
    let no_keep_alive = sse_actix::KeepAlive::new().interval(Duration::ZERO);
    let events = futures::stream::iter([event]);
    let response = sse_actix::Sse::new(events)
        .keep_alive(no_keep_alive)
        .respond_to(&request);
    match body(response).await {
        Some(bytes) => judge(case, &bytes),
        None => Outcome::BodyFailed,
    }
}

#[actix_web::test]
async fn hostile_events_through_actix_web_labs_sse_and_ours() {
    std::panic::set_hook(Box::new(|_| {}));
    let mut natives = Vec::new();
    let mut mine = Vec::new();
    for case in &CASES {
        natives.push(native(case).await);
        mine.push(ours(case).await);
    }
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
    compare("actix-web-lab", &natives, &mine, &expected);
}
