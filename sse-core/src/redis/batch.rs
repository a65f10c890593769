//! Batched publishes: concurrent publishes of one instance share script
//! calls. Each publisher queues its event and waits for its own answer; one
//! task takes everything queued (up to a bound) as one batch, with a few
//! batches in flight at once so that Redis never waits for the instance.
//! A batch is one call of `publish.lua` per slot its topics live in (one
//! call on a standalone Redis), all sent at once: one round trip per
//! master, one script call and one Pub/Sub message per topic where one
//! publish per event paid each of them per event.
//!
//! What each publisher is told does not change: the id of its own event,
//! or the error of the call its event was in.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use redis::cluster_routing::Slot;
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
    pub(super) reply: oneshot::Sender<Result<u64, RedisError>>,
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
    let events: Vec<(&str, &[u8])> = batch
        .iter()
        .map(|pending| (pending.topic.as_str(), pending.body.as_ref()))
        .collect();
    let answers = publish(link, &events).await;
    for (pending, answer) in batch.into_iter().zip(answers) {
        // A publisher that stopped waiting (its request was dropped)
        // still had its event published.
        let _ = pending.reply.send(answer);
    }
}

/// Publishes `events` (topic, encoded event without its id line): one
/// script call per slot, all at once. Each event's answer, in order.
pub(super) async fn publish(link: &Link, events: &[(&str, &[u8])]) -> Vec<Result<u64, RedisError>> {
    let cluster = link.nodes.is_cluster();
    // The events of each topic, in order, and the topics of each slot.
    let mut topics: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut slots: HashMap<Option<Slot>, Vec<&str>> = HashMap::new();
    for (index, &(topic, _)) in events.iter().enumerate() {
        let of_topic = topics.entry(topic).or_default();
        if of_topic.is_empty() {
            // Every topic shares one call on a standalone Redis.
            let slot = cluster.then(|| link.keys.slot(topic));
            slots.entry(slot).or_default().push(topic);
        }
        of_topic.push(index);
    }
    let calls = slots.into_values().map(|slot_topics| {
        let order: Vec<usize> = slot_topics
            .iter()
            .flat_map(|topic| topics[topic].iter().copied())
            .collect();
        let counts: Vec<(&str, usize)> = slot_topics
            .iter()
            .map(|topic| (*topic, topics[topic].len()))
            .collect();
        async move {
            let answer = invoke(link, &counts, order.iter().map(|&i| events[i].1)).await;
            (order, answer)
        }
    });
    let mut answers: Vec<Result<u64, RedisError>> =
        events.iter().map(|_| Err(RedisError::Closed)).collect();
    for (order, answer) in futures_util::future::join_all(calls).await {
        match answer {
            Ok(ids) if ids.len() == order.len() => {
                for (index, id) in order.into_iter().zip(ids) {
                    answers[index] = Ok(id);
                }
            }
            Ok(ids) => {
                let err = RedisError::Unavailable(format!(
                    "Redis answered {} ids for {} events",
                    ids.len(),
                    order.len()
                ));
                for index in order {
                    answers[index] = Err(err.duplicate());
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

/// One call of `publish.lua`: `counts` says how many of `bodies` each
/// topic has, in order. The ids Redis gave them, in the same order.
async fn invoke<'a>(
    link: &Link,
    counts: &[(&str, usize)],
    bodies: impl Iterator<Item = &'a [u8]>,
) -> Result<Vec<u64>, RedisError> {
    let mut connection = link.publish_connection()?;
    let (bound, ttl) = link.stream_limits();
    let mut invocation = link.publish_script.prepare_invoke();
    invocation.arg(bound).arg(ttl);
    let mut bodies = bodies;
    for &(topic, count) in counts {
        invocation.key(link.keys.stream(topic)).arg(count);
        for body in bodies.by_ref().take(count) {
            invocation.arg(body);
        }
    }
    let answered: Vec<String> = link
        .within(invocation.invoke_async(&mut connection))
        .await?;
    answered
        .iter()
        .map(|id| {
            ids::parse_redis(id)
                .ok_or_else(|| RedisError::Unavailable(format!("Redis answered {id:?} for an id")))
        })
        .collect()
}
