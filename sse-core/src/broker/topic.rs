//! One topic: its log and its subscribers, behind a lock of its own, so
//! that topics never wait for each other.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

use slab::Slab;

use super::log::Log;

#[derive(Debug)]
pub(crate) struct Topic {
    pub(crate) name: Arc<str>,
    state: Mutex<TopicState>,
}

#[derive(Debug)]
pub(crate) struct TopicState {
    pub(crate) log: Log,
    pub(crate) subscribers: Slab<Subscriber>,
    /// Removed from the broker's map (no subscribers, nothing retained):
    /// whoever still holds it must look the topic up again.
    pub(crate) forgotten: bool,
    /// A mirror follows this topic: kept, even empty and unsubscribed,
    /// since its log's floor says what the mirror loaded.
    pub(crate) pinned: bool,
}

/// One client's entry in one topic.
#[derive(Debug)]
pub(crate) struct Subscriber {
    pub(crate) queue: Queue,
    /// Taken by the publish that wakes the client. A client of several
    /// topics leaves a clone in each.
    pub(crate) waker: Option<Waker>,
}

/// How many unread events a client may have, by where it is between two
/// of its reads (see [`Mode`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backlog {
    /// Past this many, a client that took a chunk and has not come back
    /// for more lags: `client_buffer`.
    pub(crate) client_buffer: usize,
    /// At this many, such a client is woken so that a stream holding
    /// events back on its own (a coalescing window) takes them: half the
    /// buffer, so that it never counts what the server holds.
    pub(crate) wake_at: usize,
    /// Past this many, a client lags even within its [`TURN`]: its
    /// topic's log cannot hold them all, so it has lost one.
    pub(crate) retained: usize,
}

/// How long a client may go without reading (in the milliseconds of
/// [`Queue::push`]'s clock), counted from its last read or, if it waited
/// since, from its wake-up, before more than `client_buffer` unread events
/// make it lag. Within it only the log bounds what may wait: the server
/// may not have run the client's task yet (a burst published in a loop,
/// a busy runtime, a debug build on a loaded machine), and that is the
/// server's delay, not the client's. A client that stopped reading is cut
/// at the first publish past its buffer once its turn is over.
pub(crate) const TURN: u32 = 100;

impl Backlog {
    pub(crate) fn new(client_buffer: usize, retained: usize) -> Self {
        Self {
            client_buffer,
            wake_at: client_buffer.div_ceil(2).max(1),
            retained: retained.max(client_buffer),
        }
    }

    /// Whether half the buffer of `queue`'s client waits for it (and it
    /// still reads): it was woken to take them.
    pub(crate) fn is_pressed(&self, queue: &Queue) -> bool {
        !queue.is_lagging() && queue.pending() >= self.wake_at
    }

    /// The most unread events a client that last read (or was woken)
    /// at `since` may have at `now` (both in milliseconds, wrapping).
    fn limit(&self, since: u32, now: u32) -> usize {
        if now.wrapping_sub(since) < TURN {
            self.retained
        } else {
            self.client_buffer
        }
    }
}

/// Where a client is between two of its reads: whether a publish must wake
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Mode {
    /// It took a chunk (or never read yet) and has not come back: the
    /// framework writes it to a client that may not read. It is woken at
    /// `wake_at`, for a stream that holds the chunk to take more.
    Busy = 0,
    /// Its last read found nothing, and it waits for a publish to wake it.
    Parked = 1,
    /// A publish woke it and it has not read since: it is runnable, and
    /// its [`TURN`] starts then.
    Woken = 2,
}

impl Mode {
    fn from_u8(mode: u8) -> Self {
        match mode {
            1 => Self::Parked,
            2 => Self::Woken,
            _ => Self::Busy,
        }
    }
}

/// How many events wait for a client, and whether it lags.
#[derive(Debug)]
pub(crate) enum Queue {
    /// A client of this topic only: counted here, under this topic's lock,
    /// beside the other subscribers' (a publish walks them in a row).
    Own {
        pending: usize,
        lagged: bool,
        mode: Mode,
        /// When it last read, or was woken after waiting.
        since: u32,
    },
    /// A client of several topics: publishes to any of them count here.
    Shared(Arc<SharedQueue>),
}

/// The queue of a client of several topics.
#[derive(Debug)]
pub(crate) struct SharedQueue {
    /// Events of its topics published since it last read. Changed only
    /// under the lock of the topic it concerns; reset while the client
    /// holds the locks of all its topics, so it is exact.
    pending: AtomicUsize,
    lagged: AtomicBool,
    /// A [`Mode`]: publishes to different topics race only to leave
    /// `Parked`, and exactly one of them wins and wakes the client.
    mode: AtomicU8,
    /// When it last read, or was woken after waiting; written before
    /// `mode`.
    since: AtomicU32,
}

impl SharedQueue {
    /// A new client's queue, subscribed at `now`.
    pub(crate) fn new(now: u32) -> Self {
        Self {
            pending: AtomicUsize::new(0),
            lagged: AtomicBool::new(false),
            mode: AtomicU8::new(Mode::Busy as u8),
            since: AtomicU32::new(now),
        }
    }
}

