//! The black-box contract checks against every example binary, run as a
//! process on an ephemeral port; `cargo xtask conformance` runs the same
//! checks against release builds and writes the matrix.

use std::path::PathBuf;

use sse_conformance::checks::{Target, run_all};
use sse_conformance::report::{Column, markdown};

const FRAMEWORKS: [(&str, &str); 5] = [
    ("axum", env!("CARGO_BIN_EXE_axum")),
    ("actix", env!("CARGO_BIN_EXE_actix")),
    ("warp", env!("CARGO_BIN_EXE_warp")),
    ("rocket", env!("CARGO_BIN_EXE_rocket")),
    ("poem", env!("CARGO_BIN_EXE_poem")),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_passes_every_check() {
    let mut columns: Vec<Column> = Vec::new();
    for (framework, binary) in FRAMEWORKS {
        let target = Target {
            framework: framework.into(),
            binary: PathBuf::from(binary),
            nginx_config: None,
        };
        columns.push((framework.into(), run_all(&target).await));
    }
    let failures = columns
        .iter()
        .flat_map(|(_, outcomes)| outcomes)
        .filter(|(_, outcome)| outcome.is_err())
        .count();
    assert_eq!(failures, 0, "\n{}", markdown(&columns));
}
