//! Each task's work; `main.rs` is the command line only.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::system::{SOCKET_BENCH_PACKAGES, TEST_PACKAGES, ensure_packages, run};
use crate::workspace::{FRAMEWORKS, build_release_examples, workspace_root};
use crate::{browser, h2bench, soak as soak_run, sockets, target_dir};

#[derive(clap::Args, Clone, Default)]
pub(crate) struct SocketOptions {
    /// Small and once: a smoke run whose report goes under
    /// `target/bench-sockets/`.
    #[arg(long)]
    pub(crate) quick: bool,
    /// How many times each scenario runs (the report quotes medians).
    #[arg(long)]
    pub(crate) repeats: Option<usize>,
    /// Only these servers: axum, actix, warp, rocket, poem, baseline, nchan.
    #[arg(long = "server", value_parser = ["axum", "actix", "warp", "rocket", "poem", "baseline", "nchan"])]
    pub(crate) servers: Vec<String>,
    /// Only the saturation scenario, for comparing two builds; the report
    /// goes under `target/bench-sockets/`.
    #[arg(long, conflicts_with = "per_user_only")]
    pub(crate) saturation_only: bool,
    /// Only the scenario with a topic per stream; the report goes under
    /// `target/bench-sockets/`.
    #[arg(long)]
    pub(crate) per_user_only: bool,
    /// Take the example servers from this directory (a release build of
    /// another commit, say) instead of this checkout's; the baseline and
    /// nchan stay as they are.
    #[arg(long, value_name = "DIR")]
    pub(crate) examples_dir: Option<PathBuf>,
}

