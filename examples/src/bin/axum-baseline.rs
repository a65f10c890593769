//! Not the toolkit: the SSE server a user writes with axum alone, as the
//! axum and tokio docs teach it (axum's `Sse` over a
//! `tokio::sync::broadcast` channel). `cargo xtask bench` runs it beside the
//! example servers as the baseline of the socket benchmarks.
//!
//! It knows one feed: `GET /events` streams it (the query is ignored) and
//! `POST /notify` sends the request body as an event's data, answering with
//! the number of receivers. Options: `--addr` (default `127.0.0.1:3000`,
//! port 0 picks one); it prints `listening on http://…` like the examples.

// The `listening on` line is the servers' contract with the benchmark.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::convert::Infallible;
use std::process::ExitCode;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt};

/// Events a receiver may fall behind by before it skips ahead (the
/// broadcast channel's capacity), the example servers' default client
/// buffer.
const CAPACITY: usize = 256;

#[tokio::main]
async fn main() -> ExitCode {
    let addr = match std::env::args().skip_while(|arg| arg != "--addr").nth(1) {
        Some(addr) => addr,
        None => "127.0.0.1:3000".to_owned(),
    };
    let (feed, _) = broadcast::channel::<String>(CAPACITY);
    let app = Router::new()
        .route("/events", get(events))
        .route("/notify", post(notify))
        .with_state(feed);
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("cannot listen on {addr}: {err}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(bound) => println!("listening on http://{bound}"),
        Err(err) => eprintln!("no local address: {err}"),
    }
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("the server failed: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn events(
    State(feed): State<broadcast::Sender<String>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // A receiver that lagged gets `Err(Lagged)`: skip it, as the docs do.
    let stream = BroadcastStream::new(feed.subscribe())
        .filter_map(|message| message.ok())
        .map(|data| Ok(Event::default().data(data)));
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn notify(State(feed): State<broadcast::Sender<String>>, body: String) -> String {
    feed.send(body).unwrap_or(0).to_string()
}
