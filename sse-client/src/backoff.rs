//! How long to wait before a reconnect.

use std::time::{Duration, SystemTime};

/// The longest `Retry-After` honoured: a longer one (or a hostile one) is
/// cut to this, so a wait always ends.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The reconnect policy: exponential backoff with full jitter, capped.
///
/// The delay before the `n`th connect in a row is drawn uniformly from
/// `[min, window]`, where `window = base × 2ⁿ⁻¹`, capped at `max` (or at
/// `base`, if the server asked for more than `max`). `base` is the
/// server's `retry:` when it sent one, else [`initial`](Self::initial);
/// `retry: 0` and other tiny values are raised to [`min`](Self::min).
/// Drawing from the whole window (full jitter) spreads the clients of a
/// restarted server over the window instead of bringing them back
/// together. After a stream stayed open for
/// [`reset_after`](Self::reset_after), the count starts again from 1.
///
/// A `503` or `429` with `Retry-After` waits that long (at most an hour),
/// plus the jittered delay, for the same reason.
///
/// ```
/// use std::time::Duration;
/// use sse_hub_client::{Backoff, EventSource};
///
/// let backoff = Backoff::default()
///     .initial(Duration::from_millis(500))
///     .max(Duration::from_secs(10));
/// let events = EventSource::get("http://localhost:3000/events").backoff(backoff).build();
/// # assert!(events.is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    min: Duration,
    max: Duration,
    reset_after: Duration,
}

impl Default for Backoff {
    /// `initial` 1 s, `min` 100 ms, `max` 30 s, `reset_after` 10 s.
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            min: Duration::from_millis(100),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The base delay until the server sends `retry:`.
    #[must_use]
    pub fn initial(mut self, delay: Duration) -> Self {
        self.initial = delay;
        self
    }

    /// The shortest delay, whatever `retry:` says.
    #[must_use]
    pub fn min(mut self, delay: Duration) -> Self {
        self.min = delay;
        self
    }

    /// The cap on the window the delay is drawn from.
    #[must_use]
    pub fn max(mut self, delay: Duration) -> Self {
        self.max = delay;
        self
    }

    /// How long a stream must stay open for the next failure to count as
    /// the first again.
    #[must_use]
    pub fn reset_after(mut self, healthy: Duration) -> Self {
        self.reset_after = healthy;
        self
    }

    pub(crate) fn resets_after(&self) -> Duration {
        self.reset_after
    }

    /// The window the `attempt`th delay in a row is drawn from.
    fn window(&self, attempt: u32, server_retry: Option<Duration>) -> Duration {
        let base = server_retry.unwrap_or(self.initial).max(self.min);
        let doublings = attempt.saturating_sub(1).min(20);
        base.saturating_mul(1 << doublings).min(self.max.max(base))
    }

    /// The delay before the `attempt`th connect in a row (from 1).
    pub(crate) fn delay(&self, attempt: u32, server_retry: Option<Duration>) -> Duration {
        let window = self.window(attempt, server_retry);
        let floor = self.min.min(window);
        jitter(floor, window)
    }

    /// The delay after an answer with `Retry-After: after`.
    pub(crate) fn delay_after(
        &self,
        after: Duration,
        attempt: u32,
        server_retry: Option<Duration>,
    ) -> Duration {
        after.min(MAX_RETRY_AFTER) + jitter(Duration::ZERO, self.window(attempt, server_retry))
    }
}

/// A duration drawn uniformly from `[low, high]`.
fn jitter(low: Duration, high: Duration) -> Duration {
    let span = high.saturating_sub(low).as_nanos();
    let span = u64::try_from(span).unwrap_or(u64::MAX);
    low + Duration::from_nanos(fastrand::u64(0..=span))
}

/// A `Retry-After` value: seconds, or an HTTP date. `None` when it is
/// neither.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_window_doubles_from_the_base_up_to_the_cap() {
        let backoff = Backoff::default();
        let windows: Vec<_> = (1..=7).map(|n| backoff.window(n, None)).collect();
        assert_eq!(
            windows,
            [1, 2, 4, 8, 16, 30, 30].map(Duration::from_secs).to_vec()
        );
        // A `retry:` becomes the base.
        assert_eq!(backoff.window(1, Some(300 * MS)), 300 * MS);
        assert_eq!(backoff.window(3, Some(300 * MS)), 1200 * MS);
        // No overflow, however many attempts.
        assert_eq!(backoff.window(u32::MAX, None), Duration::from_secs(30));
    }

    #[test]
    fn retry_zero_is_raised_to_the_minimum() {
        let backoff = Backoff::default();
        assert_eq!(backoff.window(1, Some(Duration::ZERO)), 100 * MS);
        for _ in 0..1000 {
            assert_eq!(backoff.delay(1, Some(Duration::ZERO)), 100 * MS);
        }
    }

    #[test]
    fn a_server_retry_above_the_cap_is_kept() {
        let backoff = Backoff::default();
        let sixty = Duration::from_secs(60);
        assert_eq!(backoff.window(1, Some(sixty)), sixty);
        assert_eq!(backoff.window(5, Some(sixty)), sixty);
    }

    #[test]
    fn delays_spread_over_the_whole_window() {
        let backoff = Backoff::default();
        let delays: Vec<_> = (0..10_000).map(|_| backoff.delay(3, None)).collect();
        assert!(delays.iter().all(|d| (100 * MS..=4000 * MS).contains(d)));
        // Each tenth of the window gets about a tenth of the draws.
        for tenth in 0..10u32 {
            let low = 100 * MS + 390 * MS * tenth;
            let high = low + 390 * MS;
            let count = delays.iter().filter(|d| (low..high).contains(*d)).count();
            assert!(
                (700..1300).contains(&count),
                "tenth {tenth}: {count} of 10000"
            );
        }
    }

    #[test]
    fn retry_after_is_waited_then_jittered() {
        let backoff = Backoff::default();
        for _ in 0..1000 {
            let delay = backoff.delay_after(Duration::from_secs(5), 1, None);
            assert!((Duration::from_secs(5)..=Duration::from_secs(6)).contains(&delay));
        }
    }

    #[test]
    fn retry_after_parses_seconds_and_dates_and_is_capped() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("99999999999999"), Some(MAX_RETRY_AFTER));
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let parsed = parse_retry_after(&soon).expect("an HTTP date");
        assert!((Duration::from_secs(110)..=Duration::from_secs(120)).contains(&parsed));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
