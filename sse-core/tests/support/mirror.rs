//! What the Redis tests share: waiting for an instance's tail, reading the
//! ids and events a mirror's subscriber gets, ordering Redis ids, and
//! counting Redis's script calls.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use sse_hub::broker::ClientStream;
use sse_hub::redis::RedisBroker;

/// Bounds every wait; far above what any step takes.
pub(crate) const WAIT: Duration = Duration::from_secs(15);

/// Waits until the instance's tail is (or is no longer) connected.
pub(crate) async fn connected(redis: &RedisBroker, state: bool) {
    let mut changes = redis.connection_state();
    tokio::time::timeout(WAIT, changes.wait_for(|now| *now == state))
        .await
        .unwrap_or_else(|_| panic!("the tail did not become connected={state}"))
        .expect("the tail is running");
}

/// The ids of the next `count` events of `stream`.
pub(crate) async fn ids(stream: &mut ClientStream, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    while ids.len() < count {
        let chunk = tokio::time::timeout(WAIT, stream.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} events arrived: {ids:?}", ids.len()))
            .expect("the stream is open");
        ids.extend(ids_in(&chunk));
    }
    assert_eq!(ids.len(), count, "more events than expected: {ids:?}");
    ids
}

pub(crate) fn ids_in(chunk: &Bytes) -> Vec<String> {
    String::from_utf8_lossy(chunk)
        .lines()
        .filter_map(|line| line.strip_prefix("id: "))
        .map(str::to_owned)
        .collect()
}

/// `ms-seq` as a pair, to compare ids as Redis orders them.
pub(crate) fn order(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').expect("a Redis id");
    (
        ms.parse().expect("milliseconds"),
        seq.parse().expect("sequence"),
    )
}

/// Script calls Redis has run since it started (both publish scripts).
pub(crate) async fn script_calls(url: &str) -> u64 {
    let client = redis::Client::open(url).expect("a valid URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis is up");
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut connection)
        .await
        .expect("INFO answers");
    info.lines()
        .filter(|line| line.starts_with("cmdstat_evalsha:") || line.starts_with("cmdstat_eval:"))
        .filter_map(|line| {
            line.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// `(id, data)` of every event in the next `count` events of `stream`.
pub(crate) async fn events(stream: &mut ClientStream, count: usize) -> Vec<(String, String)> {
    let mut events = Vec::new();
    while events.len() < count {
        let chunk = tokio::time::timeout(WAIT, stream.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} events arrived", events.len()))
            .expect("the stream is open");
        let text = String::from_utf8_lossy(&chunk).into_owned();
        for frame in text.split("\n\n") {
            let field = |name: &str| {
                frame
                    .lines()
                    .find_map(|line| line.strip_prefix(name))
                    .map(str::to_owned)
            };
            if let (Some(id), Some(data)) = (field("id: "), field("data: ")) {
                events.push((id, data));
            }
        }
    }
    assert_eq!(events.len(), count, "more events than expected");
    events
}
