//! The socket benchmarks of `cargo xtask bench`: every example server, the
//! axum baseline and nginx with nchan under the same load over real TCP,
//! beside the `write(2)` floor; see `BENCHMARKS.md` for what each figure
//! means.
//!
//! Each server runs pinned to CPU 0 and this process to CPU 1; every
//! scenario starts a fresh server and is repeated, and the report quotes
//! medians. Nothing here asserts a timing: it measures and writes.

mod body;
mod floor;
mod load;
mod plan;
mod procfs;
mod report;
mod servers;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub(crate) use floor::Receiver;
use load::{Measured, Publishing, Subscribers};
use plan::{PERCENTILES, Sample, median, pin_to_cpu};
pub(crate) use plan::{Plan, Scenario};
use servers::{Contender, Running};

/// Every server, in the report's column order.
const CONTENDERS: [Contender; 7] = [
    Contender::Example("axum"),
    Contender::Example("actix"),
    Contender::Example("warp"),
    Contender::Example("rocket"),
    Contender::Example("poem"),
    Contender::Baseline,
    Contender::Nchan,
];

/// Runs the plan and writes the report: into `BENCHMARKS.md` and `docs/`
/// for a full run, under `target/` for a quick or one-scenario one.
pub(crate) fn run(root: &Path, plan: &Plan) -> Result<(), String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        return Err("the socket benchmark pins the server and the load to two CPUs".into());
    }
    build(root)?;
    if let Some(dir) = &plan.examples_dir {
        eprintln!("sockets: the example servers of {}", dir.display());
    }
    pin_to_cpu(1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("no runtime: {e}"))?;
    let mut columns: Vec<(Contender, Vec<Sample>, Vec<Vec<f64>>)> = CONTENDERS
        .into_iter()
        .filter(|c| plan.only.is_empty() || plan.only.iter().any(|key| key == c.key()))
        .map(|contender| (contender, Vec::new(), Vec::new()))
        .collect();
    // Repeats go round the servers rather than one server at a time, and
    // each round ends with the floor, so that a slow drift of the machine
    // (its neighbours, its hypervisor) falls on every column alike
    // instead of on whichever ran then.
    let receivers = if plan.only_scenario.is_some() {
        Vec::new()
    } else {
        vec![Receiver::BusyPoll, Receiver::Epoll]
    };
    let mut floor_runs: BTreeMap<(Receiver, usize), Vec<f64>> = BTreeMap::new();
    for repeat in 1..=plan.repeats {
        for (contender, samples, curves) in &mut columns {
            eprintln!("sockets: {} ({repeat}/{})…", contender.name(), plan.repeats);
            let local = tokio::task::LocalSet::new();
            let (sample, curve) = local.block_on(&runtime, measure(*contender, root, plan))?;
            eprintln!("  {sample:?}");
            samples.push(sample);
            curves.push(curve);
        }
        if !receivers.is_empty() {
            eprintln!("sockets: the write(2) floor ({repeat}/{})…", plan.repeats);
        }
        for &receiver in &receivers {
            for per_write in [1, 4, 16] {
                let spent =
                    floor::probe(plan.floor_sockets, plan.floor_rounds, per_write, receiver)?;
                floor_runs
                    .entry((receiver, per_write))
                    .or_default()
                    .push(spent.as_secs_f64() * 1e6);
            }
        }
    }
    let floor = floor_runs
        .into_iter()
        .map(|(key, mut runs)| (key, median(&mut runs)))
        .collect();
    let results = report::Results::new(plan, columns, floor, commit(root));
    let (markdown_path, data_dir) = if plan.quick || plan.only_scenario.is_some() {
        let dir = crate::target_dir::dir(root).join("bench-sockets");
        (dir.join("BENCHMARKS-sockets.md"), dir)
    } else {
        (root.join("BENCHMARKS.md"), root.join("docs/benchmarks"))
    };
    std::fs::create_dir_all(&data_dir).map_err(|e| e.to_string())?;
    let svg = data_dir.join("sockets-latency.svg");
    report::chart(&results, &svg)?;
    let json = data_dir.join("sockets.json");
    std::fs::write(&json, results.json()).map_err(|e| format!("{}: {e}", json.display()))?;
    let section = results.markdown();
    println!("{section}");
    report::splice(&markdown_path, &section)?;
    eprintln!(
        "written: {}, {}, {}",
        markdown_path.display(),
        json.display(),
        svg.display()
    );
    Ok(())
}

