//! The project's own tasks, run with cargo alone: `cargo xtask --help`.

// A command-line tool: its diagnostics are meant for the terminal.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};

mod bench_summary;
mod browser;
mod generated;
mod h2bench;
mod soak;
mod sockets;
mod target_dir;

#[derive(Parser)]
#[command(about = "The SSE toolkit's project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
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
    /// rather than skipped, then the browser checks (`browser`, which
    /// installs Chromium, Node.js and the npm packages); with a filter,
    /// only the matching cargo tests.
    Test {
        /// Extra arguments for `cargo test`, e.g. a filter.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Soak release builds of the example servers: waves of clients
    /// connect, read a few events and leave, for a while, beside steady
    /// subscribers; then check that clients, descriptors and the steady
    /// streams are whole, and report RSS growth.
    Soak(SoakOptions),
}

#[derive(clap::Args, Clone, Default)]
struct SocketOptions {
    /// Small and once: a smoke run whose report goes under
    /// `target/bench-sockets/`.
    #[arg(long)]
    quick: bool,
    /// How many times each scenario runs (the report quotes medians).
    #[arg(long)]
    repeats: Option<usize>,
    /// Only these servers: axum, actix, warp, rocket, poem, baseline, nchan.
    #[arg(long = "server", value_parser = ["axum", "actix", "warp", "rocket", "poem", "baseline", "nchan"])]
    servers: Vec<String>,
    /// Only the saturation scenario, for comparing two builds; the report
    /// goes under `target/bench-sockets/`.
    #[arg(long)]
    saturation_only: bool,
    /// Take the example servers from this directory (a release build of
    /// another commit, say) instead of this checkout's; the baseline and
    /// nchan stay as they are.
    #[arg(long, value_name = "DIR")]
    examples_dir: Option<PathBuf>,
}

#[derive(clap::Args, Clone)]
struct SoakOptions {
    /// The frameworks to soak (default: all five).
    #[arg(long = "framework", value_parser = FRAMEWORKS)]
    frameworks: Vec<String>,
    /// How long the waves go on, per framework.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Clients per wave.
    #[arg(long, default_value_t = 5000)]
    churn: usize,
    /// Subscribers that stay the whole time.
    #[arg(long, default_value_t = 1000)]
    steady: usize,
}