/// What one more event did to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pushed {
    /// It made the client lag.
    pub(crate) lagged: bool,
    /// The client must be woken to read it.
    pub(crate) wake: bool,
}

impl Queue {
    /// A new client's queue, subscribed at `now`: nothing pending, and
    /// it has not read yet.
    pub(crate) fn own(now: u32) -> Self {
        Self::Own {
            pending: 0,
            lagged: false,
            mode: Mode::Busy,
            since: now,
        }
    }

    /// Counts one more event, published at `now` (milliseconds on a
    /// wrapping clock of the broker's).
    pub(crate) fn push(&mut self, backlog: &Backlog, now: u32) -> Pushed {
        match self {
            Self::Own {
                pending,
                lagged,
                mode,
                since,
            } => {
                *pending += 1;
                let wake = match *mode {
                    Mode::Parked => {
                        *mode = Mode::Woken;
                        *since = now;
                        true
                    }
                    Mode::Woken => false,
                    Mode::Busy => *pending == backlog.wake_at,
                };
                let newly = *pending > backlog.limit(*since, now) && !*lagged;
                *lagged |= newly;
                Pushed {
                    lagged: newly,
                    wake,
                }
            }
            Self::Shared(queue) => {
                let pending = queue.pending.fetch_add(1, Ordering::Relaxed) + 1;
                let mode = Mode::from_u8(queue.mode.load(Ordering::Acquire));
                let mut wake = false;
                if mode == Mode::Parked {
                    // Written before the mode, so that whoever sees
                    // `Woken` sees when (or a moment later).
                    queue.since.store(now, Ordering::Relaxed);
                    wake = queue
                        .mode
                        .compare_exchange(
                            Mode::Parked as u8,
                            Mode::Woken as u8,
                            Ordering::Release,
                            Ordering::Acquire,
                        )
                        .is_ok();
                } else if mode == Mode::Busy {
                    wake = pending == backlog.wake_at;
                }
                let since = queue.since.load(Ordering::Relaxed);
                let limit = backlog.limit(since, now);
                Pushed {
                    lagged: pending > limit && !queue.lagged.swap(true, Ordering::Relaxed),
                    wake,
                }
            }
        }
    }

    /// The client read everything at `now`; `parked` if it found nothing
    /// and now waits for a publish.
    pub(crate) fn clear(&mut self, parked: bool, now: u32) {
        let next = if parked { Mode::Parked } else { Mode::Busy };
        match self {
            Self::Own {
                pending,
                mode,
                since,
                ..
            } => {
                *pending = 0;
                *mode = next;
                *since = now;
            }
            Self::Shared(queue) => {
                queue.pending.store(0, Ordering::Relaxed);
                queue.since.store(now, Ordering::Relaxed);
                queue.mode.store(next as u8, Ordering::Relaxed);
            }
        }
    }

    /// Marks the client lagging; true if it was not already.
    pub(crate) fn lag(&mut self) -> bool {
        match self {
            Self::Own { lagged, .. } => !std::mem::replace(lagged, true),
            Self::Shared(queue) => !queue.lagged.swap(true, Ordering::Relaxed),
        }
    }

    /// Events published since the client last read.
    pub(crate) fn pending(&self) -> usize {
        match self {
            Self::Own { pending, .. } => *pending,
            Self::Shared(queue) => queue.pending.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn is_lagging(&self) -> bool {
        match self {
            Self::Own { lagged, .. } => *lagged,
            Self::Shared(queue) => queue.lagged.load(Ordering::Relaxed),
        }
    }
}

impl Topic {
    /// A new, empty topic; ids up to `floor` may have been evicted.
    pub(crate) fn new(name: Arc<str>, floor: u64) -> Self {
        Self {
            name,
            state: Mutex::new(TopicState {
                log: Log::new(floor),
                // Most topics have one subscriber (a topic per user): a
                // first insert would otherwise allocate room for four.
                subscribers: Slab::with_capacity(1),
                forgotten: false,
                pinned: false,
            }),
        }
    }

    /// The topic's lock. A panic while it was held cannot leave the state
    /// half-updated in a way later calls would trip on, so a poisoned lock
    /// is taken as it is rather than spreading the panic to every client.
    pub(crate) fn lock(&self) -> MutexGuard<'_, TopicState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl TopicState {
    /// Nothing retained and nobody subscribed: the topic can be forgotten.
    pub(crate) fn is_unused(&self) -> bool {
        self.subscribers.is_empty() && self.log.is_empty() && !self.pinned
    }
}

/// Runs `f` with all of `topics` locked at once, in the order given (name
/// order, so that no two callers wait for each other in opposite orders).
/// One topic, the common case, takes no allocation for its guard.
pub(super) fn with_locked<'a, R>(
    mut topics: impl ExactSizeIterator<Item = &'a Topic>,
    f: impl FnOnce(&mut [MutexGuard<'a, TopicState>]) -> R,
) -> R {
    if topics.len() == 1
        && let Some(topic) = topics.next()
    {
        return f(&mut [topic.lock()]);
    }
    let mut guards: Vec<_> = topics.map(Topic::lock).collect();
    f(&mut guards)
}
