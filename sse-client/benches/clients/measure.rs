//! The measures: the client side of each, and the driver that runs every
//! client in processes of its own and prints the table.

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::libs::{Clients, Lib, Seen};
use crate::{FAST_EVENTS, STREAMS};

/// How long any one measure may take in a client process.
const LIMIT: Duration = Duration::from_secs(120);
/// How long the restarted server of the storm counts connects.
const STORM_WINDOW_S: u64 = 15;

// ---- the client processes ------------------------------------------------

/// Runs `measure` with `lib` against `url`; prints `result …`.
pub(crate) async fn client(lib: Lib, measure: &str, url: &str) {
    let clients = Clients::new();
    match measure {
        "fast" => fast(&clients, lib, url).await,
        "idle" => {
            let before = rss();
            let firsts = open_many(&clients, lib, url).await;
            let count = wait_for(&firsts, 1, STREAMS).await;
            let after = rss();
            println!("result {count} {}", after.saturating_sub(before));
        }
        "storm" => {
            let firsts = open_many(&clients, lib, url).await;
            let count = wait_for(&firsts, 1, STREAMS).await;
            println!("ready {count}");
            let back = wait_for(&firsts, 2, STREAMS).await;
            println!("result {back}");
        }
        other => panic!("no measure {other}"),
    }
}