impl Default for SoakOptions {
    fn default() -> Self {
        Self {
            frameworks: Vec::new(),
            seconds: 60,
            churn: 5000,
            steady: 1000,
        }
    }
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
        Task::Test { args } => test(&args),
        Task::Cert { dir, names } => cert(&dir, names),
        Task::Browser { servers } => browser::run(&workspace_root(), &servers),
        Task::BenchH2 { servers } => bench_h2(&servers),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask bench-h2`: see [`Task::BenchH2`].
fn bench_h2(servers: &[String]) -> Result<(), String> {
    let root = workspace_root();
    build_release_examples(&root)?;
    let chosen: Vec<&str> = if servers.is_empty() {
        FRAMEWORKS.to_vec()
    } else {
        servers.iter().map(String::as_str).collect()
    };
    h2bench::run(&root, &chosen)
}

/// `cargo xtask cert`: a self-signed certificate (rcgen) and its key.
fn cert(dir: &Path, names: Vec<String>) -> Result<(), String> {
    let mut subjects = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    subjects.extend(names);
    let certified = rcgen::generate_simple_self_signed(subjects.clone())
        .map_err(|err| format!("cannot generate a certificate: {err}"))?;
    let dir = workspace_root().join(dir);
    std::fs::create_dir_all(&dir)
        .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).map_err(|err| format!("cannot write {}: {err}", path.display()))
    };
    write(&cert, certified.cert.pem())?;
    write(&key, certified.signing_key.serialize_pem())?;
    println!(
        "a certificate for {} in {}\n  cargo run -p sse-examples --bin axum -- --tls-cert {} --tls-key {}",
        subjects.join(", "),
        dir.display(),
        cert.display(),
        key.display()
    );
    Ok(())
}

/// Builds the example servers in release mode, for the tasks that start
/// them as processes.
fn build_release_examples(root: &Path) -> Result<(), String> {
    run(Command::new("cargo").current_dir(root).args([
        "build",
        "--release",
        "-p",
        "sse-examples",
        "--bins",
    ]))
}

fn workspace_root() -> PathBuf {
    // xtask lives one level below the workspace root.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

fn fuzz(seconds: u64, target: &str) -> Result<(), String> {
    let has_nightly = Command::new("cargo")
        .args(["+nightly", "--version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !has_nightly {
        return Err(
            "cargo-fuzz needs a nightly toolchain: `rustup toolchain install nightly`".into(),
        );
    }
    let has_cargo_fuzz = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !has_cargo_fuzz {
        run(Command::new("cargo").args(["install", "--locked", "cargo-fuzz"]))?;
    }
    let max_time = format!("-max_total_time={seconds}");
    run(Command::new("cargo")
        .current_dir(workspace_root().join("sse-core"))
        .args(["+nightly", "fuzz", "run", target, "--", &max_time]))
}

const FRAMEWORKS: [&str; 5] = ["axum", "actix", "warp", "rocket", "poem"];

fn conformance(via_nginx: bool) -> Result<(), String> {
    let root = workspace_root();
    ensure_packages(if via_nginx {
        TEST_PACKAGES
    } else {
        &TEST_PACKAGES[..1]
    })?;
    let nginx_config = via_nginx.then(|| root.join("examples/deploy/nginx.conf"));
    build_release_examples(&root)?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("no runtime: {e}"))?;
    let columns = runtime.block_on(async {
        let mut columns = Vec::new();
        for framework in FRAMEWORKS {
            let target = sse_conformance::launch::Target {
                framework: framework.into(),
                launch: sse_conformance::launch::Launch::Process(
                    target_dir::release(&root).join(framework),
                ),
                nginx_config: nginx_config.clone(),
                options: Vec::new(),
            };
            eprintln!("checking {framework}…");
            let mut outcomes = sse_conformance::registry::run_all(&target).await;
            outcomes.extend(sse_conformance::registry::run_multi_instance(&target).await);
            columns.push((framework.to_owned(), outcomes));
        }
        columns
    });
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(&root)
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|hash| hash.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let report = sse_conformance::report::markdown(&columns).replacen(
        "\n\n",
        &format!(
            "\n\nMade by `cargo xtask conformance{flag}` at commit `{commit}`: the five \
             example servers built in release mode, each started as a process on a loopback \
             port{proxy}.\n\n",
            flag = if via_nginx { " --via-nginx" } else { "" },
            proxy = if via_nginx {
                ", reached through nginx configured by `examples/deploy/nginx.conf`"
            } else {
                ""
            }
        ),
        1,
    );
    println!("{report}");
    let path = root.join(if via_nginx {
        "conformance/RESULTS-nginx.md"
    } else {
        "conformance/RESULTS.md"
    });
    std::fs::write(&path, &report).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    eprintln!("written to {}", path.display());
    let unexpected = sse_conformance::report::unexpected(&columns);
    if unexpected.is_empty() {
        Ok(())
    } else {
        Err(format!("unexpected outcomes:\n{}", unexpected.join("\n")))
    }
}

/// Debian packages the tests use, by the program each provides.
const TEST_PACKAGES: &[(&str, &str)] =
    &[("redis-server", "redis-server"), ("nginx", "nginx-light")];

fn test(args: &[String]) -> Result<(), String> {
    ensure_packages(TEST_PACKAGES)?;
    run(Command::new("cargo")
        .current_dir(workspace_root())
        .env("SSE_REQUIRE_REDIS", "1")
        .args(["test", "--workspace"])
        .args(args))?;
    // A filter asks for some tests, not for the browser's.
    if args.is_empty() {
        browser::run(&workspace_root(), &[])
    } else {
        Ok(())
    }
}

/// Installs the packages of `wanted` whose program is not on `PATH`, with
/// apt-get (as root), or says how to.
fn ensure_packages(wanted: &[(&str, &str)]) -> Result<(), String> {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(program, _)| !on_path(program))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing.join(" ");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0");
    if !root || !on_path("apt-get") {
        return Err(format!(
            "the tests need {list}: install them (apt-get install {list}) and run again"
        ));
    }
    eprintln!("installing {list}…");
    run(Command::new("apt-get")
        .args(["update", "-qq"])
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Whether `program` is an executable in a directory of `PATH` (or in
/// `/usr/sbin`, where Debian puts nginx, outside a user's `PATH`).
/// Whether `program` is on `PATH` (or, given as an absolute path, exists).
fn on_path(program: &str) -> bool {
    if program.starts_with('/') {
        return std::path::Path::new(program).is_file();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .any(|dir| dir.join(program).is_file())
}

fn bench(args: &[String]) -> Result<(), String> {
    run(Command::new("cargo")
        .current_dir(workspace_root())
        .args(["bench", "-p", "sse-hub", "--"])
        .args(args))?;
    // Multi-instance mode beside in-memory mode, on a private Redis.
    ensure_packages(&TEST_PACKAGES[..1])?;
    run(Command::new("cargo").current_dir(workspace_root()).args([
        "bench",
        "-p",
        "sse-hub",
        "--features",
        "redis",
        "--bench",
        "redis",
    ]))
}

/// What the socket benchmarks need beyond the Rust servers.
const SOCKET_BENCH_PACKAGES: &[(&str, &str)] = &[
    ("nginx", "nginx-light"),
    (
        "/usr/lib/nginx/modules/ngx_nchan_module.so",
        "libnginx-mod-nchan",
    ),
];

fn bench_sockets(options: &SocketOptions) -> Result<(), String> {
    let root = workspace_root();
    if cfg!(debug_assertions) && !options.quick {
        // The load generator must cost little beside the server: measure
        // with an optimised build of this very task. A quick run is a smoke
        // run whose figures nobody quotes, so it spares that build.
        let mut command = Command::new("cargo");
        command.current_dir(&root).args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "xtask",
            "--",
            "bench-sockets",
        ]);
        if options.quick {
            command.arg("--quick");
        }
        if let Some(repeats) = options.repeats {
            command.arg(format!("--repeats={repeats}"));
        }
        for server in &options.servers {
            command.arg(format!("--server={server}"));
        }
        if options.saturation_only {
            command.arg("--saturation-only");
        }
        if let Some(dir) = &options.examples_dir {
            command.arg("--examples-dir").arg(dir);
        }
        return run(&mut command);
    }
    ensure_packages(SOCKET_BENCH_PACKAGES)?;
    let mut plan = if options.quick {
        sockets::Plan::quick()
    } else {
        sockets::Plan::full()
    };
    if let Some(repeats) = options.repeats {
        plan.repeats = repeats.max(1);
    }
    plan.only = options.servers.clone();
    plan.saturation_only = options.saturation_only;
    plan.examples_dir = options.examples_dir.clone();
    sockets::run(&root, &plan)
}

fn soak(options: &SoakOptions) -> Result<(), String> {
    let root = workspace_root();
    build_release_examples(&root)?;
    let plan = soak::Plan {
        churn: options.churn,
        steady: options.steady,
        duration: std::time::Duration::from_secs(options.seconds),
        events_per_visit: 3,
    };
    let frameworks: Vec<&str> = if options.frameworks.is_empty() {
        FRAMEWORKS.to_vec()
    } else {
        options.frameworks.iter().map(String::as_str).collect()
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("no runtime: {e}"))?;
    let mut rows = Vec::new();
    let mut faults = Vec::new();
    for framework in frameworks {
        eprintln!(
            "soaking {framework}: waves of {} clients for {} s beside {} steady subscribers…",
            plan.churn, options.seconds, plan.steady
        );
        let binary = target_dir::release(&root).join(framework);
        let outcome = runtime.block_on(soak::run(framework, &binary, plan))?;
        faults.extend(
            outcome
                .faults(&plan)
                .into_iter()
                .map(|fault| format!("{framework}: {fault}")),
        );
        rows.push(outcome.row());
    }
    println!("\n{}", soak::Outcome::header());
    for row in rows {
        println!("{row}");
    }
    if faults.is_empty() {
        Ok(())
    } else {
        Err(format!("the soak found faults:\n{}", faults.join("\n")))
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|err| format!("could not start {command:?}: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed with {status}"))
    }
}
