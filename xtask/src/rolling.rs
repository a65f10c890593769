//! `cargo xtask rolling-restart`: each release example server, three
//! instances on a private Redis behind nginx, restarted one after the
//! other under load, with `--drain-timeout 0s` and with the default drain
//! in the same run; then killed one after the other (SIGKILL). See
//! [`sse_conformance::rolling`] for what is measured. Writes its section
//! of BENCHMARKS.md unless `--check` (CI's smaller run), and fails when
//! an event is lost or duplicated, a stream is reset, a client waits too
//! long, or the drain misses its target.

use std::path::Path;
use std::time::Duration;

use sse_conformance::rolling::{self, DEFAULT_DRAIN, Disruption, Outcome, Plan};

const BEGIN: &str =
    "<!-- rolling:begin (made by `cargo xtask rolling-restart`; edits are overwritten) -->";
const END: &str = "<!-- rolling:end -->";
/// The example servers' `retry`: no client may wait longer than it plus
/// a second for its next stream.
const RETRY: Duration = Duration::from_secs(3);

/// The options of `cargo xtask rolling-restart`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RollingOptions {
    /// Streams, each on a topic of its own.
    #[arg(long, default_value_t = 3000)]
    streams: usize,
    /// Publishes a second through nginx, over all topics.
    #[arg(long, default_value_t = 400)]
    publishes: u32,
    /// Only these servers (default: all five).
    #[arg(long = "server")]
    servers: Vec<String>,
    /// Check the figures without writing BENCHMARKS.md, and without the
    /// SIGKILL run, which `cargo test` makes (CI's run).
    #[arg(long)]
    check: bool,
}

impl RollingOptions {
    /// The servers to run: those named, else all five.
    pub(crate) fn frameworks(&self) -> Vec<&str> {
        if self.servers.is_empty() {
            crate::workspace::FRAMEWORKS.to_vec()
        } else {
            self.servers.iter().map(String::as_str).collect()
        }
    }
}

pub(crate) fn run(
    root: &Path,
    frameworks: &[&str],
    options: &RollingOptions,
) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for framework in frameworks {
        let binary = crate::target_dir::dir(root).join("release").join(framework);
        let mut by_mode = Vec::new();
        let modes = [
            (
                "`--drain-timeout 0s`",
                Disruption::Drain(Some(Duration::ZERO)),
            ),
            ("default drain (8 s)", Disruption::Drain(None)),
            ("SIGKILL", Disruption::Kill),
        ];
        // CI's run leaves the kill to `examples/tests/crash.rs`, which
        // kills every framework's instances under the same load.
        let modes = if options.check {
            &modes[..2]
        } else {
            &modes[..]
        };
        for &(label, disruption) in modes {
            eprintln!("{framework}: {} streams, {label}…", options.streams);
            let plan = Plan {
                streams: options.streams,
                publishes_per_second: options.publishes,
                disruption,
            };
            let outcome = runtime.block_on(rolling::run(root, binary.clone(), framework, &plan))?;
            eprintln!("{framework}, {label}: {outcome:?}");
            by_mode.push((label, disruption, outcome));
        }
        let no_drain_peak = by_mode[0].2.peak_per_second();
        for (label, disruption, outcome) in &by_mode {
            // At CI's few hundred streams a second's count is too small a
            // sample to hold the drain's peak against a fifth of the no-drain
            // one; the full run (3,000 streams) checks that.
            let compare = (!options.check).then_some(no_drain_peak);
            let problems = problems(outcome, *disruption, compare);
            for problem in &problems {
                failures.push(format!("{framework}, {label}: {problem}"));
            }
            rows.push(row(framework, label, *disruption, outcome, no_drain_peak));
        }
    }
    let section = format!(
        "## Rolling restarts and crashes\n\n\
         Made by `cargo xtask rolling-restart` ({streams} streams, {publishes} publishes a \
         second): for each release example server, three instances on a private \
         `redis-server` behind nginx (`examples/deploy/nginx-redis.conf`), {streams} clients \
         through nginx, each on a topic of its own and reconnecting as `EventSource` does, \
         and publishers writing to every topic through nginx. Each instance in turn is \
         stopped with SIGTERM and started again once it has exited (with `--drain-timeout \
         0s`, then with the default of 8 s), then, in a third run, killed with SIGKILL. \
         Lost: events answered `200` that a stream never received; duplicated: received \
         twice; reset: `reset` events; all must be 0. Peak: the most reconnects in one \
         second while one instance's clients moved; even: that instance's moved streams \
         over the drain window. Gap: the longest a client was without a stream \
         (`retry` is 3 s). Target: under the drain, the peak is at most 2× the even rate \
         and below a fifth of the peak without it.\n\n\
         | server | stop | publishes answered 200 / not | lost | duplicated | reset | reconnects moved per instance | peak a second | peak ÷ even | ÷ no-drain peak | longest gap |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n{}\n\n",
        rows.join("\n"),
        streams = options.streams,
        publishes = options.publishes,
    );
    println!("{section}");
    if !options.check {
        crate::generated::splice(&root.join("BENCHMARKS.md"), BEGIN, END, &section)?;
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("rolling restart:\n{}", failures.join("\n")))
    }
}

