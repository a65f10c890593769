//! Draining on a stop signal, as the contract's "Draining, readiness and
//! liveness" says: readiness turns first, a new stream gets `503` with
//! `Retry-After`, every open stream is sent a `retry:` and ends within the
//! window plus a second, `/notify` keeps working, and a second signal
//! ends everything at once. Each check runs in memory and on a private
//! `redis-server`.

use std::time::Duration;

use sse_hub::decode::Decoded;
use tokio::time::Instant;

use crate::client::{Error, EventStream, http_client, open};
use crate::launch::{Running, Target};
use crate::redis_server::RedisServer;
use crate::support::{ensure, publish, readyz, subscribe};

/// The drain window the checks give, and the streams' usual `retry`.
const WINDOW: Duration = Duration::from_secs(3);
const RETRY: Duration = Duration::from_millis(500);
/// Open streams during a drain, each on a topic of its own.
const STREAMS: usize = 8;
/// What the contract allows past the window for the last stream's end.
const GRACE: Duration = Duration::from_secs(1);

/// Where the server under check keeps its topics.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Backing {
    Memory,
    Redis,
}

impl Backing {
    /// The backing's server (kept while the check runs) and options.
    fn start(self) -> Result<(Option<RedisServer>, Vec<String>), Error> {
        match self {
            Self::Memory => Ok((None, Vec::new())),
            Self::Redis => {
                let redis = RedisServer::start("drain check").ok_or_else(|| {
                    "redis-server is not installed (apt-get install redis-server)".to_owned()
                })?;
                let options = vec!["--redis".to_owned(), redis.url()];
                Ok((Some(redis), options))
            }
        }
    }
}

