//! Batched publishes: concurrent publishes of one instance share script
//! calls. Each publisher queues its event and waits for its own answer; one
//! task takes everything queued (up to a bound) as one batch, with a few
//! batches in flight at once so that Redis never waits for the instance.
//! A batch is one call of `publish.lua` per master its topics live on
//! (one call on a standalone Redis), all sent at once: one round trip and
//! one script call per master, and one Pub/Sub message per topic, where
//! one publish per event paid each of them per event.
//!
//! What each publisher is told does not change: the id of its own event,
//! or the error of the call its event was in.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::error::RedisError;
use super::link::Link;
use crate::broker::ids;

/// Batches in flight at once: one being run by Redis while the next
/// fills, and one more to cover the round trip.
const IN_FLIGHT: usize = 3;

/// A batch stops growing past this many bytes of events, so that one call
/// stays a small part of Redis's query buffer and of the command timeout.
const MAX_BATCH_BYTES: usize = 1 << 20;

/// One publisher's event, waiting for a batch.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) topic: String,
    pub(super) body: Bytes,
    pub(super) ephemeral: bool,
    pub(super) reply: oneshot::Sender<Result<u64, RedisError>>,
}

/// One event to publish: its topic, its encoding without the id line, and
/// whether it is for live subscribers only.
#[derive(Debug, Clone, Copy)]
pub(super) struct Outgoing<'a> {
    pub(super) topic: &'a str,
    pub(super) body: &'a [u8],
    pub(super) ephemeral: bool,
}

/// Takes what publishers queued, in batches of at most `max_batch`
/// events, until every sender is gone.
pub(super) async fn run(link: Arc<Link>, mut queue: mpsc::Receiver<Pending>, max_batch: usize) {
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        // The permit comes first: while every batch is in flight, events
        // queue up for the next one instead of leaving one by one.
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = queue.recv().await else {
            return;
        };
        // Publishers woken by the last answers are queued to run now: let
        // them queue their next events first, so that the batch takes them
        // all instead of leaving with the first alone.
        tokio::task::yield_now().await;
        let mut bytes = first.body.len();
        let mut batch = vec![first];
        while batch.len() < max_batch && bytes < MAX_BATCH_BYTES {
            let Ok(next) = queue.try_recv() else {
                break;
            };
            bytes += next.body.len();
            batch.push(next);
        }
        let link = link.clone();
        tokio::spawn(async move {
            flush(&link, batch).await;
            drop(permit);
        });
    }
}

/// Publishes `batch` and answers each publisher.
async fn flush(link: &Link, batch: Vec<Pending>) {
    let events: Vec<Outgoing<'_>> = batch
        .iter()
        .map(|pending| Outgoing {
            topic: &pending.topic,
            body: &pending.body,
            ephemeral: pending.ephemeral,
        })
        .collect();
    let answers = publish(link, &events).await;
    for (pending, answer) in batch.into_iter().zip(answers) {
        // A publisher that stopped waiting (its request was dropped)
        // still had its event published.
        let _ = pending.reply.send(answer);
    }
}