async fn fast(clients: &Clients, lib: Lib, url: &str) {
    let cpu_before = cpu_ns();
    let started = Instant::now();
    let mut stream = clients.open(lib, url);
    let mut events = 0;
    while events < FAST_EVENTS {
        match tokio::time::timeout(LIMIT, stream.next()).await {
            Ok(Some(Seen::Message(len))) if len > 0 => events += 1,
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    let wall = started.elapsed().as_nanos();
    let cpu = cpu_ns().saturating_sub(cpu_before);
    println!("result {events} {wall} {cpu}");
}

/// Per stream, how many events it received so far.
type Counts = std::sync::Arc<Vec<std::sync::atomic::AtomicU32>>;

/// Opens [`STREAMS`] streams, a task each, in waves of 1,000 so that
/// the listen queue never overflows.
async fn open_many(clients: &Clients, lib: Lib, url: &str) -> Counts {
    let counts: Counts = std::sync::Arc::new((0..STREAMS).map(|_| 0.into()).collect());
    for wave in 0..STREAMS.div_ceil(1000) {
        let range = wave * 1000..((wave + 1) * 1000).min(STREAMS);
        for index in range {
            let mut stream = clients.open(lib, url);
            let counts = counts.clone();
            tokio::spawn(async move {
                while let Some(seen) = stream.next().await {
                    if let Seen::Message(len) = seen
                        && len > 0
                    {
                        counts[index].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
        wait_for(&counts, 1, ((wave + 1) * 1000).min(STREAMS)).await;
    }
    counts
}

/// Waits until `target` streams received at least `events` events, or
/// [`LIMIT`]; how many did.
async fn wait_for(counts: &Counts, events: u32, target: usize) -> usize {
    let deadline = Instant::now() + LIMIT;
    loop {
        let done = counts
            .iter()
            .filter(|count| count.load(std::sync::atomic::Ordering::Relaxed) >= events)
            .count();
        if done >= target || Instant::now() > deadline {
            return done;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The process's CPU time, user and system, in nanoseconds.
fn cpu_ns() -> u128 {
    let time = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    u128::try_from(time.tv_sec).unwrap_or(0) * 1_000_000_000
        + u128::try_from(time.tv_nsec).unwrap_or(0)
}

/// The process's resident memory, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

// ---- the driver ----------------------------------------------------------

/// A child process of this bench, killed when dropped, and its stdout.
struct Process {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Process {
    fn start(args: &[&str]) -> Self {
        let exe = std::env::current_exe().expect("the bench's own path");
        let mut child = Command::new(exe)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the bench starts itself");
        let stdout = child.stdout.take().expect("piped");
        Self {
            child,
            lines: BufReader::new(stdout).lines(),
        }
    }

    /// The words of the next line that starts with `tag`.
    fn line(&mut self, tag: &str) -> Vec<String> {
        for line in self.lines.by_ref() {
            let line = line.unwrap_or_default();
            if let Some(rest) = line.strip_prefix(tag) {
                return rest.split_whitespace().map(str::to_owned).collect();
            }
        }
        panic!("the process ended before saying {tag:?}");
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

fn server(port: u16, mode: &str, report_s: u64) -> (Process, u16) {
    let mut server = Process::start(&["serve", &port.to_string(), mode, &report_s.to_string()]);
    let port = server.line("listening")[0].parse().expect("a port");
    (server, port)
}

fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/events")
}

fn number(words: &[String], index: usize) -> f64 {
    words
        .get(index)
        .and_then(|w| w.parse().ok())
        .unwrap_or(f64::NAN)
}

/// One fast stream: (events per second, CPU ns per event).
fn run_fast(lib: Lib) -> (f64, f64) {
    let (_server, port) = server(0, "fast", 3600);
    let mut client = Process::start(&["client", lib.arg(), "fast", &url(port)]);
    let result = client.line("result");
    let (events, wall, cpu) = (number(&result, 0), number(&result, 1), number(&result, 2));
    assert_eq!(
        events,
        FAST_EVENTS as f64,
        "{} got {events} events",
        lib.name()
    );
    (events / (wall / 1e9), cpu / events)
}

/// 10,000 idle streams: KiB per stream.
fn run_idle(lib: Lib) -> f64 {
    let (_server, port) = server(0, "idle", 3600);
    let mut client = Process::start(&["client", lib.arg(), "idle", &url(port)]);
    let result = client.line("result");
    let streams = number(&result, 0);
    assert_eq!(
        streams,
        STREAMS as f64,
        "{} opened {streams} streams",
        lib.name()
    );
    number(&result, 1) / streams / 1024.0
}

/// What a storm showed.
struct Storm {
    peak_per_100ms: f64,
    /// Seconds from the restart until 99% of the streams had reconnected.
    p99_back_s: f64,
    back: f64,
}

/// 10,000 streams, then the server restarted on the same port.
fn run_storm(lib: Lib) -> Storm {
    let (mut first, port) = server(0, "idle", 3600);
    let mut client = Process::start(&["client", lib.arg(), "storm", &url(port)]);
    let ready = number(&client.line("ready"), 0);
    assert_eq!(
        ready,
        STREAMS as f64,
        "{} opened {ready} streams",
        lib.name()
    );
    first.kill();
    let (mut second, _) = server(port, "idle", STORM_WINDOW_S);
    let counts: Vec<f64> = second
        .line("accepts")
        .iter()
        .map(|c| c.parse().unwrap_or(0.0))
        .collect();
    let back = number(&client.line("result"), 0);
    let total: f64 = counts.iter().sum();
    let mut seen = 0.0;
    let p99_bucket = counts
        .iter()
        .position(|count| {
            seen += count;
            seen >= total * 0.99
        })
        .unwrap_or(counts.len());
    Storm {
        peak_per_100ms: counts.iter().copied().fold(0.0, f64::max),
        p99_back_s: (p99_bucket + 1) as f64 / 10.0,
        back,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs every measure with every client, `repeats` times; prints the table.
pub(crate) fn all(repeats: usize) {
    let mut rows: Vec<(String, Vec<f64>)> = Vec::new();
    let mut fast_rate = Vec::new();
    let mut fast_cpu = Vec::new();
    let mut idle = Vec::new();
    let mut peak = Vec::new();
    let mut back_s = Vec::new();
    let mut back = Vec::new();
    for lib in Lib::ALL {
        eprintln!("clients bench: {}", lib.name());
        let runs: Vec<(f64, f64)> = (0..repeats).map(|_| run_fast(lib)).collect();
        fast_rate.push(median(runs.iter().map(|r| r.0).collect()));
        fast_cpu.push(median(runs.iter().map(|r| r.1).collect()));
        idle.push(median((0..repeats).map(|_| run_idle(lib)).collect()));
        let storms: Vec<Storm> = (0..repeats).map(|_| run_storm(lib)).collect();
        peak.push(median(storms.iter().map(|s| s.peak_per_100ms).collect()));
        back_s.push(median(storms.iter().map(|s| s.p99_back_s).collect()));
        back.push(median(storms.iter().map(|s| s.back).collect()));
    }
    rows.push(("one fast stream: events/s".into(), fast_rate));
    rows.push((
        "one fast stream: client CPU per event (ns)".into(),
        fast_cpu,
    ));
    rows.push((format!("{STREAMS} idle streams: KiB per stream"), idle));
    rows.push(("storm: peak connects per 100 ms".into(), peak));
    rows.push(("storm: seconds until 99% are back".into(), back_s));
    rows.push((format!("storm: streams back of {STREAMS}"), back));
    println!(
        "| measure (median of {repeats}) | {} |",
        Lib::ALL.map(Lib::name).join(" | ")
    );
    println!("|---|---|---|---|");
    for (name, values) in rows {
        let ours = values[0];
        let cells: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if i == 0 {
                    format!("{v:.1}")
                } else {
                    format!("{v:.1} ({:.2}×)", v / ours)
                }
            })
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
}
