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
    pub(crate) client: Arc<ClientShared>,
    /// Taken by the publish that wakes the client. A client of several
    /// topics leaves a clone in each.
    pub(crate) waker: Option<Waker>,
}

/// What publishers to any of a client's topics update.
#[derive(Debug, Default)]
pub(crate) struct ClientShared {
    /// Events of its topics published since it last read. Changed only
    /// under the lock of the topic it concerns; reset while the client
    /// holds the locks of all its topics, so it is exact.
    pub(crate) pending: AtomicUsize,
    /// Set once, when the client falls too far behind.
    pub(crate) lagged: AtomicBool,
}

impl ClientShared {
    /// Marks the client lagging; true if it was not already.
    pub(crate) fn lag(&self) -> bool {
        !self.lagged.swap(true, Ordering::Relaxed)
    }

    pub(crate) fn is_lagging(&self) -> bool {
        self.lagged.load(Ordering::Relaxed)
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
