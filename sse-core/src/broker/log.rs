//! One topic's bounded log: its published frames in id order, both the
//! topic's replay history and its fan-out buffer, read by every subscriber
//! through its own cursor.
//!
//! Ephemeral frames (`history=false`) pass through the log to reach the
//! live subscribers but are never history: they are not replayed, do not
//! count against the history bound, and losing one is never a reason to
//! reset a client that resumes.

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
    /// Live subscribers only: never replayed.
    pub(crate) ephemeral: bool,
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
    /// The newest id of this topic evicted from the front (or, for a new
    /// log, a bound on any evicted before it existed): every held entry is
    /// after it.
    floor: u64,
    /// The newest id of a *retained* frame of this topic that is gone: a
    /// client that saw it has lost no history.
    lost: u64,
    /// The newest id this log held or holds.
    newest: u64,
    /// How many held entries are ephemeral.
    ephemeral: usize,
}

impl Log {
    /// An empty log: ids up to `floor` may have existed and are gone.
    pub(crate) fn new(floor: u64) -> Self {
        Self {
            entries: VecDeque::new(),
            floor,
            lost: floor,
            newest: floor,
            ephemeral: 0,
        }
    }

    pub(crate) fn floor(&self) -> u64 {
        self.floor
    }

    /// The newest retained id that is gone (see [`Log::floor`] for any
    /// frame).
    pub(crate) fn lost(&self) -> u64 {
        self.lost
    }

    /// The newest id this log held or holds: every frame up to it is
    /// either here, below the floor, or an ephemeral frame gone.
    pub(crate) fn last_id(&self) -> u64 {
        self.newest
    }

