//! One client's stream: its topics' logs read after its cursors, merged in
//! id order, as chunks of bytes.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use tokio::time::{Instant, Sleep};

use super::Shared;
use super::log::Entry;
use super::topic::{ClientShared, Topic, TopicState};
use crate::encode::keep_alive;

/// A client's place in one of its topics.
#[derive(Debug)]
pub(super) struct Subscription {
    pub(super) topic: Arc<Topic>,
    /// Its key in the topic's subscribers.
    pub(super) slot: usize,
    /// Every frame of the topic up to this id was sent (or, after a reset,
    /// is given up on).
    pub(super) cursor: u64,
}

/// The frames for one client, as a `futures::Stream` of `Bytes` that any
/// framework can send as a streaming response body.
///
/// Frames queued since the last poll come as one chunk, so the framework
/// makes one write for them. The stream sends `: heartbeat` when it has been
/// idle for the broker's heartbeat interval, and ends when the client lags
/// too far behind or the broker shuts down. Dropping it (as a framework does
/// when the client goes away) unsubscribes the client at once.
///
/// Polling needs a Tokio runtime with time enabled, for the heartbeat.
///
/// Some frameworks only notice that a client went away when a write to it
/// fails; [`probe_idle`](Self::probe_idle) makes such writes happen.
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct ClientStream {
    shared: Arc<Shared>,
    /// Sorted by topic name: the order their locks are taken in.
    subscriptions: Box<[Subscription]>,
    client: Arc<ClientShared>,
    client_id: u64,
    reset: bool,
    preamble: Option<Bytes>,
    /// Due at the next heartbeat or probe; created at the first poll,
    /// which runs inside the runtime.
    timer: Option<Pin<Box<Sleep>>>,
    /// The last frame (preamble, events or heartbeat): heartbeats count
    /// from it.
    last_frame: Instant,
    /// Boxed: most streams have none, and every idle stream pays for the
    /// inline size.
    probe: Option<Box<Probe>>,
    ended: bool,
}

/// [`ClientStream::probe_idle`]'s state.
#[derive(Debug)]
struct Probe {
    every: Duration,
    /// The last write of anything, probes included: probes count from it.
    last_write: Instant,
}

/// How often [`ClientStream::probe_idle`] should write, for a gone client
/// to be noticed within a second: the first write after a close only draws
/// the peer's reset, the second one fails.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(300);

/// The probe: an empty line. Between frames it ends an event that has no
/// data, which every SSE parser skips.
const PROBE: &[u8] = b"\n";

impl ClientStream {
    pub(super) fn new(
        shared: Arc<Shared>,
        subscriptions: Box<[Subscription]>,
        client: Arc<ClientShared>,
        client_id: u64,
        reset: bool,
    ) -> Self {
        Self {
            shared,
            subscriptions,
            client,
            client_id,
            reset,
            preamble: None,
            timer: None,
            last_frame: Instant::now(),
            probe: None,
            ended: false,
        }
    }

    /// This connection's id, unique within the broker.
    pub fn client_id(&self) -> u64 {
        self.client_id
    }

    /// Whether the last event id given at subscription could not be
    /// honoured, so events before the replay may have been lost.
    pub fn reset(&self) -> bool {
        self.reset
    }

    /// Sends `bytes` before anything else (for instance a `retry:` and a
    /// greeting event). Replaces an earlier preamble.
    pub fn with_preamble(mut self, bytes: Bytes) -> Self {
        self.preamble = Some(bytes);
        self
    }

    /// Writes a single `\n` whenever nothing was written for `interval`
    /// (see [`PROBE_INTERVAL`]), for frameworks that only notice that a
    /// client went away when a write to it fails (Rocket 0.5, poem 3.1);
    /// clients skip it. Heartbeats keep their own schedule. A zero
    /// interval turns probing off.
    ///
    /// The price is a wake-up and a one-byte write per idle stream per
    /// interval.
    pub fn probe_idle(mut self, interval: Duration) -> Self {
        self.probe = (!interval.is_zero()).then(|| {
            Box::new(Probe {
                every: interval,
                last_write: self.last_frame,
            })
        });
        self
    }

