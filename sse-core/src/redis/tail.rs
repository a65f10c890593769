//! The tail: it follows the topics that local clients follow, and only
//! those. One session per connection to Redis: it subscribes to the
//! followed topics' channels, then loads each topic's stream (or, for a
//! topic it held before the connection dropped, what came after its
//! newest event), and applies the channels' events to the mirror as they
//! come; it subscribes and loads a topic when a client starts following
//! it, and drops one that no client follows any more. Between sessions,
//! capped and jittered backoff.

use std::collections::HashSet;
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

/// How soon a topic whose load failed is tried again.
const LOAD_RETRY: Duration = Duration::from_millis(500);

/// Topics that one `SUBSCRIBE`, and one round of loads, take.
const TOPICS_PER_ROUND: usize = 512;

/// Runs sessions until the mirror shuts down.
pub(super) async fn run(link: Arc<Link>) {
    let mut backoff = Backoff::default();
    // Redis's time (ms) when the mirror was last known to be current.
    let mut current_until: Option<u64> = None;
    // The topics the mirror holds, across sessions.
    let mut mirrored = HashSet::new();
    for attempt in 0.. {
        if link.broker.is_closed() {
            return;
        }
        let mut current_since = None;
        let err = match session(
            &link,
            attempt,
            &mut current_since,
            current_until,
            &mut mirrored,
        )
        .await
        {
            Err(err) => err,
            Ok(never) => match never {},
        };
        link.tail_lost();
        if link.broker.is_closed() {
            return;
        }
        if let RedisError::Refused(reason) = &err {
            tracing::error!("{err}; retrying, but only a change of configuration can help");
            link.refused.send_replace(Some(reason.clone()));
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

/// Redis's clock, read once per session: (its milliseconds then, our
/// instant then).
#[derive(Debug, Clone, Copy)]
struct Clock(u64, Instant);

impl Clock {
    /// When an event was published, from its id's milliseconds: replay's
    /// TTL counts from there, as in memory mode.
    fn published_at(self, id: u64) -> Instant {
        let now = Instant::now();
        let redis_now = self
            .0
            .saturating_add(u64::try_from(now.duration_since(self.1).as_millis()).unwrap_or(0));
        let age = Duration::from_millis(redis_now.saturating_sub(ids::split(id).0));
        now.checked_sub(age).unwrap_or(now)
    }
}

/// What a session knows of its connection's channels.
struct Session<'a> {
    link: &'a Link,
    sink: redis::aio::PubSubSink,
    connection: Connection,
    clock: Clock,
    /// Topics whose channel this session subscribed to.
    subscribed: HashSet<String>,
    /// Topics the mirror holds (the run's, across sessions).
    mirrored: &'a mut HashSet<String>,
    /// Topics whose load failed, to try again.
    retry: Vec<String>,
}

/// Connects, follows the topics local clients follow, then applies their
/// channels until the connection is lost; `current_since` tells whether
/// it got that far (Redis's time then, and ours). `current_until` is when
/// the mirror was last current, if ever. A cluster's nodes take their turn
/// for the Pub/Sub connection, one per `attempt`.
async fn session(
    link: &Link,
    attempt: usize,
    current_since: &mut Option<(u64, Instant)>,
    current_until: Option<u64>,
    mirrored: &mut HashSet<String>,
) -> Result<Infallible, RedisError> {
    let (pubsub, mut connection) = link.nodes.session(attempt, link.options.timeout).await?;
    let (sink, mut messages) = link.within(pubsub.get_async_pubsub()).await?.split();
    let now_ms = redis_now_ms(link, &mut connection).await?;
    let now = Instant::now();
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
    let mut session = Session {
        link,
        sink,
        connection: connection.clone(),
        clock: Clock(now_ms, now),
        subscribed: HashSet::new(),
        mirrored,
        retry: Vec::new(),
    };
    let loaded = session.follow(true).await?;
    if current_until.is_some() {
        link.metrics.reconnects.inc();
        tracing::info!(caught_up = loaded, "reconnected to Redis");
    } else {
        tracing::info!(loaded, "connected to Redis");
    }
    link.refused.send_replace(None);
    link.set_connection(Some(connection));
    *current_since = Some((now_ms, now));

    // A Redis that vanished without closing the connection sends nothing,
    // like a quiet one: a ping that gets no answer tells them apart.
    let mut ping = tokio::time::interval(link.options.ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.reset();
    loop {
        // A topic whose load failed (its master is down, or failing over)
        // is tried again soon rather than at the next ping: its clients
        // wait for what its new master holds.
        if !session.retry.is_empty() {
            ping.reset_after(LOAD_RETRY.min(link.options.ping_interval));
        }
        let changed = link.interest.changed.notified();
        let demoted = link.demoted.notified();
        match next_step(&mut messages, &mut ping, changed, demoted).await {
            Step::Message(Some(message)) => {
                if link.broker.is_closed() {
                    return Err(RedisError::Closed);
                }
                session.apply(&message);
            }
            Step::Message(None) => return Err(lost()),
            Step::Demoted => {
                return Err(RedisError::Unavailable(
                    "the server is no longer the master (READONLY); finding the new one".into(),
                ));
            }
            Step::Changed => {
                session.follow(false).await?;
            }
            Step::Ping => {
                link.within(session.sink.ping::<redis::Value>()).await?;
                if !session.retry.is_empty() {
                    let retry = std::mem::take(&mut session.retry);
                    link.interest.lock().changes.extend(retry);
                    session.follow(false).await?;
                }
            }
        }
    }
}

enum Step {
    /// The next message, `None` when the connection closed.
    Message(Option<Msg>),
    /// Clients started or stopped following topics.
    Changed,
    /// Time for a ping.
    Ping,
    /// A command found the server a replica now: a failover happened.
    Demoted,
}

/// Whichever comes first: a message, a change of interest, a ping's tick.
async fn next_step(
    messages: &mut redis::aio::PubSubStream,
    ping: &mut tokio::time::Interval,
    changed: tokio::sync::futures::Notified<'_>,
    demoted: tokio::sync::futures::Notified<'_>,
) -> Step {
    tokio::pin!(changed);
    tokio::pin!(demoted);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(message) = futures_core::Stream::poll_next(Pin::new(&mut *messages), cx)
        {
            return Poll::Ready(Step::Message(message));
        }
        if changed.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Step::Changed);
        }
        if demoted.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Step::Demoted);
        }
        ping.poll_tick(cx).map(|_| Step::Ping)
    })
    .await
}

