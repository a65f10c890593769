//! `Idempotency-Key` on publishes: a retried publish answers what the
//! first one did and publishes nothing.
//!
//! Each key is remembered with its request's fingerprint (SHA-256 of the
//! route, the topic, the event name, whether it is kept, and the body) and
//! its `200` answer, for [`HubConfig::idempotency_ttl`]; in memory, or in
//! Redis in multi-instance mode, so that a retry reaching another instance
//! is recognised too. In memory at most [`MAX_KEYS`] keys and
//! [`MAX_ANSWER_BYTES`] of answers are kept: past either, the keys that
//! expire first are forgotten early (a retry of one of them then
//! publishes again).
//!
//! [`HubConfig::idempotency_ttl`]: super::HubConfig::idempotency_ttl

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::response::{Response, error};
use crate::request::Headers;

/// The most keys remembered in memory.
pub const MAX_KEYS: usize = 100_000;
/// The most bytes of remembered answers in memory (a batch's answer lists
/// its ids).
pub const MAX_ANSWER_BYTES: usize = 64 << 20;
/// The longest key.
pub const MAX_KEY_LEN: usize = 128;

/// The request's `Idempotency-Key`, if any: 1 to 128 visible ASCII
/// characters, else a `400`.
// A refusal is made once per request: boxing it would save nothing.
#[allow(clippy::result_large_err)]
pub(super) fn key_of(headers: &dyn Headers) -> Result<Option<String>, Response> {
    let Some(value) = headers.value("idempotency-key") else {
        return Ok(None);
    };
    let visible = value.iter().all(|b| (0x21..=0x7e).contains(b));
    if !visible || value.is_empty() || value.len() > MAX_KEY_LEN {
        return Err(error(
            400,
            &format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        ));
    }
    // Visible ASCII is UTF-8.
    Ok(Some(String::from_utf8_lossy(value).into_owned()))
}

/// The fingerprint of a request: what makes two requests with one key the
/// same, as hex.
pub(super) fn fingerprint(parts: &[&[u8]]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        // Length-prefixed, so that parts cannot run into each other.
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// What a claim on a key found.
pub(super) enum Claim {
    /// This request runs; the key is released when the guard drops
    /// without [`Owned::complete`].
    Owned(Owned),
    /// The same request was answered this.
    Replay(Bytes),
    /// The key was used for a different request.
    Mismatch,
    /// The same request still runs elsewhere after the wait.
    InProgress,
    /// The key store cannot be reached.
    #[cfg(feature = "redis")]
    Failed(Response),
}

/// Keys remembered in memory.
#[derive(Debug, Default)]
pub(super) struct MemoryKeys {
    state: Mutex<KeysState>,
    changed: Notify,
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
    },
    Done {
        fingerprint: String,
        answer: Bytes,
        expires: Instant,
    },
}

impl MemoryKeys {
    fn lock(&self) -> std::sync::MutexGuard<'_, KeysState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn try_claim(&self, key: &str, fingerprint: &str) -> Option<Claim> {
        let mut state = self.lock();
        let now = Instant::now();
        match state.keys.get(key) {
            Some(Slot::Done {
                fingerprint: theirs,
                answer,
                expires,
            }) if *expires > now => Some(if theirs == fingerprint {
                Claim::Replay(answer.clone())
            } else {
                Claim::Mismatch
            }),
            Some(Slot::Pending {
                fingerprint: theirs,
            }) if theirs != fingerprint => Some(Claim::Mismatch),
            Some(Slot::Pending { .. }) => None,
            _ => {
                state.remove(key);
                state.make_room(now);
                state.keys.insert(
                    key.to_owned(),
                    Slot::Pending {
                        fingerprint: fingerprint.to_owned(),
                    },
                );
                Some(Claim::Owned(Owned::new(key, fingerprint)))
            }
        }
    }

    fn complete(&self, key: &str, fingerprint: &str, answer: Bytes, ttl: Duration) {
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

    fn abandon(&self, key: &str, fingerprint: &str) {
        let mut state = self.lock();
        if matches!(state.keys.get(key), Some(Slot::Pending { fingerprint: theirs }) if theirs == fingerprint)
        {
            state.remove(key);
        }
        drop(state);
        self.changed.notify_waiters();
    }

    /// How many keys are remembered.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lock().keys.len()
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
            .filter(|(_, slot)| matches!(slot, Slot::Done { expires, .. } if *expires <= now))
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

/// Where a key lives.
#[derive(Clone)]
enum Store {
    Memory(Arc<MemoryKeys>),
    #[cfg(feature = "redis")]
    Redis(crate::redis::RedisBroker),
}

/// A key this request holds while it publishes: released on drop unless
/// completed, so that a cancelled request does not hold it.
pub(super) struct Owned {
    store: Option<Store>,
    key: String,
    fingerprint: String,
}

impl Owned {
    fn new(key: &str, fingerprint: &str) -> Self {
        Self {
            store: None,
            key: key.to_owned(),
            fingerprint: fingerprint.to_owned(),
        }
    }

    fn held_in(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    /// Remembers `answer` for the key, for `ttl`.
    pub(super) async fn complete(mut self, answer: Bytes, ttl: Duration) {
        let Some(store) = self.store.take() else {
            return;
        };
        match store {
            Store::Memory(keys) => keys.complete(&self.key, &self.fingerprint, answer, ttl),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => {
                let stored = redis
                    .complete_key(&self.key, &self.fingerprint, &answer, ttl)
                    .await;
                if let Err(err) = stored {
                    // The pending claim expires after the request timeout;
                    // a retry after it publishes again.
                    tracing::warn!(%err, "could not remember an idempotency key's answer");
                }
            }
        }
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        let Some(store) = self.store.take() else {
            return;
        };
        match store {
            Store::Memory(keys) => keys.abandon(&self.key, &self.fingerprint),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => {
                let (key, fingerprint) = (self.key.clone(), self.fingerprint.clone());
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move {
                        if let Err(err) = redis.abandon_key(&key, &fingerprint).await {
                            tracing::debug!(%err, "an idempotency key is released when it expires");
                        }
                    });
                }
            }
        }
    }
}

