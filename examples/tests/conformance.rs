//! The black-box contract checks against every framework's example server:
//! all of them in-process, each server on a thread of its own and an
//! ephemeral port; then the binaries themselves, for what only a process
//! shows (the `listening on` line, SIGTERM, the exit code). `cargo xtask
//! conformance` runs every check against release binaries and writes the
//! matrix.

use std::path::PathBuf;
use std::sync::Arc;

use sse_conformance::launch::{Launch, NO_COALESCE, Target};
use sse_conformance::multi::{CLUSTER_CHECKS, MULTI_INSTANCE_CHECKS, redis_available};
use sse_conformance::registry::{CHECKS, run_all, run_cluster, run_multi_instance, run_named};
use sse_conformance::report::{Column, markdown, unexpected};
use sse_examples::{Serve, servers};

const FRAMEWORKS: [(&str, Serve, &str); 5] = [
    ("axum", servers::axum::serve, env!("CARGO_BIN_EXE_axum")),
    ("actix", servers::actix::serve, env!("CARGO_BIN_EXE_actix")),
    ("warp", servers::warp::serve, env!("CARGO_BIN_EXE_warp")),
    (
        "rocket",
        servers::rocket::serve,
        env!("CARGO_BIN_EXE_rocket"),
    ),
    ("poem", servers::poem::serve, env!("CARGO_BIN_EXE_poem")),
];

/// What only a process shows.
const AS_PROCESS: &[&str] = &[
    "preamble and headers",
    "graceful shutdown (--drain-timeout 0s)",
    "drain: readiness first, new streams 503, each stream a retry: and its end within the window, /notify on",
    "drain: a second signal ends it at once",
];

fn in_process(framework: &str, serve: Serve) -> Target {
    Target {
        framework: framework.into(),
        launch: Launch::InProcess(Arc::new(move |args, stop, ready| {
            sse_examples::serve_with_args(serve, &args, stop, ready)
        })),
        nginx_config: None,
        options: Vec::new(),
    }
}

/// Every check passes, except the known gaps, which still fail.
fn assert_all_pass(columns: &[Column]) {
    let unexpected = unexpected(columns);
    assert!(
        unexpected.is_empty(),
        "{}\n\n{}",
        unexpected.join("\n"),
        markdown(columns)
    );
}

/// Every check with the servers' defaults, then every check again with
/// coalescing off: an optimisation must never change what a client gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_framework_passes_every_check_in_process_with_and_without_coalescing() {
    for options in [&[][..], NO_COALESCE] {
        let mut columns: Vec<Column> = Vec::new();
        for (framework, serve, _) in FRAMEWORKS {
            let target = Target {
                options: options.iter().map(|o| (*o).to_owned()).collect(),
                ..in_process(framework, serve)
            };
            let outcomes = run_all(&target).await;
            assert_eq!(outcomes.len(), CHECKS.len(), "{framework}: every check ran");
            columns.push((framework.into(), outcomes));
        }
        assert_all_pass(&columns);
    }
}

/// Two instances of each framework on one Redis (skipped, with a notice,
/// where redis-server is not installed and `SSE_REQUIRE_REDIS` is unset),
/// with publishes batched (the default) and one script call each: the
/// batches must not change what a client gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_framework_passes_the_multi_instance_checks_with_and_without_batches() {
    if !redis_available("every_framework_passes_the_multi_instance_checks") {
        return;
    }
    for options in [&[][..], &["--redis-publish-batch", "1"]] {
        let mut columns: Vec<Column> = Vec::new();
        for (framework, serve, _) in FRAMEWORKS {
            let target = Target {
                options: options.iter().map(|o| (*o).to_owned()).collect(),
                ..in_process(framework, serve)
            };
            let outcomes = run_multi_instance(&target).await;
            assert_eq!(
                outcomes.len(),
                MULTI_INSTANCE_CHECKS.len(),
                "{framework}: every check ran"
            );
            columns.push((framework.into(), outcomes));
        }
        assert_all_pass(&columns);
    }
}

/// Two instances of each framework on a Redis Cluster of three masters
/// (skipped as above). Batches on or off is the standalone test's concern.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_framework_passes_the_multi_instance_checks_on_a_cluster() {
    if !redis_available("every_framework_passes_the_multi_instance_checks_on_a_cluster") {
        return;
    }
    let mut columns: Vec<Column> = Vec::new();
    for (framework, serve, _) in FRAMEWORKS {
        let outcomes = run_cluster(&in_process(framework, serve)).await;
        assert_eq!(
            outcomes.len(),
            CLUSTER_CHECKS.len(),
            "{framework}: every check ran"
        );
        columns.push((framework.into(), outcomes));
    }
    assert_all_pass(&columns);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_binary_announces_serves_and_stops_on_sigterm() {
    let mut columns: Vec<Column> = Vec::new();
    for (framework, _, binary) in FRAMEWORKS {
        let target = Target {
            framework: framework.into(),
            launch: Launch::Process(PathBuf::from(binary)),
            nginx_config: None,
            options: Vec::new(),
        };
        let outcomes = run_named(&target, AS_PROCESS).await;
        assert_eq!(
            outcomes.len(),
            AS_PROCESS.len(),
            "{framework}: every check ran"
        );
        columns.push((framework.into(), outcomes));
    }
    assert_all_pass(&columns);
}
