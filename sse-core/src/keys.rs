//! Where idempotency keys are kept: the state a key can be in, and the
//! store that keeps them in this process's memory. (Redis keeps them in
//! `redis::idempotency`; the hub's `idempotency` module decides what a
//! request with a key gets.)

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The most keys remembered in memory.
pub const MAX_KEYS: usize = 100_000;
/// The most bytes of remembered answers in memory (a batch's answer lists
/// its ids).
pub const MAX_ANSWER_BYTES: usize = 64 << 20;

/// What a key holds when a request claims or reads it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KeyState {
    /// This request holds it now.
    Claimed,
    /// A request with this fingerprint runs.
    Pending(String),
    /// A request with this fingerprint was answered this.
    Done(String, Bytes),
    /// Free (never claimed, expired or abandoned): claim it again.
    Gone,
}

/// Keys remembered in memory, at most [`MAX_KEYS`] of them and
/// [`MAX_ANSWER_BYTES`] of answers: past either, the keys that expire
/// first are forgotten early.
#[derive(Debug, Default)]
pub(crate) struct MemoryKeys {
    state: Mutex<KeysState>,
    /// Signalled whenever a key is completed or abandoned, for requests
    /// waiting on a pending one.
    pub(crate) changed: Notify,
}

#[derive(Debug, Default)]
struct KeysState {
    keys: HashMap<String, Slot>,
    answer_bytes: usize,
}

#[derive(Debug)]
enum Slot {
    Pending {
        fingerprint: String,
        expires: Instant,
    },
    Done {
        fingerprint: String,
        answer: Bytes,
        expires: Instant,
    },
}

impl Slot {
    fn state(&self, now: Instant) -> KeyState {
        match self {
            Self::Pending {
                fingerprint,
                expires,
            } if *expires > now => KeyState::Pending(fingerprint.clone()),
            Self::Done {
                fingerprint,
                answer,
                expires,
            } if *expires > now => KeyState::Done(fingerprint.clone(), answer.clone()),
            Self::Pending { .. } | Self::Done { .. } => KeyState::Gone,
        }
    }
}

impl MemoryKeys {
    fn lock(&self) -> std::sync::MutexGuard<'_, KeysState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Claims `key` for a request with `fingerprint` if it is free, for at
    /// most `pending_for` (so that a request that never ends does not
    /// hold it for ever); else what it holds.
    pub(crate) fn claim(&self, key: &str, fingerprint: &str, pending_for: Duration) -> KeyState {
        let mut state = self.lock();
        let now = Instant::now();
        match state.keys.get(key).map(|slot| slot.state(now)) {
            Some(KeyState::Gone) | None => {}
            Some(held) => return held,
        }
        state.remove(key);
        state.make_room(now);
        state.keys.insert(
            key.to_owned(),
            Slot::Pending {
                fingerprint: fingerprint.to_owned(),
                expires: now + pending_for,
            },
        );
        KeyState::Claimed
    }

    /// What `key` holds now.
    #[cfg(test)]
    fn read(&self, key: &str) -> KeyState {
        let now = Instant::now();
        self.lock()
            .keys
            .get(key)
            .map_or(KeyState::Gone, |slot| slot.state(now))
    }

    /// Remembers the answer of the request that claimed `key`, for `ttl`.
    pub(crate) fn complete(&self, key: &str, fingerprint: &str, answer: Bytes, ttl: Duration) {
        let mut state = self.lock();
        state.remove(key);
        state.answer_bytes += answer.len();
        state.keys.insert(
            key.to_owned(),
            Slot::Done {
                fingerprint: fingerprint.to_owned(),
                answer,
                expires: Instant::now() + ttl,
            },
        );
        drop(state);
        self.changed.notify_waiters();
    }

    /// Frees `key` if a request with `fingerprint` still holds it.
    pub(crate) fn abandon(&self, key: &str, fingerprint: &str) {
        let mut state = self.lock();
        if matches!(state.keys.get(key), Some(Slot::Pending { fingerprint: theirs, .. }) if theirs == fingerprint)
        {
            state.remove(key);
        }
        drop(state);
        self.changed.notify_waiters();
    }
}

impl KeysState {
    fn remove(&mut self, key: &str) {
        if let Some(Slot::Done { answer, .. }) = self.keys.remove(key) {
            self.answer_bytes -= answer.len();
        }
    }

    /// Below both bounds again: expired keys go, then the tenth that
    /// expires first (so that the work stays amortised).
    fn make_room(&mut self, now: Instant) {
        if self.keys.len() < MAX_KEYS && self.answer_bytes < MAX_ANSWER_BYTES {
            return;
        }
        let expired: Vec<String> = self
            .keys
            .iter()
            .filter(|(_, slot)| match slot {
                Slot::Done { expires, .. } | Slot::Pending { expires, .. } => *expires <= now,
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in &expired {
            self.remove(key);
        }
        if self.keys.len() < MAX_KEYS * 9 / 10 && self.answer_bytes < MAX_ANSWER_BYTES * 9 / 10 {
            return;
        }
        let mut done: Vec<(Instant, String)> = self
            .keys
            .iter()
            .filter_map(|(key, slot)| match slot {
                Slot::Done { expires, .. } => Some((*expires, key.clone())),
                Slot::Pending { .. } => None,
            })
            .collect();
        done.sort_unstable();
        let drop_count = (done.len() / 10).max(1);
        tracing::warn!(
            forgotten = drop_count,
            "idempotency keys over their memory bound: forgetting the ones that expire first"
        );
        for (_, key) in done.into_iter().take(drop_count) {
            self.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn memory_keys_stay_within_their_bound() {
        let keys = MemoryKeys::default();
        let ttl = Duration::from_secs(60);
        for n in 0..MAX_KEYS + 10 {
            let key = format!("k{n}");
            assert_eq!(
                keys.claim(&key, "f", MINUTE),
                KeyState::Claimed,
                "key {key} was free"
            );
            keys.complete(&key, "f", Bytes::from_static(b"{}"), ttl);
        }
        let held = keys.lock().keys.len();
        assert!(held <= MAX_KEYS, "{held} keys held");
        // The newest are kept; the ones expiring first went.
        let newest = format!("k{}", MAX_KEYS + 9);
        assert!(matches!(
            keys.claim(&newest, "f", MINUTE),
            KeyState::Done(..)
        ));
        assert_eq!(keys.claim("k0", "f", MINUTE), KeyState::Claimed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_is_free_again_once_expired_or_abandoned() {
        let keys = MemoryKeys::default();
        assert_eq!(keys.claim("k", "a", MINUTE), KeyState::Claimed);
        assert_eq!(keys.claim("k", "b", MINUTE), KeyState::Pending("a".into()));
        keys.abandon("k", "b");
        assert_eq!(
            keys.read("k"),
            KeyState::Pending("a".into()),
            "not b's to free"
        );
        keys.abandon("k", "a");
        assert_eq!(keys.read("k"), KeyState::Gone);
        assert_eq!(keys.claim("k", "a", MINUTE), KeyState::Claimed);
        keys.complete("k", "a", Bytes::from_static(b"{}"), Duration::from_secs(1));
        assert!(matches!(keys.read("k"), KeyState::Done(..)));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(keys.read("k"), KeyState::Gone);
        assert_eq!(keys.claim("k", "b", MINUTE), KeyState::Claimed);
        // A claim whose request never ends lapses.
        tokio::time::advance(MINUTE).await;
        assert_eq!(keys.read("k"), KeyState::Gone);
    }
}