    /// Notes a write at `now`; a frame, unless it is a probe.
    fn wrote(&mut self, now: Instant, frame: bool) {
        if frame {
            self.last_frame = now;
        }
        if let Some(probe) = &mut self.probe {
            probe.last_write = now;
        }
    }

    /// The stream as `Result` items, which most frameworks' streaming
    /// bodies ask for; it never yields an error.
    pub fn try_chunks<E>(self) -> TryChunks<E> {
        TryChunks {
            stream: self,
            error: PhantomData,
        }
    }

    fn end(&mut self) -> Poll<Option<Bytes>> {
        self.ended = true;
        Poll::Ready(None)
    }

    /// The frames after the cursors, as one chunk; registers for a wake-up
    /// when there are none.
    fn read(&mut self, cx: &mut Context<'_>) -> Read {
        // One topic, the common case, needs no allocation for its guard.
        if let [subscription] = &*self.subscriptions {
            let topic = subscription.topic.clone();
            self.read_locked(&mut [topic.lock()], cx)
        } else {
            let topics: Vec<Arc<Topic>> = self
                .subscriptions
                .iter()
                .map(|subscription| subscription.topic.clone())
                .collect();
            // All of them at once, in name order: a publish to any of them
            // is then wholly before this read or wholly after it, and one
            // after it has a larger id than any read here.
            let mut guards: Vec<MutexGuard<'_, TopicState>> =
                topics.iter().map(|topic| topic.lock()).collect();
            self.read_locked(&mut guards, cx)
        }
    }

    /// [`read`](Self::read) with `states[i]` the locked state of
    /// `subscriptions[i]`'s topic.
    fn read_locked(
        &mut self,
        states: &mut [MutexGuard<'_, TopicState>],
        cx: &mut Context<'_>,
    ) -> Read {
        if self.shared.is_closed() || self.client.is_lagging() {
            return Read::End;
        }
        let evicted_unsent = self
            .subscriptions
            .iter()
            .zip(states.iter())
            .any(|(subscription, state)| state.log.floor() > subscription.cursor);
        if evicted_unsent {
            // A frame of its own topics went before it was sent: it fell
            // too far behind.
            if self.client.lag() {
                self.shared.metrics.lagged.inc();
            }
            return Read::End;
        }
        let mut chunk = Chunk::default();
        if let [state] = states {
            chunk.extend(state.log.after(self.subscriptions[0].cursor));
        } else {
            let mut entries: Vec<&Entry> = self
                .subscriptions
                .iter()
                .zip(states.iter())
                .flat_map(|(subscription, state)| state.log.after(subscription.cursor))
                .collect();
            entries.sort_unstable_by_key(|entry| entry.id);
            chunk.extend(entries);
        }
        for (subscription, state) in self.subscriptions.iter_mut().zip(states.iter()) {
            subscription.cursor = subscription.cursor.max(state.log.last_id());
        }
        self.client.pending.store(0, Ordering::Relaxed);
        match chunk.finish() {
            Some((bytes, count)) => Read::Chunk(bytes, count),
            None => {
                for (subscription, state) in self.subscriptions.iter().zip(states.iter_mut()) {
                    if let Some(subscriber) = state.subscribers.get_mut(subscription.slot)
                        && !subscriber
                            .waker
                            .as_ref()
                            .is_some_and(|w| w.will_wake(cx.waker()))
                    {
                        subscriber.waker = Some(cx.waker().clone());
                    }
                }
                Read::Nothing
            }
        }
    }

    /// When the next heartbeat is due, if heartbeats are on.
    fn heartbeat_due(&self) -> Option<Instant> {
        // Zero disables heartbeats (rather than sending them nonstop).
        Some(self.shared.config.heartbeat)
            .filter(|interval| !interval.is_zero())
            .map(|interval| self.last_frame + interval)
    }

    /// When the next heartbeat or probe is due, if any is on.
    fn next_due(&self) -> Option<Instant> {
        let probe = self.probe.as_ref().map(|p| p.last_write + p.every);
        self.heartbeat_due().into_iter().chain(probe).min()
    }

    /// A heartbeat or a probe, if one is due.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<Bytes> {
        let Some(due) = self.next_due() else {
            return Poll::Pending;
        };
        let timer = self
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
        let frame = self.heartbeat_due().is_some_and(|at| now >= at);
        self.wrote(now, frame);
        let bytes = if frame {
            keep_alive()
        } else {
            Bytes::from_static(PROBE)
        };
        if let (Some(next), Some(timer)) = (self.next_due(), self.timer.as_mut()) {
            timer.as_mut().reset(next);
        }
        Poll::Ready(bytes)
    }
}

