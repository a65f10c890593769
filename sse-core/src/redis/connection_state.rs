//! Whether an instance is connected to Redis, and waiting until it is.

use super::{RedisBroker, RedisError};

impl RedisBroker {
    /// Whether the tail is connected, caught up, and publishes can go
    /// through.
    pub fn is_connected(&self) -> bool {
        *self.link.connected.borrow()
    }

    /// The connection state as it changes: `true` once the tail is
    /// connected and caught up, `false` while Redis is unreachable. A
    /// server may wait for it before it announces it is ready:
    ///
    /// ```no_run
    /// # async fn run(redis: sse_hub::redis::RedisBroker) {
    /// let mut state = redis.connection_state();
    /// let _ = tokio::time::timeout(
    ///     std::time::Duration::from_secs(5),
    ///     state.wait_for(|connected| *connected),
    /// )
    /// .await;
    /// # }
    /// ```
    pub fn connection_state(&self) -> tokio::sync::watch::Receiver<bool> {
        self.link.connected.subscribe()
    }

    /// Waits until the tail is connected, at most `within`: whether it
    /// is. A refusal ends the wait at once, as an error: a wrong password
    /// or an untrusted certificate will not pass by waiting.
    ///
    /// ```no_run
    /// # async fn run(redis: sse_hub::redis::RedisBroker) -> Result<(), sse_hub::redis::RedisError> {
    /// if !redis.connected_within(std::time::Duration::from_secs(5)).await? {
    ///     eprintln!("Redis is unreachable for now; the tail keeps trying");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`RedisError::Refused`], with what Redis or the TLS handshake said.
    pub async fn connected_within(&self, within: std::time::Duration) -> Result<bool, RedisError> {
        let mut connected = self.link.connected.subscribe();
        let mut refused = self.link.refused.subscribe();
        let wait = async {
            loop {
                if *connected.borrow_and_update() {
                    return Ok(());
                }
                if let Some(reason) = refused.borrow_and_update().clone() {
                    return Err(RedisError::Refused(reason));
                }
                tokio::select! {
                    changed = connected.changed() => if changed.is_err() { return Ok(()) },
                    changed = refused.changed() => if changed.is_err() { return Ok(()) },
                }
            }
        };
        match tokio::time::timeout(within, wait).await {
            Ok(Err(err)) => Err(err),
            Ok(Ok(())) | Err(_) => Ok(self.is_connected()),
        }
    }
}
