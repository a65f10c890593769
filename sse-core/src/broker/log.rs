//! One topic's bounded log: its published frames in id order, both the
//! topic's replay history and its fan-out buffer, read by every subscriber
//! through its own cursor.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

/// One published frame.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) id: u64,
    pub(crate) frame: Bytes,
    pub(crate) published_at: Instant,
}

/// How long and how much a log keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retention {
    /// Frames offered for replay, the newest first.
    pub(crate) history: usize,
    /// Frames older than this are not offered for replay.
    pub(crate) ttl: Duration,
    /// Frames kept whatever their age while the topic has subscribers, so
    /// that a subscriber within its buffer never misses one.
    pub(crate) fan_out: usize,
}

#[derive(Debug)]
pub(crate) struct Log {
    entries: VecDeque<Entry>,
    /// The newest id of this topic no longer held (evicted, or, for a new
    /// log, a bound on any evicted before it existed).
    floor: u64,
}

impl Log {
    /// An empty log: ids up to `floor` may have existed and are gone.
    pub(crate) fn new(floor: u64) -> Self {
        Self {
            entries: VecDeque::new(),
            floor,
        }
    }

    pub(crate) fn floor(&self) -> u64 {
        self.floor
    }

    /// The newest id this log held or holds: every frame up to it is
    /// either here or below the floor.
    pub(crate) fn last_id(&self) -> u64 {
        self.entries.back().map_or(self.floor, |entry| entry.id)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends `frame` under `id`, which must be larger than every id
    /// appended before.
    pub(crate) fn append(&mut self, id: u64, frame: Bytes, now: Instant) {
        debug_assert!(id > self.last_id());
        // Ages decide expiry by position, so they never go backwards (a
        // mirror's events carry the time they were published elsewhere).
        let published_at = self
            .entries
            .back()
            .map_or(now, |last| now.max(last.published_at));
        self.entries.push_back(Entry {
            id,
            frame,
            published_at,
        });
    }

    /// Forgets everything up to `floor`: frames after the held ones and up
    /// to it were never received (a mirror's gap), so the held frames are
    /// no use for replay and a cursor before `floor` has lost events.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn skip_to(&mut self, floor: u64) {
        if floor > self.floor {
            self.entries.retain(|entry| entry.id > floor);
            self.floor = floor;
        }
    }

    /// Drops what neither replay nor fan-out needs: past the history
    /// bound, and past it or the fan-out bound (the larger while
    /// `subscribed`) once expired.
    pub(crate) fn evict(&mut self, retention: &Retention, subscribed: bool, now: Instant) {
        let fan_out = if subscribed { retention.fan_out } else { 0 };
        let capacity = retention.history.max(fan_out);
        while let Some(front) = self.entries.front() {
            let len = self.entries.len();
            let over = len > capacity || (len > fan_out && expired(front, retention.ttl, now));
            if !over {
                break;
            }
            self.floor = front.id;
            self.entries.pop_front();
        }
    }

    /// How many retained frames a replay would offer now.
    pub(crate) fn replayable(&self, retention: &Retention, now: Instant) -> usize {
        self.entries.len() - self.replay_start(retention, now)
    }

    /// The index of the oldest frame a replay may offer.
    fn replay_start(&self, retention: &Retention, now: Instant) -> usize {
        let by_count = self.entries.len().saturating_sub(retention.history);
        let by_age = self
            .entries
            .partition_point(|e| expired(e, retention.ttl, now));
        by_count.max(by_age)
    }

    /// The newest id that replay no longer offers: a client that saw it
    /// (or a later one) can be replayed exactly what followed; one that
    /// saw only older ids missed something.
    pub(crate) fn replay_floor(&self, retention: &Retention, now: Instant) -> u64 {
        match self.replay_start(retention, now).checked_sub(1) {
            Some(before) => self.entries[before].id,
            None => self.floor,
        }
    }

    /// The newest id held before `id`, or the floor: a cursor from which
    /// the frames from `id` on are read.
    pub(crate) fn last_before(&self, id: u64) -> u64 {
        let before = self.entries.partition_point(|entry| entry.id < id);
        before
            .checked_sub(1)
            .map_or(self.floor, |last| self.entries[last].id)
    }

    /// The frames after `cursor`, oldest first.
    pub(crate) fn after(&self, cursor: u64) -> std::collections::vec_deque::Iter<'_, Entry> {
        // A live reader is at most a few frames behind the newest: look
        // back from the end before searching the whole log.
        const NEAR_END: usize = 8;
        let len = self.entries.len();
        let near = self
            .entries
            .iter()
            .rev()
            .take(NEAR_END)
            .position(|e| e.id <= cursor);
        let start = match near {
            Some(newer) => len - newer,
            None if len <= NEAR_END => 0,
            None => self.entries.partition_point(|e| e.id <= cursor),
        };
        self.entries.range(start..)
    }
}

