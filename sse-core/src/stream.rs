//! Any stream of events as the frames of one SSE response.
//!
//! [`SseStream`] wraps a stream of [`Event`]s (or of `Result<Event, E>`,
//! or of frames already encoded, such as a broker subscription) and adds
//! what a response needs around it: an optional `retry:` and preamble
//! first, a keep-alive comment whenever the stream was idle for an
//! interval, and the idle probe for frameworks that only notice a gone
//! client when a write fails. Each framework adapter turns it into that
//! framework's streaming body.
//!
//! ```
//! use std::time::Duration;
//! use futures::StreamExt;
//! use sse_hub::Event;
//! use sse_hub::stream::{KeepAlive, SseStream};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let ticks = futures::stream::iter(1..=2).map(|n| Event::new(n.to_string()));
//! let mut frames = SseStream::new(ticks)
//!     .retry(Duration::from_secs(3))
//!     .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)));
//! let first = frames.next().await.unwrap().unwrap();
//! assert_eq!(&first[..], b"retry: 3000\n\ndata: 1\n\n");
//! # }
//! ```

mod response_type;

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use crate::Event;
use crate::encode;

/// An item of a stream [`SseStream`] can send: an [`Event`], a
/// `Result<Event, E>`, or [`Bytes`] holding whole frames already encoded.
pub trait IntoFrame {
    /// What a failed item carries; [`Infallible`] when items cannot fail.
    type Error;

    /// The item as one or more encoded frames.
    fn into_frame(self) -> Result<Bytes, Self::Error>;
}

impl IntoFrame for Event {
    type Error = Infallible;

    fn into_frame(self) -> Result<Bytes, Infallible> {
        Ok(self.encode())
    }
}

impl<E> IntoFrame for Result<Event, E> {
    type Error = E;

    fn into_frame(self) -> Result<Bytes, E> {
        self.map(|event| event.encode())
    }
}

/// Frames encoded already, for instance by
/// [`encode`] or a broker subscription: sent as they are.
impl IntoFrame for Bytes {
    type Error = Infallible;

    fn into_frame(self) -> Result<Bytes, Infallible> {
        Ok(self)
    }
}

/// A comment sent when a stream has been idle for an interval, so that
/// proxies and clients do not take a quiet stream for a dead one.
///
/// ```
/// use std::time::Duration;
/// use sse_hub::stream::KeepAlive;
///
/// // `: ping` after 15 s without a write.
/// let keep_alive = KeepAlive::new().interval(Duration::from_secs(15)).text("ping");
/// # drop(keep_alive);
/// ```
#[derive(Debug, Clone)]
pub struct KeepAlive(Arc<KeepAliveSettings>);

/// Shared by every stream that keeps alive the same way: one pointer per
/// stream rather than the interval and the frame.
#[derive(Debug, Clone)]
struct KeepAliveSettings {
    interval: Duration,
    frame: Bytes,
}

impl Default for KeepAlive {
    fn default() -> Self {
        Self::new()
    }
}

impl KeepAlive {
    /// `: heartbeat` after 30 s of silence.
    pub fn new() -> Self {
        // One shared default: a stream built with it costs a pointer.
        static DEFAULT: LazyLock<KeepAlive> = LazyLock::new(|| {
            KeepAlive(Arc::new(KeepAliveSettings {
                interval: Duration::from_secs(30),
                frame: encode::keep_alive(),
            }))
        });
        DEFAULT.clone()
    }

    /// The idle time after which the comment is sent; the clock restarts
    /// at every write.
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        Arc::make_mut(&mut self.0).interval = interval;
        self
    }

    /// The comment's text; each of its lines becomes a `:` line, so no
    /// text can end the comment early.
    #[must_use]
    pub fn text(mut self, text: &str) -> Self {
        Arc::make_mut(&mut self.0).frame = encode::comment(text);
        self
    }

    /// The idle time after which the comment is sent.
    pub(crate) fn get_interval(&self) -> Duration {
        self.0.interval
    }

    /// The encoded comment.
    pub(crate) fn frame(&self) -> &Bytes {
        &self.0.frame
    }
}

