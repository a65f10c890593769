//! The project's own tasks, run with cargo alone: `cargo xtask --help`.

// A command-line tool: its diagnostics are meant for the terminal.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use tasks::{
    SoakOptions, SocketOptions, bench, bench_h2, bench_sockets, cert, conformance, fuzz, soak, test,
};
use workspace::{FRAMEWORKS, workspace_root};

mod bench_summary;
mod browser;
mod generated;
mod h2bench;
mod rolling;
mod shape;
mod soak;
mod sockets;
mod system;
mod target_dir;
mod tasks;
mod workspace;

#[derive(Parser)]
#[command(about = "The SSE toolkit's project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// The code's shape, measured: no module cycles in any crate, and no
    /// source file of 700 lines or more.
    Shape {
        /// Measure this checkout instead (another commit's worktree, say).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Each release example server over TLS: memory per idle stream and
    /// CPU per delivery over HTTP/2 beside HTTP/1.1, into BENCHMARKS.md
    /// and `docs/benchmarks/h2.json` (also part of `bench`).
    BenchH2 {
        /// Only these servers (default: all five).
        #[arg(long = "server")]
        servers: Vec<String>,
    },
    /// The example servers in a real browser: Debian's Chromium, driven by
    /// playwright-core (`conformance/browser/`), uses each release
    /// server's demo page end to end (a restart of the server included,
    /// under a path prefix behind nginx, and at phone size), then opens
    /// ten `EventSource`s in one page over HTTP/2 with TLS and over
    /// HTTP/1.1. The results go to `conformance/BROWSER.md`, screenshots
    /// to `target/browser/`. Installs chromium, Node.js, nginx and the npm
    /// packages when missing.
    Browser {
        /// Only these servers (default: all five); the report is then
        /// printed, not written.
        #[arg(long = "server", value_parser = FRAMEWORKS)]
        servers: Vec<String>,
    },
    /// Write a self-signed certificate for `localhost` and `127.0.0.1`,
    /// for trying the example servers over TLS and HTTP/2
    /// (`--tls-cert DIR/cert.pem --tls-key DIR/key.pem`). Browsers warn
    /// about it until it is trusted.
    Cert {
        /// Where to write `cert.pem` and `key.pem`.
        #[arg(long, default_value = "target/dev-cert")]
        dir: PathBuf,
        /// More names or addresses the certificate is for.
        #[arg(long = "name")]
        names: Vec<String>,
    },
    /// Fuzz the decoder with cargo-fuzz (needs a nightly toolchain;
    /// installs cargo-fuzz if it is missing).
    Fuzz {
        /// How long to fuzz.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// The fuzz target to run.
        #[arg(long, default_value = "decode")]
        target: String,
    },
    /// Build the five example servers in release mode, run the black-box
    /// contract checks against each, print the matrix and write it to
    /// `conformance/RESULTS.md`.
    Conformance {
        /// Run the streaming and replay checks through nginx (Debian's
        /// nginx-light), configured by `examples/deploy/nginx.conf`; the
        /// matrix goes to `conformance/RESULTS-nginx.md`.
        #[arg(long)]
        via_nginx: bool,
    },
    /// Run the criterion benchmarks and print a summary with each
    /// benchmark's ratio against its baseline from the same run; then
    /// multi-instance mode on a private Redis beside in-memory mode; then
    /// `sse-hub-client` beside `eventsource-client` and
    /// `reqwest-eventsource` (the `clients` bench); then
    /// the socket benchmarks (see `bench-sockets`), which regenerate their
    /// section of BENCHMARKS.md; then HTTP/2 beside HTTP/1.1 (see
    /// `bench-h2`); then the soak of every example server (see
    /// `soak`).
    Bench {
        /// Only summarise the last run's results, without running anything.
        #[arg(long)]
        summary_only: bool,
        /// Skip the soak.
        #[arg(long)]
        no_soak: bool,
        /// Only the socket benchmarks, small and once (under two minutes
        /// once built): a smoke run whose report goes under
        /// `target/bench-sockets/`, not into BENCHMARKS.md.
        #[arg(long)]
        quick: bool,
        /// Extra arguments for criterion, e.g. a filter such as `decode`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// The socket benchmarks alone: every example server, axum's own `Sse`
    /// over a broadcast channel (the baseline) and nginx with nchan, under
    /// the same load over loopback TCP, beside the write(2) floor. Installs
    /// nginx and its nchan module with apt-get when missing. Regenerates
    /// the "Over real sockets" section of BENCHMARKS.md and
    /// `docs/benchmarks/` (JSON, SVG chart).
    BenchSockets(SocketOptions),
    /// Install what the tests need when it is missing (Debian's
    /// redis-server and nginx-light, with apt-get), then run the whole
    /// test suite (`cargo test --workspace`) with the Redis tests required
    /// rather than skipped, the Redis fault tests (`faults`), then the
    /// browser checks (`browser`, which installs Chromium, Node.js and the
    /// npm packages); with a filter, only the matching cargo tests.
    Test {
        /// Leave out the Redis fault tests (`cargo xtask faults`), which CI
        /// runs in a step of its own.
        #[arg(long)]
        without_faults: bool,
        /// Extra arguments for `cargo test`, e.g. a filter.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// The Redis fault tests, ignored by a plain `cargo test`: masters
    /// killed under Sentinel, publishes that wait for replicas; the
    /// library's tests, then every example server's (installs
    /// `redis-server` when missing).
    Faults,
    /// Rolling restarts and crashes: each release example server, three
    /// instances on a private Redis behind nginx, restarted one after the
    /// other under load with `--drain-timeout 0s`, then with the default
    /// drain, then killed (SIGKILL); checks that nothing is lost or
    /// duplicated and that the drain spreads the reconnects, and writes
    /// the table into BENCHMARKS.md (unless `--check`).
    RollingRestart(rolling::RollingOptions),
    /// Soak release builds of the example servers: waves of clients
    /// connect, read a few events and leave, for a while, beside steady
    /// subscribers; then check that clients, descriptors and the steady
    /// streams are whole, and report RSS growth.
    Soak(SoakOptions),
}

fn main() -> ExitCode {
    let result = match Cli::parse().task {
        Task::Fuzz { seconds, target } => fuzz(seconds, &target),
        Task::Conformance { via_nginx } => conformance(via_nginx),
        Task::Bench { quick: true, .. } => bench_sockets(&SocketOptions {
            quick: true,
            ..SocketOptions::default()
        }),
        Task::Bench {
            summary_only,
            no_soak,
            quick: false,
            args,
        } => {
            let ran = if summary_only { Ok(()) } else { bench(&args) };
            ran.and_then(|()| {
                bench_summary::print(&target_dir::dir(&workspace_root()).join("criterion"))
            })
            .and_then(|()| {
                if summary_only {
                    Ok(())
                } else {
                    bench_sockets(&SocketOptions::default())
                }
            })
            .and_then(|()| if summary_only { Ok(()) } else { bench_h2(&[]) })
            .and_then(|()| {
                if summary_only || no_soak {
                    Ok(())
                } else {
                    soak(&SoakOptions::default())
                }
            })
        }
        Task::BenchSockets(options) => bench_sockets(&options),
        Task::Soak(options) => soak(&options),
        Task::RollingRestart(options) => tasks::rolling_restart(&options),
        Task::Test {
            without_faults,
            args,
        } => test(&args, without_faults),
        Task::Faults => tasks::faults(),
        Task::Cert { dir, names } => cert(&dir, names),
        Task::Browser { servers } => browser::run(&workspace_root(), &servers),
        Task::BenchH2 { servers } => bench_h2(&servers),
        Task::Shape { root } => shape::run(&root.unwrap_or_else(workspace_root)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
