//! `Idempotency-Key` on publishes: a retried publish answers what the
//! first one did and publishes nothing.
//!
//! Each key is remembered with its request's fingerprint (SHA-256 of the
//! route, the topic, the event name, whether it is kept, and the body) and
//! its `200` answer, for [`HubConfig::idempotency_ttl`], by the hub's
//! engine: in memory, or in Redis in multi-instance mode, so that a retry
//! reaching another instance is recognised too. In memory at most
//! [`MAX_KEYS`] keys and [`MAX_ANSWER_BYTES`] of answers are kept: past
//! either, the keys that expire first are forgotten early (a retry of one
//! of them then publishes again).
//!
//! [`HubConfig::idempotency_ttl`]: super::HubConfig::idempotency_ttl

use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::response::{Response, error, unavailable};
use crate::engine::Engine;
use crate::keys::KeyState;
pub use crate::keys::{MAX_ANSWER_BYTES, MAX_KEYS};
use crate::request::Headers;

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
enum Claim {
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
    Failed(Response),
}

/// A key this request holds while it publishes: released on drop unless
/// completed, so that a cancelled request does not hold it.
struct Owned {
    engine: Option<Engine>,
    key: String,
    fingerprint: String,
}

impl Owned {
    /// Remembers `answer` for the key, for `ttl`.
    async fn complete(mut self, answer: Bytes, ttl: Duration) {
        let Some(engine) = self.engine.take() else {
            return;
        };
        if let Err(err) = engine
            .complete_key(&self.key, &self.fingerprint, answer, ttl)
            .await
        {
            // The pending claim lapses after the request timeout; a retry
            // after it publishes again.
            tracing::warn!(%err, "could not remember an idempotency key's answer");
        }
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.take() {
            engine.abandon_key(&self.key, &self.fingerprint);
        }
    }
}

/// Where a hub's keys live, and its settings for them.
pub(super) struct KeyStore<'a> {
    pub(super) engine: &'a Engine,
    /// How long an answer is remembered.
    pub(super) ttl: Duration,
    /// How long a request waits for the same one running elsewhere (the
    /// request timeout), and how long a claim lasts.
    pub(super) wait: Duration,
}

/// How often a request waiting on a key looks again where the engine
/// signals no change (another instance's request signals nothing here).
const POLL: Duration = Duration::from_millis(20);

impl KeyStore<'_> {
    /// Claims `key` for a request with `fingerprint`: waits, up to the
    /// request timeout, while the same request runs elsewhere.
    async fn claim(&self, key: &str, fingerprint: &str) -> Claim {
        let deadline = Instant::now() + self.wait;
        let engine = self.engine;
        loop {
            // Enabled before the claim, so that a change between the
            // claim and the wait is not missed.
            let changed = engine.key_changes().map(|changes| {
                let mut changed = Box::pin(changes.notified());
                changed.as_mut().enable();
                changed
            });
            let state = match engine.claim_key(key, fingerprint, self.wait).await {
                Ok(state) => state,
                Err(err) => return Claim::Failed(unavailable(&err)),
            };
            match state {
                KeyState::Claimed => {
                    return Claim::Owned(Owned {
                        engine: Some(engine.clone()),
                        key: key.to_owned(),
                        fingerprint: fingerprint.to_owned(),
                    });
                }
                KeyState::Done(theirs, answer) if theirs == fingerprint => {
                    return Claim::Replay(answer);
                }
                KeyState::Done(..) => return Claim::Mismatch,
                KeyState::Pending(theirs) if theirs != fingerprint => return Claim::Mismatch,
                KeyState::Pending(_) => {
                    let waited = match changed {
                        Some(changed) => tokio::time::timeout_at(deadline, changed).await.is_ok(),
                        None if Instant::now() + POLL > deadline => false,
                        None => {
                            tokio::time::sleep(POLL).await;
                            true
                        }
                    };
                    if !waited {
                        return Claim::InProgress;
                    }
                }
                // Freed between the claim and the read: claim again.
                KeyState::Gone => {}
            }
        }
    }

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
            Claim::Failed(response) => response,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_separate_their_parts() {
        assert_ne!(fingerprint(&[b"ab", b"c"]), fingerprint(&[b"a", b"bc"]));
        assert_eq!(fingerprint(&[b"a"]).len(), 64);
    }
}
