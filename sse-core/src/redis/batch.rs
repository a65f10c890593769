//! Batched publishes: concurrent publishes of one instance share script
//! calls. Each publisher queues its event and waits for its own answer; one
//! task takes everything queued (up to a bound) as one call of
//! `publish_batch.lua`, with a few calls in flight at once so that Redis
//! never waits for the instance. A batch costs Redis one script call, one
//! clock read, one write of the newest id, one index trim and one Pub/Sub
//! message, where one call per event paid each of them per event.
//!
//! What each publisher is told does not change: the id of its own event
//! (ids are consecutive within a batch, in queue order), or the error of
//! the call its event was in.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::error::RedisError;
use super::link::Link;
use crate::broker::ids;

/// Script calls in flight at once: one being run by Redis while the next
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
        // The permit comes first: while every call is in flight, events
        // queue up for the next batch instead of leaving one by one.
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

/// Publishes `batch` in one script call and answers each publisher.
async fn flush(link: &Link, batch: Vec<Pending>) {
    match invoke(link, &batch).await {
        Ok(first) => {
            for (pending, id) in batch.into_iter().zip(first..) {
                // A publisher that stopped waiting (its request was
                // dropped) still had its event published.
                let _ = pending.reply.send(Ok(id));
            }
        }
        Err(err) => {
            for pending in batch {
                let _ = pending.reply.send(Err(err.duplicate()));
            }
        }
    }
}

/// The id of `batch`'s first event: the others follow it one apart, as
/// the script gives them (its `u64` form counts on into the next
/// millisecond past the largest sequence, as the script does).
async fn invoke(link: &Link, batch: &[Pending]) -> Result<u64, RedisError> {
    let mut connection = link.publish_connection()?;
    let (bound, ttl) = link.stream_limits();
    let mut records = Vec::with_capacity(
        batch
            .iter()
            .map(|pending| pending.topic.len() + pending.body.len() + 16)
            .sum(),
    );
    for pending in batch {
        super::message::write_record(&mut records, &pending.topic, &pending.body);
    }
    let mut invocation = link.batch_script.prepare_invoke();
    invocation
        .key(&link.keys.index)
        .key(&link.keys.last)
        .arg(bound)
        .arg(ttl)
        .arg(&link.keys.channel)
        .arg(link.broker.format_id(link.broker.newest()))
        .arg(records);
    for pending in batch {
        invocation
            .key(link.keys.stream(&pending.topic))
            .arg(&pending.topic)
            .arg(pending.body.as_ref());
    }
    let first: String = link
        .within(invocation.invoke_async(&mut connection))
        .await?;
    ids::parse_redis(&first)
        .ok_or_else(|| RedisError::Unavailable(format!("Redis answered {first:?} for an id")))
}
