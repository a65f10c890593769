//! Idempotency keys shared by every instance: a publish's key is claimed
//! in Redis while it runs, then holds its answer for the key's TTL.
//!
//! A key is one string, `<prefix>:key:{<key>}`: `p <fingerprint>` while
//! its first request runs (expiring after the request timeout, so that a
//! crashed instance does not hold it), then `d <fingerprint>\n<answer>`.

use std::time::Duration;

use bytes::Bytes;

use super::RedisBroker;
use super::error::RedisError;
use crate::keys::KeyState;

/// Claims the key if it is free (or expired); else answers what it holds.
const CLAIM: &str = r"
local claimed = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
if claimed then
  return {1, ''}
end
return {0, redis.call('GET', KEYS[1]) or ''}
";

/// Frees a key still pending with this claim's value.
const ABANDON: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

static CLAIM_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(CLAIM));
static ABANDON_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(ABANDON));

impl RedisBroker {
    /// The Redis key of idempotency key `key`.
    fn key_name(&self, key: &str) -> String {
        format!("{}:key:{{{key}}}", self.link.options.prefix)
    }

    /// Claims `key` for a request with `fingerprint`, for at most
    /// `pending_for` until it is completed or abandoned.
    pub(crate) async fn claim_key(
        &self,
        key: &str,
        fingerprint: &str,
        pending_for: Duration,
    ) -> Result<KeyState, RedisError> {
        let link = &*self.link;
        let mut connection = link.publish_connection()?;
        let millis = pending_for.as_millis().max(1);
        let (claimed, held): (u8, Vec<u8>) = link
            .within(
                CLAIM_SCRIPT
                    .key(self.key_name(key))
                    .arg(format!("p {fingerprint}"))
                    .arg(millis.to_string())
                    .invoke_async(&mut connection),
            )
            .await?;
        if claimed == 1 {
            return Ok(KeyState::Claimed);
        }
        Ok(parse_held(&held))
    }

    /// Stores the answer of the request that claimed `key`, for `ttl`.
    pub(crate) async fn complete_key(
        &self,
        key: &str,
        fingerprint: &str,
        answer: &[u8],
        ttl: Duration,
    ) -> Result<(), RedisError> {
        let link = &*self.link;
        let mut connection = link.publish_connection()?;
        let mut value = format!("d {fingerprint}\n").into_bytes();
        value.extend_from_slice(answer);
        link.within(
            redis::cmd("SET")
                .arg(self.key_name(key))
                .arg(value)
                .arg("PX")
                .arg(ttl.as_millis().max(1).to_string())
                .query_async::<()>(&mut connection),
        )
        .await
    }

    /// Frees `key` if this request still holds it: its answer was not
    /// `200`, so a retry may publish.
    pub(crate) async fn abandon_key(&self, key: &str, fingerprint: &str) -> Result<(), RedisError> {
        let link = &*self.link;
        let mut connection = link.publish_connection()?;
        link.within(
            ABANDON_SCRIPT
                .key(self.key_name(key))
                .arg(format!("p {fingerprint}"))
                .invoke_async::<()>(&mut connection),
        )
        .await
    }
}

fn parse_held(held: &[u8]) -> KeyState {
    if held.is_empty() {
        return KeyState::Gone;
    }
    if let Some(rest) = held.strip_prefix(b"p ") {
        return KeyState::Pending(String::from_utf8_lossy(rest).into_owned());
    }
    if let Some(rest) = held.strip_prefix(b"d ")
        && let Some(newline) = memchr::memchr(b'\n', rest)
    {
        let fingerprint = String::from_utf8_lossy(&rest[..newline]).into_owned();
        return KeyState::Done(fingerprint, Bytes::copy_from_slice(&rest[newline + 1..]));
    }
    // Not ours: treated as another request's, never overwritten.
    KeyState::Pending(String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_values_parse() {
        assert_eq!(parse_held(b""), KeyState::Gone);
        assert_eq!(parse_held(b"p ab"), KeyState::Pending("ab".into()));
        assert_eq!(
            parse_held(b"d ab\n{\"id\":\"1-0\"}"),
            KeyState::Done("ab".into(), Bytes::from_static(b"{\"id\":\"1-0\"}"))
        );
        assert_eq!(parse_held(b"xyz"), KeyState::Pending(String::new()));
    }
}
