//! The Kubernetes manifest (`examples/deploy/kubernetes.yaml`) stays
//! consistent with the server: its grace period covers the `preStop`
//! pause, the drain and what follows it, and its drain is the default.

use std::time::Duration;

use sse_examples::options::{DEFAULT_DRAIN_TIMEOUT, parse_duration};

const MANIFEST: &str = include_str!("../deploy/kubernetes.yaml");

/// The value after the first `key:` (outside comments), as text.
fn value_of(key: &str) -> &str {
    MANIFEST
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
        .unwrap_or_else(|| panic!("kubernetes.yaml has no {key}"))
}

fn seconds(key: &str) -> Duration {
    let text = value_of(key);
    Duration::from_secs(text.parse().unwrap_or_else(|_| panic!("{key}: {text:?}")))
}

#[test]
fn the_grace_period_covers_the_pause_the_drain_and_the_exit() {
    let grace = seconds("terminationGracePeriodSeconds");
    let pause = seconds("seconds");
    // The drain is given by the line after the variable's name.
    let drain_line = MANIFEST
        .lines()
        .skip_while(|line| !line.contains("name: SSE_DRAIN_TIMEOUT"))
        .nth(1)
        .expect("SSE_DRAIN_TIMEOUT has a value");
    let drain = drain_line
        .trim()
        .strip_prefix("value:")
        .map(|value| parse_duration(value.trim()).expect("a duration"))
        .expect("value: after SSE_DRAIN_TIMEOUT");
    assert_eq!(
        drain, DEFAULT_DRAIN_TIMEOUT,
        "the manifest shows the default"
    );
    let needed = pause + drain + sse_hub::hub::DRAIN_GRACE + sse_examples::SHUTDOWN_GRACE;
    assert!(grace > needed, "grace {grace:?} does not cover {needed:?}");
    assert_eq!(value_of("path"), "/healthz", "liveness first");
    assert!(
        MANIFEST.contains("path: /readyz"),
        "a readiness probe on /readyz"
    );
}