/// The release builds of every Rust server.
fn build(root: &Path) -> Result<(), String> {
    crate::system::run(crate::workspace::cargo().current_dir(root).args([
        "build",
        "--release",
        "-p",
        "sse-examples",
        "--bins",
    ]))
}

fn commit(root: &Path) -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|hash| hash.trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

/// One repeat of every scenario against a fresh server each: idle streams
/// then fan-out, saturation, and the most streams the machine allows.
/// The figures, and the fan-out's latency percentiles in ms.
async fn measure(
    contender: Contender,
    root: &Path,
    plan: &Plan,
) -> Result<(Sample, Vec<f64>), String> {
    let mut sample = Sample::new();
    let binaries = crate::target_dir::release(root);
    let examples = plan.examples_dir.as_deref().unwrap_or(&binaries);
    let start = || servers::start(contender, &binaries, examples);
    match plan.only_scenario {
        Some(Scenario::Saturation) => {
            saturate(start()?, plan, &mut sample).await?;
            return Ok((sample, Vec::new()));
        }
        Some(Scenario::PerUser) => {
            if contender.has_topics() {
                per_user(start()?, plan, &mut sample).await?;
            }
            return Ok((sample, Vec::new()));
        }
        None => {}
    }

    // Idle streams, then fan-out to them.
    let server = start()?;
    settle().await;
    let rss_before = procfs::rss_kib(server.pid());
    let subscribers = Subscribers::connect(&server.endpoint, plan.streams).await;
    settle().await;
    let rss_after = procfs::rss_kib(server.pid());
    sample.insert("rss_start_mib".into(), rss_before as f64 / 1024.0);
    sample.insert(
        "connect_s".into(),
        subscribers_connect_time(&subscribers, plan.streams)?,
    );
    sample.insert(
        "kib_per_stream".into(),
        rss_after.saturating_sub(rss_before) as f64 / plan.streams as f64,
    );
    // What holding the streams costs while nothing is published: keep-
    // alives are due only after 30 s of silence, so this is what a
    // server spends on idle streams by itself (probes, timers).
    let cpu = procfs::cpu_time(server.pid());
    tokio::time::sleep(plan.idle_time).await;
    sample.insert(
        "idle_cpu_pct".into(),
        procfs::cpu_time(server.pid())
            .saturating_sub(cpu)
            .as_secs_f64()
            * 100.0
            / plan.idle_time.as_secs_f64(),
    );
    let rate = Publishing::Rate {
        per_second: plan.fan_out_rate,
        duration: plan.fan_out_time,
    };
    let (fan_out, spent) = publish_timed(server.pid(), subscribers, rate).await;
    record(&mut sample, "fan_out", &fan_out, spent);
    let curve = PERCENTILES
        .iter()
        .map(|(q, _)| fan_out.latency.value_at_percentile(*q) as f64 / 1000.0)
        .collect();
    drop(server);

    if contender.has_topics() {
        per_user(start()?, plan, &mut sample).await?;
    }
    saturate(start()?, plan, &mut sample).await?;

    // As many streams as one process may hold here.
    if let Some(many) = plan.many_streams {
        let server = start()?;
        settle().await;
        let rss_before = procfs::rss_kib(server.pid());
        let subscribers = Subscribers::connect(&server.endpoint, many).await;
        sample.insert("many_connect_s".into(), subscribers.connect_time_s());
        sample.insert("many_open".into(), subscribers.open() as f64);
        if let Some(failure) = subscribers.first_failure() {
            eprintln!("  {many} streams: the first that failed: {failure}");
        }
        settle().await;
        sample.insert(
            "many_kib_per_stream".into(),
            procfs::rss_kib(server.pid()).saturating_sub(rss_before) as f64 / many as f64,
        );
        let check = subscribers
            .publish(Publishing::Rate {
                per_second: 10,
                duration: Duration::from_millis(300),
            })
            .await;
        sample.insert("many_lost".into(), check.lost as f64);
        drop(server);
    }
    Ok((sample, curve))
}