/// What few streams use, boxed: every idle stream would pay for it
/// inline.
#[derive(Debug, Default)]
struct Extra {
    /// [`SseStream::probe_idle`]'s state.
    probe: Option<Probe>,
    /// [`SseStream::end_at`]'s deadline.
    end_at: Option<Instant>,
    /// Whether the stream ended at that deadline.
    deadline_reached: bool,
}

#[derive(Debug)]
struct Probe {
    every: Duration,
    /// The last write of anything, probes included: probes count from it.
    last_write: Instant,
}

/// How often [`SseStream::probe_idle`] should write, for a gone client
/// to be noticed within a second: the first write after a close only draws
/// the peer's reset, the second one fails.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(300);

/// A held chunk that reaches this size goes out before its window closes:
/// one write of it costs about what two would, and holding more would only
/// add memory per stream.
const HOLD_LIMIT: usize = 64 * 1024;

/// The probe: an empty line. Between frames it ends an event that has no
/// data, which every SSE parser skips.
const PROBE: &[u8] = b"\n";

pin_project! {
    /// A stream of events as the frames of one SSE response; see the
    /// [module docs](self).
    ///
    /// Items come out as soon as the inner stream yields them, one chunk
    /// per item, unless [`coalesce`](SseStream::coalesce) is set. The
    /// preamble goes out at the first poll, together with
    /// the first item if that is ready too. A failed item is passed on as
    /// the error that ends the stream (a framework then aborts the
    /// response), and the stream ends when the inner one does: the
    /// response then ends cleanly. To end it at shutdown, end the inner
    /// stream, for instance with `StreamExt::take_until` on the shutdown
    /// signal (a broker subscription ends by itself at
    /// [`Broker::shutdown`](crate::broker::Broker::shutdown)).
    ///
    /// Polling needs a Tokio runtime with time enabled once a keep-alive
    /// or a probe is set.
    #[derive(Debug)]
    #[must_use = "streams do nothing unless polled"]
    pub struct SseStream<S> {
        #[pin]
        inner: S,
        // Bytes waiting to go out: the preamble until the first poll;
        // later, while `holding`, an item held for the coalescing window
        // (the preamble is gone by then, so one slot serves both).
        waiting: Option<Bytes>,
        keep_alive: Option<KeepAlive>,
        extra: Option<Box<Extra>>,
        // Due at the next keep-alive, probe or the end; created at the first wait,
        // which runs inside the runtime.
        timer: Option<Pin<Box<Sleep>>>,
        // The last frame (preamble, item or keep-alive): keep-alives
        // count from it.
        last_frame: Instant,
        // The coalescing window in microseconds; zero when items go out
        // as they come. (A `Duration` would take 12 more bytes per stream.)
        coalesce_us: u32,
        // `waiting` holds an item that came within the window of the
        // last frame, until the window closes (the timer is due then).
        holding: bool,
        // A held item just went out: what is ready now goes out with it,
        // until the inner stream waits.
        released: bool,
        // Whether an item went out: the first one is never held, even
        // right after the preamble.
        sent: bool,
        ended: bool,
    }
}

