//! One topic: its log and its subscribers, behind a lock of its own, so
//! that topics never wait for each other.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
}

/// One client's entry in one topic.
#[derive(Debug)]
pub(crate) struct Subscriber {
    pub(crate) queue: Queue,
    /// Taken by the publish that wakes the client. A client of several
    /// topics leaves a clone in each.
    pub(crate) waker: Option<Waker>,
}

/// How many events wait for a client, and whether it lags.
#[derive(Debug)]
pub(crate) enum Queue {
    /// A client of this topic only: counted here, under this topic's lock,
    /// beside the other subscribers' (a publish walks them in a row).
    Own { pending: usize, lagged: bool },
    /// A client of several topics: publishes to any of them count here.
    Shared(Arc<SharedQueue>),
}

/// The queue of a client of several topics.
#[derive(Debug, Default)]
pub(crate) struct SharedQueue {
    /// Events of its topics published since it last read. Changed only
    /// under the lock of the topic it concerns; reset while the client
    /// holds the locks of all its topics, so it is exact.
    pending: AtomicUsize,
    lagged: AtomicBool,
}

impl Queue {
    /// Counts one more event; true if that made the client lag.
    pub(crate) fn push(&mut self, client_buffer: usize) -> bool {
        match self {
            Self::Own { pending, lagged } => {
                *pending += 1;
                let newly = *pending > client_buffer && !*lagged;
                *lagged |= newly;
                newly
            }
            Self::Shared(queue) => {
                let pending = queue.pending.fetch_add(1, Ordering::Relaxed) + 1;
                pending > client_buffer && !queue.lagged.swap(true, Ordering::Relaxed)
            }
        }
    }

    /// The client read everything: nothing is pending.
    pub(crate) fn clear(&mut self) {
        match self {
            Self::Own { pending, .. } => *pending = 0,
            Self::Shared(queue) => queue.pending.store(0, Ordering::Relaxed),
        }
    }

    /// Marks the client lagging; true if it was not already.
    pub(crate) fn lag(&mut self) -> bool {
        match self {
            Self::Own { lagged, .. } => !std::mem::replace(lagged, true),
            Self::Shared(queue) => !queue.lagged.swap(true, Ordering::Relaxed),
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
        self.subscribers.is_empty() && self.log.is_empty()
    }
}