/// A topic per user: as many topics as streams, each event published to
/// one stream's topic. What an idle stream costs dominates here, as in
/// per-user notification apps. Only for servers with topics.
async fn per_user(server: Running, plan: &Plan, sample: &mut Sample) -> Result<(), String> {
    let endpoint = server.endpoint.spread_over(plan.streams);
    let subscribers = Subscribers::connect(&endpoint, plan.streams).await;
    subscribers_connect_time(&subscribers, plan.streams)?;
    settle().await;
    let targeted = Publishing::Rate {
        per_second: plan.per_user_rate,
        duration: plan.fan_out_time,
    };
    let sleeps = procfs::sleeps(server.pid());
    let (measured, spent) = publish_timed(server.pid(), subscribers, targeted).await;
    record(sample, "per_user", &measured, spent);
    // Every server here makes the same few system calls per event; how
    // often it sleeps and is woken again is what sets them apart.
    sample.insert(
        "per_user_sleeps".into(),
        procfs::sleeps(server.pid()).saturating_sub(sleeps) as f64
            / measured.published.max(1) as f64,
    );
    Ok(())
}

/// Saturation: a few subscribers, publishers as fast as answered.
async fn saturate(server: Running, plan: &Plan, sample: &mut Sample) -> Result<(), String> {
    let subscribers = Subscribers::connect(&server.endpoint, plan.flood_subscribers).await;
    subscribers_connect_time(&subscribers, plan.flood_subscribers)?;
    let flood = Publishing::Flood {
        connections: plan.flood_publishers,
        duration: plan.flood_time,
    };
    let (flood, spent) = publish_timed(server.pid(), subscribers, flood).await;
    record(sample, "flood", &flood, spent);
    Ok(())
}

/// Publishes as `publishing` says: what the clients measured, and the CPU
/// time the server (`pid`) spent meanwhile.
async fn publish_timed(
    pid: u32,
    subscribers: Subscribers,
    publishing: Publishing,
) -> (Measured, Duration) {
    let cpu = procfs::cpu_time(pid);
    let measured = subscribers.publish(publishing).await;
    (measured, procfs::cpu_time(pid).saturating_sub(cpu))
}

/// Time for the server to finish what connecting or publishing started
/// (allocations, freed buffers) before memory is read.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

fn subscribers_connect_time(subscribers: &Subscribers, wanted: usize) -> Result<f64, String> {
    if subscribers.open() < wanted {
        return Err(format!(
            "only {} of {wanted} streams opened: {}",
            subscribers.open(),
            subscribers.first_failure().unwrap_or("(no error)")
        ));
    }
    Ok(subscribers.connect_time_s())
}

fn record(sample: &mut Sample, scenario: &'static str, measured: &Measured, cpu: Duration) {
    let key = |name: &str| format!("{scenario}_{name}");
    let deliveries = measured.deliveries.max(1) as f64;
    sample.insert(key("cpu_us"), cpu.as_secs_f64() * 1e6 / deliveries);
    sample.insert(
        key("rate"),
        measured.deliveries as f64 / measured.window.as_secs_f64().max(1e-9),
    );
    for (name, q) in [("p50_ms", 50.0), ("p99_ms", 99.0), ("max_ms", 100.0)] {
        sample.insert(
            key(name),
            measured.latency.value_at_percentile(q) as f64 / 1000.0,
        );
    }
    sample.insert(key("published"), measured.published as f64);
    sample.insert(key("failed_publishes"), measured.failed_publishes as f64);
    sample.insert(key("lost"), measured.lost as f64);
    sample.insert(key("duplicated"), measured.duplicated as f64);
    sample.insert(key("ended"), measured.ended_early as f64);
}