impl Session<'_> {
    /// Brings the channels and the mirror in line with what local clients
    /// follow: drops the topics nobody follows any more, then subscribes
    /// to the new ones' channels and loads them. Returns how many events
    /// it loaded.
    ///
    /// A topic's channel is subscribed to before its stream is read: an
    /// event stored before the read is in it, one stored after comes on
    /// the channel (published in the same script, on the topic's master,
    /// so in id order), and the mirror skips what it already has.
    ///
    /// `everything` (a new session): every followed topic, since the
    /// session's connection has no channel yet; else only those whose
    /// interest changed since the last call.
    async fn follow(&mut self, everything: bool) -> Result<usize, RedisError> {
        let link = self.link;
        let (dropped, added) = {
            let mut interest = link.interest.lock();
            let changes = std::mem::take(&mut interest.changes);
            let candidates: Vec<String> = if everything {
                let mut all: Vec<String> = interest.topics.keys().cloned().collect();
                all.extend(self.mirrored.iter().cloned());
                all
            } else {
                changes
            };
            let mut dropped = Vec::new();
            let mut added = Vec::new();
            for topic in candidates {
                match interest.topics.get_mut(&topic) {
                    None if self.mirrored.contains(&topic) => dropped.push(topic),
                    None => {}
                    // Still subscribed, if its last lease went and a new
                    // one came since the last call.
                    Some(followed) if self.subscribed.contains(&topic) => followed.loaded = true,
                    Some(_) => added.push(topic),
                }
            }
            dropped.sort_unstable();
            dropped.dedup();
            added.sort_unstable();
            added.dedup();
            (dropped, added)
        };
        let channels: Vec<String> = dropped
            .iter()
            .filter(|topic| self.subscribed.contains(*topic))
            .map(|topic| link.keys.stream(topic))
            .collect();
        for chunk in channels.chunks(TOPICS_PER_ROUND) {
            link.within(self.sink.unsubscribe(chunk)).await?;
        }
        for topic in &dropped {
            self.subscribed.remove(topic);
            self.mirrored.remove(topic);
            link.broker.unfollow(topic);
        }

        let mut loaded = 0;
        for chunk in added.chunks(TOPICS_PER_ROUND) {
            let channels: Vec<String> = chunk.iter().map(|topic| link.keys.stream(topic)).collect();
            link.within(self.sink.subscribe(&channels)).await?;
            let reads = chunk.iter().map(|topic| {
                let held = self.mirrored.contains(topic);
                let after = held.then(|| link.broker.newest_of(topic)).flatten();
                let retained = held
                    .then(|| link.broker.newest_retained_of(topic))
                    .flatten();
                read(link, self.connection.clone(), topic, after, retained)
            });
            let read = futures_util::future::join_all(reads).await;
            for (topic, result) in chunk.iter().zip(read) {
                let (floor, events, newest, lost) = match result {
                    Ok(read) => read,
                    Err(err) => {
                        // Its master may be down while others are up:
                        // the other topics go on, and this one is tried
                        // again at the next ping. Until then its channel's
                        // messages are not applied, and the retry catches
                        // up with them.
                        tracing::warn!(topic, %err, "cannot load a topic from Redis; will retry");
                        self.retry.push(topic.clone());
                        continue;
                    }
                };
                loaded += events.len();
                link.broker.follow(
                    topic,
                    floor,
                    events.iter().map(|event| Mirrored {
                        id: event.id,
                        body: &event.body,
                        published_at: self.clock.published_at(event.id),
                        ephemeral: false,
                    }),
                    newest,
                );
                if let Some(lost) = lost {
                    link.broker.mark_lost(topic, lost);
                }
                self.subscribed.insert(topic.clone());
                self.mirrored.insert(topic.clone());
            }
            let mut interest = link.interest.lock();
            for topic in chunk
                .iter()
                .filter(|topic| self.subscribed.contains(*topic))
            {
                if let Some(followed) = interest.topics.get_mut(topic) {
                    followed.loaded = true;
                }
            }
        }
        link.interest.applied.notify_waiters();
        Ok(loaded)
    }

    /// Applies the events of a channel's message, if this session follows
    /// its topic.
    fn apply(&self, message: &Msg) {
        let Some(topic) = self.link.keys.topic(message.get_channel_name()) else {
            return;
        };
        if !self.subscribed.contains(topic) {
            return;
        }
        let Some(events) = parse_payload(message.get_payload_bytes()) else {
            tracing::warn!(topic, "skipped a malformed message on a topic's channel");
            return;
        };
        let now = Instant::now();
        for event in &events {
            if event.lost {
                tracing::warn!(
                    topic,
                    through = %IdFormat::Redis.format(event.id),
                    "a failover dropped events of this topic; resumes from before them reset"
                );
                self.link.broker.mark_lost(topic, event.id);
                continue;
            }
            self.link.broker.apply(
                topic,
                Mirrored {
                    id: event.id,
                    body: &event.body,
                    published_at: now,
                    ephemeral: event.ephemeral,
                },
            );
        }
        self.link.interest.applied.notify_waiters();
    }
}