fn expired(entry: &Entry, ttl: Duration, now: Instant) -> bool {
    now.saturating_duration_since(entry.published_at) > ttl
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(60);

    fn retention(history: usize, fan_out: usize) -> Retention {
        Retention {
            history,
            ttl: T,
            fan_out,
        }
    }

    /// A subscribed log of ids 100.., every other id (the rest went to
    /// other topics).
    fn log_with(count: u64, retention: &Retention, now: Instant) -> Log {
        let mut log = Log::new(99);
        for i in 0..count {
            log.append(100 + 2 * i, Bytes::new(), now);
            log.evict(retention, true, now);
        }
        log
    }

    fn ids_after(log: &Log, cursor: u64) -> Vec<u64> {
        log.after(cursor).map(|e| e.id).collect()
    }

    #[test]
    fn frames_come_after_the_cursor_in_id_order() {
        let now = Instant::now();
        let log = log_with(3, &retention(10, 10), now);
        assert_eq!(ids_after(&log, 0), [100, 102, 104]);
        assert_eq!(ids_after(&log, 101), [102, 104]);
        assert_eq!(ids_after(&log, 102), [104]);
        assert_eq!(log.last_id(), 104);
        assert_eq!(log.floor(), 99);
        assert_eq!(Log::new(7).last_id(), 7);
    }

    #[test]
    fn after_finds_the_start_near_the_end_and_far_from_it() {
        let now = Instant::now();
        let log = log_with(40, &retention(100, 100), now);
        for cursor in 0..=190 {
            let expected: Vec<u64> = (0..40)
                .map(|i| 100 + 2 * i)
                .filter(|&id| id > cursor)
                .collect();
            assert_eq!(ids_after(&log, cursor), expected, "after {cursor}");
        }
    }

    #[test]
    fn eviction_by_count_moves_the_floor_to_the_evicted_id() {
        let now = Instant::now();
        let retention = retention(3, 3);
        let log = log_with(5, &retention, now);
        assert_eq!(ids_after(&log, 0), [104, 106, 108]);
        assert_eq!(log.floor(), 102);
        assert_eq!(log.replay_floor(&retention, now), 102);
    }

    #[test]
    fn fan_out_keeps_frames_that_replay_no_longer_offers_while_subscribed() {
        let now = Instant::now();
        let retention = retention(2, 4);
        let mut log = log_with(5, &retention, now);
        assert_eq!(ids_after(&log, 0), [102, 104, 106, 108]);
        assert_eq!(log.replayable(&retention, now), 2);
        assert_eq!(log.replay_floor(&retention, now), 104);
        // Without subscribers, only history is kept.
        log.evict(&retention, false, now);
        assert_eq!(ids_after(&log, 0), [106, 108]);
        assert_eq!(log.floor(), 104);
    }

    #[test]
    fn history_zero_offers_nothing_for_replay() {
        let now = Instant::now();
        let retention = retention(0, 4);
        let mut log = log_with(3, &retention, now);
        assert_eq!(log.replayable(&retention, now), 0);
        assert_eq!(log.replay_floor(&retention, now), 104);
        log.evict(&retention, false, now);
        assert!(log.is_empty());
        assert_eq!(log.last_id(), 104);
    }

    #[test]
    fn expired_frames_are_not_replayed_and_are_evicted_past_fan_out() {
        let start = Instant::now();
        let retention = retention(10, 1);
        let mut log = Log::new(99);
        log.append(100, Bytes::new(), start);
        log.append(101, Bytes::new(), start + T / 2);
        let later = start + T + Duration::from_millis(1);
        assert_eq!(log.replayable(&retention, later), 1);
        assert_eq!(log.replay_floor(&retention, later), 100);
        log.evict(&retention, true, later);
        assert_eq!(log.floor(), 100);
        assert_eq!(ids_after(&log, 0), [101]);
        let much_later = later + T;
        log.evict(&retention, true, much_later);
        assert_eq!(
            ids_after(&log, 0),
            [101],
            "the fan-out bound keeps the newest frame while subscribed"
        );
        assert_eq!(log.replayable(&retention, much_later), 0);
        log.evict(&retention, false, much_later);
        assert!(log.is_empty(), "unsubscribed, expired frames all go");
        assert_eq!(log.floor(), 101);
    }
}