/// Waits (at most `within`) until `/readyz` answers `503`, and checks that
/// its JSON error says why.
async fn not_ready_within(base: &str, within: Duration, why: &str) -> Result<(), Error> {
    let deadline = Instant::now() + within;
    loop {
        let (status, body) = readyz(base).await?;
        if status == 503 {
            let error: serde_json::Value = serde_json::from_str(&body)
                .map_err(|e| format!("/readyz 503 body {body:?}: {e}"))?;
            let said = error["error"].as_str().unwrap_or("");
            return ensure(said.contains(why), || {
                format!("/readyz said {said:?}, expected it to say {why:?}")
            });
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "/readyz still answered {status} {body:?} after {within:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The server's readiness before any signal: `200 ok`.
async fn ready(base: &str) -> Result<(), Error> {
    let (status, body) = readyz(base).await?;
    ensure(status == 200 && body == "ok", || {
        format!("/readyz before the drain: {status} {body:?}")
    })
}

/// How one stream ended: when, the last `retry:` it was sent, whether
/// anything followed that `retry:`, and the events it carried.
struct Ending {
    at: Instant,
    retry: Option<Duration>,
    after_retry: bool,
    events: Vec<String>,
}

/// Reads `stream` to its end, at most `limit` from now.
async fn read_to_end(mut stream: EventStream, limit: Duration) -> Result<Ending, Error> {
    let deadline = Instant::now() + limit;
    let (mut retry, mut after_retry, mut events) = (None, false, Vec::new());
    loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        match stream.next_item_within(wait).await {
            Ok(Decoded::Retry(after)) => {
                retry = Some(after);
                after_retry = false;
            }
            Ok(Decoded::Event(event)) => {
                after_retry |= retry.is_some();
                events.push(event.data().to_owned());
            }
            Ok(_) => {}
            Err(err) if err == "the stream ended" => break,
            Err(err) => return Err(format!("a stream did not end in time: {err}")),
        }
    }
    Ok(Ending {
        at: Instant::now(),
        retry,
        after_retry,
        events,
    })
}

/// `server` with `STREAMS` open streams, each past its `connected`.
async fn streams(server: &Running) -> Result<Vec<EventStream>, Error> {
    let mut streams = Vec::with_capacity(STREAMS);
    for n in 0..STREAMS {
        streams.push(subscribe(&server.base, &format!("?topic=drain-{n}"), &[]).await?);
    }
    Ok(streams)
}

pub(crate) async fn drain(target: &Target) -> Result<(), Error> {
    drain_on(target, Backing::Memory).await
}

pub(crate) async fn drain_on_redis(target: &Target) -> Result<(), Error> {
    drain_on(target, Backing::Redis).await
}

/// One drain, from the first signal to the exit.
async fn drain_on(target: &Target, backing: Backing) -> Result<(), Error> {
    let (_redis, mut options) = backing.start()?;
    options.extend(
        [
            "--drain-timeout",
            &format!("{}ms", WINDOW.as_millis()),
            "--retry",
            &format!("{}ms", RETRY.as_millis()),
        ]
        .map(str::to_owned),
    );
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let mut server = target.start(&options).await?;
    ready(&server.base).await?;
    let streams = streams(&server).await?;

    server.terminate()?;
    let signalled = Instant::now();
    // Readiness turns at once.
    not_ready_within(&server.base, Duration::from_millis(500), "draining").await?;
    let readers: Vec<_> = streams
        .into_iter()
        .map(|stream| tokio::spawn(read_to_end(stream, WINDOW + GRACE + Duration::from_secs(1))))
        .collect();
    // A new stream is sent elsewhere.
    let refused = open(&http_client(), &server.base, "/events?topic=drain-0", &[]).await?;
    ensure(refused.status == 503, || {
        format!("a new stream while draining: {}", refused.status)
    })?;
    ensure(refused.header("retry-after").is_some(), || {
        "the 503 of a new stream while draining has no Retry-After".into()
    })?;
    // Publishing goes on.
    for n in 0..STREAMS {
        publish(&server.base, &format!("topic=drain-{n}"), "\"during\"").await?;
    }
    let mut delivered = 0;
    for reader in readers {
        let ending = reader.await.map_err(|e| e.to_string())??;
        let ended = ending.at - signalled;
        ensure(ended <= WINDOW + GRACE, || {
            format!("a stream ended {ended:?} after the signal (window {WINDOW:?})")
        })?;
        let Some(retry) = ending.retry else {
            return Err("a stream ended without a retry: field".into());
        };
        ensure(!ending.after_retry, || {
            "an event came after the drain's retry:".into()
        })?;
        // Its reconnect falls within the window (the stream's end is seen
        // here a little after the server wrote it).
        let reconnect = ended + retry;
        ensure(reconnect <= WINDOW + GRACE, || {
            format!(
                "a stream was told to reconnect {reconnect:?} after the signal (window {WINDOW:?})"
            )
        })?;
        ensure(retry <= RETRY, || {
            format!("retry: {retry:?}, more than the usual {RETRY:?}")
        })?;
        delivered += ending
            .events
            .iter()
            .filter(|data| *data == "\"during\"")
            .count();
    }
    ensure(delivered > 0, || {
        "no open stream received what was published during the drain".into()
    })?;
    let code = server
        .exit_code_within(WINDOW + GRACE + Duration::from_secs(2))
        .await?;
    ensure(code == Some(0), || {
        format!("exit code {code:?} after the drain")
    })
}

pub(crate) async fn second_signal(target: &Target) -> Result<(), Error> {
    second_signal_on(target, Backing::Memory).await
}

pub(crate) async fn second_signal_on_redis(target: &Target) -> Result<(), Error> {
    second_signal_on(target, Backing::Redis).await
}

/// A drain of a minute, cut short by a second signal.
async fn second_signal_on(target: &Target, backing: Backing) -> Result<(), Error> {
    let (_redis, mut options) = backing.start()?;
    options.extend(["--drain-timeout", "60s", "--retry", "10ms"].map(str::to_owned));
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let mut server = target.start(&options).await?;
    let streams = streams(&server).await?;
    server.terminate()?;
    not_ready_within(&server.base, Duration::from_millis(500), "draining").await?;
    server.terminate()?;
    for stream in streams {
        read_to_end(stream, GRACE).await?;
    }
    // As for a shutdown without a drain: the framework gets its second
    // of grace, and one more is for tearing the process down.
    let code = server.exit_code_within(Duration::from_secs(2)).await?;
    ensure(code == Some(0), || format!("exit code {code:?}"))
}