    /// The newest retained (not ephemeral) id held.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn newest_retained(&self) -> Option<u64> {
        self.entries
            .iter()
            .rev()
            .find(|entry| !entry.ephemeral)
            .map(|entry| entry.id)
    }

    /// Every retained frame up to `through` is gone from the source of
    /// truth (a failover dropped them): no replay offers them, a cursor
    /// before `through` cannot be honoured, and no later frame takes an id
    /// up to it. The frames stay for readers that have not read them yet:
    /// a live stream goes on.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn mark_lost(&mut self, through: u64) {
        self.lost = self.lost.max(through);
        self.newest = self.newest.max(through);
    }

    /// Ids up to `id` were issued elsewhere and none is held here: a
    /// mirror's topic whose newest ids were ephemeral events.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn advance_to(&mut self, id: u64) {
        self.newest = self.newest.max(id);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A cursor from which a new client reads: `cursor`, moved past the
    /// floor, since frames up to it that are gone are either lost history
    /// (which [`Log::replay_floor`] accounts for) or ephemeral.
    pub(crate) fn start_at(&self, cursor: u64) -> u64 {
        cursor.max(self.floor)
    }

    /// Appends `frame` under `id`, which must be larger than every id
    /// appended before; an `ephemeral` frame is for live subscribers only.
    pub(crate) fn append(&mut self, id: u64, frame: Bytes, now: Instant, ephemeral: bool) {
        debug_assert!(id > self.last_id());
        self.newest = id;
        self.ephemeral += usize::from(ephemeral);
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
            ephemeral,
        });
    }

    /// Forgets everything up to `floor`: frames after the held ones and up
    /// to it were never received (a mirror's gap), so the held frames are
    /// no use for replay and a cursor before `floor` has lost events.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn skip_to(&mut self, floor: u64) {
        if floor > self.floor {
            self.entries.retain(|entry| entry.id > floor);
            self.ephemeral = self.entries.iter().filter(|e| e.ephemeral).count();
            self.floor = floor;
            self.lost = self.lost.max(floor);
            self.newest = self.newest.max(floor);
        }
    }

    /// Drops what neither replay nor fan-out needs: retained frames past
    /// the history bound, and past it or the fan-out bound (the larger
    /// while `subscribed`) once expired; ephemeral frames once no
    /// subscriber may still read them.
    pub(crate) fn evict(&mut self, retention: &Retention, subscribed: bool, now: Instant) {
        let fan_out = if subscribed { retention.fan_out } else { 0 };
        let capacity = retention.history.max(fan_out);
        while let Some(front) = self.entries.front() {
            let len = self.entries.len();
            let over = if front.ephemeral {
                // A subscriber may be as far behind as the capacity.
                !subscribed || len > capacity
            } else {
                let retained = len - self.ephemeral;
                (retained > retention.history || expired(front, retention.ttl, now))
                    && len > fan_out
            };
            if !over {
                break;
            }
            self.floor = front.id;
            if front.ephemeral {
                self.ephemeral -= 1;
            } else {
                self.lost = front.id;
            }
            self.entries.pop_front();
        }
        // Ephemeral frames behind a retained one stay until it goes: drop
        // those no subscriber within the capacity can still read, once
        // they are as many as the capacity, so that the work stays
        // amortised. Entries after the floor go, so the floor stays.
        if self.ephemeral > capacity.max(8) {
            let keep_from = if subscribed {
                self.entries.len().saturating_sub(capacity)
            } else {
                self.entries.len()
            };
            let mut index = 0;
            self.entries.retain(|entry| {
                let keep = !entry.ephemeral || index >= keep_from;
                index += 1;
                keep
            });
            self.ephemeral = self.entries.iter().filter(|e| e.ephemeral).count();
        }
    }

    /// How many retained frames a replay would offer now.
    pub(crate) fn replayable(&self, retention: &Retention, now: Instant) -> usize {
        if self.ephemeral == 0 {
            return self.entries.len() - self.replay_start(retention, now);
        }
        self.replay_range(retention, now).count()
    }

    /// The index of the oldest frame a replay may offer.
    fn replay_start(&self, retention: &Retention, now: Instant) -> usize {
        let by_count = if self.ephemeral == 0 {
            self.entries.len().saturating_sub(retention.history)
        } else {
            // The `history`th newest retained frame.
            let mut seen = 0;
            let mut start = self.entries.len();
            for (index, entry) in self.entries.iter().enumerate().rev() {
                if entry.ephemeral {
                    continue;
                }
                if seen == retention.history {
                    break;
                }
                seen += 1;
                start = index;
            }
            if seen < retention.history { 0 } else { start }
        };
        let by_age = self
            .entries
            .partition_point(|e| expired(e, retention.ttl, now));
        by_count.max(by_age)
    }

    /// The retained frames a replay would offer now, oldest first.
    pub(crate) fn replay_range(
        &self,
        retention: &Retention,
        now: Instant,
    ) -> impl DoubleEndedIterator<Item = &Entry> {
        self.entries
            .range(self.replay_start(retention, now)..)
            .filter(|entry| !entry.ephemeral)
    }

    /// The newest retained id that replay no longer offers: a client that
    /// saw it (or a later one) can be replayed exactly what followed; one
    /// that saw only older ids missed something.
    pub(crate) fn replay_floor(&self, retention: &Retention, now: Instant) -> u64 {
        let start = self.replay_start(retention, now);
        self.entries
            .range(..start)
            .rev()
            .find(|entry| !entry.ephemeral)
            // Frames at or before a loss (`mark_lost`) may still be held.
            .map_or(self.lost, |entry| entry.id.max(self.lost))
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
            log.append(100 + 2 * i, Bytes::new(), now, false);
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
    fn frames_marked_lost_are_never_replayed_but_still_read_live() {
        let now = Instant::now();
        let history = retention(10, 10);
        let mut log = log_with(3, &history, now);
        log.mark_lost(105);
        // A reader that has not read them yet still gets them.
        assert_eq!(ids_after(&log, 101), [102, 104]);
        assert_eq!(log.floor(), 99, "no reader counts as lagging");
        // A resume from before the loss cannot be honoured, and no later
        // frame takes a lost id.
        assert_eq!(log.replay_floor(&history, now), 105);
        assert_eq!(log.last_id(), 105);
        log.append(106, Bytes::new(), now, false);
        assert_eq!(log.replay_floor(&history, now), 105);
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
        log.append(100, Bytes::new(), start, false);
        log.append(101, Bytes::new(), start + T / 2, false);
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