/// A [`ClientStream`] whose items are `Ok(chunk)`, from
/// [`ClientStream::try_chunks`].
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct TryChunks<E> {
    stream: ClientStream,
    error: PhantomData<fn() -> E>,
}

impl<E> TryChunks<E> {
    /// The client stream.
    pub fn get_ref(&self) -> &ClientStream {
        &self.stream
    }
}

impl<E> Stream for TryChunks<E> {
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.stream)
            .poll_next(cx)
            .map(|chunk| chunk.map(Ok))
    }
}

enum Read {
    Chunk(Bytes, u64),
    Nothing,
    End,
}

impl Stream for ClientStream {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.read(cx) {
            Read::End => return self.end(),
            Read::Chunk(chunk, count) => {
                self.shared.metrics.delivered.inc_by(count);
                self.wrote(Instant::now(), true);
                let chunk = match self.preamble.take() {
                    Some(preamble) => [preamble, chunk].concat().into(),
                    None => chunk,
                };
                return Poll::Ready(Some(chunk));
            }
            Read::Nothing => {}
        }
        if let Some(preamble) = self.preamble.take() {
            self.wrote(Instant::now(), true);
            return Poll::Ready(Some(preamble));
        }
        self.poll_timer(cx).map(Some)
    }
}

/// Frames joined into one chunk: a single frame is shared, not copied.
#[derive(Default)]
struct Chunk {
    first: Option<Bytes>,
    rest: Option<BytesMut>,
    count: u64,
}

impl Chunk {
    fn extend<'a>(&mut self, entries: impl IntoIterator<Item = &'a Entry>) {
        for entry in entries {
            self.count += 1;
            match (&self.first, &mut self.rest) {
                (None, _) => self.first = Some(entry.frame.clone()),
                (Some(head), None) => {
                    let mut buf = BytesMut::with_capacity(head.len() + entry.frame.len() * 2);
                    buf.extend_from_slice(head);
                    buf.extend_from_slice(&entry.frame);
                    self.rest = Some(buf);
                }
                (Some(_), Some(buf)) => buf.extend_from_slice(&entry.frame),
            }
        }
    }

    fn finish(self) -> Option<(Bytes, u64)> {
        let bytes = self.rest.map(BytesMut::freeze).or(self.first)?;
        Some((bytes, self.count))
    }
}

impl Drop for ClientStream {
    fn drop(&mut self) {
        let mut unused = Vec::new();
        for subscription in &*self.subscriptions {
            let mut state = subscription.topic.lock();
            state.subscribers.try_remove(subscription.slot);
            if state.is_unused() {
                unused.push(subscription.topic.clone());
            }
        }
        // A topic left with no subscribers and nothing retained costs no
        // memory: forget it now (its lock is released, as forgetting takes
        // the map's lock first).
        for topic in &unused {
            self.shared.forget_if_unused(topic);
        }
        self.shared.clients.fetch_sub(1, Ordering::SeqCst);
        self.shared.metrics.clients.dec();
    }
}
