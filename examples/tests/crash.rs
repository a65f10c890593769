//! An instance killed outright (SIGKILL: the OOM killer, a lost node)
//! while publishers write through it and through the others: real
//! processes of every framework, three instances on a real
//! `redis-server`, behind nginx (see `sse_conformance::rolling`). Every
//! publish answered `200` reaches its subscriber exactly once after the
//! subscriber resumes elsewhere with its `Last-Event-ID`; one that got no
//! answer at most once; no stream is reset; and no client waits longer
//! than its `retry` plus a second for its next stream.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sse_conformance::multi::redis_available;
use sse_conformance::rolling::{self, Disruption, Plan};

const FRAMEWORKS: [(&str, &str); 5] = [
    ("axum", env!("CARGO_BIN_EXE_axum")),
    ("actix", env!("CARGO_BIN_EXE_actix")),
    ("warp", env!("CARGO_BIN_EXE_warp")),
    ("rocket", env!("CARGO_BIN_EXE_rocket")),
    ("poem", env!("CARGO_BIN_EXE_poem")),
];

/// The example servers' `retry`.
const RETRY: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_loses_nothing_it_acknowledged_in_every_framework() {
    if !redis_available("a_killed_instance_loses_nothing_it_acknowledged") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let plan = Plan {
        streams: 60,
        publishes_per_second: 120,
        disruption: Disruption::Kill,
    };
    let mut failures = Vec::new();
    for (framework, binary) in FRAMEWORKS {
        let outcome = rolling::run(&root, PathBuf::from(binary), framework, &plan)
            .await
            .unwrap_or_else(|err| panic!("{framework}: {err}"));
        eprintln!("{framework}: {outcome:?}");
        let fine = outcome.acked > 0
            && outcome.lost == 0
            && outcome.duplicated == 0
            && outcome.resets == 0
            && outcome.longest_gap <= RETRY + Duration::from_secs(1)
            && outcome.restarts.iter().all(|r| r.moved > 0);
        if !fine {
            failures.push(format!("{framework}: {outcome:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
