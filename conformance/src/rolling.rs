//! Instances restarted or killed under load, as a deployment meets them:
//! three instances of one framework's server on a private `redis-server`,
//! behind nginx (`examples/deploy/nginx-redis.conf`, one upstream with the
//! three). Streams follow a topic each through nginx, reconnecting as
//! `EventSource` does (after the last `retry:`, with `Last-Event-ID`),
//! while publishers write to every topic through nginx. Then each
//! instance in turn is stopped (SIGTERM: a drain) or killed (SIGKILL) and
//! started again on its port.
//!
//! What it measures: every publish answered `200` must reach its topic's
//! stream exactly once, and one that got no answer at most once; no
//! stream may be told `reset`; and how the reconnects of each stopped
//! instance's clients arrive at the others (the peak rate of new streams a
//! second) and the longest time a client was without a stream.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use sse_hub::decode::{Decoded, Decoder};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::client::{Error, ensure, install_crypto};
use crate::launch::{Launch, Running, Target, start_nginx};
use crate::redis_server::RedisServer;

/// What is done to each instance in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disruption {
    /// SIGTERM with this `--drain-timeout` (`None`: the server's default,
    /// [`DEFAULT_DRAIN`]).
    Drain(Option<Duration>),
    /// SIGKILL: the instance stops without a word.
    Kill,
}

/// The example servers' default drain window, which [`Disruption::Drain`]
/// with `None` leaves them.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(8);
/// The example servers' default `retry`.
const RETRY: Duration = Duration::from_secs(3);
/// Instances behind the proxy.
const INSTANCES: usize = 3;

/// One run's settings.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Streams, each on a topic of its own (`user-N`).
    pub streams: usize,
    /// Publishes a second, over all topics, through nginx.
    pub publishes_per_second: u32,
    /// What each instance goes through in turn.
    pub disruption: Disruption,
}

/// The figures of one run.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Streams, as planned.
    pub streams: usize,
    /// Publishes answered `200`.
    pub acked: u64,
    /// Publishes with no answer, or another status.
    pub unanswered: u64,
    /// Acknowledged events a stream never received.
    pub lost: u64,
    /// Events a stream received more than once.
    pub duplicated: u64,
    /// `reset` events received.
    pub resets: u64,
    /// Stream requests answered with something else than `200`, or failed.
    pub refused: u64,
    /// For each disrupted instance: the streams that reconnected within
    /// its window, and the most of them in one second.
    pub restarts: Vec<Reconnects>,
    /// The longest time a client was without a stream.
    pub longest_gap: Duration,
    /// Clients that lost an event, and of those, the ones that received
    /// nothing at all.
    pub clients_losing: usize,
    /// Clients that lost an event and received none at all.
    pub clients_silent: usize,
    /// A few of the lost events, as (topic, seq).
    pub lost_sample: Vec<(usize, u64)>,
}

/// How one disrupted instance's clients came back.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reconnects {
    /// Streams opened within the instance's window.
    pub moved: u64,
    /// The most of them opened within one second.
    pub peak_per_second: u64,
}

impl Outcome {
    /// The highest of the per-instance peaks.
    pub fn peak_per_second(&self) -> u64 {
        self.restarts
            .iter()
            .map(|r| r.peak_per_second)
            .max()
            .unwrap_or(0)
    }

    /// The restart with the highest peak, as its peak over the even rate
    /// of its moved streams over `window`.
    pub fn peak_over_even(&self, window: Duration) -> Option<f64> {
        let worst = self.restarts.iter().max_by_key(|r| r.peak_per_second)?;
        let even = worst.moved as f64 / window.as_secs_f64();
        (even > 0.0).then(|| worst.peak_per_second as f64 / even)
    }
}

/// What one client saw.
#[derive(Debug, Default)]
struct ClientLog {
    /// Sequence numbers received, and how often.
    received: HashMap<u64, u32>,
    resets: u64,
    refused: u64,
    longest_gap: Duration,
}

