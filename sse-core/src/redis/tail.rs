//! The tail: one session per connection to Redis, each catching up with
//! what it missed and then applying the events channel to the mirror, in
//! order; between sessions, capped and jittered backoff.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use redis::Msg;
use tokio::time::Instant;

use super::error::RedisError;
use super::link::Link;
use super::message::{Received, parse_payload};
use super::nodes::Connection;
use crate::broker::Mirrored;
use crate::broker::ids::{self, IdFormat};

/// How long the tail waits before reconnecting: from `MIN_BACKOFF`,
/// doubling to `MAX_BACKOFF`, each wait a random point of its upper half so
/// that instances cut off together do not come back in step.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Topics whose streams one pipelined round trip reads.
const TOPICS_PER_ROUND_TRIP: usize = 512;

/// Runs sessions until the mirror shuts down.
pub(super) async fn run(link: Arc<Link>) {
    let mut backoff = Backoff::default();
    // Redis's time (ms) when the mirror was last known to be current.
    let mut current_until: Option<u64> = None;
    for attempt in 0.. {
        if link.broker.is_closed() {
            return;
        }
        let mut current_since = None;
        let err = match session(&link, attempt, &mut current_since, current_until).await {
            Err(err) => err,
            Ok(never) => match never {},
        };
        link.set_connection(None);
        if link.broker.is_closed() {
            return;
        }
        if let Some((redis_ms, at)) = current_since {
            let current_for = u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX);
            current_until = Some(redis_ms.saturating_add(current_for));
            backoff = Backoff::default();
            tracing::warn!("lost Redis ({err}); reconnecting");
        } else {
            tracing::warn!("cannot reach Redis ({err}); retrying");
        }
        tokio::time::sleep(backoff.next_wait()).await;
    }
}

/// The waits between failed connections.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: MIN_BACKOFF }
    }
}

impl Backoff {
    /// A random point of the upper half of the current wait, which then
    /// doubles up to the cap.
    fn next_wait(&mut self) -> Duration {
        let half = self.next / 2;
        self.next = (self.next * 2).min(MAX_BACKOFF);
        half + half.mul_f64(fastrand::f64())
    }
}

/// Connects, catches up, then applies the channel until the connection
/// is lost; `current_since` tells whether it got that far (Redis's time
/// then, and ours). `current_until` is when the mirror was last current,
/// if ever. A cluster's nodes take their turn for the Pub/Sub connection,
/// one per `attempt`.
async fn session(
    link: &Link,
    attempt: usize,
    current_since: &mut Option<(u64, Instant)>,
    current_until: Option<u64>,
) -> Result<Infallible, RedisError> {
    let pubsub = link.nodes.pubsub_client(attempt);
    let (mut sink, mut messages) = link.within(pubsub.get_async_pubsub()).await?.split();
    // A channel of this session's own, for the marker that closes the
    // catch-up (see the module docs).
    let marker = format!("{}:sync:{:016x}", link.options.prefix, fastrand::u64(..));
    link.within(sink.subscribe(&link.keys.channel)).await?;
    link.within(sink.subscribe(&marker)).await?;
    let mut connection = link.within(link.nodes.connect()).await?;

    let now_ms = redis_now_ms(link, &mut connection).await?;
    let config = link.broker.config();
    let ttl_ms = u64::try_from(config.history_ttl.as_millis()).unwrap_or(u64::MAX);
    // Events older than the TTL may be gone from Redis: if the mirror was
    // not current since before then, what clients were owed from before
    // then is lost.
    let horizon_ms = now_ms.saturating_sub(ttl_ms);
    if current_until.is_none_or(|until| until < horizon_ms) {
        let horizon = ids::join(horizon_ms, 0).unwrap_or(0).saturating_sub(1);
        link.broker.raise_floor(horizon);
    }
    let since = link.broker.newest();
    let mut batch = read_since(link, &mut connection, since).await?;

    // The marker is published where the events are, by a script on the
    // keys' slot: in a cluster, messages that started on one node reach
    // the others in the order they were published there, and only there.
    let mut publish_marker = link.marker_script.prepare_invoke();
    publish_marker.key(&link.keys.last).arg(&marker);
    link.within(publish_marker.invoke_async::<i64>(&mut connection))
        .await?;
    loop {
        let message = tokio::time::timeout(link.options.timeout, next(&mut messages))
            .await
            .map_err(|_| RedisError::Unavailable("the catch-up marker did not come back".into()))?
            .ok_or_else(lost)?;
        if message.get_channel_name() == marker {
            break;
        }
        batch.extend(parse(&message).unwrap_or_default());
    }
    batch.sort_unstable_by_key(|event| event.id);
    batch.dedup_by_key(|event| event.id);
    let now = Instant::now();
    for event in &batch {
        apply(link, event, published_at(now, now_ms, event.id));
    }
    link.applied.notify_waiters();

    if current_until.is_some() {
        link.metrics.reconnects.inc();
        tracing::info!(caught_up = batch.len(), "reconnected to Redis");
    } else {
        tracing::info!(loaded = batch.len(), "connected to Redis");
    }
    link.set_connection(Some(connection));
    *current_since = Some((now_ms, now));

    // A Redis that vanished without closing the connection sends nothing,
    // like a quiet one: a ping that gets no answer tells them apart.
    let mut ping = tokio::time::interval(link.options.ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.reset();
    loop {
        match message_or_ping(&mut messages, &mut ping).await {
            Some(Some(message)) => {
                if link.broker.is_closed() {
                    return Err(RedisError::Closed);
                }
                if let Some(events) = parse(&message) {
                    let now = Instant::now();
                    for event in &events {
                        apply(link, event, now);
                    }
                    link.applied.notify_waiters();
                }
            }
            Some(None) => return Err(lost()),
            None => {
                link.within(sink.ping::<redis::Value>()).await?;
            }
        }
    }
}

/// The next message (`Some`, `Some(None)` when the connection closed), or
/// `None` when `ping` ticks first.
async fn message_or_ping(
    messages: &mut redis::aio::PubSubStream,
    ping: &mut tokio::time::Interval,
) -> Option<Option<Msg>> {
    std::future::poll_fn(|cx| {
        if let Poll::Ready(message) = futures_core::Stream::poll_next(Pin::new(&mut *messages), cx)
        {
            return Poll::Ready(Some(message));
        }
        ping.poll_tick(cx).map(|_| None)
    })
    .await
}

fn lost() -> RedisError {
    RedisError::Unavailable("the connection to Redis closed".into())
}

async fn next(messages: &mut redis::aio::PubSubStream) -> Option<Msg> {
    std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut *messages), cx)).await
}

