//! Draining: every open stream ends within a window, each at a moment of
//! its own, so that the clients' reconnects spread evenly over it instead
//! of arriving together.
//!
//! A browser's `EventSource` reconnects exactly `retry` after its stream
//! ends, with no jitter of its own, so only the server can spread the
//! reconnects. Each stream draws its reconnect moment uniformly over the
//! window. It stays open until `retry` before that moment (at once if the
//! moment is nearer than `retry`), and its last frame is a `retry:` field
//! of the time left, so that the client comes back at that very moment.
//! The clients thus keep their streams as long as the drain allows, are
//! without one for no longer than a normal reconnect, and reconnect at an
//! even rate of `streams / window`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::{Instant, Sleep};

use crate::encode;

/// The drain of a broker: when it began, over how long, and the `retry`
/// a stream is normally sent (the gap a stream gets before its moment).
#[derive(Debug, Clone, Copy)]
pub(super) struct DrainPlan {
    pub(super) started: Instant,
    pub(super) window: Duration,
    pub(super) retry: Duration,
}

impl DrainPlan {
    /// The end of one stream opened or first polled `now`: its reconnect
    /// moment drawn from what is left of the window.
    pub(super) fn schedule(&self, now: Instant) -> StreamDrain {
        // No window: every stream ends at once, its client back after
        // the usual `retry`.
        if self.window.is_zero() {
            return StreamDrain {
                reconnect_at: now + self.retry,
                timer: Box::pin(tokio::time::sleep_until(now)),
            };
        }
        let fraction = fastrand::f64();
        let reconnect_at = (self.started + self.window.mul_f64(fraction)).max(now);
        let end_at = reconnect_at.checked_sub(self.retry).unwrap_or(now).max(now);
        StreamDrain {
            reconnect_at,
            timer: Box::pin(tokio::time::sleep_until(end_at)),
        }
    }
}

/// One stream's part of a drain: it ends when `timer` fires, telling its
/// client to reconnect at `reconnect_at`.
#[derive(Debug)]
pub(super) struct StreamDrain {
    reconnect_at: Instant,
    timer: Pin<Box<Sleep>>,
}

impl StreamDrain {
    /// The time left until the client's moment, once the stream's end
    /// has come; registers for a wake-up until then.
    pub(super) fn poll_due(&mut self, cx: &mut Context<'_>) -> Poll<Duration> {
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                Poll::Ready(self.reconnect_at.saturating_duration_since(Instant::now()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A drained stream's last frame: `id:` with where its client resumes,
/// and `retry:` with when. A block without `data:` dispatches no event,
/// but it sets the client's last event id (the WHATWG parsing rules), so
/// that a client that has received no event since it connected (whose
/// `connected` carries no id) still resumes from this point, and misses
/// nothing published while it reconnects.
pub(super) fn last_frame(resume_id: &str, retry: Duration) -> Bytes {
    let retry = encode::retry(retry);
    let mut frame = Vec::with_capacity(resume_id.len() + 5 + retry.len());
    frame.extend_from_slice(b"id: ");
    frame.extend_from_slice(resume_id.as_bytes());
    frame.push(b'\n');
    frame.extend_from_slice(&retry);
    Bytes::from(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn reconnect_moments_fall_within_the_window_and_ends_precede_them_by_retry() {
        let started = Instant::now();
        let plan = DrainPlan {
            started,
            window: Duration::from_secs(10),
            retry: Duration::from_secs(2),
        };
        for _ in 0..1_000 {
            let drain = plan.schedule(started);
            let end = drain.timer.deadline();
            assert!(drain.reconnect_at <= started + plan.window);
            assert!(end <= drain.reconnect_at);
            // Ends `retry` early, or at once when the moment is nearer.
            let gap = drain.reconnect_at - end;
            assert!(gap == plan.retry || end == started, "{gap:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_polled_after_the_window_ends_at_once() {
        let started = Instant::now();
        let plan = DrainPlan {
            started,
            window: Duration::from_secs(1),
            retry: Duration::from_secs(3),
        };
        tokio::time::advance(Duration::from_secs(5)).await;
        let mut drain = plan.schedule(Instant::now());
        let left = std::future::poll_fn(|cx| drain.poll_due(cx)).await;
        assert_eq!(left, Duration::ZERO);
        assert_eq!(&last_frame("42", left)[..], b"id: 42\nretry: 0\n\n");
    }
}
