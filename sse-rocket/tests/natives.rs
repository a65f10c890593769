//! The same hostile events through Rocket's own `EventStream` and through
//! ours, read by a spec-conformant decoder (see `sse_conformance::hostile`).
//! Rocket builds a response only in a route, so each type has one, and the
//! case travels as its index.

use std::time::Duration;

use rocket::get;
use rocket::local::asynchronous::Client;
use rocket::response::stream::{Event, EventStream};
use sse_conformance::hostile::{CASES, Case, Natives, Outcome, compare_natives, our_event, read};

type One<T> = futures::stream::Iter<std::array::IntoIter<T, 1>>;

#[get("/native/<case>")]
fn native_route(case: usize) -> Option<EventStream<One<Event>>> {
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
fn our_route(case: usize) -> Option<sse_rocket::Sse<One<sse_rocket::Event>>> {
    let event = our_event(CASES.get(case)?)?;
    let no_keep_alive = sse_rocket::KeepAlive::new().interval(Duration::ZERO);
    Some(sse_rocket::Sse::new(futures::stream::iter([event])).keep_alive(no_keep_alive))
}

struct Rocket(Client);

impl Rocket {
    async fn body(&self, path: String) -> Option<Vec<u8>> {
        let response = self.0.get(path).dispatch().await;
        if response.status() != rocket::http::Status::Ok {
            return None;
        }
        response.into_bytes().await
    }
}

impl Natives for Rocket {
    /// Built in `native_route`, from the case's index.
    type Event = ();

    fn native_event(&self, _: &Case) {}

    async fn native_body(&self, index: usize, (): ()) -> Option<Vec<u8>> {
        self.body(format!("/native/{index}")).await
    }

    async fn our_body(&self, index: usize, _: sse_rocket::Event) -> Option<Vec<u8>> {
        self.body(format!("/ours/{index}")).await
    }
}

#[tokio::test]
async fn hostile_events_through_rockets_event_stream_and_ours() {
    let rocket = rocket::custom(rocket::Config {
        log_level: rocket::config::LogLevel::Off,
        ..rocket::Config::debug_default()
    })
    .mount("/", rocket::routes![native_route, our_route]);
    let client = Client::untracked(rocket).await.expect("a valid rocket");
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
    compare_natives("Rocket", &Rocket(client), &expected).await;
}
