//! The soak run of `cargo xtask bench`: against one release example
//! server, waves of short-lived clients connect, read a few events and
//! leave, again and again, while steady subscribers stay on the same
//! topic and a publisher sends a numbered event every 10 ms. Afterwards
//! the server must be back where it started: `sse_clients` equal to the
//! steady count, open descriptors within 1 %, and every steady subscriber
//! must have received every event exactly once, in order. RSS growth is
//! reported.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use sse_conformance::process::ServerProcess;
use sse_conformance::raw::RawConnection;
use sse_hub_client::{Event, EventSource, Reason};

/// The soak's shape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) churn: usize,
    pub(crate) steady: usize,
    pub(crate) duration: Duration,
    pub(crate) events_per_visit: usize,
}

/// What one soak measured.
#[derive(Debug)]
pub(crate) struct Outcome {
    framework: String,
    visits: u64,
    failed_visits: u64,
    published: u64,
    clients_after: f64,
    files_before: usize,
    files_after: usize,
    rss_before_kib: u64,
    rss_after_kib: u64,
    steady_faults: Vec<String>,
}

impl Outcome {
    /// The measurements that break the soak's promises.
    pub(crate) fn faults(&self, plan: &Plan) -> Vec<String> {
        let mut faults = Vec::new();
        if self.clients_after != plan.steady as f64 {
            faults.push(format!(
                "sse_clients is {} after the soak, not {}",
                self.clients_after, plan.steady
            ));
        }
        let drift = self.files_after.abs_diff(self.files_before);
        if drift * 100 > self.files_before {
            faults.push(format!(
                "open descriptors went from {} to {}, more than 1 %",
                self.files_before, self.files_after
            ));
        }
        if self.failed_visits * 100 > self.visits {
            faults.push(format!(
                "{} of {} short visits failed",
                self.failed_visits, self.visits
            ));
        }
        faults.extend(self.steady_faults.iter().cloned());
        faults
    }

    /// The Markdown table's header.
    pub(crate) fn header() -> &'static str {
        "| framework | short visits (failed) | events published | sse_clients after | \
         descriptors before → after | RSS before → after (growth) | steady subscribers |\n\
         |---|---|---|---|---|---|---|"
    }

    /// This soak as a row of the table.
    pub(crate) fn row(&self) -> String {
        let growth = self.rss_after_kib as f64 - self.rss_before_kib as f64;
        let steady = if self.steady_faults.is_empty() {
            "lost nothing".to_owned()
        } else {
            format!("{} faults", self.steady_faults.len())
        };
        format!(
            "| {} | {} ({}) | {} | {} | {} → {} | {:.1} → {:.1} MiB ({:+.1} MiB) | {steady} |",
            self.framework,
            self.visits,
            self.failed_visits,
            self.published,
            self.clients_after,
            self.files_before,
            self.files_after,
            self.rss_before_kib as f64 / 1024.0,
            self.rss_after_kib as f64 / 1024.0,
            growth / 1024.0,
        )
    }
}

/// The server under soak, killed when dropped.
struct Server {
    process: ServerProcess,
    address: String,
}

impl Server {
    fn start(binary: &Path) -> Result<Self, String> {
        let mut command = Command::new(binary);
        command
            .args(["--addr", "127.0.0.1:0", "--heartbeat", "5s"])
            .env("RUST_LOG", "error")
            .stderr(Stdio::inherit());
        let process = ServerProcess::start(command)?;
        let address = process.address().to_owned();
        Ok(Server { process, address })
    }

    fn open_files(&self) -> usize {
        self.process.open_files()
    }

    fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.process.pid()))
            .ok()
            .and_then(|status| {
                let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
                line.split_whitespace().nth(1)?.parse().ok()
            })
            .unwrap_or(0)
    }

    async fn clients(&self) -> Result<f64, String> {
        let mut connection = RawConnection::connect(&self.address).await?;
        let (_, text) = connection.request("GET", "/metrics", "").await?;
        text.lines()
            .find_map(|line| line.strip_prefix("sse_clients "))
            .and_then(|value| value.trim().parse().ok())
            .ok_or_else(|| "no sse_clients in /metrics".to_owned())
    }

    /// Waits (bounded) until `sse_clients` is `count`; the last value read.
    async fn clients_settle_at(&self, count: usize) -> Result<f64, String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let clients = self.clients().await?;
            if clients == count as f64 || tokio::time::Instant::now() >= deadline {
                return Ok(clients);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The descriptor count once it has held still for half a second
    /// (bounded at 15 s).
    async fn settled_open_files(&self) -> usize {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        let mut last = self.open_files();
        let mut still_since = tokio::time::Instant::now();
        while still_since.elapsed() < Duration::from_millis(500)
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = self.open_files();
            if now != last {
                last = now;
                still_since = tokio::time::Instant::now();
            }
        }
        last
    }
}

/// The sequence numbers of the events a subscriber reads, as they come:
/// an `sse-hub-client` stream that never reconnects, so that a stream
/// that breaks is a fault, as it must be here.
struct Subscription {
    events: EventSource,
}

impl Subscription {
    async fn open(client: &reqwest::Client, address: &str) -> Result<Self, String> {
        let mut events = EventSource::get(format!("http://{address}/events?topic=soak"))
            .client(client.clone())
            .max_retries(Some(0))
            .idle_timeout(None)
            .build()
            .map_err(|e| format!("subscribing: {e}"))?;
        match events.next().await {
            Some(Ok(Event::Opened(_))) => Ok(Self { events }),
            Some(Ok(other)) => Err(format!("subscribing: {other:?}")),
            Some(Err(e)) => Err(format!("subscribing: {e}")),
            None => Err("subscribing: the server answered 204".to_owned()),
        }
    }

    /// The next event's sequence number (control events are skipped);
    /// `None` when the stream ends.
    async fn next_seq(&mut self) -> Result<Option<u64>, String> {
        loop {
            match self.events.next().await {
                Some(Ok(Event::Message(message))) if message.event() == "notification" => {
                    let value: serde_json::Value = message.json().map_err(|e| e.to_string())?;
                    return value["seq"]
                        .as_u64()
                        .map(Some)
                        .ok_or_else(|| format!("no seq in {}", message.data()));
                }
                Some(Ok(Event::Message(_))) => {}
                // With no retries, a connection that ends is the stream's end.
                Some(Err(sse_hub_client::Error::RetriesExhausted {
                    reason: Reason::Ended,
                    ..
                }))
                | None => return Ok(None),
                Some(Err(e)) => return Err(format!("reading: {e}")),
                Some(Ok(other)) => return Err(format!("reading: {other:?}")),
            }
        }
    }
}

/// A steady subscriber: reads until the event numbered `last`, and
/// checks that every number came once, in order. The subscription is
/// handed back open, so that the server is measured with it.
async fn steady(
    mut subscription: Subscription,
    last: Arc<AtomicU64>,
) -> (Subscription, Result<(), String>) {
    let mut previous = 0;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), subscription.next_seq()).await;
        let next = match next {
            Err(_) => return (subscription, Err("no event for 10 s".into())),
            Ok(Err(err)) => return (subscription, Err(err)),
            Ok(Ok(None)) => return (subscription, Err("the stream ended".into())),
            Ok(Ok(Some(next))) => next,
        };
        if next != previous + 1 {
            return (
                subscription,
                Err(format!("event {next} came after {previous}")),
            );
        }
        previous = next;
        if next == last.load(Ordering::Acquire) {
            return (subscription, Ok(()));
        }
    }
}