impl<S> SseStream<S> {
    /// `inner`'s items as frames, with no keep-alive, retry or preamble.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            waiting: None,
            keep_alive: None,
            extra: None,
            timer: None,
            last_frame: Instant::now(),
            coalesce_us: 0,
            holding: false,
            released: false,
            sent: false,
            ended: false,
        }
    }

    /// Sends at most one chunk per `window` while items come faster than
    /// that: an item that arrives within `window` of the last write waits
    /// until the window closes, and goes out together with everything
    /// the inner stream has ready by then. A stream whose items are
    /// further apart than `window` sends each at once, as without it.
    ///
    /// Under load this trades at most `window` of latency for fewer,
    /// larger writes: a busy topic's subscribers then cost a write per
    /// window, not one per event. A zero window (the default) turns it
    /// off.
    ///
    /// What a window holds is the server's, never the client's: when the
    /// stream is polled before its window closes and the inner stream's
    /// [`size_hint`](futures_core::Stream::size_hint) says an item is
    /// ready, it takes that item into the chunk it holds (one poll, so
    /// that the inner stream is not asked to wake it at its very next
    /// item). A broker subscription says so, and wakes it, once half the
    /// client's buffer is used ([`BrokerConfig::client_buffer`](crate::broker::BrokerConfig::client_buffer)),
    /// so however fast events come, a client that reads is never cut for
    /// events a window held; the window needs no tuning against the
    /// buffer. Its costs: the held chunk, which goes out early once it
    /// reaches 64 KiB, and one wake-up per half buffer of events that
    /// come within one window (none at all while fewer come, as at the
    /// socket benchmark's saturation: about 95 events per stream per
    /// window against 128; see BENCHMARKS.md). Other streams are polled
    /// only when their window closes, so their items wait there
    /// meanwhile. An item that fails while frames are held ends the
    /// response at once, without them, as [`end_at`](SseStream::end_at)
    /// does.
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::StreamExt;
    /// use sse_hub::Event;
    /// use sse_hub::stream::SseStream;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let (tx, events) = futures::channel::mpsc::unbounded();
    /// let mut frames = SseStream::new(events).coalesce(Duration::from_millis(5));
    /// tx.unbounded_send(Event::new("1")).unwrap();
    /// // The first event goes out at once ...
    /// assert_eq!(&frames.next().await.unwrap().unwrap()[..], b"data: 1\n\n");
    /// tx.unbounded_send(Event::new("2")).unwrap();
    /// tx.unbounded_send(Event::new("3")).unwrap();
    /// // ... the next ones within 5 ms wait for the window, then leave together.
    /// let started = tokio::time::Instant::now();
    /// assert_eq!(&frames.next().await.unwrap().unwrap()[..], b"data: 2\n\n");
    /// assert_eq!(&frames.next().await.unwrap().unwrap()[..], b"data: 3\n\n");
    /// assert_eq!(started.elapsed(), Duration::from_millis(5));
    /// # }
    /// ```
    pub fn coalesce(mut self, window: Duration) -> Self {
        self.coalesce_us = u32::try_from(window.as_micros()).unwrap_or(u32::MAX);
        self
    }

    /// Sends `keep_alive`'s comment whenever nothing was sent for its
    /// interval. A zero interval turns keep-alives off.
    pub fn keep_alive(mut self, keep_alive: KeepAlive) -> Self {
        self.keep_alive = (!keep_alive.get_interval().is_zero()).then_some(keep_alive);
        self
    }

    /// Sends `retry:` with `retry` (in whole milliseconds) first, telling
    /// the client how long to wait before it reconnects.
    pub fn retry(self, retry: Duration) -> Self {
        self.preamble(encode::retry(retry))
    }

    /// Sends `frames` (whole encoded frames, such as a greeting event)
    /// before the inner stream's items, after any preamble set before.
    pub fn preamble(mut self, frames: Bytes) -> Self {
        self.waiting = Some(match self.waiting.take() {
            Some(first) => [first, frames].concat().into(),
            None => frames,
        });
        self
    }

    /// Writes a single `\n` whenever nothing was written for `interval`
    /// (see [`PROBE_INTERVAL`]), for frameworks that only notice that a
    /// client went away when a write to it fails (Rocket 0.5, poem 3.1);
    /// clients skip it. Keep-alives keep their own schedule. A zero
    /// interval turns probing off.
    ///
    /// The price is a wake-up and a one-byte write per idle stream per
    /// interval.
    pub fn probe_idle(mut self, interval: Duration) -> Self {
        let probe = (!interval.is_zero()).then_some(Probe {
            every: interval,
            last_write: self.last_frame,
        });
        if probe.is_some() || self.extra.is_some() {
            self.extra_mut().probe = probe;
        }
        self
    }

    /// Ends the stream cleanly at `deadline`, for instance when the
    /// credentials it was opened with expire: nothing is sent from then on,
    /// and the client reconnects (after `retry:`) with fresh ones and its
    /// last event id. An item held by [`coalesce`](SseStream::coalesce)
    /// at that moment is not sent; a resuming client gets it by replay.
    /// Given several deadlines (a lifetime and a token's expiry), the
    /// stream ends at the earliest.
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::StreamExt;
    /// use sse_hub::Event;
    /// use sse_hub::stream::SseStream;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let expires = tokio::time::Instant::now() + Duration::from_secs(60);
    /// let mut frames = SseStream::new(futures::stream::pending::<Event>()).end_at(expires);
    /// assert!(frames.next().await.is_none());
    /// assert_eq!(tokio::time::Instant::now(), expires);
    /// # }
    /// ```
    pub fn end_at(mut self, deadline: Instant) -> Self {
        let extra = self.extra_mut();
        extra.end_at = Some(extra.end_at.map_or(deadline, |set| set.min(deadline)));
        self
    }

    fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// The inner stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Whether the stream ended at its [`end_at`](SseStream::end_at)
    /// deadline, rather than with its inner stream.
    pub fn deadline_reached(&self) -> bool {
        self.extra
            .as_ref()
            .is_some_and(|extra| extra.deadline_reached)
    }
}