/// Runs `plan` against the release binary of `framework`.
///
/// # Errors
///
/// A server, Redis or nginx that cannot start, or an instance that does
/// not exit or come back in time.
pub async fn run(
    root: &Path,
    binary: PathBuf,
    framework: &str,
    plan: &Plan,
) -> Result<Outcome, Error> {
    install_crypto();
    let redis = RedisServer::start("rolling restart")
        .ok_or("redis-server is not installed (apt-get install redis-server)")?;
    let url = redis.url();
    let drain = match plan.disruption {
        Disruption::Drain(Some(window)) => Some(format!("{}ms", window.as_millis())),
        Disruption::Drain(None) | Disruption::Kill => None,
    };
    let mut options = vec!["--redis", url.as_str()];
    if let Some(drain) = &drain {
        options.extend(["--drain-timeout", drain]);
    }
    let target = Target {
        framework: framework.to_owned(),
        launch: Launch::Process(binary),
        nginx_config: None,
        options: Vec::new(),
    };
    let mut instances: Vec<Running> = Vec::new();
    for _ in 0..INSTANCES {
        instances.push(target.start(&options).await?);
    }
    let addrs: Vec<String> = instances
        .iter()
        .map(|i| i.base.trim_start_matches("http://").to_owned())
        .collect();
    let template = proxy_template(root, plan.streams)?;
    let upstreams: Vec<&str> = addrs.iter().map(String::as_str).collect();
    let (_proxy, base) = start_nginx(&template.path, &upstreams).await?;

    let (stop, stopped) = watch::channel(false);
    let opens = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let streams_client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| e.to_string())?;
    let mut clients = Vec::with_capacity(plan.streams);
    for n in 0..plan.streams {
        let log = Arc::new(Mutex::new(ClientLog::default()));
        let task = tokio::spawn(follow(
            streams_client.clone(),
            format!("{base}/events?topic=user-{n}"),
            Arc::clone(&log),
            Arc::clone(&opens),
            stopped.clone(),
        ));
        clients.push((log, task));
    }
    let connected = async {
        while lock(&opens).len() < plan.streams {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), connected)
        .await
        .map_err(|_| {
            format!(
                "{} of {} streams opened within 30 s",
                lock(&opens).len(),
                plan.streams
            )
        })?;

    let publishes = Arc::new(Mutex::new(Vec::<(usize, u64, bool)>::new()));
    let seq = Arc::new(AtomicU64::new(1));
    if plan.disruption == Disruption::Kill {
        // A client resumes from the last id it was sent, and `connected`
        // carries none: a client that has received nothing has nothing to
        // resume from when its instance dies without a word (a drain ends
        // each stream with the id instead). So every client first gets an
        // event of its own.
        warm_up(&base, plan.streams, &seq, &publishes).await?;
        let everyone = async {
            while clients.iter().any(|(log, _)| lock(log).received.is_empty()) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), everyone)
            .await
            .map_err(|_| "not every client received its first event within 30 s")?;
    }
    let (publishing, published) = watch::channel(false);
    let publishers: Vec<_> = (0..8)
        .map(|_| {
            tokio::spawn(publish_loop(
                base.clone(),
                plan.streams,
                plan.publishes_per_second / 8,
                Arc::clone(&seq),
                Arc::clone(&publishes),
                published.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut outcome = Outcome {
        streams: plan.streams,
        ..Outcome::default()
    };
    let window = match plan.disruption {
        Disruption::Drain(Some(window)) => window,
        Disruption::Drain(None) => DEFAULT_DRAIN,
        Disruption::Kill => Duration::ZERO,
    };
    for (instance, addr) in instances.iter_mut().zip(&addrs) {
        let signalled = Instant::now();
        match plan.disruption {
            Disruption::Drain(_) => instance.terminate()?,
            Disruption::Kill => instance.kill()?,
        }
        let code = instance
            .exit_code_within(window + Duration::from_secs(5))
            .await?;
        if plan.disruption != Disruption::Kill {
            ensure(code == Some(0), || {
                format!("{addr} exited with {code:?} after its drain")
            })?;
        }
        *instance = target.start_at(addr, &options).await?;
        // Until the last of its clients could be back: the window, their
        // retry, and a second of slack.
        let settled = signalled + window + RETRY + Duration::from_secs(2);
        tokio::time::sleep_until(settled).await;
        let in_window: Vec<Instant> = lock(&opens)
            .iter()
            .copied()
            .filter(|at| *at >= signalled && *at < settled)
            .collect();
        let mut per_second: HashMap<u64, u64> = HashMap::new();
        for at in &in_window {
            *per_second.entry((*at - signalled).as_secs()).or_default() += 1;
        }
        outcome.restarts.push(Reconnects {
            moved: in_window.len() as u64,
            peak_per_second: per_second.values().copied().max().unwrap_or(0),
        });
    }

    let _ = publishing.send(true);
    for publisher in publishers {
        let _ = publisher.await;
    }
    let publishes = std::mem::take(&mut *lock(&publishes));
    // Every acknowledged event reaches its stream, given a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let missing = publishes
            .iter()
            .filter(|(_, _, acked)| *acked)
            .filter(|(topic, seq, _)| !lock(&clients[*topic].0).received.contains_key(seq))
            .count();
        if missing == 0 || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(true);
    for (_, task) in &clients {
        task.abort();
    }
    for (topic, seq, acked) in &publishes {
        let count = lock(&clients[*topic].0)
            .received
            .get(seq)
            .copied()
            .unwrap_or(0);
        if *acked {
            outcome.acked += 1;
            outcome.lost += u64::from(count == 0);
            if count == 0 && outcome.lost_sample.len() < 10 {
                outcome.lost_sample.push((*topic, *seq));
            }
        } else {
            outcome.unanswered += 1;
        }
        outcome.duplicated += u64::from(count.saturating_sub(1));
    }
    let mut losing: std::collections::HashSet<usize> = std::collections::HashSet::new();
    for (topic, seq, acked) in &publishes {
        if *acked && !lock(&clients[*topic].0).received.contains_key(seq) {
            losing.insert(*topic);
        }
    }
    outcome.clients_losing = losing.len();
    outcome.clients_silent = losing
        .iter()
        .filter(|topic| lock(&clients[**topic].0).received.is_empty())
        .count();
    for (log, _) in &clients {
        let log = lock(log);
        outcome.resets += log.resets;
        outcome.refused += log.refused;
        outcome.longest_gap = outcome.longest_gap.max(log.longest_gap);
    }
    drop(redis);
    Ok(outcome)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `examples/deploy/nginx-redis.conf` with room for `streams` clients
/// from one address (its `limit_conn` is per client address, and every
/// client here is 127.0.0.1), in a file of its own.
struct Template {
    path: PathBuf,
}

impl Drop for Template {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn proxy_template(root: &Path, streams: usize) -> Result<Template, Error> {
    let source = root.join("examples/deploy/nginx-redis.conf");
    let text = std::fs::read_to_string(&source)
        .map_err(|e| format!("cannot read {}: {e}", source.display()))?;
    let room = streams * 2 + 1024;
    let replaced = text
        .replace(
            "limit_conn per_client 256;",
            &format!("limit_conn per_client {room};"),
        )
        .replace(
            "worker_connections 4096;",
            &format!("worker_connections {};", room * 2),
        )
        .replace(
            "worker_processes 1;",
            &format!(
                "worker_processes 1;\nworker_rlimit_nofile {};",
                room * 2 + 64
            ),
        );
    ensure(replaced != text, || {
        "the nginx template changed its limits".into()
    })?;
    let path =
        std::env::temp_dir().join(format!("sse-rolling-{}-{streams}.conf", std::process::id()));
    std::fs::write(&path, replaced).map_err(|e| e.to_string())?;
    Ok(Template { path })
}

/// One client, as `EventSource`: opens the stream, reads it, and after
/// its end waits the last `retry:` and reconnects with `Last-Event-ID`.
async fn follow(
    client: reqwest::Client,
    url: String,
    log: Arc<Mutex<ClientLog>>,
    opens: Arc<Mutex<Vec<Instant>>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut retry = RETRY;
    let mut last_id: Option<String> = None;
    let mut ended: Option<Instant> = None;
    while !*stop.borrow() {
        let mut request = client.get(&url);
        if let Some(id) = &last_id {
            request = request.header("last-event-id", id.as_str());
        }
        let response = tokio::time::timeout(Duration::from_secs(10), request.send()).await;
        match response {
            Ok(Ok(response)) if response.status() == 200 => {
                let now = Instant::now();
                lock(&opens).push(now);
                if let Some(ended) = ended {
                    let mut log = lock(&log);
                    log.longest_gap = log.longest_gap.max(now - ended);
                }
                let mut body = response.bytes_stream();
                let mut decoder = Decoder::new();
                loop {
                    let chunk = tokio::select! {
                        chunk = body.next() => chunk,
                        _ = stop.changed() => return,
                    };
                    let Some(Ok(chunk)) = chunk else { break };
                    decoder.feed(&chunk);
                    while let Some(item) = decoder.next_item() {
                        match item {
                            Ok(Decoded::Retry(after)) => retry = after,
                            Ok(Decoded::Event(event)) => match event.event() {
                                "connected" => {}
                                "reset" => lock(&log).resets += 1,
                                _ => {
                                    if let Ok(seq) = event.data().parse::<u64>() {
                                        *lock(&log).received.entry(seq).or_default() += 1;
                                    }
                                }
                            },
                            _ => {}
                        }
                    }
                    // As EventSource: the last id the stream set, by an
                    // event or by an `id:` alone.
                    if !decoder.last_event_id().is_empty() {
                        last_id = Some(decoder.last_event_id().to_owned());
                    }
                }
                ended = Some(Instant::now());
            }
            _ => lock(&log).refused += 1,
        }
        tokio::select! {
            () = tokio::time::sleep(retry) => {}
            _ = stop.changed() => return,
        }
    }
}

/// One event to each of `topics` topics, eight at a time.
async fn warm_up(
    base: &str,
    topics: usize,
    seq: &AtomicU64,
    publishes: &Mutex<Vec<(usize, u64, bool)>>,
) -> Result<(), Error> {
    let client = reqwest::Client::new();
    let sends = futures::stream::iter(0..topics).map(|topic| {
        let seq = seq.fetch_add(1, Ordering::Relaxed);
        let request = client
            .post(format!("{base}/notify?topic=user-{topic}"))
            .header("content-type", "application/json")
            .body(seq.to_string())
            .send();
        async move { (topic, seq, request.await) }
    });
    let mut sends = sends.buffer_unordered(8);
    while let Some((topic, seq, answer)) = sends.next().await {
        let acked = matches!(&answer, Ok(response) if response.status() == 200);
        ensure(acked, || {
            format!("the warm-up publish to user-{topic} failed: {answer:?}")
        })?;
        lock(publishes).push((topic, seq, true));
    }
    Ok(())
}

/// Publishes `per_second` events a second, each to the topic its sequence
/// number picks, recording (topic, seq, answered 200).
async fn publish_loop(
    base: String,
    topics: usize,
    per_second: u32,
    seq: Arc<AtomicU64>,
    publishes: Arc<Mutex<Vec<(usize, u64, bool)>>>,
    mut stop: watch::Receiver<bool>,
) {
    let client = reqwest::Client::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second.max(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let seq = seq.fetch_add(1, Ordering::Relaxed);
        let topic = usize::try_from(seq).unwrap_or(0) % topics.max(1);
        let request = client
            .post(format!("{base}/notify?topic=user-{topic}"))
            .header("content-type", "application/json")
            .body(seq.to_string())
            .send();
        let acked = matches!(
            tokio::time::timeout(Duration::from_secs(10), request).await,
            Ok(Ok(response)) if response.status() == 200
        );
        lock(&publishes).push((topic, seq, acked));
    }
}