/// What `outcome` misses of its targets.
fn problems(outcome: &Outcome, disruption: Disruption, no_drain_peak: Option<u64>) -> Vec<String> {
    let mut problems = Vec::new();
    for (what, count) in [
        ("lost", outcome.lost),
        ("duplicated", outcome.duplicated),
        ("reset", outcome.resets),
    ] {
        if count > 0 {
            problems.push(format!("{count} events {what}"));
        }
    }
    if outcome.acked == 0 {
        problems.push("no publish was answered 200".into());
    }
    // Without a drain every client of an instance comes back at once: that
    // storm is what the run without one shows, not a fault of it.
    let longest = RETRY + Duration::from_secs(1);
    let storm = disruption == Disruption::Drain(Some(Duration::ZERO));
    if !storm && outcome.longest_gap > longest {
        problems.push(format!(
            "a client was without a stream for {:?} (at most {longest:?})",
            outcome.longest_gap
        ));
    }
    if disruption == Disruption::Drain(None) {
        let peak = outcome.peak_per_second();
        if let Some(ratio) = outcome.peak_over_even(DEFAULT_DRAIN)
            && ratio > 2.0
        {
            problems.push(format!(
                "peak {peak}/s is {ratio:.2}× the even rate (at most 2×)"
            ));
        }
        if let Some(no_drain_peak) = no_drain_peak
            && peak * 5 >= no_drain_peak
        {
            problems.push(format!(
                "peak {peak}/s is not below a fifth of the no-drain peak ({no_drain_peak}/s)"
            ));
        }
    }
    problems
}

fn row(
    framework: &str,
    label: &str,
    disruption: Disruption,
    outcome: &Outcome,
    no_drain_peak: u64,
) -> String {
    let moved: Vec<String> = outcome
        .restarts
        .iter()
        .map(|r| r.moved.to_string())
        .collect();
    let ratio = match disruption {
        Disruption::Drain(None) => outcome
            .peak_over_even(DEFAULT_DRAIN)
            .map_or("–".into(), |r| format!("{r:.2}")),
        _ => "–".into(),
    };
    let against_no_drain = match disruption {
        Disruption::Drain(None) if no_drain_peak > 0 => {
            format!(
                "{:.2}",
                outcome.peak_per_second() as f64 / no_drain_peak as f64
            )
        }
        _ => "–".into(),
    };
    format!(
        "| {framework} | {label} | {} / {} | {} | {} | {} | {} | {} | {ratio} | {against_no_drain} | {:.2} s |",
        outcome.acked,
        outcome.unanswered,
        outcome.lost,
        outcome.duplicated,
        outcome.resets,
        moved.join(", "),
        outcome.peak_per_second(),
        outcome.longest_gap.as_secs_f64(),
    )
}
