//! History reads: a topic's retained events without a stream, for a page's
//! first screen or an audit of what was sent.

use std::sync::Arc;

use tokio::time::Instant;

use super::config::{History, HistoryEvent, Start};
use super::ids;
use super::shared::Shared;
use super::topic::Topic;
use super::topic::with_locked;
use crate::decode::{Decoded, Decoder};

impl Shared {
    /// The retained events of `names` (sorted, deduplicated, not empty)
    /// after `after`, or the newest ones without it, at most `limit`.
    /// Topics not held are read as empty, and are not created.
    pub(super) fn history(&self, names: &[&str], after: Option<&str>, limit: usize) -> History {
        let now = Instant::now();
        let floor = self
            .forgotten_floor
            .load(std::sync::atomic::Ordering::SeqCst);
        let topics: Vec<Arc<Topic>> = names
            .iter()
            .map(|name| {
                self.find(name)
                    .unwrap_or_else(|| Arc::new(Topic::new(Arc::from(*name), floor)))
            })
            .collect();
        let start = match after {
            Some(id) if !id.is_empty() => Start::After(id),
            _ => Start::Rewind(limit),
        };
        with_locked(topics.iter().map(|topic| &**topic), |states| {
            let (cursors, reset) = self.resume(states, start, now);
            let mut entries: Vec<(usize, &super::log::Entry)> = cursors
                .iter()
                .zip(states.iter())
                .enumerate()
                .flat_map(|(topic, (&cursor, state))| {
                    state
                        .log
                        .after(cursor)
                        .filter(|entry| !entry.ephemeral)
                        .map(move |entry| (topic, entry))
                })
                .collect();
            entries.sort_unstable_by_key(|(_, entry)| entry.id);
            let more = entries.len() > limit;
            entries.truncate(limit);
            let composite = self.mirror && names.len() > 1;
            let mut at = cursors.clone();
            let events = entries
                .into_iter()
                .map(|(topic, entry)| {
                    at[topic] = entry.id;
                    let id = if composite {
                        ids::format_composite(&at)
                    } else {
                        self.ids.format(entry.id)
                    };
                    let (event, data) = decoded(&entry.frame);
                    HistoryEvent {
                        id,
                        topic: names[topic].to_owned(),
                        event,
                        data,
                    }
                })
                .collect();
            History {
                events,
                reset,
                more,
            }
        })
    }
}

/// The event name and data of an encoded frame (one the broker encoded,
/// so it decodes as one event).
fn decoded(frame: &[u8]) -> (String, String) {
    let mut decoder = Decoder::new()
        .max_event_len(usize::MAX)
        .max_line_len(usize::MAX);
    decoder.feed(frame);
    // A frame may carry comments and a `retry:` before its event.
    while let Some(item) = decoder.next_item() {
        if let Ok(Decoded::Event(event)) = item {
            return (event.event().to_owned(), event.into_data());
        }
    }
    ("message".to_owned(), String::new())
}