#[derive(clap::Args, Clone)]
pub(crate) struct SoakOptions {
    /// The frameworks to soak (default: all five).
    #[arg(long = "framework", value_parser = FRAMEWORKS)]
    pub(crate) frameworks: Vec<String>,
    /// How long the waves go on, per framework.
    #[arg(long, default_value_t = 60)]
    pub(crate) seconds: u64,
    /// Clients per wave.
    #[arg(long, default_value_t = 5000)]
    pub(crate) churn: usize,
    /// Subscribers that stay the whole time.
    #[arg(long, default_value_t = 1000)]
    pub(crate) steady: usize,
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

/// `cargo xtask bench-h2`: see `Task::BenchH2` (`cargo xtask bench-h2 --help`).
pub(crate) fn bench_h2(servers: &[String]) -> Result<(), String> {
    let root = workspace_root();
    build_release_examples(&root)?;
    let chosen: Vec<&str> = if servers.is_empty() {
        FRAMEWORKS.to_vec()
    } else {
        servers.iter().map(String::as_str).collect()
    };
    h2bench::run(&root, &chosen)
}

/// `cargo xtask rolling-restart`: see `Task::RollingRestart`.
pub(crate) fn rolling_restart(options: &crate::rolling::RollingOptions) -> Result<(), String> {
    let root = workspace_root();
    crate::system::ensure_packages(crate::system::TEST_PACKAGES)?;
    build_release_examples(&root)?;
    crate::rolling::run(&root, &options.frameworks(), options)
}

/// `cargo xtask cert`: a self-signed certificate (rcgen) and its key.
pub(crate) fn cert(dir: &Path, names: Vec<String>) -> Result<(), String> {
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

pub(crate) fn fuzz(seconds: u64, target: &str) -> Result<(), String> {
    let has_nightly = crate::workspace::cargo()
        .args(["+nightly", "--version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !has_nightly {
        return Err(
            "cargo-fuzz needs a nightly toolchain: `rustup toolchain install nightly`".into(),
        );
    }
    let has_cargo_fuzz = crate::workspace::cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !has_cargo_fuzz {
        run(crate::workspace::cargo().args(["install", "--locked", "cargo-fuzz"]))?;
    }
    let max_time = format!("-max_total_time={seconds}");
    run(crate::workspace::cargo()
        .current_dir(workspace_root().join("sse-core"))
        .args(["+nightly", "fuzz", "run", target, "--", &max_time]))
}

pub(crate) fn conformance(via_nginx: bool) -> Result<(), String> {
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
            if target.nginx_config.is_none() {
                outcomes.extend(sse_conformance::registry::run_cluster(&target).await);
                outcomes.extend(sse_conformance::registry::run_faults(&target).await);
            }
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

pub(crate) fn test(args: &[String], without_faults: bool) -> Result<(), String> {
    ensure_packages(TEST_PACKAGES)?;
    run(crate::workspace::cargo()
        .current_dir(workspace_root())
        .env("SSE_REQUIRE_REDIS", "1")
        .args(["test", "--workspace"])
        .args(args))?;
    // A filter asks for some tests, not for the faults' or the browser's.
    if !args.is_empty() {
        return Ok(());
    }
    if !without_faults {
        faults()?;
    }
    browser::run(&workspace_root(), &[])
}

/// `cargo xtask faults`: the tests that kill Redis masters (ignored by a
/// plain `cargo test`, seconds each): the library's, then every example
/// server's.
pub(crate) fn faults() -> Result<(), String> {
    ensure_packages(&TEST_PACKAGES[..1])?;
    for (package, test, features) in [
        ("sse-hub", "redis_failover", Some("redis,hub")),
        ("sse-examples", "redis_faults", None),
    ] {
        let mut command = crate::workspace::cargo();
        command
            .current_dir(workspace_root())
            .env("SSE_REQUIRE_REDIS", "1")
            .args(["test", "-p", package, "--test", test]);
        if let Some(features) = features {
            command.args(["--features", features]);
        }
        // One at a time: each starts its own Redis processes, and a
        // failover slowed down by a neighbour's is not what they measure.
        run(command.args(["--", "--ignored", "--test-threads=1"]))?;
    }
    Ok(())
}

pub(crate) fn bench(args: &[String]) -> Result<(), String> {
    run(crate::workspace::cargo()
        .current_dir(workspace_root())
        .args(["bench", "-p", "sse-hub", "--features", "broker", "--"])
        .args(args))?;
    // Multi-instance mode beside in-memory mode, on a private Redis.
    ensure_packages(&TEST_PACKAGES[..1])?;
    run(crate::workspace::cargo()
        .current_dir(workspace_root())
        .args([
            "bench",
            "-p",
            "sse-hub",
            "--features",
            "redis,hub,serve,http",
            "--bench",
            "redis",
            "--bench",
            "redis_scale",
            "--bench",
            "batch",
        ]))?;
    // What a durable publish costs, on a private master and replica.
    run(crate::workspace::cargo()
        .current_dir(workspace_root())
        .args([
            "bench",
            "-p",
            "sse-hub",
            "--features",
            "redis,hub",
            "--bench",
            "durable",
        ]))?;
    // The Rust client beside the clients users pick, over loopback.
    run(crate::workspace::cargo()
        .current_dir(workspace_root())
        .args(["bench", "-p", "sse-hub-client", "--bench", "clients"]))
}

pub(crate) fn bench_sockets(options: &SocketOptions) -> Result<(), String> {
    let root = workspace_root();
    if cfg!(debug_assertions) && !options.quick {
        // The load generator must cost little beside the server: measure
        // with an optimised build of this very task. A quick run is a smoke
        // run whose figures nobody quotes, so it spares that build.
        let mut command = crate::workspace::cargo();
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
        if options.per_user_only {
            command.arg("--per-user-only");
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
    plan.only_scenario = if options.saturation_only {
        Some(sockets::Scenario::Saturation)
    } else if options.per_user_only {
        Some(sockets::Scenario::PerUser)
    } else {
        None
    };
    plan.examples_dir = options.examples_dir.clone();
    sockets::run(&root, &plan)
}

pub(crate) fn soak(options: &SoakOptions) -> Result<(), String> {
    let root = workspace_root();
    build_release_examples(&root)?;
    let plan = soak_run::Plan {
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
        let outcome = runtime.block_on(soak_run::run(framework, &binary, plan))?;
        faults.extend(
            outcome
                .faults(&plan)
                .into_iter()
                .map(|fault| format!("{framework}: {fault}")),
        );
        rows.push(outcome.row());
    }
    println!("\n{}", soak_run::Outcome::header());
    for row in rows {
        println!("{row}");
    }
    if faults.is_empty() {
        Ok(())
    } else {
        Err(format!("the soak found faults:\n{}", faults.join("\n")))
    }
}