/// Publishes `events`: one script call per master (one on a standalone
/// Redis), all at once. Each event's answer, in order.
pub(super) async fn publish(link: &Link, events: &[Outgoing<'_>]) -> Vec<Result<u64, RedisError>> {
    // Each topic with its events' indices, in order of first appearance.
    let mut topics: Vec<(&str, Vec<usize>)> = Vec::new();
    let mut positions: HashMap<&str, usize> = HashMap::new();
    for (index, &Outgoing { topic, .. }) in events.iter().enumerate() {
        let position = *positions.entry(topic).or_insert_with(|| {
            topics.push((topic, Vec::new()));
            topics.len() - 1
        });
        topics[position].1.push(index);
    }
    let groups = if link.nodes.is_cluster() {
        by_master(link, &topics).await
    } else {
        vec![(0..topics.len()).collect()]
    };
    let calls = groups.into_iter().map(|group| {
        let topics = &topics;
        async move {
            let answer = match invoke(link, topics, &group, events).await {
                // The map of the slots was stale: one call per slot,
                // which the cluster client routes right whatever the map.
                Err(Stale) => {
                    link.forget_slot_map();
                    let mut by_slot: HashMap<u16, Vec<usize>> = HashMap::new();
                    for &topic in &group {
                        by_slot
                            .entry(link.keys.slot(topics[topic].0))
                            .or_default()
                            .push(topic);
                    }
                    let retries = by_slot.into_values().map(|slot_group| async move {
                        let answer = invoke(link, topics, &slot_group, events)
                            .await
                            .unwrap_or_else(|Stale| {
                                Err(RedisError::Unavailable(
                                    "a topic's slot moved during the publish".into(),
                                ))
                            });
                        (slot_group, answer)
                    });
                    return futures_util::future::join_all(retries).await;
                }
                Ok(answer) => answer,
            };
            vec![(group, answer)]
        }
    });
    let mut answers: Vec<Result<u64, RedisError>> =
        events.iter().map(|_| Err(RedisError::Closed)).collect();
    for (group, answer) in futures_util::future::join_all(calls)
        .await
        .into_iter()
        .flatten()
    {
        let order = group
            .iter()
            .flat_map(|&topic| topics[topic].1.iter().copied());
        match answer {
            Ok(ids) => {
                for (index, id) in order.zip(ids) {
                    answers[index] = Ok(id);
                }
            }
            Err(err) => {
                for index in order {
                    answers[index] = Err(err.duplicate());
                }
            }
        }
    }
    answers
}

/// The topics (indices into `topics`) of each master, as the instance's
/// map of the slots says; topics whose slot it does not know go alone.
async fn by_master(link: &Link, topics: &[(&str, Vec<usize>)]) -> Vec<Vec<usize>> {
    let map = link.slot_map().await;
    let mut groups: HashMap<Result<usize, u16>, Vec<usize>> = HashMap::new();
    for (index, (topic, _)) in topics.iter().enumerate() {
        let slot = link.keys.slot(topic);
        let master = map.as_ref().and_then(|map| map.master_of(slot)).ok_or(slot);
        groups.entry(master).or_default().push(index);
    }
    groups.into_values().collect()
}

/// A script call found the map of the slots stale.
struct Stale;

/// One call of `publish.lua` for the events of `group`'s topics. The ids
/// Redis gave them, in the group's order, or `Stale`.
async fn invoke(
    link: &Link,
    topics: &[(&str, Vec<usize>)],
    group: &[usize],
    events: &[Outgoing<'_>],
) -> Result<Result<Vec<u64>, RedisError>, Stale> {
    let mut connection = match link.publish_connection() {
        Ok(connection) => connection,
        Err(err) => return Ok(Err(err)),
    };
    let (bound, ttl) = link.stream_limits();
    let mut invocation = link.publish_script.prepare_invoke();
    invocation.arg(bound).arg(ttl);
    let mut expected = 0;
    for (n, &topic) in group.iter().enumerate() {
        let (name, indices) = &topics[topic];
        let stream = link.keys.stream(name);
        if n == 0 {
            // Routes the call to the master of the first topic.
            invocation.key(&stream);
        }
        // The kinds, only when one of them is ephemeral (see publish.lua).
        let kinds: String = if indices.iter().any(|&index| events[index].ephemeral) {
            indices
                .iter()
                .map(|&index| if events[index].ephemeral { 'e' } else { 'r' })
                .collect()
        } else {
            String::new()
        };
        invocation.arg(stream).arg(indices.len()).arg(kinds);
        for &index in indices {
            invocation.arg(events[index].body);
        }
        expected += indices.len();
    }
    let answered: Vec<String> = match link.within(invocation.invoke_async(&mut connection)).await {
        Ok(answered) => answered,
        Err(RedisError::Unavailable(reason)) if reason.contains("NONLOCAL") => return Err(Stale),
        Err(err) => return Ok(Err(err)),
    };
    if link.options.wait_replicas > 0
        && let Err(err) = wait_for_replicas(link, &mut connection, topics[group[0]].0).await
    {
        return Ok(Err(err));
    }
    if answered.len() != expected {
        return Ok(Err(RedisError::Unavailable(format!(
            "Redis answered {} ids for {expected} events",
            answered.len()
        ))));
    }
    Ok(answered
        .iter()
        .map(|id| {
            ids::parse_redis(id)
                .ok_or_else(|| RedisError::Unavailable(format!("Redis answered {id:?} for an id")))
        })
        .collect())
}

/// Waits until `wait_replicas` replicas of `topic`'s master hold what
/// this connection wrote there (`WAIT`, within the timeout): the script
/// call just answered, and anything before it.
async fn wait_for_replicas(
    link: &Link,
    connection: &mut super::nodes::Connection,
    topic: &str,
) -> Result<(), RedisError> {
    let wanted = link.options.wait_replicas;
    let timeout_ms = u64::try_from(link.options.timeout.as_millis()).unwrap_or(u64::MAX);
    let mut wait = redis::cmd("WAIT");
    wait.arg(wanted).arg(timeout_ms);
    // WAIT answers within its own timeout: give it one more for the round trip.
    let answer = tokio::time::timeout(
        link.options.timeout * 2,
        connection.query_on_slot::<usize>(wait, link.keys.slot(topic)),
    )
    .await;
    match answer {
        Ok(Ok(held)) if held >= wanted => Ok(()),
        Ok(Ok(held)) => Err(RedisError::Unavailable(format!(
            "stored, but {held} of the {wanted} replicas asked for acknowledged it within {:?}",
            link.options.timeout
        ))),
        Ok(Err(err)) => Err(RedisError::from_redis(&err)),
        Err(_) => Err(RedisError::Unavailable(
            "no answer to WAIT for replicas".into(),
        )),
    }
}
