//! The one bounded log that is both the replay history and the fan-out
//! buffer: published frames in id order, read by every client through its
//! own cursor.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

/// One published frame.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) id: u64,
    pub(crate) topic: Arc<str>,
    pub(crate) frame: Bytes,
    pub(crate) published_at: Instant,
}

/// Where a client's stream starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resume {
    /// The id of the last frame the client counts as sent.
    pub(crate) cursor: u64,
    /// The last event id could not be honoured: events may have been lost.
    pub(crate) reset: bool,
}

#[derive(Debug)]
pub(crate) struct Log {
    entries: VecDeque<Entry>,
    /// Frames kept whatever their age, so that live clients can read them.
    fan_out: usize,
    /// Frames offered for replay, the newest first.
    history: usize,
    ttl: Duration,
    /// The newest id no longer held (evicted, or issued before the start).
    floor: u64,
    /// The newest id issued.
    newest: u64,
}

impl Log {
    /// A log whose first id will be `first_id`.
    pub(crate) fn new(first_id: u64, history: usize, ttl: Duration, client_buffer: usize) -> Self {
        let before_first = first_id.saturating_sub(1);
        Self {
            entries: VecDeque::new(),
            fan_out: client_buffer.max(1),
            history,
            ttl,
            floor: before_first,
            newest: before_first,
        }
    }

    pub(crate) fn newest(&self) -> u64 {
        self.newest
    }

    pub(crate) fn floor(&self) -> u64 {
        self.floor
    }

    /// Issues the next id and appends `frame` under it.
    pub(crate) fn append(&mut self, topic: Arc<str>, frame: Bytes, now: Instant) -> u64 {
        self.newest += 1;
        self.entries.push_back(Entry {
            id: self.newest,
            topic,
            frame,
            published_at: now,
        });
        self.evict(now);
        self.newest
    }

    /// Drops what neither replay nor fan-out needs: past the larger of the
    /// two bounds, and past the fan-out bound once expired.
    pub(crate) fn evict(&mut self, now: Instant) {
        let capacity = self.history.max(self.fan_out);
        while let Some(front) = self.entries.front() {
            let over = self.entries.len() > capacity
                || (self.entries.len() > self.fan_out && self.expired(front, now));
            if !over {
                break;
            }
            self.floor = front.id;
            self.entries.pop_front();
        }
    }

    fn expired(&self, entry: &Entry, now: Instant) -> bool {
        now.saturating_duration_since(entry.published_at) > self.ttl
    }

    /// How many retained frames a replay would offer now.
    pub(crate) fn replayable(&self, now: Instant) -> usize {
        self.entries.len() - self.replay_start(now)
    }

    /// The index of the oldest frame a replay may offer.
    fn replay_start(&self, now: Instant) -> usize {
        let by_count = self.entries.len().saturating_sub(self.history);
        let by_age = self.entries.partition_point(|e| self.expired(e, now));
        by_count.max(by_age)
    }

    /// Where a client that last saw `last_event_id` resumes.
    ///
    /// No id: live events only. An id inside what replay still covers:
    /// every frame after it. Anything else (unparsable, newer than any id
    /// issued, or older than the replay window, so events after it are
    /// gone): a reset, and every frame replay still covers.
    pub(crate) fn resume(&self, last_event_id: Option<&str>, now: Instant) -> Resume {
        let Some(given) = last_event_id else {
            return Resume {
                cursor: self.newest,
                reset: false,
            };
        };
        let start = self.replay_start(now);
        let replay_floor = match start.checked_sub(1) {
            Some(before) => self.entries[before].id,
            None => self.floor,
        };
        match parse_id(given) {
            Some(id) if (replay_floor..=self.newest).contains(&id) => Resume {
                cursor: id,
                reset: false,
            },
            _ => Resume {
                cursor: replay_floor,
                reset: true,
            },
        }
    }

    /// The frames after `cursor`, oldest first.
    pub(crate) fn after(&self, cursor: u64) -> impl Iterator<Item = &Entry> {
        let start = self.entries.partition_point(|e| e.id <= cursor);
        self.entries.range(start..)
    }
}