fn lost() -> RedisError {
    RedisError::Unavailable("the connection to Redis closed".into())
}

async fn redis_now_ms(link: &Link, connection: &mut Connection) -> Result<u64, RedisError> {
    let (seconds, micros): (u64, u64) = link
        .within(redis::cmd("TIME").query_async(connection))
        .await?;
    Ok(seconds.saturating_mul(1000).saturating_add(micros / 1000))
}

/// What `topic`'s stream holds after `after` (all of it for `None`), at
/// most the stream bound, oldest first; and the newest id before them
/// that is gone. Reading one entry more than the bound makes that floor
/// exact: the extra entry, not kept, is where the held ones start.
///
/// A first load also takes the stream's deleted ids as gone: a stream
/// recreated after it expired says so (see `publish.lua`). A catch-up
/// does not (a stream expires only after the TTL without events, which a
/// mirror connected since then received, and one cut off for longer
/// counts everything before the TTL as gone anyway: `raise_floor`),
/// unless they reach past what the mirror holds: then a failover dropped
/// events (see `load.lua`), the last value, which the mirror marks lost.
///
/// A catch-up gives `retained`, the newest retained event the mirror
/// holds: if the stream lost it to a failover, `load.lua` records the
/// loss in Redis (see there) and the floor moves past it.
async fn read(
    link: &Link,
    mut connection: Connection,
    topic: &str,
    after: Option<u64>,
    retained: Option<u64>,
) -> Result<(u64, Vec<Received>, u64, Option<u64>), RedisError> {
    let (bound, ttl) = link.stream_limits();
    let start = after.map_or_else(
        || "-".to_owned(),
        |id| format!("({}", IdFormat::Redis.format(id)),
    );
    let mut invocation = link.load_script.prepare_invoke();
    invocation
        .key(link.keys.stream(topic))
        .arg(start)
        .arg(bound.saturating_add(1));
    if let (Some(after), Some(retained)) = (after, retained) {
        invocation
            .arg(IdFormat::Redis.format(retained))
            .arg(IdFormat::Redis.format(after.saturating_add(1)))
            .arg(ttl);
    }
    let (deleted, entries, last, missing_at, dropped): (String, Vec<StreamEntry>, String, u64, u8) =
        link.within(invocation.invoke_async(&mut connection))
            .await?;
    if dropped == 1 {
        tracing::warn!(
            topic,
            newest_held = %IdFormat::Redis.format(after.unwrap_or(0)),
            "a failover dropped events of this topic that this instance had; recorded in Redis"
        );
    }
    let mut events: Vec<Received> = entries
        .into_iter()
        .rev()
        .filter_map(|(id, fields)| {
            let parsed = ids::parse_redis(&id).zip(event_body(fields));
            if parsed.is_none() {
                tracing::warn!(topic, id, "skipped a malformed entry in Redis");
            }
            let (id, body) = parsed?;
            Some(Received {
                id,
                body,
                ephemeral: false,
                lost: false,
            })
        })
        .collect();
    events.dedup_by_key(|event| event.id);
    let deleted = ids::parse_redis(&deleted).unwrap_or(0);
    let (mut floor, lost) = match after {
        None => (deleted, None),
        // Gone after what this mirror holds: a failover's loss (see
        // `load.lua`), which its open streams outlive.
        Some(after) if deleted > after => (0, Some(deleted)),
        Some(_) => (0, None),
    };
    if events.len() > bound {
        let beyond = events.remove(0);
        floor = floor.max(beyond.id);
    }
    // Ephemeral events may have taken ids after the newest entry.
    let mut newest = ids::parse_redis(&last).unwrap_or(0);
    if missing_at > 0 {
        // No stream: the topic's next ids come from its master's clock,
        // after `missing_at`. A client that subscribes now has seen the
        // topic up to there; its cursor says so, so that resuming it on
        // another instance, once the stream exists, is no reset.
        newest = newest.max(ids::join(missing_at, 0).unwrap_or(0).saturating_sub(1));
    }
    Ok((floor, events, newest, lost))
}

/// A stream entry as Redis sends it: its id, and its fields and values.
type StreamEntry = (String, Vec<Vec<u8>>);

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
