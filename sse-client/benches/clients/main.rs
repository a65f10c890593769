//! `sse-hub-client` against the clients users pick (`eventsource-client`,
//! `reqwest-eventsource`), in one run, over loopback sockets:
//!
//! - one fast stream: events per second, and client CPU per event;
//! - 10,000 idle streams in one process: memory per stream;
//! - a reconnect storm: 10,000 streams, then the server restarted on the
//!   same port; the most connects it gets in any 100 ms.
//!
//! `cargo bench -p sse-hub-client --bench clients` (a step of `cargo xtask
//! bench`). Each measure runs in a process of its own, with the server in
//! another, so that one client's memory or CPU is not another's. The
//! figures go to stdout as a Markdown table.

#![allow(missing_docs, clippy::print_stderr, reason = "a bench binary")]

mod libs;
mod measure;
mod server;

use std::time::Duration;

use libs::Lib;

/// Events of the fast stream.
const FAST_EVENTS: u64 = 200_000;
/// Streams of the idle and storm measures.
const STREAMS: usize = 10_000;
/// Repeats of each measure; the median is reported.
const REPEATS: usize = 3;

fn main() {
    raise_open_files();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("serve") => {
            let port = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
            let mode = args.get(2).cloned().unwrap_or_default();
            let report =
                Duration::from_secs(args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3600));
            runtime().block_on(server::run(port, &mode, FAST_EVENTS, report));
        }
        Some("client") => {
            let lib = args
                .get(1)
                .and_then(|l| Lib::parse(l))
                .expect("a client name");
            let measure = args.get(2).cloned().unwrap_or_default();
            let url = args.get(3).cloned().unwrap_or_default();
            runtime().block_on(measure::client(lib, &measure, &url));
        }
        _ => {
            let quick = std::env::var("SSE_BENCH_QUICK").is_ok_and(|v| v == "1");
            measure::all(if quick { 1 } else { REPEATS });
        }
    }
}

/// One thread: CPU per event is then the process's CPU per event.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// 10,000 streams need more than the usual 1,024 descriptors.
fn raise_open_files() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
}