fn apply(link: &Link, event: &Received, published_at: Instant) {
    link.broker.apply(
        &event.topic,
        Mirrored {
            id: event.id,
            body: &event.body,
            published_at,
            gap: event.gap,
        },
    );
}

/// When an event was published, from its id's milliseconds and Redis's
/// clock now: replay's TTL counts from there, as in memory mode.
fn published_at(now: Instant, now_ms: u64, id: u64) -> Instant {
    let age = Duration::from_millis(now_ms.saturating_sub(ids::split(id).0));
    now.checked_sub(age).unwrap_or(now)
}

async fn redis_now_ms(link: &Link, connection: &mut Connection) -> Result<u64, RedisError> {
    let (seconds, micros): (u64, u64) = link
        .within(redis::cmd("TIME").query_async(connection))
        .await?;
    Ok(seconds.saturating_mul(1000).saturating_add(micros / 1000))
}

/// Every stored event after `since`, from the streams of the topics the
/// index lists as active since then; at most the stream bound per topic,
/// the oldest of a full read marked as a gap.
async fn read_since(
    link: &Link,
    connection: &mut Connection,
    since: u64,
) -> Result<Vec<Received>, RedisError> {
    let (since_ms, _) = ids::split(since);
    let topics: Vec<String> = link
        .within(
            redis::cmd("ZRANGEBYSCORE")
                .arg(&link.keys.index)
                .arg(since_ms)
                .arg("+inf")
                .query_async(connection),
        )
        .await?;
    let config = link.broker.config();
    let bound = config.history.max(config.client_buffer).max(1);
    let after = format!("({}", IdFormat::Redis.format(since));
    let mut received = Vec::new();
    for chunk in topics.chunks(TOPICS_PER_ROUND_TRIP) {
        let mut pipe = redis::pipe();
        for topic in chunk {
            pipe.cmd("XREVRANGE")
                .arg(link.keys.stream(topic))
                .arg("+")
                .arg(&after)
                .arg("COUNT")
                .arg(bound);
        }
        let replies: Vec<Vec<(String, Vec<Vec<u8>>)>> =
            link.within(pipe.query_async(connection)).await?;
        for (topic, entries) in chunk.iter().zip(replies) {
            let full = entries.len() >= bound;
            let oldest = entries.len().saturating_sub(1);
            for (position, (id, fields)) in entries.into_iter().enumerate() {
                let (Some(id), Some(body)) = (ids::parse_redis(&id), event_body(fields)) else {
                    tracing::warn!(topic, id, "skipped a malformed entry in Redis");
                    continue;
                };
                received.push(Received {
                    topic: topic.clone(),
                    id,
                    body,
                    gap: full && position == oldest,
                });
            }
        }
    }
    Ok(received)
}

/// The `e` field of a stream entry: the encoded event.
fn event_body(fields: Vec<Vec<u8>>) -> Option<Vec<u8>> {
    let mut fields = fields.into_iter();
    while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        if name == b"e" {
            return Some(value);
        }
    }
    None
}

/// The events of a message of the events channel (see
/// [`message`](super::message)); a message with a malformed record is
/// skipped whole.
fn parse(message: &Msg) -> Option<Vec<Received>> {
    let parsed = parse_payload(message.get_payload_bytes());
    if parsed.is_none() {
        tracing::warn!(
            channel = message.get_channel_name(),
            "skipped a malformed message on the events channel"
        );
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter_in_the_upper_half() {
        let mut backoff = Backoff::default();
        let mut bound = MIN_BACKOFF;
        for _ in 0..12 {
            let wait = backoff.next_wait();
            assert!(
                (bound / 2..=bound).contains(&wait),
                "{wait:?} outside the upper half of {bound:?}"
            );
            bound = (bound * 2).min(MAX_BACKOFF);
        }
        assert_eq!(bound, MAX_BACKOFF, "reached the cap");
        let waits: Vec<Duration> = (0..20).map(|_| backoff.next_wait()).collect();
        assert!(
            waits.iter().any(|w| *w != waits[0]),
            "jittered, not all equal: {waits:?}"
        );
    }
}
