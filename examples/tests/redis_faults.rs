//! The Redis fault checks (`sse_conformance::failover::FAULT_CHECKS`)
//! against every framework's example server, in-process: a Sentinel
//! master killed while two instances serve. Seconds per framework, so
//! ignored by a plain `cargo test`; `cargo xtask faults` (and `cargo xtask
//! test`) runs them.

use std::sync::Arc;

use sse_conformance::failover::FAULT_CHECKS;
use sse_conformance::launch::{Launch, Target};
use sse_conformance::multi::redis_available;
use sse_conformance::registry::run_faults;
use sse_conformance::report::{Column, markdown, unexpected};
use sse_examples::{Serve, servers};

const FRAMEWORKS: [(&str, Serve); 5] = [
    ("axum", servers::axum::serve),
    ("actix", servers::actix::serve),
    ("warp", servers::warp::serve),
    ("rocket", servers::rocket::serve),
    ("poem", servers::poem::serve),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "kills Redis masters, seconds per framework: cargo xtask faults"]
async fn every_framework_passes_the_redis_fault_checks() {
    if !redis_available("every_framework_passes_the_redis_fault_checks") {
        return;
    }
    let mut columns: Vec<Column> = Vec::new();
    for (framework, serve) in FRAMEWORKS {
        let target = Target {
            framework: framework.into(),
            launch: Launch::InProcess(Arc::new(move |args, stop, ready| {
                sse_examples::serve_with_args(serve, &args, stop, ready)
            })),
            nginx_config: None,
            options: Vec::new(),
        };
        let outcomes = run_faults(&target).await;
        assert_eq!(
            outcomes.len(),
            FAULT_CHECKS.len(),
            "{framework}: every check ran"
        );
        columns.push((framework.into(), outcomes));
    }
    let unexpected = unexpected(&columns);
    assert!(
        unexpected.is_empty(),
        "{}\n\n{}",
        unexpected.join("\n"),
        markdown(&columns)
    );
}
