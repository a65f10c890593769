//! What one run measures, and the small helpers every scenario shares.

use std::collections::BTreeMap;
use std::time::Duration;

/// The sizes of one run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) quick: bool,
    pub(crate) repeats: usize,
    /// Streams held idle, then fanned out to.
    pub(crate) streams: usize,
    /// How long the server's CPU is read while the streams are idle.
    pub(crate) idle_time: Duration,
    pub(crate) fan_out_rate: u32,
    pub(crate) fan_out_time: Duration,
    /// Events a second, each to one stream's own topic, in the scenario
    /// with a topic per stream (for as long as the fan-out).
    pub(crate) per_user_rate: u32,
    pub(crate) flood_subscribers: usize,
    pub(crate) flood_publishers: usize,
    pub(crate) flood_time: Duration,
    /// The most streams this machine allows one process, if run.
    pub(crate) many_streams: Option<usize>,
    pub(crate) floor_sockets: usize,
    pub(crate) floor_rounds: usize,
    /// Only these servers (by key), when not empty.
    pub(crate) only: Vec<String>,
    /// Only this scenario, when set.
    pub(crate) only_scenario: Option<Scenario>,
    /// Where the example servers' binaries are, if not in this checkout's
    /// `target/release`.
    pub(crate) examples_dir: Option<std::path::PathBuf>,
}

impl Plan {
    pub(crate) fn full() -> Self {
        Self {
            quick: false,
            repeats: 3,
            streams: 10_000,
            idle_time: Duration::from_secs(5),
            fan_out_rate: 10,
            fan_out_time: Duration::from_secs(10),
            per_user_rate: 1_000,
            flood_subscribers: 100,
            flood_publishers: 4,
            flood_time: Duration::from_secs(5),
            many_streams: Some(19_000),
            floor_sockets: 5_000,
            floor_rounds: 40,
            only: Vec::new(),
            only_scenario: None,
            examples_dir: None,
        }
    }

    /// Small enough to finish in under two minutes: a smoke run of the
    /// whole benchmark, not figures to quote.
    pub(crate) fn quick() -> Self {
        Self {
            quick: true,
            repeats: 1,
            streams: 1_000,
            idle_time: Duration::from_secs(1),
            fan_out_time: Duration::from_secs(2),
            flood_time: Duration::from_secs(2),
            many_streams: None,
            floor_sockets: 500,
            floor_rounds: 20,
            ..Self::full()
        }
    }
}

/// A scenario that can run alone, to compare two builds on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// A few subscribers, publishers as fast as answered.
    Saturation,
    /// A topic per stream, targeted events.
    PerUser,
}

/// One repeat's figures for one server, by metric key.
pub(crate) type Sample = BTreeMap<String, f64>;

/// Latency percentiles drawn in the chart.
pub(crate) const PERCENTILES: [(f64, &str); 5] = [
    (50.0, "p50"),
    (90.0, "p90"),
    (99.0, "p99"),
    (99.9, "p99.9"),
    (100.0, "max"),
];

/// Pins the calling thread (and threads it starts later) to `cpu`.
pub(crate) fn pin_to_cpu(cpu: usize) {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    if let Err(err) = rustix::thread::sched_setaffinity(None, &set) {
        eprintln!("cannot pin to CPU {cpu}: {err}; figures will be noisier");
    }
}

/// The median of `values` (sorted in place); NaN when there are none.
pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}