/// Runs the soak against `binary`.
pub(crate) async fn run(framework: &str, binary: &Path, plan: Plan) -> Result<Outcome, String> {
    let server = Server::start(binary)?;
    let address = server.address.clone();
    // One connection per stream, and none kept idle.
    let client = sse_hub_client::client_builder()
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| e.to_string())?;
    let mut subscriptions = Vec::with_capacity(plan.steady);
    for _ in 0..plan.steady {
        subscriptions.push(Subscription::open(&client, &address).await?);
    }
    // Once every steady subscriber has read an event, they are all live.
    let mut publisher = RawConnection::connect(&address).await?;
    let mut seq = 0_u64;
    let mut publish = async |seq: u64| -> Result<(), String> {
        let (status, body) = publisher
            .request("POST", "/notify?topic=soak", &format!("{{\"seq\":{seq}}}"))
            .await?;
        if status == 200 {
            Ok(())
        } else {
            Err(format!("publish: {status} {body}"))
        }
    };
    publish(seq).await?;
    for subscription in &mut subscriptions {
        let first = tokio::time::timeout(Duration::from_secs(10), subscription.next_seq())
            .await
            .map_err(|_| "a steady subscriber got no first event")??;
        if first != Some(0) {
            return Err(format!("a steady subscriber's first event: {first:?}"));
        }
    }
    let last = Arc::new(AtomicU64::new(u64::MAX));
    let steady_tasks: Vec<_> = subscriptions
        .into_iter()
        .map(|subscription| tokio::spawn(steady(subscription, Arc::clone(&last))))
        .collect();
    let files_before = server.settled_open_files().await;
    let rss_before_kib = server.rss_kib();

    let visits = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let ends = tokio::time::Instant::now() + plan.duration;
    let churn = {
        let (client, address, visits, failed) = (
            client.clone(),
            address.clone(),
            Arc::clone(&visits),
            Arc::clone(&failed),
        );
        tokio::spawn(async move {
            while tokio::time::Instant::now() < ends {
                let wave: Vec<_> = (0..plan.churn)
                    .map(|_| {
                        let (client, address) = (client.clone(), address.clone());
                        tokio::spawn(async move {
                            let visit = async {
                                let mut subscription =
                                    Subscription::open(&client, &address).await?;
                                for _ in 0..plan.events_per_visit {
                                    subscription.next_seq().await?.ok_or("ended early")?;
                                }
                                Ok::<(), String>(())
                            };
                            tokio::time::timeout(Duration::from_secs(10), visit).await
                        })
                    })
                    .collect();
                for visit in wave {
                    visits.fetch_add(1, Ordering::Relaxed);
                    let fault = match visit.await {
                        Ok(Ok(Ok(()))) => continue,
                        Ok(Ok(Err(fault))) => fault,
                        Ok(Err(_)) => "no events within 10 s".to_owned(),
                        Err(e) => format!("the visit's task: {e}"),
                    };
                    // The first few say why; the count says how often.
                    if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                        eprintln!("a short visit failed: {fault}");
                    }
                }
            }
        })
    };
    let mut ticks = tokio::time::interval(Duration::from_millis(10));
    while !churn.is_finished() {
        ticks.tick().await;
        seq += 1;
        publish(seq).await?;
    }
    churn.await.map_err(|e| format!("the churn task: {e}"))?;
    seq += 1;
    last.store(seq, Ordering::Release);
    publish(seq).await?;
    let mut steady_faults = Vec::new();
    let mut still_open = Vec::with_capacity(plan.steady);
    for task in steady_tasks {
        match task.await {
            Ok((subscription, outcome)) => {
                still_open.push(subscription);
                if let Err(fault) = outcome {
                    steady_faults.push(fault);
                }
            }
            Err(e) => steady_faults.push(format!("a steady subscriber's task: {e}")),
        }
    }
    let clients_after = server.clients_settle_at(plan.steady).await?;
    let files_after = server.settled_open_files().await;
    drop((still_open, publisher));
    Ok(Outcome {
        framework: framework.to_owned(),
        visits: visits.load(Ordering::Relaxed),
        failed_visits: failed.load(Ordering::Relaxed),
        published: seq + 1,
        clients_after,
        files_before,
        files_after,
        rss_before_kib,
        rss_after_kib: server.rss_kib(),
        steady_faults,
    })
}
