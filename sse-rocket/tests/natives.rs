//! The same hostile events through Rocket's own `EventStream` and through
//! ours, read by a spec-conformant decoder (see `sse_conformance::hostile`).

use std::time::Duration;

use rocket::get;
use rocket::local::asynchronous::Client;
use rocket::response::stream::{Event, EventStream};
use sse_conformance::hostile::{CASES, Outcome, catching, compare, judge, our_event, read};

#[get("/native/<case>")]
fn native_route(
    case: usize,
) -> Option<EventStream<futures::stream::Iter<std::array::IntoIter<Event, 1>>>> {
    let case = CASES.get(case)?;
    let mut event = Event::data(case.data);
    if let Some(name) = case.event {
        event = event.event(name);
    }
    if let Some(id) = case.id {
        event = event.id(id);
    }
    Some(EventStream::from(futures::stream::iter([event])))
}

#[get("/ours/<case>")]
fn our_route(
    case: usize,
) -> Option<sse_rocket::Sse<futures::stream::Iter<std::array::IntoIter<sse_hub::Event, 1>>>> {
    let event = our_event(CASES.get(case)?)?;
    let no_keep_alive = sse_rocket::KeepAlive::new().interval(Duration::ZERO);
    Some(sse_rocket::Sse::new(futures::stream::iter([event])).keep_alive(no_keep_alive))
}

async fn body(client: &Client, path: String) -> Option<Vec<u8>> {
    let response = client.get(path).dispatch().await;
    if response.status() != rocket::http::Status::Ok {
        return None;
    }
    response.into_bytes().await
}

#[tokio::test]
async fn hostile_events_through_rockets_event_stream_and_ours() {
    let rocket = rocket::custom(rocket::Config {
        log_level: rocket::config::LogLevel::Off,
        ..rocket::Config::debug_default()
    })
    .mount("/", rocket::routes![native_route, our_route]);
    let client = Client::untracked(rocket).await.expect("a valid rocket");
    let mut natives = Vec::new();
    let mut mine = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        let native = match body(&client, format!("/native/{i}")).await {
            Some(bytes) => catching(|| judge(case, &bytes)),
            None => Outcome::Panicked,
        };
        natives.push(native);
        mine.push(match body(&client, format!("/ours/{i}")).await {
            Some(bytes) => judge(case, &bytes),
            None => Outcome::Refused,
        });
    }
    // What Rocket 0.5 does, as the README's table says: line breaks in a
    // name or an id silently become spaces.
    let expected: [Outcome; 7] = [
        Outcome::Exact,
        Outcome::Exact,
        Outcome::Exact,
        Outcome::Exact,
        Outcome::Exact,
        Outcome::Wrong(vec![read("a data: injected", "x", "")]),
        Outcome::Wrong(vec![read("message", "x", "1 data: injected")]),
    ];
    compare("Rocket", &natives, &mine, &expected);
}
