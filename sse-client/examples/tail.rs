//! Tails an event stream: one event per line on stdout, what the
//! connection does on stderr.
//!
//! ```text
//! cargo run -p sse-hub-client --example tail -- http://localhost:3000/events?topic=news
//! cargo run -p sse-hub-client --example tail -- URL -H 'Authorization: Bearer …' --last-event-id 42 --json
//! ```

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use futures::StreamExt;
use sse_hub_client::{Event, EventSource};

/// Tail a Server-Sent Events stream, reconnecting as needed.
#[derive(Debug, Parser)]
struct Args {
    /// The stream's URL.
    url: String,
    /// A header for every request, as `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    /// Resume after this event id.
    #[arg(long)]
    last_event_id: Option<String>,
    /// Print each event as a JSON line: `{"event", "data", "id"}`.
    #[arg(long)]
    json: bool,
    /// Seconds without a byte before the connection is taken for dead.
    #[arg(long, default_value_t = 60)]
    idle_timeout: u64,
    /// Give up after this many failed reconnects in a row.
    #[arg(long)]
    max_retries: Option<u32>,
}

#[allow(clippy::print_stderr, reason = "a command-line tool reports on stderr")]
#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut builder = EventSource::get(&args.url)
        .idle_timeout(Some(Duration::from_secs(args.idle_timeout)))
        .max_retries(args.max_retries);
    for header in &args.headers {
        let Some((name, value)) = header.split_once(':') else {
            eprintln!("tail: {header:?} is not a header: write it as 'Name: value'");
            return ExitCode::from(2);
        };
        builder = builder.header(name.trim(), value.trim());
    }
    if let Some(id) = args.last_event_id {
        builder = builder.last_event_id(id);
    }
    let mut events = match builder.build() {
        Ok(events) => events,
        Err(error) => {
            eprintln!("tail: {error}");
            return ExitCode::from(2);
        }
    };
    let mut stdout = std::io::stdout().lock();
    while let Some(item) = events.next().await {
        let written = match item {
            Ok(Event::Message(message)) if args.json => writeln!(
                stdout,
                "{}",
                serde_json::json!({"event": message.event(), "data": message.data(), "id": message.id()})
            ),
            Ok(Event::Message(message)) => {
                // One line per event: data lines are joined with a visible `\n`.
                let data = message.data().replace('\n', "\\n");
                writeln!(stdout, "{}\t{}\t{data}", message.id(), message.event())
            }
            Ok(Event::Opened(opened)) => {
                eprintln!("tail: connected ({}, {:?})", opened.status, opened.version);
                Ok(())
            }
            Ok(Event::Reconnecting(again)) => {
                eprintln!(
                    "tail: {}; reconnecting in {:?} (attempt {})",
                    again.reason, again.delay, again.attempt
                );
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(error) if error.is_fatal() => {
                eprintln!("tail: {error}");
                return ExitCode::FAILURE;
            }
            Err(error) => {
                eprintln!("tail: skipped: {error}");
                Ok(())
            }
        };
        // Flushed per event, so a pipe sees each as it comes; a closed pipe ends the tail.
        if written.and_then(|()| stdout.flush()).is_err() {
            return ExitCode::SUCCESS;
        }
    }
    ExitCode::SUCCESS
}
