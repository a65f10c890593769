//! Two publish paths to set today's beside, in the same run.
//!
//! [`filing_publish_for`]: the path as it was when scale-out work began
//! (issue 26, the tree at `26754a3^`), replayed: one call
//! per publish of that day's script (`filing_publish.lua`, verbatim),
//! which gave every event the next id of one global sequence, kept a
//! global last id and an index of topics, and announced every event on
//! one channel.
//!
//! Only the Redis side is replayed: each publisher task calls the script
//! over one multiplexed connection, as that day's instance did, but
//! without that instance's own work around the call. The baseline is
//! therefore at least as fast as the path it stands for, and a ratio
//! against it is, if anything, understated.
//!
//! [`pipelined_publish_for`]: the commands today's script runs for an
//! event of a topic of its own (`PEXPIRE`, `XADD`, `PUBLISH`), sent
//! without a script in pipelines of a batch's size: what Redis itself
//! does with those commands at best, with nothing of a script's cost.
//! It cannot put the id `XADD` gives into the announcement, so it is a
//! ceiling, not a path.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// That day's script, verbatim.
const SCRIPT: &str = include_str!("filing_publish.lua");

/// Publishes from `publishers` concurrent tasks for `duration` through
/// that day's path: how many, and in how long.
pub(crate) async fn filing_publish_for(
    url: &str,
    publishers: usize,
    duration: Duration,
) -> (u64, Duration) {
    let connection = connect(url).await;
    let script = Arc::new(redis::Script::new(SCRIPT));
    for_duration(publishers, duration, |p, run| {
        let (mut connection, script) = (connection.clone(), script.clone());
        async move {
            let topic = format!("topic-{p}");
            let stream = format!("filing:stream:{topic}");
            while run.going() {
                let _: String = script
                    .key(&stream)
                    .key("filing:index")
                    .key("filing:last")
                    .arg(&topic)
                    // `Event::new("x")` encoded without its id line, as
                    // that day's instance sent it.
                    .arg("data: x\n\n")
                    .arg(super::config().client_buffer)
                    .arg(super::config().history_ttl.as_millis() as u64)
                    .arg("filing:events")
                    .arg("0-0")
                    .invoke_async(&mut connection)
                    .await
                    .unwrap();
                run.done(1);
            }
        }
    })
    .await
}

/// Events per pipeline of [`pipelined_publish_for`], as in a full batch.
const PIPELINE: usize = 256;

/// Sends today's commands for one event per topic, `PIPELINE` events per
/// pipeline, from `senders` concurrent tasks for `duration`: how many
/// events, and in how long.
pub(crate) async fn pipelined_publish_for(
    url: &str,
    senders: usize,
    duration: Duration,
) -> (u64, Duration) {
    let connection = connect(url).await;
    let (bound, ttl) = (
        super::config().client_buffer,
        super::config().history_ttl.as_millis() as u64,
    );
    for_duration(senders, duration, |s, run| {
        let mut connection = connection.clone();
        async move {
            let keys: Vec<String> = (0..PIPELINE)
                .map(|t| format!("ceiling:{{topic-{s}-{t}}}"))
                .collect();
            while run.going() {
                let mut pipe = redis::pipe();
                for key in &keys {
                    pipe.cmd("PEXPIRE").arg(key).arg(ttl).ignore();
                    pipe.cmd("XADD")
                        .arg(key)
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(bound)
                        .arg("*")
                        .arg("e")
                        .arg("data: x\n\n")
                        .ignore();
                    pipe.cmd("PUBLISH")
                        .arg(key)
                        .arg("1764000000000-0 10\ndata: x\n\n")
                        .ignore();
                }
                let () = pipe.query_async(&mut connection).await.unwrap();
                run.done(PIPELINE as u64);
            }
        }
    })
    .await
}

async fn connect(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// What each task of [`for_duration`] is told: whether to go on, and
/// where to count what it did.
#[derive(Clone)]
pub(crate) struct Run {
    stop: Arc<AtomicBool>,
    count: Arc<AtomicU64>,
}

impl Run {
    pub(crate) fn going(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    pub(crate) fn done(&self, events: u64) {
        self.count.fetch_add(events, Ordering::Relaxed);
    }
}

/// Runs `tasks` tasks made by `task` (given its number) for `duration`,
/// then stops them: how many events they published, and in how long.
pub(crate) async fn for_duration<F, Fut>(
    tasks: usize,
    duration: Duration,
    task: F,
) -> (u64, Duration)
where
    F: Fn(usize, Run) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let run = Run {
        stop: Arc::new(AtomicBool::new(false)),
        count: Arc::new(AtomicU64::new(0)),
    };
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|n| tokio::spawn(task(n, run.clone())))
        .collect();
    tokio::time::sleep(duration).await;
    run.stop.store(true, Ordering::Relaxed);
    for handle in handles {
        handle.await.unwrap();
    }
    (run.count.load(Ordering::Relaxed), started.elapsed())
}