/// Where a hub's keys live, and its settings for them.
pub(super) struct KeyStore<'a> {
    pub(super) memory: &'a Arc<MemoryKeys>,
    #[cfg(feature = "redis")]
    pub(super) redis: Option<&'a crate::redis::RedisBroker>,
    /// How long an answer is remembered.
    pub(super) ttl: Duration,
    /// How long a request waits for the same one running elsewhere (the
    /// request timeout).
    pub(super) wait: Duration,
}

impl KeyStore<'_> {
    /// Claims `key` for a request with `fingerprint`: waits, up to the
    /// request timeout, while the same request runs elsewhere.
    pub(super) async fn claim(&self, key: &str, fingerprint: &str) -> Claim {
        let deadline = Instant::now() + self.wait;
        #[cfg(feature = "redis")]
        if let Some(redis) = self.redis {
            return claim_in_redis(redis, key, fingerprint, self.wait, deadline).await;
        }
        let keys = self.memory;
        loop {
            let changed = keys.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(claim) = keys.try_claim(key, fingerprint) {
                return match claim {
                    Claim::Owned(owned) => Claim::Owned(owned.held_in(Store::Memory(keys.clone()))),
                    other => other,
                };
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Claim::InProgress;
            }
        }
    }
}

#[cfg(feature = "redis")]
async fn claim_in_redis(
    redis: &crate::redis::RedisBroker,
    key: &str,
    fingerprint: &str,
    pending_for: Duration,
    deadline: Instant,
) -> Claim {
    use crate::redis::idempotency::KeyState;
    // Another instance's request gives no signal here: look again at this
    // pace.
    const POLL: Duration = Duration::from_millis(20);
    let mut state = redis.claim_key(key, fingerprint, pending_for).await;
    loop {
        match state {
            Err(err) => return Claim::Failed(super::response::unavailable(&err)),
            Ok(KeyState::Claimed) => {
                return Claim::Owned(
                    Owned::new(key, fingerprint).held_in(Store::Redis(redis.clone())),
                );
            }
            Ok(KeyState::Done(theirs, answer)) if theirs == fingerprint => {
                return Claim::Replay(answer);
            }
            Ok(KeyState::Done(..)) => return Claim::Mismatch,
            Ok(KeyState::Pending(theirs)) if theirs != fingerprint => return Claim::Mismatch,
            Ok(KeyState::Pending(_)) => {
                if Instant::now() + POLL > deadline {
                    return Claim::InProgress;
                }
                tokio::time::sleep(POLL).await;
                state = redis.read_key(key).await;
            }
            Ok(KeyState::Gone) => {
                state = redis.claim_key(key, fingerprint, pending_for).await;
            }
        }
    }
}

impl KeyStore<'_> {
    /// Answers a publish through its idempotency key, if it has one: the
    /// remembered answer, `422`, `409`, or `publish`'s answer, remembered
    /// when it is a `200`.
    pub(super) async fn idempotent(
        &self,
        key: Option<String>,
        fingerprint: impl FnOnce() -> String,
        publish: impl Future<Output = Response>,
    ) -> Response {
        let Some(key) = key else {
            return publish.await;
        };
        let fingerprint = fingerprint();
        match self.claim(&key, &fingerprint).await {
            Claim::Owned(owned) => {
                let response = publish.await;
                if let (200, super::Body::Full(answer)) = (response.status, &response.body) {
                    owned.complete(answer.clone(), self.ttl).await;
                }
                response
            }
            Claim::Replay(answer) => Response {
                status: 200,
                headers: vec![
                    ("content-type", "application/json".into()),
                    ("idempotent-replayed", "true".into()),
                ],
                body: super::Body::Full(answer),
            },
            Claim::Mismatch => error(
                422,
                "this Idempotency-Key was used for a different request: use a new key for a new request",
            ),
            Claim::InProgress => error(
                409,
                "a request with this Idempotency-Key is still in progress: retry later",
            ),
            #[cfg(feature = "redis")]
            Claim::Failed(response) => response,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_keys_stay_within_their_bound() {
        let keys = Arc::new(MemoryKeys::default());
        let ttl = Duration::from_secs(60);
        for n in 0..MAX_KEYS + 10 {
            let key = format!("k{n}");
            let Some(Claim::Owned(owned)) = keys.try_claim(&key, "f") else {
                panic!("key {key} was free");
            };
            owned
                .held_in(Store::Memory(keys.clone()))
                .complete(Bytes::from_static(b"{}"), ttl)
                .await;
        }
        let held = keys.lock().keys.len();
        assert!(held <= MAX_KEYS, "{held} keys held");
        // The newest are kept; the ones expiring first went.
        let newest = format!("k{}", MAX_KEYS + 9);
        assert!(matches!(
            keys.try_claim(&newest, "f"),
            Some(Claim::Replay(_))
        ));
        assert!(matches!(keys.try_claim("k0", "f"), Some(Claim::Owned(_))));
    }

    #[test]
    fn fingerprints_separate_their_parts() {
        assert_ne!(fingerprint(&[b"ab", b"c"]), fingerprint(&[b"a", b"bc"]));
        assert_eq!(fingerprint(&[b"a"]).len(), 64);
    }
}