/// Ids are decimal digits only; `u64::from_str` would also take a sign.
fn parse_id(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(60);

    fn log_with(ids: u64, history: usize, fan_out: usize, now: Instant) -> Log {
        let mut log = Log::new(100, history, T, fan_out);
        for _ in 0..ids {
            log.append(Arc::from("t"), Bytes::new(), now);
        }
        log
    }

    fn ids_after(log: &Log, cursor: u64) -> Vec<u64> {
        log.after(cursor).map(|e| e.id).collect()
    }

    #[test]
    fn ids_start_at_the_seed_and_increase() {
        let now = Instant::now();
        let log = log_with(3, 10, 10, now);
        assert_eq!(ids_after(&log, 0), [100, 101, 102]);
        assert_eq!(log.newest(), 102);
        assert_eq!(log.floor(), 99);
    }

    #[test]
    fn resume_without_an_id_is_live_only() {
        let now = Instant::now();
        let log = log_with(3, 10, 10, now);
        let resume = log.resume(None, now);
        assert_eq!(
            resume,
            Resume {
                cursor: 102,
                reset: false
            }
        );
        assert!(ids_after(&log, resume.cursor).is_empty());
    }

    #[test]
    fn resume_inside_the_window_replays_what_follows() {
        let now = Instant::now();
        let log = log_with(5, 10, 10, now);
        assert_eq!(
            log.resume(Some("101"), now),
            Resume {
                cursor: 101,
                reset: false
            }
        );
        assert_eq!(
            log.resume(Some("104"), now),
            Resume {
                cursor: 104,
                reset: false
            }
        );
        // The id before the first one is still exact: nothing was lost.
        assert_eq!(
            log.resume(Some("99"), now),
            Resume {
                cursor: 99,
                reset: false
            }
        );
    }

    #[test]
    fn unhonourable_ids_reset_to_everything_retained() {
        let now = Instant::now();
        let log = log_with(5, 10, 10, now);
        for given in [
            "",
            "abc",
            "+101",
            "-1",
            "1.5",
            "105",
            "99999999999999999999",
            "98",
            "0",
        ] {
            assert_eq!(
                log.resume(Some(given), now),
                Resume {
                    cursor: 99,
                    reset: true
                },
                "{given:?}"
            );
        }
    }

    #[test]
    fn eviction_by_count_moves_the_floor() {
        let now = Instant::now();
        let log = log_with(5, 3, 3, now);
        assert_eq!(ids_after(&log, 0), [102, 103, 104]);
        assert_eq!(log.floor(), 101);
        assert_eq!(
            log.resume(Some("101"), now),
            Resume {
                cursor: 101,
                reset: false
            }
        );
        assert_eq!(
            log.resume(Some("100"), now),
            Resume {
                cursor: 101,
                reset: true
            }
        );
    }

    #[test]
    fn fan_out_keeps_frames_that_replay_no_longer_offers() {
        let now = Instant::now();
        let log = log_with(5, 2, 4, now);
        assert_eq!(ids_after(&log, 0), [101, 102, 103, 104]);
        assert_eq!(log.replayable(now), 2);
        assert_eq!(
            log.resume(Some("102"), now),
            Resume {
                cursor: 102,
                reset: false
            }
        );
        assert_eq!(
            log.resume(Some("101"), now),
            Resume {
                cursor: 102,
                reset: true
            }
        );
    }

    #[test]
    fn history_zero_disables_replay() {
        let now = Instant::now();
        let log = log_with(3, 0, 4, now);
        assert_eq!(log.replayable(now), 0);
        assert_eq!(
            log.resume(Some("102"), now),
            Resume {
                cursor: 102,
                reset: false
            }
        );
        assert_eq!(
            log.resume(Some("101"), now),
            Resume {
                cursor: 102,
                reset: true
            }
        );
    }

    #[test]
    fn expired_frames_are_not_replayed_and_are_evicted_past_fan_out() {
        let start = Instant::now();
        let mut log = Log::new(100, 10, T, 1);
        log.append(Arc::from("t"), Bytes::new(), start);
        log.append(Arc::from("t"), Bytes::new(), start + T / 2);
        let later = start + T + Duration::from_millis(1);
        assert_eq!(log.replayable(later), 1);
        assert_eq!(
            log.resume(Some("99"), later),
            Resume {
                cursor: 100,
                reset: true
            }
        );
        assert_eq!(
            log.resume(Some("100"), later),
            Resume {
                cursor: 100,
                reset: false
            }
        );
        log.evict(later);
        assert_eq!(log.floor(), 100);
        assert_eq!(ids_after(&log, 0), [101]);
        let much_later = later + T;
        log.evict(much_later);
        assert_eq!(
            ids_after(&log, 0),
            [101],
            "the fan-out bound keeps the newest frame"
        );
        assert_eq!(log.replayable(much_later), 0);
    }
}
