//! Presence over all instances: how many streams follow a topic.
//!
//! Each instance writes its own count of a topic's streams into the
//! topic's presence hash (`<prefix>:{<topic>}:presence`, field: the
//! instance's id) when the count changes, and beats its heart into
//! `<prefix>:instances` every [`BEAT`]. A read sums the counts of the
//! instances whose heart beat within [`ALIVE`] (by Redis's clock), so an
//! instance that died stops counting without anyone cleaning up after it.
//! Nothing here runs per event: only per stream opened or closed, and per
//! beat.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::RedisBroker;
use super::error::RedisError;
use super::link::Link;

/// How often an instance says it is alive, and looks for counts that
/// changed without a signal.
pub(super) const BEAT: Duration = Duration::from_millis(500);
/// An instance whose last beat is older than this counts for nothing.
const ALIVE: Duration = Duration::from_millis(1900);
/// A count to write again whatever it is.
const UNKNOWN: usize = usize::MAX;
/// Instances silent for this long are removed from the heartbeat hash.
const FORGET: Duration = Duration::from_secs(60);

/// For each instance id in ARGV[3..], 1 if it beat within ARGV[1] ms;
/// instances silent for ARGV[2] ms are removed.
const ALIVE_SCRIPT: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local alive = {}
for i = 3, #ARGV do
  local beat = redis.call('HGET', KEYS[1], ARGV[i])
  alive[i - 2] = (beat and now - tonumber(beat) <= tonumber(ARGV[1])) and 1 or 0
end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if now - tonumber(all[i + 1]) > tonumber(ARGV[2]) then
    redis.call('HDEL', KEYS[1], all[i])
  end
end
return alive
";

static ALIVE_SCRIPT_: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(ALIVE_SCRIPT));

fn millis(duration: Duration) -> String {
    duration.as_millis().to_string()
}

/// Keeps this instance's counts and heartbeat in Redis, until aborted.
pub(super) async fn run(link: Arc<Link>) {
    let mut reported: HashMap<String, usize> = HashMap::new();
    let mut connected = link.connected.subscribe();
    let mut beat = tokio::time::interval(BEAT);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let beat_due = tokio::select! {
            _ = beat.tick() => true,
            () = link.presence_changed.notified() => false,
            changed = connected.changed() => {
                if changed.is_err() {
                    return;
                }
                // A new session may be a new Redis, and counts may have
                // changed while it was away: write every count again,
                // zeros included.
                for count in reported.values_mut() {
                    *count = UNKNOWN;
                }
                false
            }
        };
        if link.can_publish().is_err() {
            continue;
        }
        if beat_due && let Err(err) = heartbeat(&link).await {
            tracing::debug!(%err, "presence heartbeat failed; will retry");
        }
        if let Err(err) = report(&link, &mut reported).await {
            tracing::debug!(%err, "presence report failed; will retry");
        }
    }
}

/// Writes Redis's time into this instance's heartbeat field. (Plain
/// commands, not a script: a beat is not counted as a script call.)
async fn heartbeat(link: &Link) -> Result<(), RedisError> {
    let mut connection = link.publish_connection()?;
    let (seconds, micros): (u64, u64) = link
        .within(redis::cmd("TIME").query_async(&mut connection))
        .await?;
    let now = seconds * 1000 + micros / 1000;
    link.within(
        redis::cmd("HSET")
            .arg(link.keys.instances())
            .arg(&link.instance)
            .arg(now)
            .query_async::<()>(&mut connection),
    )
    .await
}

/// Writes the counts that differ from what was reported.
async fn report(link: &Link, reported: &mut HashMap<String, usize>) -> Result<(), RedisError> {
    let mut topics: Vec<String> = link.interest.lock().topics.keys().cloned().collect();
    topics.extend(reported.keys().cloned());
    topics.sort_unstable();
    topics.dedup();
    let changed: Vec<(String, usize)> = topics
        .into_iter()
        .filter_map(|topic| {
            let count = link.broker.subscriber_count(&topic);
            let known = reported.get(&topic).copied().unwrap_or(0);
            (count != known).then_some((topic, count))
        })
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    let connection = link.publish_connection()?;
    let writes = changed.iter().map(|(topic, count)| {
        let mut connection = connection.clone();
        let mut command = if *count == 0 {
            redis::cmd("HDEL")
        } else {
            redis::cmd("HSET")
        };
        command.arg(link.keys.presence(topic)).arg(&link.instance);
        if *count > 0 {
            command.arg(*count);
        }
        async move {
            link.within(command.query_async::<()>(&mut connection))
                .await
        }
    });
    let results = futures_util::future::join_all(writes).await;
    let mut failed = None;
    for ((topic, count), result) in changed.into_iter().zip(results) {
        match result {
            Ok(()) if count == 0 => {
                reported.remove(&topic);
            }
            Ok(()) => {
                reported.insert(topic, count);
            }
            Err(err) => failed = Some(err),
        }
    }
    failed.map_or(Ok(()), Err)
}

impl RedisBroker {
    /// How many open streams follow each of `topics`, over all instances
    /// on this Redis whose heart beats (what `Hub::presence` answers in
    /// multi-instance mode). Each instance writes its counts when they
    /// change, so a stream that opens or ends is counted within 2 s, and
    /// an instance that dies stops counting within 2 s.
    ///
    /// # Errors
    ///
    /// [`RedisError::Unavailable`] when Redis cannot be read.
    pub async fn presence(&self, topics: &[String]) -> Result<BTreeMap<String, usize>, RedisError> {
        let link = &*self.link;
        let connection = link.publish_connection()?;
        let reads = topics.iter().map(|topic| {
            let mut connection = connection.clone();
            async move {
                link.within(
                    redis::cmd("HGETALL")
                        .arg(link.keys.presence(topic))
                        .query_async::<Vec<(String, usize)>>(&mut connection),
                )
                .await
            }
        });
        let counts: Vec<Vec<(String, usize)>> = futures_util::future::join_all(reads)
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        let mut instances: Vec<&str> = counts
            .iter()
            .flatten()
            .map(|(instance, _)| instance.as_str())
            .collect();
        instances.sort_unstable();
        instances.dedup();
        let alive: Vec<u8> = if instances.is_empty() {
            Vec::new()
        } else {
            let mut connection = connection.clone();
            let mut invocation = ALIVE_SCRIPT_.key(link.keys.instances());
            invocation.arg(millis(ALIVE)).arg(millis(FORGET));
            for instance in &instances {
                invocation.arg(*instance);
            }
            link.within(invocation.invoke_async(&mut connection))
                .await?
        };
        let alive: HashMap<&str, bool> = instances
            .iter()
            .zip(
                alive
                    .iter()
                    .map(|&a| a == 1)
                    .chain(std::iter::repeat(false)),
            )
            .map(|(instance, alive)| (*instance, alive))
            .collect();
        Ok(topics
            .iter()
            .zip(&counts)
            .map(|(topic, counts)| {
                let total = counts
                    .iter()
                    .filter(|(instance, _)| alive.get(instance.as_str()) == Some(&true))
                    .map(|(_, count)| count)
                    .sum();
                (topic.clone(), total)
            })
            .collect())
    }
}