/// When the next keep-alive is due, if keep-alives are on.
fn keep_alive_due(keep_alive: Option<&KeepAlive>, last_frame: Instant) -> Option<Instant> {
    keep_alive.map(|keep_alive| last_frame + keep_alive.get_interval())
}

/// Notes a write at `now`: a frame, unless it is a probe.
fn wrote(last_frame: &mut Instant, extra: &mut Option<Box<Extra>>, now: Instant, frame: bool) {
    if frame {
        *last_frame = now;
    }
    if let Some(probe) = extra.as_mut().and_then(|extra| extra.probe.as_mut()) {
        probe.last_write = now;
    }
}

/// When the stream must end, if it must.
fn end_at(extra: &Option<Box<Extra>>) -> Option<Instant> {
    extra.as_ref().and_then(|extra| extra.end_at)
}

fn mark_deadline_reached(extra: &mut Option<Box<Extra>>) {
    if let Some(extra) = extra {
        extra.deadline_reached = true;
    }
}

impl<S> Stream for SseStream<S>
where
    S: Stream,
    S::Item: IntoFrame,
{
    type Item = Result<Bytes, <S::Item as IntoFrame>::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        if *this.ended {
            return Poll::Ready(None);
        }
        if end_at(this.extra).is_some_and(|end| Instant::now() >= end) {
            *this.ended = true;
            *this.waiting = None;
            mark_deadline_reached(this.extra);
            return Poll::Ready(None);
        }
        if *this.holding {
            let window_open = this
                .timer
                .as_mut()
                .is_some_and(|timer| timer.as_mut().poll(cx).is_pending());
            if window_open {
                // Polled before the window closes. Items piling up in the
                // inner stream are taken into the held chunk, so that
                // nothing the server holds counts against the client: a
                // broker subscription says so in its size hint, and wakes
                // this task, once half the client's buffer is used.
                // Other polls (a framework's, for its own reasons) cost
                // no read; and one poll only, since polling until the
                // inner stream waits would have it wake this task at its
                // very next item.
                if this.inner.size_hint().0 == 0 {
                    return Poll::Pending;
                }
                match this.inner.poll_next(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(item)) => match item.into_frame() {
                        Ok(frame) => {
                            let held = this.waiting.take().unwrap_or_default();
                            let held: Bytes = [held, frame].concat().into();
                            if held.len() < HOLD_LIMIT {
                                *this.waiting = Some(held);
                                return Poll::Pending;
                            }
                            // Large enough that holding saves no write.
                            *this.waiting = Some(held);
                        }
                        Err(err) => {
                            // The error aborts the response; what is held
                            // would have to follow it, so it goes unsent,
                            // as at `end_at`.
                            *this.ended = true;
                            *this.waiting = None;
                            return Poll::Ready(Some(Err(err)));
                        }
                    },
                    // What is held still goes out, then the end.
                    Poll::Ready(None) => *this.ended = true,
                }
            }
            *this.holding = false;
            *this.released = true;
            wrote(this.last_frame, this.extra, Instant::now(), true);
            return Poll::Ready(this.waiting.take().map(Ok));
        }
        match this.inner.poll_next(cx) {
            Poll::Ready(Some(item)) => {
                let now = Instant::now();
                let frame = match item.into_frame() {
                    Ok(frame) => frame,
                    Err(err) => {
                        *this.ended = true;
                        return Poll::Ready(Some(Err(err)));
                    }
                };
                let chunk = match this.waiting.take() {
                    Some(preamble) => [preamble, frame].concat().into(),
                    None => frame,
                };
                let window_ends =
                    *this.last_frame + Duration::from_micros(u64::from(*this.coalesce_us));
                if *this.sent && !*this.released && now < window_ends {
                    let timer = this
                        .timer
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(window_ends)));
                    timer.as_mut().reset(window_ends);
                    if timer.as_mut().poll(cx).is_pending() {
                        *this.waiting = Some(chunk);
                        *this.holding = true;
                        return Poll::Pending;
                    }
                }
                wrote(this.last_frame, this.extra, now, true);
                *this.sent = true;
                return Poll::Ready(Some(Ok(chunk)));
            }
            Poll::Ready(None) => {
                *this.ended = true;
                // A stream that ends at once still sends its preamble.
                return Poll::Ready(this.waiting.take().map(Ok));
            }
            Poll::Pending => *this.released = false,
        }
        if let Some(preamble) = this.waiting.take() {
            wrote(this.last_frame, this.extra, Instant::now(), true);
            return Poll::Ready(Some(Ok(preamble)));
        }
        // Idle: a keep-alive or a probe, when one is due.
        let keep_alive = this.keep_alive.as_ref();
        let next_due = |last_frame: Instant, extra: &Option<Box<Extra>>| {
            let probe = extra
                .as_ref()
                .and_then(|extra| extra.probe.as_ref())
                .map(|probe| probe.last_write + probe.every);
            keep_alive_due(keep_alive, last_frame)
                .into_iter()
                .chain(probe)
                .chain(end_at(extra))
                .min()
        };
        let Some(due) = next_due(*this.last_frame, this.extra) else {
            return Poll::Pending;
        };
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
        // Writes do not move the timer (that would cost a timer update per
        // chunk); a timer that fires early is moved to the real deadline.
        loop {
            match timer.as_mut().poll(cx) {
                Poll::Ready(()) if Instant::now() >= due => break,
                Poll::Ready(()) => timer.as_mut().reset(due),
                Poll::Pending => return Poll::Pending,
            }
        }
        let now = Instant::now();
        if end_at(this.extra).is_some_and(|end| now >= end) {
            *this.ended = true;
            mark_deadline_reached(this.extra);
            return Poll::Ready(None);
        }
        let keep_alive_now =
            keep_alive_due(keep_alive, *this.last_frame).is_some_and(|at| now >= at);
        let frame = match keep_alive {
            Some(keep_alive) if keep_alive_now => keep_alive.frame().clone(),
            _ => Bytes::from_static(PROBE),
        };
        wrote(this.last_frame, this.extra, now, keep_alive_now);
        if let Some(next) = next_due(*this.last_frame, this.extra) {
            timer.as_mut().reset(next);
        }
        Poll::Ready(Some(Ok(frame)))
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod coalesce_tests;
